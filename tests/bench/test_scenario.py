"""Every bench run measures the service with Plaid's rate limits off, and says so."""

from __future__ import annotations

from pathlib import Path

import yaml

from bench import emulator_load, inflight, run
from bench.report import to_markdown
from bench.scenario import LIMITS_OFF, bench_scenario, write_bench_scenario
from plaid_emulator import load_scenario
from tests.conftest import default_scenario


def test_the_bench_scenario_is_the_packaged_one_with_limits_off() -> None:
    scenario = bench_scenario(250)
    assert scenario["rate_limits"] == {"enabled": False}
    assert scenario["latency_ms"] == {
        "/signal/evaluate": 250,
        "/accounts/balance/get": 250,
    }
    packaged = default_scenario()
    assert packaged["rate_limits"]["enabled"] is True
    unchanged = {k for k in packaged if k not in ("rate_limits", "latency_ms")}
    assert {k: scenario[k] for k in unchanged} == {k: packaged[k] for k in unchanged}


def test_the_written_file_loads_with_limits_off_and_says_why(tmp_path: Path) -> None:
    path = write_bench_scenario(tmp_path / "scenario.yaml", 10)
    assert path.read_text().startswith(f"# {LIMITS_OFF}\n")
    assert load_scenario(path).rate_limits.enabled is False
    assert yaml.safe_load(path.read_text())["latency_ms"]["/signal/evaluate"] == 10


def test_every_bench_entry_point_starts_the_emulator_on_it() -> None:
    for module in (run, inflight, emulator_load):
        assert module.write_bench_scenario is write_bench_scenario
        assert module.LIMITS_OFF == LIMITS_OFF


def test_the_report_states_it() -> None:
    markdown = to_markdown({"emulator": LIMITS_OFF}, [], [])
    assert f"Plaid emulator: {LIMITS_OFF}." in markdown
    assert "not of Plaid's quota" in LIMITS_OFF
