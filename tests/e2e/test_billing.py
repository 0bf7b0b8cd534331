"""What Plaid bills, per caller, over real gRPC with API keys on and the emulator as Plaid:
each kind of call moves achrisk_plaid_billable_calls_total by exactly what the emulator's
call log says happened (docs/plaid-behaviour.md, "What Plaid bills")."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import grpc
import pytest

from plaid_emulator import RunningEmulator
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from tests.conftest import (
    EmulatorAdmin,
    Harness,
    packaged_config_plus,
    payment,
    sample,
    scrape,
    start_harness,
    stop_harness,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
OPERATIONS = Path(__file__).parents[2] / "docs" / "operations.md"
API_KEYS = {"ACH_RISK_API_KEYS_FILE": str(FIXTURES / "api-keys.toml")}
CHECKOUT = (("authorization", "Bearer test-api-key-checkout"),)
OPS = (("authorization", "Bearer test-api-key-ops"),)
EVALUATE = "/signal/evaluate"
BALANCE = "/accounts/balance/get"
LIVE = "balance_extraction"
STS = "signal_transaction_scores"
FREE = "free"
# ops degrades on a Plaid outage; checkout fails closed (the default). Fast retries.
CONFIG = """
[plaid.retry]
max_attempts = 3
initial_backoff_s = 0.01
max_backoff_s = 0.05
min_attempt_s = 0.05

[[degraded.callers.ops.rules]]
failures = ["PLAID_UNAVAILABLE"]
result = "REVIEW"
"""
METRIC = "achrisk_plaid_billable_calls_total"


def series(caller: str, product: str, outcome: str) -> str:
    return f'{METRIC}{{caller="{caller}",outcome="{outcome}",product="{product}"}} '


class Counts:
    """Every billable series of both callers, read from one scrape."""

    def __init__(self, text: str) -> None:
        self.values = {
            (caller, product, outcome): sample(text, series(caller, product, outcome))
            for caller in ("checkout", "ops")
            for product in (LIVE, STS, FREE)
            for outcome in ("attempted", "succeeded")
        }

    def minus(self, before: Counts) -> dict[tuple[str, str, str], float]:
        """The series that moved, and by how much."""
        moved = {k: v - before.values[k] for k, v in self.values.items()}
        return {k: v for k, v in moved.items() if v}


@pytest.fixture
async def keyed(
    emulator: RunningEmulator, database_url: str, tmp_path: Path
) -> AsyncIterator[Harness]:
    config = packaged_config_plus(tmp_path, CONFIG)
    running = await start_harness(
        emulator.url, config, API_KEYS, database_url=database_url
    )
    yield running
    await stop_harness(running)


async def moved_by(
    harness: Harness, call: Awaitable[object]
) -> dict[tuple[str, str, str], float]:
    before = Counts(await scrape(harness))
    await call
    return Counts(await scrape(harness)).minus(before)


async def calls_to(
    admin: EmulatorAdmin, endpoint: str, txid: str
) -> list[dict[str, Any]]:
    return [
        c
        for c in await admin.calls()
        if c["endpoint"] == endpoint and c["client_transaction_id"] == txid
    ]


class TestEvaluations:
    async def test_a_balance_only_decision_is_one_live_extraction_for_its_caller(
        self, keyed: Harness, admin: EmulatorAdmin
    ) -> None:
        request = payment(ruleset_key="balance-only")
        moved = await moved_by(
            keyed, keyed.stub.EvaluatePayment(request, metadata=CHECKOUT, timeout=10)
        )
        assert moved == {
            ("checkout", LIVE, "attempted"): 1,
            ("checkout", LIVE, "succeeded"): 1,
        }
        truth = await calls_to(admin, EVALUATE, request.client_transaction_id)
        assert [c["realtime_balance_attempted"] for c in truth] == [True]

    async def test_a_failed_extraction_is_billed_but_did_not_succeed(
        self, keyed: Harness
    ) -> None:
        request = payment(
            "access-sandbox-bank-not-responding",
            "checking-bank-not-responding",
            ruleset_key="balance-only",
        )
        moved = await moved_by(
            keyed, keyed.stub.EvaluatePayment(request, metadata=CHECKOUT, timeout=10)
        )
        assert moved == {("checkout", LIVE, "attempted"): 1}

    async def test_a_transaction_scores_decision_is_one_signal_evaluation(
        self, keyed: Harness, admin: EmulatorAdmin
    ) -> None:
        request = payment(ruleset_key="sts-scores-only")
        moved = await moved_by(
            keyed, keyed.stub.EvaluatePayment(request, metadata=OPS, timeout=10)
        )
        assert moved == {("ops", STS, "attempted"): 1, ("ops", STS, "succeeded"): 1}
        truth = await calls_to(admin, EVALUATE, request.client_transaction_id)
        assert [c["realtime_balance_attempted"] for c in truth] == [False]

    async def test_an_rtp_decision_is_one_balance_get(
        self, keyed: Harness, admin: EmulatorAdmin
    ) -> None:
        before = len([c for c in await admin.calls() if c["endpoint"] == BALANCE])
        request = payment(rail=pb.PAYMENT_RAIL_RTP)
        moved = await moved_by(
            keyed, keyed.stub.EvaluatePayment(request, metadata=OPS, timeout=10)
        )
        assert moved == {("ops", LIVE, "attempted"): 1, ("ops", LIVE, "succeeded"): 1}
        balance_gets = [c for c in await admin.calls() if c["endpoint"] == BALANCE]
        assert len(balance_gets) == before + 1

    async def test_a_replay_bills_nothing(self, keyed: Harness) -> None:
        request = payment(ruleset_key="balance-only")
        await keyed.stub.EvaluatePayment(request, metadata=CHECKOUT, timeout=10)
        moved = await moved_by(
            keyed, keyed.stub.EvaluatePayment(request, metadata=CHECKOUT, timeout=10)
        )
        assert moved == {}


class TestFailures:
    async def test_a_degraded_decision_counts_each_refused_attempt_as_free(
        self, keyed: Harness, admin: EmulatorAdmin
    ) -> None:
        await admin.fault(
            endpoint=EVALUATE, error_code="INTERNAL_SERVER_ERROR", times=3
        )
        request = payment(ruleset_key="balance-only")
        reply = await keyed.stub.EvaluatePayment(request, metadata=OPS, timeout=10)
        assert reply.decision.degraded
        attempts = len(await calls_to(admin, EVALUATE, request.client_transaction_id))
        assert attempts == 3
        moved = Counts(await scrape(keyed)).values
        assert moved[("ops", FREE, "attempted")] == attempts
        assert moved[("ops", LIVE, "attempted")] == 0

    async def test_a_failed_balance_only_evaluation_bills_every_unanswered_attempt(
        self, keyed: Harness, admin: EmulatorAdmin
    ) -> None:
        # Dropped connections: Plaid may have extracted each time, so each is counted.
        await admin.fault(endpoint=EVALUATE, drop_connection=True, times=3)
        request = payment(ruleset_key="balance-only")
        before = Counts(await scrape(keyed))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await keyed.stub.EvaluatePayment(request, metadata=CHECKOUT, timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        attempts = len(await calls_to(admin, EVALUATE, request.client_transaction_id))
        assert attempts >= 2  # the first attempt and its retries
        moved = Counts(await scrape(keyed)).minus(before)
        assert moved == {("checkout", LIVE, "attempted"): attempts}


class TestReports:
    async def test_a_report_is_free_and_counted_for_its_caller(
        self, keyed: Harness, admin: EmulatorAdmin
    ) -> None:
        request = payment(ruleset_key="sts-scores-only")
        await keyed.stub.EvaluatePayment(request, metadata=CHECKOUT, timeout=10)
        before = Counts(await scrape(keyed))
        await keyed.stub.ReportDecision(
            pb.ReportDecisionRequest(
                client_transaction_id=request.client_transaction_id, initiated=True
            ),
            metadata=CHECKOUT,
            timeout=10,
        )
        for _ in range(100):  # the outbox worker delivers it in the background
            moved = Counts(await scrape(keyed)).minus(before)
            if moved:
                break
            await asyncio.sleep(0.05)
        assert moved == {
            ("checkout", FREE, "attempted"): 1,
            ("checkout", FREE, "succeeded"): 1,
        }


async def test_the_documented_query_names_a_real_series(
    keyed: Harness,
) -> None:
    """The PromQL in docs/operations.md's "What Plaid bills" reads series the service
    exports."""
    await keyed.stub.EvaluatePayment(
        payment(ruleset_key="balance-only"), metadata=CHECKOUT, timeout=10
    )
    text = await scrape(keyed)
    queries = re.findall(rf"{METRIC}\{{([^}}]*)\}}", OPERATIONS.read_text())
    assert queries, "docs/operations.md names no billable series"
    for matchers in queries:
        labels = dict(re.findall(r'(\w+)="([^"]*)"', matchers))
        line = (
            METRIC
            + "{"
            + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            + "} "
        )
        assert sample(text, line) >= 1, f"{line!r} not in the scrape"


def finished_lines(capsys: pytest.CaptureFixture[str], txid: str) -> list[str]:
    """The rpc.finished lines written for `txid` so far (colours stripped)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    return [
        line for line in plain.splitlines() if "rpc.finished" in line and txid in line
    ]


