"""The service's configuration for a load test: the emulator's ruleset registry, and no
rate budgets. A load test measures the service; with Plaid's budgets on (the default),
the same Item and client past 20 calls a second would be refused by design (docs/load-testing.md,
"Plaid's rate limits")."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

NO_RATE_BUDGETS = "\n[rate_budgets]\nenabled = false\n"


def load_test_config(workdir: Path) -> Path:
    """Write the config into `workdir` and return its path (for `--config`)."""
    registry = resources.files("service.config").joinpath("emulator.toml").read_text()
    path = workdir / "load-test.toml"
    path.write_text(registry + NO_RATE_BUDGETS)
    return path
