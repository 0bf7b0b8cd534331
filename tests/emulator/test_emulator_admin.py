"""The admin API and the HTTP edge: call log, reset, scenario replace, raw requests."""

import asyncio
import os
import signal
import sys

import pytest

from plaid_emulator import parse_scenario
from plaid_emulator.server import parse_listen
from tests.emulator.conftest import Admin, RecordingSleep

EVALUATE = {
    "access_token": "access-sandbox-checking-ok",
    "account_id": "checking-ok",
    "client_transaction_id": "txn-1",
    "amount": 25.0,
}


class TestCallLog:
    async def test_an_entry_has_the_documented_keys_and_no_token(self, admin):
        status, answer = await admin.post("/signal/evaluate", EVALUATE)
        assert status == 200
        call = await admin.last_call()
        time_text = call.pop("time")
        assert time_text.endswith("Z")
        assert call == {
            "seq": 1,
            "endpoint": "/signal/evaluate",
            "client_transaction_id": "txn-1",
            "account_ids": ["checking-ok"],
            "ruleset_key": None,
            "status": 200,
            "error_code": None,
            "request_id": answer["request_id"],
            "realtime_balance_attempted": False,
            "realtime_balance_fetched": False,
            "replayed": False,
            "fault": None,
            "report": None,
            "latency_ms": 0,
            "abandoned": False,
        }

    async def test_since_returns_only_later_calls(self, admin, emulator):
        for txn in ("a", "b", "c"):
            await admin.post(
                "/signal/evaluate", EVALUATE | {"client_transaction_id": txn}
            )
        _, body = await admin.request("GET", "/_emulator/calls?since=2")
        assert [c["client_transaction_id"] for c in body["calls"]] == ["c"]

    async def test_errors_are_logged(self, admin):
        await admin.post("/signal/evaluate", EVALUATE | {"amount": "25"})
        call = await admin.last_call()
        assert (call["status"], call["error_code"]) == (400, "INVALID_FIELD")


class TestReset:
    async def test_reset_forgets_calls_and_evaluations(self, admin):
        await admin.post("/signal/evaluate", EVALUATE)
        assert await admin.request("POST", "/_emulator/reset") == (200, {})
        assert await admin.calls() == []
        status, _ = await admin.post("/signal/evaluate", EVALUATE | {"amount": 30.0})
        assert status == 200
        assert (await admin.last_call())["seq"] == 1


class TestScenarioReplace:
    async def test_a_new_scenario_takes_effect_and_clears_the_log(
        self, admin, default_scenario_data
    ):
        await admin.post("/signal/evaluate", EVALUATE)
        default_scenario_data["default_ruleset"] = "balance-only"
        assert await admin.request(
            "PUT", "/_emulator/scenario", default_scenario_data
        ) == (
            200,
            {},
        )
        assert await admin.calls() == []
        _, answer = await admin.post("/signal/evaluate", EVALUATE)
        assert answer["ruleset"]["ruleset_key"] == "balance-only"
        call = await admin.last_call()
        assert (
            call["realtime_balance_attempted"],
            call["realtime_balance_fetched"],
        ) == (
            True,
            True,
        )

    async def test_a_bad_scenario_is_refused_naming_path_and_field(
        self, admin, default_scenario_data, emulator
    ):
        default_scenario_data["items"][1]["accounts"][0]["available"] = "lots"
        status, body = await admin.request(
            "PUT", "/_emulator/scenario", default_scenario_data
        )
        assert status == 400
        assert body == {
            "error": "scenario: items[1].accounts[0].available: "
            "Input should be a valid number"
        }
        assert emulator.engine.scenario.items[1].accounts[0].available == 5.0

    @pytest.mark.parametrize(
        ("knob", "value", "expected"),
        [
            ("deprecated_fields", "yes", "Input should be a valid boolean"),
            ("repeated_transaction_id", "ignore", "Input should be 'replay' or"),
            ("default_ruleset_opted_out", None, "Input should be a valid boolean"),
            ("ruleset_latency_ms", "fast", "Input should be a valid dictionary"),
        ],
    )
    async def test_the_new_knobs_are_checked_on_replace(
        self, admin, default_scenario_data, emulator, knob, value, expected
    ):
        status, body = await admin.request(
            "PUT", "/_emulator/scenario", default_scenario_data | {knob: value}
        )
        assert status == 400
        assert body["error"].startswith(f"scenario: {knob}: {expected}")
        assert emulator.engine.scenario.model_dump() == (
            parse_scenario(default_scenario_data).model_dump()
        )

    async def test_a_newer_customer_without_a_default_ruleset_over_http(
        self, admin, default_scenario_data
    ):
        newer = default_scenario_data | {"default_ruleset_opted_out": False}
        assert await admin.request("PUT", "/_emulator/scenario", newer) == (200, {})
        status, answer = await admin.post("/signal/evaluate", EVALUATE)
        assert (status, answer["error_code"]) == (400, "RULESET_NOT_FOUND")
        named = EVALUATE | {"ruleset_key": "sts-scores-only"}
        assert (await admin.post("/signal/evaluate", named))[0] == 200

    async def test_a_body_that_is_not_json(self, admin):
        status, body = await admin.request("PUT", "/_emulator/scenario", data=b"{")
        assert status == 400
        assert "not valid JSON" in body["error"]


