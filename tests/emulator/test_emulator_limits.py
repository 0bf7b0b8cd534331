"""Rate limits at Plaid's documented defaults (docs/plaid-behaviour.md), on a fake clock."""

from typing import Any

import pytest

from plaid_emulator import Engine, default_scenario_path, load_scenario, parse_scenario
from plaid_emulator.endpoints import ACCOUNTS_BALANCE_GET as BALANCE
from plaid_emulator.endpoints import SIGNAL_DECISION_REPORT
from plaid_emulator.endpoints import SIGNAL_EVALUATE as EVALUATE
from plaid_emulator.limits import RateLimits, effective_limits
from tests.emulator.conftest import PLAID_HEADERS, Admin
from tests.emulator.test_emulator_scenario import error_of

CREDENTIALS = {"client_id": "c", "secret": "s"}
# Plaid's documented error object (docs/plaid-behaviour.md): these keys, always.
_DOCUMENTED_ERROR_KEYS = frozenset(
    {"error_type", "error_code", "error_message", "display_message", "request_id"}
)


def with_limits(scenario: dict[str, Any], **limits: Any) -> dict[str, Any]:
    return scenario | {"rate_limits": {"enabled": True, **limits}}


def evaluate_body(
    txn: str, token: str = "access-sandbox-checking-ok"
) -> dict[str, Any]:
    accounts = {
        "access-sandbox-checking-ok": "checking-ok",
        "access-sandbox-low-balance": "checking-low",
        "access-sandbox-risky": "checking-risky",
    }
    return {
        "access_token": token,
        "account_id": accounts[token],
        "client_transaction_id": txn,
        "amount": 25.0,
        **CREDENTIALS,
    }


