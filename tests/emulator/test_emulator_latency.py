"""Scenario latency: fixed or lognormal from p50/p95, seeded, capped and never blocking."""

import asyncio
import statistics
from typing import Any

import pytest

from plaid_emulator import Engine, parse_scenario
from plaid_emulator.endpoints import ACCOUNTS_BALANCE_GET as BALANCE
from plaid_emulator.endpoints import SIGNAL_EVALUATE as EVALUATE
from plaid_emulator.endpoints import Endpoint
from plaid_emulator.latency import LatencyDistribution, LatencySampler
from tests.emulator.conftest import Admin, HeldSleep, RecordingSleep
from tests.emulator.test_emulator_scenario import error_of

SLOW_BANK = LatencyDistribution(p50=3000, p95=11000)
BODY = {
    "access_token": "access-sandbox-checking-ok",
    "account_id": "checking-ok",
    "client_transaction_id": "txn-1",
    "amount": 25.0,
}


def draws(sampler: LatencySampler, endpoint: str, n: int) -> list[float]:
    return [sampler.delay_ms(endpoint) for _ in range(n)]


class TestDistribution:
    def test_the_draws_match_the_p50_and_p95_they_were_fitted_to(self):
        sampler = LatencySampler({BALANCE: SLOW_BANK}, seed=7)
        cuts = statistics.quantiles(draws(sampler, BALANCE, 20_000), n=100)
        assert cuts[49] == pytest.approx(3000, rel=0.05)
        assert cuts[94] == pytest.approx(11000, rel=0.05)

    def test_the_same_seed_gives_the_same_delays(self):
        first = draws(LatencySampler({BALANCE: SLOW_BANK}, seed=1), BALANCE, 50)
        again = draws(LatencySampler({BALANCE: SLOW_BANK}, seed=1), BALANCE, 50)
        other = draws(LatencySampler({BALANCE: SLOW_BANK}, seed=2), BALANCE, 50)
        assert first == again
        assert first != other

    def test_each_endpoint_has_its_own_sequence(self):
        both: dict[Endpoint, int | LatencyDistribution] = {
            BALANCE: SLOW_BANK,
            EVALUATE: SLOW_BANK,
        }
        alone = draws(LatencySampler({BALANCE: SLOW_BANK}, seed=3), BALANCE, 20)
        mixed = LatencySampler(both, seed=3)
        interleaved = []
        for _ in range(20):
            mixed.delay_ms(EVALUATE)
            interleaved.append(mixed.delay_ms(BALANCE))
        assert interleaved == alone

    def test_delays_are_capped(self):
        capped = LatencyDistribution(p50=3000, p95=11000, max=12000)
        assert max(draws(LatencySampler({BALANCE: capped}, 0), BALANCE, 5000)) == 12000
        assert SLOW_BANK.cap_ms == 33000
        assert max(draws(LatencySampler({BALANCE: SLOW_BANK}, 0), BALANCE, 5000)) <= (
            33000
        )

    def test_equal_percentiles_mean_a_fixed_delay(self):
        fixed = LatencyDistribution(p50=40, p95=40)
        assert set(draws(LatencySampler({BALANCE: fixed}, 0), BALANCE, 10)) == {40}

    def test_fixed_values_and_unlisted_endpoints(self):
        sampler = LatencySampler({EVALUATE: 20}, seed=0)
        assert (sampler.delay_ms(EVALUATE), sampler.delay_ms(BALANCE)) == (20, 0)


class TestScenarioFormat:
    @pytest.mark.parametrize(
        ("latency", "expected"),
        [
            ({EVALUATE: {"p50": 100, "p95": 50}}, "p95 must be at least p50"),
            ({EVALUATE: {"p50": 100, "p95": 200, "max": 50}}, "max must be at least"),
            ({EVALUATE: {"p50": 0, "p95": 10}}, "p50: Input should be greater than 0"),
            ({EVALUATE: {"p50": 1, "p95": 2, "p99": 3}}, "p99: Extra inputs are not"),
            ({EVALUATE: True}, "latency_ms./signal/evaluate: Input should be a valid"),
            (
                {EVALUATE: "fast"},
                "latency_ms./signal/evaluate: Input should be a valid",
            ),
            ({"/accounts/get": 5}, "latency_ms./accounts/get: Input should be"),
        ],
    )
    def test_bad_latency_names_the_path(self, latency, expected):
        assert expected in error_of({"latency_ms": latency})

    def test_the_seed_must_be_an_integer(self):
        assert "seed: Input should be a valid integer" in error_of({"seed": "x"})