class TestLogLine:
    async def test_rpc_finished_carries_the_billable_counts(
        self, keyed: Harness, admin: EmulatorAdmin, capsys: pytest.CaptureFixture[str]
    ) -> None:
        await admin.fault(endpoint=EVALUATE, drop_connection=True, times=1)
        request = payment(ruleset_key="balance-only")
        await keyed.stub.EvaluatePayment(request, metadata=CHECKOUT, timeout=10)
        finished = finished_lines(capsys, request.client_transaction_id)
        assert len(finished) == 1
        # A dropped first attempt (it may have extracted) and the answered retry.
        assert "billable_balance_extractions=2" in finished[0]
        assert "billable_signal_evaluations=0" in finished[0]

    async def test_a_replays_line_counts_no_billable_call(
        self, keyed: Harness, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The replay's line says what this RPC cost: nothing (the stored decision's
        calls were billed, and counted, when it was made)."""
        request = payment(ruleset_key="balance-only")
        await keyed.stub.EvaluatePayment(request, metadata=CHECKOUT, timeout=10)
        await keyed.stub.EvaluatePayment(request, metadata=CHECKOUT, timeout=10)
        finished = finished_lines(capsys, request.client_transaction_id)
        assert len(finished) == 2
        assert "billable_balance_extractions=1" in finished[0]
        assert "replayed=True" in finished[1]
        assert "billable_balance_extractions=0" in finished[1]