class TestBalanceLimitsOverHttp:
    async def test_the_sixth_call_in_a_minute_gets_balance_limit(
        self, start, clock, http, default_scenario_data
    ):
        running = await start(with_limits(default_scenario_data), clock)
        admin = Admin(http, running.url)
        item = {"access_token": "access-sandbox-checking-ok"}
        for _ in range(5):
            assert (await admin.post(BALANCE, item))[0] == 200
            clock.advance(10)
        status, body = await admin.post(BALANCE, item)
        assert (status, body["error_type"], body["error_code"]) == (
            429,
            "RATE_LIMIT_EXCEEDED",
            "BALANCE_LIMIT",
        )
        # Another Item is not affected: the limit is per Item.
        assert (await admin.post(BALANCE, {"access_token": "access-sandbox-risky"}))[
            0
        ] == 200
        # A minute after the first call, one slot is free again.
        clock.advance(10)
        assert (await admin.post(BALANCE, item))[0] == 200
        assert (await admin.post(BALANCE, item))[0] == 429
        calls = await admin.calls()
        assert [c["error_code"] for c in calls].count("BALANCE_LIMIT") == 2

    async def test_the_per_client_limit_answers_accounts_balance_get_limit(
        self, start, clock, http, default_scenario_data
    ):
        override = {BALANCE: {"per_client": {"limit": 3, "window_s": 60}}}
        scenario = with_limits(default_scenario_data, endpoints=override)
        admin = Admin(http, (await start(scenario, clock)).url)
        tokens = [
            "access-sandbox-checking-ok",
            "access-sandbox-risky",
            "access-sandbox-low-balance",
        ]
        for token in tokens:
            assert (await admin.post(BALANCE, {"access_token": token}))[0] == 200
        status, body = await admin.post(BALANCE, {"access_token": tokens[0]})
        assert (status, body["error_code"]) == (429, "ACCOUNTS_BALANCE_GET_LIMIT")
        # Another client has its own count.
        other = {"PLAID-CLIENT-ID": "other", "PLAID-SECRET": "s"}
        assert (await admin.post(BALANCE, {"access_token": tokens[0]}, other))[0] == 200
        assert PLAID_HEADERS["PLAID-CLIENT-ID"] != "other"

    async def test_item_get_limit(self, start, clock, http, default_scenario_data):
        admin = Admin(
            http, (await start(with_limits(default_scenario_data), clock)).url
        )
        item = {"access_token": "access-sandbox-checking-ok"}
        for _ in range(15):
            assert (await admin.post("/item/get", item))[0] == 200
        status, body = await admin.post("/item/get", item)
        assert (status, body["error_code"]) == (429, "ITEM_GET_LIMIT")

    async def test_limits_are_on_by_default_with_the_documented_bodies(
        self, start, clock, http
    ):
        # No scenario at all: the packaged one, production limits.
        admin = Admin(http, (await start(None, clock)).url)
        item = {"access_token": "access-sandbox-checking-ok"}
        for _ in range(5):
            assert (await admin.post(BALANCE, item))[0] == 200
        status, body = await admin.post(BALANCE, item)
        assert status == 429
        assert set(body) >= _DOCUMENTED_ERROR_KEYS
        assert (body["error_type"], body["error_code"]) == (
            "RATE_LIMIT_EXCEEDED",
            "BALANCE_LIMIT",
        )
        assert "5 calls to /accounts/balance/get per Item in 60 s" in str(
            body["error_message"]
        )
        for i in range(20):
            reply = await admin.post(EVALUATE, evaluate_body(f"d{i}"))
            assert reply[0] == 200
        status, body = await admin.post(EVALUATE, evaluate_body("d20"))
        assert (status, body["error_type"], body["error_code"]) == (
            429,
            "RATE_LIMIT_EXCEEDED",
            "RATE_LIMIT",
        )
        assert "per client in 1 s" in str(body["error_message"])

    async def test_a_scenario_turns_them_off(
        self, start, clock, http, default_scenario_data
    ):
        scenario = default_scenario_data | {"rate_limits": {"enabled": False}}
        admin = Admin(http, (await start(scenario, clock)).url)
        item = {"access_token": "access-sandbox-checking-ok"}
        for _ in range(30):
            assert (await admin.post(BALANCE, item))[0] == 200
        for i in range(30):
            assert (await admin.post(EVALUATE, evaluate_body(f"o{i}")))[0] == 200

    async def test_the_sandbox_profile_over_http(
        self, start, clock, http, default_scenario_data
    ):
        scenario = default_scenario_data | {"rate_limits": {"profile": "sandbox"}}
        admin = Admin(http, (await start(scenario, clock)).url)
        item = {"access_token": "access-sandbox-checking-ok"}
        for _ in range(25):
            assert (await admin.post(BALANCE, item))[0] == 200
        status, body = await admin.post(BALANCE, item)
        assert (status, body["error_code"]) == (429, "BALANCE_LIMIT")

    async def test_reset_forgets_the_counts(
        self, start, clock, http, default_scenario_data
    ):
        admin = Admin(
            http, (await start(with_limits(default_scenario_data), clock)).url
        )
        item = {"access_token": "access-sandbox-checking-ok"}
        for _ in range(5):
            await admin.post(BALANCE, item)
        assert (await admin.post(BALANCE, item))[0] == 429
        await admin.request("POST", "/_emulator/reset")
        assert (await admin.post(BALANCE, item))[0] == 200


