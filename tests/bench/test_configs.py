"""The ghz configurations and the echo baseline are usable as shipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.echo_server import encoded_response
from bench.service_config import load_test_config
from service.config.settings import Settings

GHZ = Path(__file__).resolve().parents[2] / "bench" / "ghz"
CONFIGS = sorted(GHZ.glob("*.json"))


class TestGhzConfigs:
    def test_there_is_one_per_scenario(self):
        names = {path.stem for path in CONFIGS}
        assert names == {
            "ach-balance-rule",
            "ach-scores-only",
            "rtp",
            "mix-dup10",
            "echo",
        }

    @pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
    def test_names_a_call_a_schema_and_plaintext(self, path: Path) -> None:
        config = json.loads(path.read_text())
        assert config["insecure"] is True
        assert config["call"].count(".") >= 2
        assert ("protoset" in config) != ("proto" in config)

    @pytest.mark.parametrize(
        "path", [p for p in CONFIGS if p.stem != "echo"], ids=lambda p: p.stem
    )
    def test_ids_carry_the_run_id_and_the_request_number_within_36_characters(
        self, path: Path
    ) -> None:
        txid = json.loads(path.read_text())["data"]["client_transaction_id"]
        assert "RUNID" in txid
        assert ".RequestNumber" in txid
        # bench/run.py fills RUNID with the run id and the run number: 10 hex digits.
        prefix = txid.split("{{")[0].replace("RUNID", "f" * 10)
        assert len(prefix) + len("99999999") <= 36


class TestEchoResponse:
    @pytest.mark.parametrize("size", [10, 281, 1500, 20_000])
    def test_is_an_echo_response_of_about_the_requested_size(self, size: int) -> None:
        encoded = encoded_response(size)
        assert encoded[0] == 0x0A  # field 1, length-delimited
        assert abs(len(encoded) - size) <= 2


class TestLoadTestConfig:
    def test_it_keeps_the_emulators_registry_and_turns_rate_budgets_off(
        self, tmp_path: Path
    ) -> None:
        path = load_test_config(tmp_path)
        settings = Settings.from_environ({}, config_path=str(path))
        assert not settings.rate_budgets.enabled
        packaged = Settings.from_environ({})
        assert packaged.rate_budgets.enabled  # what the bench turns off
        assert settings.policies.rulesets == packaged.policies.rulesets
