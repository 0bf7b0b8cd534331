"""The decision ledger over gRPC: replay, conflicts, GetDecision, restart survival."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2

from plaid_emulator import RunningEmulator
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from tests.conftest import (
    EmulatorAdmin,
    Harness,
    payment,
    start_harness,
    stop_harness,
    without_rate_limits,
)
from tests.e2e.test_errors import details

EVALUATE = "/signal/evaluate"


@pytest.fixture
def database_url(both_stores_url: str) -> str:
    """Every test here runs on both stores."""
    return both_stores_url


async def evaluations(admin: EmulatorAdmin) -> int:
    return sum(c["endpoint"] == EVALUATE for c in await admin.calls())


class TestReplay:
    async def test_a_repeat_is_replayed_without_a_plaid_call(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        request = payment(ruleset_key="balance-only", client_transaction_id="replay-1")
        first = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        second = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        assert await evaluations(admin) == 1
        assert not first.replayed
        assert second.replayed
        assert second.realtime_balance == first.realtime_balance
        assert second.realtime_balance.basis == (
            pb.REALTIME_BALANCE_BASIS_RULESET_BALANCE_ONLY
        )
        assert list(second.plaid_request_ids) == list(first.plaid_request_ids)

    async def test_a_changed_amount_is_already_exists(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        await harness.stub.EvaluatePayment(
            payment(client_transaction_id="reuse-1"), timeout=10
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await harness.stub.EvaluatePayment(
                payment(client_transaction_id="reuse-1", amount="50.01"), timeout=10
            )
        assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
        info = details(caught.value)["ErrorInfo"]
        assert isinstance(info, error_details_pb2.ErrorInfo)
        assert (info.reason, info.domain) == ("IDEMPOTENCY_KEY_REUSED", "achrisk")
        assert await evaluations(admin) == 1  # refused before Plaid

    async def test_concurrent_duplicates_make_one_plaid_call(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        request = payment(client_transaction_id="storm-1")
        replies = await asyncio.gather(
            *(harness.stub.EvaluatePayment(request, timeout=10) for _ in range(20))
        )
        assert await evaluations(admin) == 1
        assert len({r.decision.plaid_request_ids[0] for r in replies}) == 1

    async def test_a_failed_evaluation_can_be_retried_with_the_same_id(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        await admin.fault(endpoint=EVALUATE, error_code="ITEM_LOGIN_REQUIRED")
        request = payment(client_transaction_id="retry-1")
        with pytest.raises(grpc.aio.AioRpcError):
            await harness.stub.EvaluatePayment(request, timeout=10)
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        assert not decision.replayed


class TestGetDecision:
    async def test_a_stored_decision_reads_back(self, harness: Harness) -> None:
        made = (
            await harness.stub.EvaluatePayment(
                payment(client_transaction_id="get-1", rail=pb.PAYMENT_RAIL_RTP),
                timeout=10,
            )
        ).decision
        read = (
            await harness.stub.GetDecision(
                pb.GetDecisionRequest(client_transaction_id="get-1"), timeout=10
            )
        ).decision
        assert read.replayed
        read.replayed = False
        assert read == made

    async def test_an_unknown_id_is_not_found(self, harness: Harness) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await harness.stub.GetDecision(
                pb.GetDecisionRequest(client_transaction_id="never-made"), timeout=10
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_an_empty_id_is_invalid(self, harness: Harness) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await harness.stub.GetDecision(pb.GetDecisionRequest(), timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


class TestRestart:
    async def test_decisions_survive_a_restart(
        self, emulator: RunningEmulator, admin: EmulatorAdmin, database_url: str
    ) -> None:
        first = await start_harness(emulator.url, database_url=database_url)
        made = (
            await first.stub.EvaluatePayment(
                payment(client_transaction_id="restart-1"), timeout=10
            )
        ).decision
        await stop_harness(first)
        second = await start_harness(emulator.url, database_url=database_url)
        try:
            replayed = (
                await second.stub.EvaluatePayment(
                    payment(client_transaction_id="restart-1"), timeout=10
                )
            ).decision
        finally:
            await stop_harness(second)
        assert replayed.replayed
        assert replayed.evaluate_time == made.evaluate_time
        assert await evaluations(admin) == 1


class TestBatch:
    async def test_a_batch_is_answered_in_order_with_errors_inline(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        # Thirty evaluations of one Item at once: over Plaid's 20 a second per client.
        # The subject is the batch's order, not Plaid's quota.
        await admin.put_scenario(without_rate_limits())
        requests = [payment(client_transaction_id=f"batch-{i}") for i in range(30)]
        requests[7] = payment(client_transaction_id="batch-7", amount="0.00")
        requests[12] = payment("access-sandbox-nope", client_transaction_id="batch-12")

        async def stream() -> AsyncIterator[pb.EvaluatePaymentsRequest]:
            for r in requests:
                yield pb.EvaluatePaymentsRequest(payment=r)

        replies = [r async for r in harness.stub.EvaluatePayments(stream(), timeout=30)]
        assert [r.index for r in replies] == list(range(30))
        assert [r.client_transaction_id for r in replies] == [
            r.client_transaction_id for r in requests
        ]
        assert replies[7].error.code == code_pb2.INVALID_ARGUMENT
        assert replies[12].error.code == code_pb2.INVALID_ARGUMENT
        ok = [r for i, r in enumerate(replies) if i not in (7, 12)]
        assert all(r.HasField("decision") for r in ok)
        assert await evaluations(admin) == 29  # the zero amount never reached Plaid