class TestHttpEdge:
    async def test_unknown_paths_get_a_plaid_404(self, admin):
        status, body = await admin.post("/transfer/create", {})
        assert (status, body["error_type"], body["error_code"]) == (
            404,
            "INVALID_REQUEST",
            "NOT_FOUND",
        )
        assert (await admin.last_call())["endpoint"] == "/transfer/create"

    async def test_the_wrong_method_gets_a_plaid_404(self, admin):
        status, body = await admin.request("GET", "/signal/evaluate")
        assert (status, body["error_code"]) == (404, "NOT_FOUND")

    async def test_a_body_that_is_not_json_is_invalid_body(self, admin):
        status, body = await admin.request("POST", "/accounts/balance/get", data=b"{x")
        assert (status, body["error_code"]) == (400, "INVALID_BODY")

    async def test_credentials_may_come_in_the_body(self, admin):
        body = EVALUATE | {"client_id": "c", "secret": "s"}
        status, _ = await admin.post("/signal/evaluate", body, headers={})
        assert status == 200

    async def test_no_credentials_at_all(self, admin):
        status, body = await admin.post("/signal/evaluate", EVALUATE, headers={})
        assert (status, body["error_type"], body["error_code"]) == (
            400,
            "INVALID_INPUT",
            "INVALID_API_KEYS",
        )

    async def test_latency_is_added_per_endpoint(
        self, start, http, default_scenario_data
    ):
        sleep = RecordingSleep()
        admin = Admin(http, (await start(sleep=sleep)).url)
        default_scenario_data["latency_ms"] = {"/signal/evaluate": 150}
        await admin.request("PUT", "/_emulator/scenario", default_scenario_data)
        assert (await admin.post("/signal/evaluate", EVALUATE))[0] == 200
        assert sleep.waits == [0.15]
        balance = {"access_token": "access-sandbox-risky"}
        assert (await admin.post("/accounts/balance/get", balance))[0] == 200
        assert sleep.waits == [0.15]  # no latency for balance: no wait at all

    async def test_the_url_has_no_trailing_slash(self, emulator):
        assert emulator.url.startswith("http://127.0.0.1:")
        assert not emulator.url.endswith("/")


class TestRunEmulator:
    @pytest.mark.parametrize(
        ("listen", "expected"),
        [("127.0.0.1:8089", ("127.0.0.1", 8089)), ("[::1]:0", ("::1", 0))],
    )
    def test_parse_listen(self, listen, expected):
        assert parse_listen(listen) == expected

    @pytest.mark.parametrize("listen", ["8089", "host:", ":80", "h:99999"])
    def test_parse_listen_refuses(self, listen):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_listen(listen)

    async def test_it_prints_its_url_and_stops_on_sigterm(self):
        code = "from plaid_emulator import run_emulator; run_emulator('127.0.0.1:0')"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            stdout=asyncio.subprocess.PIPE,
            env=os.environ | {"PYTHONPATH": os.getcwd()},
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=10)
        assert line.decode().startswith("plaid-emulator listening on http://127.0.0.1:")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=10) == 0

    @pytest.mark.parametrize(
        "command",
        [
            ("-m", "plaid_emulator"),
            ("-m", "service", "emulator"),
        ],
    )
    async def test_a_bad_scenario_exits_2_naming_path_and_field(
        self, tmp_path, command
    ):
        path = tmp_path / "bad.yaml"
        path.write_text(
            "items:\n  - access_token: t\n    accounts:\n"
            "      - {account_id: a, available: lots, current: 1}\n"
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *command,
            "--scenario",
            str(path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=os.environ | {"PYTHONPATH": os.getcwd()},
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=20)
        assert proc.returncode == 2
        assert out == b""
        assert err.decode() == (
            f"plaid-emulator: {path}: items[0].accounts[0].available: "
            "Input should be a valid number\n"
        )