RULESET_LATENCY = {
    "latency_ms": {EVALUATE: 5},
    "ruleset_latency_ms": {"balance_only": 300, "transaction_score": 40},
}
CREDENTIALS = {"client_id": "c", "secret": "s"}


def engine_with(scenario_data: dict[str, Any], **changes: Any) -> Engine:
    return Engine(parse_scenario(scenario_data | RULESET_LATENCY | changes))


class TestRulesetLatency:
    """/signal/evaluate waits by the kind of ruleset the call will run."""

    @pytest.mark.parametrize(
        ("fields", "delay"),
        [
            ({"ruleset_key": "balance-only"}, 300),
            ({"ruleset_key": "unregistered-balance-only"}, 300),
            ({"ruleset_key": "sts-with-balance"}, 40),
            ({}, 5),  # no ruleset runs: the endpoint's latency
            ({"ruleset_key": "no-such-ruleset"}, 5),
            ({"ruleset_key": 7}, 5),  # refused as INVALID_FIELD, no ruleset runs
        ],
    )
    def test_the_ruleset_named_sets_the_delay(
        self, default_scenario_data, fields, delay
    ):
        engine = engine_with(default_scenario_data)
        assert engine.delay_ms(EVALUATE, BODY | fields) == delay

    def test_the_default_ruleset_counts_when_none_is_named(self, default_scenario_data):
        engine = engine_with(default_scenario_data, default_ruleset="balance-only")
        assert engine.delay_ms(EVALUATE, BODY) == 300

    def test_an_id_already_evaluated_runs_no_ruleset(self, default_scenario_data):
        engine = engine_with(default_scenario_data)
        body = BODY | {"ruleset_key": "balance-only"}
        assert engine.signal_evaluate(body | CREDENTIALS).status == 200
        assert engine.delay_ms(EVALUATE, body) == 5

    def test_a_kind_left_out_keeps_the_endpoint_latency(self, default_scenario_data):
        engine = engine_with(
            default_scenario_data, ruleset_latency_ms={"balance_only": 300}
        )
        assert engine.delay_ms(EVALUATE, BODY | {"ruleset_key": "sts-scores-only"}) == 5

    @pytest.mark.parametrize("body", [None, [1], "x"])
    def test_a_body_that_is_not_an_object_gets_the_endpoint_latency(
        self, default_scenario_data, body
    ):
        assert engine_with(default_scenario_data).delay_ms(EVALUATE, body) == 5

    def test_other_endpoints_ignore_it(self, default_scenario_data):
        engine = engine_with(default_scenario_data)
        body = {"access_token": "access-sandbox-risky", "ruleset_key": "balance-only"}
        assert engine.delay_ms(BALANCE, body) == 0

    def test_each_kind_draws_its_own_seeded_sequence(self, default_scenario_data):
        drawn = {"balance_only": {"p50": 3000, "p95": 11000}}
        balance_only = BODY | {"ruleset_key": "balance-only"}
        scores_only = BODY | {"ruleset_key": "sts-scores-only"}
        alone = engine_with(default_scenario_data, ruleset_latency_ms=drawn, seed=4)
        mixed = engine_with(
            default_scenario_data,
            ruleset_latency_ms=drawn | {"transaction_score": {"p50": 300, "p95": 2000}},
            latency_ms={EVALUATE: {"p50": 10, "p95": 20}},
            seed=4,
        )
        expected = [alone.delay_ms(EVALUATE, balance_only) for _ in range(20)]
        interleaved = []
        for _ in range(20):
            mixed.delay_ms(EVALUATE, scores_only)
            mixed.delay_ms(EVALUATE, BODY)
            interleaved.append(mixed.delay_ms(EVALUATE, balance_only))
        assert interleaved == expected
        assert len(set(expected)) > 1

    @pytest.mark.parametrize(
        ("latency", "expected"),
        [
            ({"sts": 5}, "ruleset_latency_ms.sts: Input should be 'balance_only' or"),
            (
                {"balance_only": {"p50": 5, "p95": 1}},
                "ruleset_latency_ms.balance_only: Value error, p95 must be at least p50",
            ),
            ({"transaction_score": -1}, "ruleset_latency_ms.transaction_score: Input"),
        ],
    )
    def test_bad_ruleset_latency_names_the_path(self, latency, expected):
        assert error_of({"ruleset_latency_ms": latency}).startswith(
            f"scenario.yaml: {expected}"
        )


