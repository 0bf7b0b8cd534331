"""balance_freshness over gRPC against the emulator, on both ledgers: REQUIRE_LIVE adds
a live balance under a Transaction Scores ruleset, ACCEPT_RECENT reuses one, and the
emulator's call log (its ground truth) agrees with what the decisions say."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration

from plaid_emulator import RunningEmulator
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from tests.conftest import EmulatorAdmin, Harness, payment, start_harness, stop_harness
from tests.e2e.test_operations import API_KEYS, CHECKOUT, OPS

B = pb.RealtimeBalanceBasis
BALANCE_GET = "/accounts/balance/get"


@pytest.fixture
def database_url(both_stores_url: str) -> str:
    """Every test here runs on both stores."""
    return both_stores_url


@pytest.fixture
async def secured(
    emulator: RunningEmulator, database_url: str
) -> AsyncIterator[Harness]:
    running = await start_harness(emulator.url, env=API_KEYS, database_url=database_url)
    yield running
    await stop_harness(running)


def recent(max_age_s: int, **extra: Any) -> pb.EvaluatePaymentRequest:
    return payment(
        rail=pb.PAYMENT_RAIL_RTP,
        balance_freshness=pb.BALANCE_FRESHNESS_ACCEPT_RECENT,
        max_balance_age=Duration(seconds=max_age_s),
        **extra,
    )


class TestRequireLive:
    async def test_a_transaction_scores_ruleset_gets_a_live_balance_too(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        request = payment(
            ruleset_key="sts-with-balance",
            balance_freshness=pb.BALANCE_FRESHNESS_REQUIRE_LIVE,
        )
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        calls = await admin.calls()

        assert [c.endpoint for c in decision.plaid_calls] == [
            "/signal/evaluate",
            BALANCE_GET,
        ]
        assert [c["endpoint"] for c in calls] == ["/signal/evaluate", BALANCE_GET]
        assert list(decision.plaid_request_ids) == [c["request_id"] for c in calls]
        # Ground truth: Signal's STS ruleset asked the bank nothing; the balance call did.
        assert [c["realtime_balance_attempted"] for c in calls] == [False, True]
        assert calls[-1]["realtime_balance_fetched"] is True
        live = decision.realtime_balance
        assert live.basis == B.REALTIME_BALANCE_BASIS_BALANCE_ENDPOINT
        assert live.fetched
        assert live.attempted
        assert decision.applied_ruleset_key == "sts-with-balance"
        codes = [r.code for r in decision.reasons]
        assert "RULESET_RESULT" in codes
        assert "BALANCE_COVERS_AMOUNT" in codes

    async def test_without_it_the_same_ruleset_makes_one_call(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        request = payment(ruleset_key="sts-with-balance")
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        assert [c["endpoint"] for c in await admin.calls()] == ["/signal/evaluate"]
        assert not decision.realtime_balance.fetched


class TestAcceptRecent:
    async def test_a_recent_balance_is_reused_then_fetched_again_past_the_age(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        first = (await harness.stub.EvaluatePayment(recent(60), timeout=10)).decision
        reused = (await harness.stub.EvaluatePayment(recent(60), timeout=10)).decision

        assert first.realtime_balance.basis == B.REALTIME_BALANCE_BASIS_BALANCE_ENDPOINT
        assert len(await admin.calls()) == 1  # the reuse called nobody
        assert list(reused.plaid_calls) == []
        rt = reused.realtime_balance
        assert rt.basis == B.REALTIME_BALANCE_BASIS_REUSED_RECENT_FETCH
        assert not rt.fetched
        assert not rt.attempted
        assert rt.reused_from_client_transaction_id == first.client_transaction_id
        assert rt.reused_balance_age.ToTimedelta().total_seconds() < 60
        assert reused.balance.available == first.balance.available
        assert reused.result == first.result

        await asyncio.sleep(1.2)  # real time: past a one-second max age
        again = (await harness.stub.EvaluatePayment(recent(1), timeout=10)).decision
        calls = await admin.calls()
        assert len(calls) == 2
        assert calls[-1]["realtime_balance_attempted"] is True
        assert again.realtime_balance.basis == (
            B.REALTIME_BALANCE_BASIS_BALANCE_ENDPOINT
        )

    async def test_a_reused_balance_never_crosses_callers(
        self, secured: Harness, admin: EmulatorAdmin
    ) -> None:
        stub = secured.stub
        await stub.EvaluatePayment(recent(60), metadata=CHECKOUT, timeout=10)
        other = (
            await stub.EvaluatePayment(recent(60), metadata=OPS, timeout=10)
        ).decision
        assert len(await admin.calls()) == 2
        assert other.realtime_balance.basis == (
            B.REALTIME_BALANCE_BASIS_BALANCE_ENDPOINT
        )
        same = (
            await stub.EvaluatePayment(recent(60), metadata=CHECKOUT, timeout=10)
        ).decision
        assert len(await admin.calls()) == 2
        assert same.realtime_balance.basis == (
            B.REALTIME_BALANCE_BASIS_REUSED_RECENT_FETCH
        )
