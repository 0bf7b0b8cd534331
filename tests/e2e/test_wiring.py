"""How start_service puts the use cases together, seen through gRPC on loopback with
Plaid's evaluations held by a fake: what shutdown waits for, and what replicas share."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import grpc
import pytest

from plaid_emulator import RunningEmulator
from service.adapters.store.sql import open_store
from service.domain.model import AppliedRuleset, Balance, PlaidCall, SignalAnswer
from tests.conftest import payment, start_harness, stop_harness
from tests.fakes import FakeSignalSource

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class HeldSource(FakeSignalSource):
    """Answers /signal/evaluate once released: an evaluation kept in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.called = asyncio.Event()
        self.signal.append(
            (
                SignalAnswer(
                    request_id="r-1",
                    ruleset=AppliedRuleset("balance-only", "ACCEPT"),
                    scores=None,
                    core_attributes=dict.fromkeys(
                        ("available_balance", "current_balance")
                    ),
                    balance=Balance(Decimal(100), Decimal(110), "USD"),
                    warnings=(),
                    sent_at=NOW,
                    received_at=NOW,
                ),
                (PlaidCall("/signal/evaluate", "r-1", 200, None, 5),),
            )
        )

    async def evaluate_signal(
        self, *args: Any, **kwargs: Any
    ) -> tuple[SignalAnswer, tuple[PlaidCall, ...]]:
        self.called.set()
        await self.release.wait()
        return await super().evaluate_signal(*args, **kwargs)


async def test_stopping_waits_for_an_evaluation_in_flight_to_reach_the_ledger(
    emulator: RunningEmulator, database_url: str
) -> None:
    held = HeldSource()
    first = await start_harness(
        emulator.url, database_url=database_url, signal_source=held
    )
    request = payment(ruleset_key="balance-only")
    call = asyncio.ensure_future(first.stub.EvaluatePayment(request, timeout=10))
    await asyncio.wait_for(held.called.wait(), 5)

    stopping = asyncio.create_task(first.service.stop(grace_s=0.05))
    # Longer than the rest of shutdown takes: only the evaluation in flight holds it.
    done, _ = await asyncio.wait({stopping}, timeout=1.5)
    assert not done  # the ledger stays open while Plaid is still answering
    held.release.set()
    await stopping
    # The caller is gone (the grace period ended its call), not the decision.
    with pytest.raises(grpc.aio.AioRpcError):
        await call
    await first.channel.close()

    # A restarted service replays the stored decision; its Plaid has no answers left.
    second = await start_harness(
        emulator.url, database_url=database_url, signal_source=FakeSignalSource()
    )
    try:
        reply = await second.stub.EvaluatePayment(request, timeout=10)
        assert reply.decision.replayed
    finally:
        await stop_harness(second)


async def test_replicas_sharing_a_ledger_evaluate_a_payment_once(
    emulator: RunningEmulator, database_url: str
) -> None:
    # One store object handed to both: the seam start_service offers, with the real
    # adapter behind it.
    ledger = await open_store(database_url)
    held, idle = HeldSource(), FakeSignalSource()
    first, second = [
        await start_harness(
            emulator.url, database_url=database_url, signal_source=s, store=ledger
        )
        for s in (held, idle)
    ]
    try:
        request = payment(ruleset_key="balance-only")
        evaluated = asyncio.ensure_future(
            first.stub.EvaluatePayment(request, timeout=10)
        )
        await asyncio.wait_for(held.called.wait(), 5)
        # Each replica is its own owner of a claim: the second waits for the first.
        waiting = asyncio.ensure_future(
            second.stub.EvaluatePayment(request, timeout=10)
        )
        await asyncio.sleep(0.2)
        assert not waiting.done()
        held.release.set()

        assert not (await evaluated).decision.replayed
        assert (await waiting).decision.replayed
        assert idle.budgets == []  # the second replica never called Plaid
    finally:
        for harness in (first, second):
            await stop_harness(harness)
        await ledger.close()