class TestOverHttp:
    async def test_the_ruleset_kind_sets_the_wait_and_the_log_says_how_long(
        self, start, http, default_scenario_data
    ):
        default_scenario_data |= {
            "latency_ms": {EVALUATE: 10},
            "ruleset_latency_ms": {"balance_only": 150, "transaction_score": 30},
        }
        sleep = RecordingSleep()
        admin = Admin(http, (await start(default_scenario_data, sleep=sleep)).url)
        balance_only = BODY | {"ruleset_key": "balance-only"}
        assert (await admin.post(EVALUATE, balance_only))[0] == 200
        for txn, ruleset in (("txn-2", "sts-scores-only"), ("txn-3", None)):
            fields = {"client_transaction_id": txn}
            if ruleset is not None:
                fields["ruleset_key"] = ruleset
            assert (await admin.post(EVALUATE, BODY | fields))[0] == 200
        assert (await admin.post(EVALUATE, balance_only))[0] == 200  # a replay
        calls = await admin.calls()
        assert [(c["ruleset_key"], c["latency_ms"]) for c in calls] == [
            ("balance-only", 150),
            ("sts-scores-only", 30),
            (None, 10),
            ("balance-only", 10),
        ]
        assert sleep.waits == [0.15, 0.03, 0.01, 0.01]
        assert calls[-1]["replayed"] is True

    async def test_a_distribution_delays_the_call_and_the_log_says_how_long(
        self, start, http, default_scenario_data
    ):
        default_scenario_data["latency_ms"] = {EVALUATE: {"p50": 60, "p95": 60}}
        sleep = RecordingSleep()
        admin = Admin(http, (await start(default_scenario_data, sleep=sleep)).url)
        assert (await admin.post(EVALUATE, BODY))[0] == 200
        assert sleep.waits == [pytest.approx(0.06)]
        assert (await admin.last_call())["latency_ms"] == 60

    async def test_reset_replays_the_same_delays(
        self, start, http, default_scenario_data
    ):
        default_scenario_data["latency_ms"] = {
            BALANCE: {"p50": 3, "p95": 12, "max": 20}
        }
        default_scenario_data["seed"] = 42
        # Eight balance gets a run on one Item: over Plaid's 5 a minute, and a refused
        # call waits no latency. The delays are the subject here, so the limits are off.
        default_scenario_data["rate_limits"] = {"enabled": False}
        admin = Admin(http, (await start(default_scenario_data)).url)
        runs = []
        for _ in range(2):
            for _ in range(8):
                await admin.post(BALANCE, {"access_token": "access-sandbox-risky"})
            runs.append([c["latency_ms"] for c in await admin.calls()])
            await admin.request("POST", "/_emulator/reset")
        assert runs[0] == runs[1]
        assert len(set(runs[0])) > 1

    async def test_slow_calls_wait_concurrently(
        self, start, http, default_scenario_data
    ):
        default_scenario_data["latency_ms"] = {BALANCE: 300}
        # Thirty balance gets on one Item at once: over Plaid's 5 a minute. This test
        # is about concurrent waits, not the quota, so the limits are off.
        default_scenario_data["rate_limits"] = {"enabled": False}
        sleep = HeldSleep()
        admin = Admin(http, (await start(default_scenario_data, sleep=sleep)).url)
        answers = asyncio.gather(
            *(
                admin.post(BALANCE, {"access_token": "access-sandbox-risky"})
                for _ in range(30)
            )
        )
        # All thirty wait at the same moment: one slow call holds up no other.
        await sleep.until_holding(30)
        sleep.release()
        assert [status for status, _ in await answers] == [200] * 30
        assert sleep.waits == [0.3] * 30
