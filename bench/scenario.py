"""The emulator scenario every bench run uses: the packaged one, Plaid's limits off.

The emulator enforces Plaid's documented rate limits by default (20 evaluations a second
per client, 70 an hour per Item): a load test of one Item against them measures Plaid's
quota, not the service. The bench measures the service, so it turns them off and says so
in its output. `python -m bench.scenario [LATENCY_MS] > scenario.yaml` writes the same
scenario for ghz runs by hand (docs/load-testing.md, "Plaid's rate limits").
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from plaid_emulator import default_scenario_path

LIMITS_OFF = "limits off: a load test of the service, not of Plaid's quota"


def bench_scenario(latency_ms: int = 0) -> dict[str, Any]:
    """The packaged scenario with `latency_ms` on both Plaid endpoints and no limits."""
    scenario: dict[str, Any] = yaml.safe_load(default_scenario_path().read_text())
    scenario["latency_ms"] = {
        "/signal/evaluate": latency_ms,
        "/accounts/balance/get": latency_ms,
    }
    scenario["rate_limits"] = {"enabled": False}
    return scenario


def write_bench_scenario(path: Path, latency_ms: int = 0) -> Path:
    """`bench_scenario(latency_ms)` as YAML at `path`, with the reason on top."""
    path.write_text(f"# {LIMITS_OFF}\n" + yaml.safe_dump(bench_scenario(latency_ms)))
    return path


if __name__ == "__main__":
    latency = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    sys.stdout.write(f"# {LIMITS_OFF}\n" + yaml.safe_dump(bench_scenario(latency)))