class TestEvaluateLimits:
    @pytest.fixture
    def engine(self, default_scenario_data, clock):
        return Engine(parse_scenario(with_limits(default_scenario_data)), clock)

    def test_70_evaluations_per_item_per_hour(self, engine, clock):
        for i in range(70):
            assert engine.signal_evaluate(evaluate_body(f"t{i}")).status == 200
            clock.advance(50)  # 70 calls in 58 minutes: under 20 per second
        reply = engine.signal_evaluate(evaluate_body("t70"))
        assert (reply.status, reply.body["error_code"]) == (429, "RATE_LIMIT")
        assert "per Item" in str(reply.body["error_message"])
        clock.advance(120)  # the first call is now over an hour old
        assert engine.signal_evaluate(evaluate_body("t71")).status == 200

    def test_10_evaluations_per_transaction_per_hour(self, engine, clock):
        for _ in range(10):
            assert engine.signal_evaluate(evaluate_body("same")).status == 200
            clock.advance(1)
        reply = engine.signal_evaluate(evaluate_body("same"))
        assert (reply.status, reply.body["error_code"]) == (429, "RATE_LIMIT")
        assert "per transaction" in str(reply.body["error_message"])

    def test_20_evaluations_per_client_per_second(self, engine, clock):
        tokens = [
            "access-sandbox-checking-ok",
            "access-sandbox-low-balance",
            "access-sandbox-risky",
        ]
        for i in range(20):
            body = evaluate_body(f"t{i}", tokens[i % 3])
            assert engine.signal_evaluate(body).status == 200
        reply = engine.signal_evaluate(evaluate_body("t20", tokens[0]))
        assert (reply.status, reply.body["error_code"]) == (429, "RATE_LIMIT")
        assert "per client" in str(reply.body["error_message"])
        clock.advance(1)
        assert engine.signal_evaluate(evaluate_body("t21", tokens[0])).status == 200

    def test_a_refused_call_does_not_count(self, engine, clock):
        for i in range(20):
            engine.signal_evaluate(evaluate_body(f"t{i}", "access-sandbox-risky"))
        for i in range(5):
            assert engine.signal_evaluate(evaluate_body(f"x{i}")).status == 429
        clock.advance(1)
        for i in range(20):
            assert engine.signal_evaluate(evaluate_body(f"y{i}")).status == 200


class TestConfiguration:
    def test_documented_production_defaults(self):
        config = RateLimits(enabled=True)
        balance = effective_limits(config, BALANCE)
        assert (balance["per_item"].limit, balance["per_item"].window_s) == (5, 60)
        assert balance["per_client"].limit == 1200
        evaluate = effective_limits(config, EVALUATE)
        assert (evaluate["per_item"].limit, evaluate["per_item"].window_s) == (70, 3600)
        assert evaluate["per_transaction"].limit == 10
        assert (evaluate["per_client"].limit, evaluate["per_client"].window_s) == (
            20,
            1,
        )
        assert effective_limits(config, SIGNAL_DECISION_REPORT)["per_client"].limit == (
            4000
        )

    def test_the_sandbox_profile(self):
        config = RateLimits(enabled=True, profile="sandbox")
        assert effective_limits(config, BALANCE)["per_item"].limit == 25
        assert effective_limits(config, BALANCE)["per_client"].limit == 100
        assert effective_limits(config, EVALUATE)["per_client"].limit == 30

    def test_an_override_keeps_other_scopes_and_null_lifts_one(self):
        config = RateLimits.model_validate(
            {
                "enabled": True,
                "endpoints": {
                    BALANCE: {"per_item": None},
                    EVALUATE: {"per_client": {"limit": 2, "window_s": 0.5}},
                },
            }
        )
        assert set(effective_limits(config, BALANCE)) == {"per_client"}
        evaluate = effective_limits(config, EVALUATE)
        assert evaluate["per_client"].limit == 2
        assert evaluate["per_item"].limit == 70

    def test_disabled_means_no_limits(self):
        assert effective_limits(RateLimits(enabled=False), BALANCE) == {}

    def test_enabled_with_the_production_profile_by_default(self):
        assert RateLimits() == RateLimits(enabled=True, profile="production")
        packaged = load_scenario(default_scenario_path()).rate_limits
        assert (packaged.enabled, packaged.profile) == (True, "production")

    @pytest.mark.parametrize(
        ("limits", "expected"),
        [
            (
                {"endpoints": {"/transfer/create": {}}},
                "rate_limits.endpoints./transfer/create: Input should be "
                "'/signal/evaluate', ",
            ),
            (
                {"endpoints": {BALANCE: {"per_item": {"limit": 0, "window_s": 60}}}},
                "rate_limits.endpoints./accounts/balance/get.per_item.limit: Input "
                "should be greater than or equal to 1",
            ),
            ({"profile": "staging"}, "rate_limits.profile: Input should be"),
            ({"enable": True}, "rate_limits.enable: Extra inputs are not permitted"),
        ],
    )
    def test_bad_limits_name_the_path(self, limits, expected):
        assert error_of({"rate_limits": limits}).startswith(
            f"scenario.yaml: {expected}"
        )
