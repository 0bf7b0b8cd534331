"""Load-testing kit: ghz configurations, the runner, the echo baseline and the report."""
