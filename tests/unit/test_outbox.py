"""The outbox worker: delivery, retry with backoff, dead letters, order per transaction."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from service.app.errors import FailureKind, PlaidFailure
from service.app.outbox import OutboxWorker
from service.app.ports import CallBudget, DeliveryStatus, ReportKind
from service.config.outbox import OutboxSection
from service.domain.model import (
    Balance,
    Basis,
    Decision,
    Note,
    PaymentAttempt,
    PlaidCall,
    Rail,
    RealtimeReport,
    Result,
    Source,
    Verdict,
)
from service.domain.money import Money
from tests.clock import START, ManualClock
from tests.fakes import InMemoryDecisionStore


class ScriptedSender:
    """Fails with the scripted failures first, then succeeds; records what it sent."""

    def __init__(self, *failures: FailureKind) -> None:
        self.failures = list(failures)
        self.sent: list[tuple[ReportKind, dict[str, Any]]] = []

    async def send_report(
        self, kind: ReportKind, body: dict[str, Any], budget: CallBudget
    ) -> PlaidCall:
        self.sent.append((kind, body))
        if self.failures:
            kind_ = self.failures.pop(0)
            raise PlaidFailure(
                kind_,
                "scripted",
                endpoint="/signal/return/report",
                error_code=kind_.value,
            )
        return PlaidCall("/signal/return/report", "r-ok", 200, None, 3)


async def store_with_decision(txid: str = "tx-1") -> InMemoryDecisionStore:
    store = InMemoryDecisionStore()
    await store.claim("c", txid, "fp", "me", 10, START)
    decision = Decision(
        PaymentAttempt(txid, Money(100, "USD"), Rail.ACH_STANDARD),
        Verdict(Result.ACCEPT, Source.SIGNAL_RULESET, (Note("X", "y"),)),
        Balance(Decimal(1), None, "USD"),
        RealtimeReport(False, Basis.NO_RULESET),
        START,
    )
    await store.complete("c", txid, "me", decision, START)
    return store


def worker(
    store: InMemoryDecisionStore,
    sender: ScriptedSender,
    clock: ManualClock,
    observe: Callable[[str, str, str], None] = lambda kind, outcome, reason: None,
) -> OutboxWorker:
    policy = replace(
        OutboxSection().policy(),
        idle_poll_s=1,
        backoff_initial_s=1,
        backoff_max_s=8,
        max_permanent_failures=3,
    )
    return OutboxWorker(store, sender, "me", policy, clock, observe)


class Outcomes:
    """The worker's outcomes as they happen, for a test to wait on."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.changed = asyncio.Event()

    def __call__(self, kind: str, outcome: str, reason: str) -> None:
        self.seen.append(outcome)
        self.changed.set()

    async def wait_for(self, count: int) -> list[str]:
        async with asyncio.timeout(5):  # only against a hang; nothing is measured
            while len(self.seen) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.seen


class TestDelivery:
    async def test_a_report_is_delivered_exactly_as_stored(self) -> None:
        store, sender, clock = (
            await store_with_decision(),
            ScriptedSender(),
            ManualClock(),
        )
        body = {"client_transaction_id": "tx-1", "return_code": "R01"}
        await store.add_report("c", "tx-1", ReportKind.RETURN, body, START)
        assert await worker(store, sender, clock).drain_once() == 1
        assert sender.sent == [(ReportKind.RETURN, body)]
        assert store.reports[0].status is DeliveryStatus.DELIVERED
        assert store.reports[0].attempts == 1

    async def test_a_transient_failure_is_retried_after_a_growing_backoff(self) -> None:
        store, clock = await store_with_decision(), ManualClock()
        sender = ScriptedSender(FailureKind.UNAVAILABLE, FailureKind.RATE_LIMITED)
        await store.add_report("c", "tx-1", ReportKind.RETURN, {"a": 1}, START)
        outbox = worker(store, sender, clock)
        await outbox.drain_once()
        assert store.reports[0].next_attempt_at == START + timedelta(seconds=1)
        assert await outbox.drain_once() == 0  # not due yet
        clock.advance(1)
        await outbox.drain_once()
        assert store.reports[0].next_attempt_at == clock.now() + timedelta(seconds=2)
        clock.advance(2)
        await outbox.drain_once()
        assert store.reports[0].status is DeliveryStatus.DELIVERED
        assert store.reports[0].attempts == 3

    async def test_a_report_plaid_will_never_take_is_dead_lettered_at_once(
        self,
    ) -> None:
        store, clock = await store_with_decision(), ManualClock()
        sender = ScriptedSender(FailureKind.NOT_SUPPORTED)  # e.g. ADDENDUM_NOT_SIGNED
        await store.add_report("c", "tx-1", ReportKind.DECISION, {"a": 1}, START)
        await worker(store, sender, clock).drain_once()
        assert store.reports[0].status is DeliveryStatus.DEAD_LETTERED
        assert store.reports[0].last_error_code == "NOT_SUPPORTED"

    async def test_other_permanent_failures_dead_letter_after_the_bound(self) -> None:
        store, clock = await store_with_decision(), ManualClock()
        sender = ScriptedSender(*[FailureKind.REQUEST_REJECTED] * 5)
        await store.add_report("c", "tx-1", ReportKind.RETURN, {"a": 1}, START)
        outbox = worker(store, sender, clock)
        for _ in range(3):
            clock.advance(60)
            await outbox.drain_once()
        assert store.reports[0].status is DeliveryStatus.DEAD_LETTERED
        assert len(sender.sent) == 3

    @pytest.mark.parametrize(
        "kind", [FailureKind.CREDENTIALS_REJECTED, FailureKind.TIMEOUT]
    )
    async def test_our_credentials_or_timeouts_never_dead_letter(
        self, kind: FailureKind
    ) -> None:
        store, clock = await store_with_decision(), ManualClock()
        sender = ScriptedSender(*[kind] * 6)
        await store.add_report("c", "tx-1", ReportKind.RETURN, {"a": 1}, START)
        outbox = worker(store, sender, clock)
        for _ in range(6):
            clock.advance(600)
            await outbox.drain_once()
        assert store.reports[0].status is DeliveryStatus.PENDING

    async def test_one_transactions_reports_go_in_order(self) -> None:
        store, sender, clock = (
            await store_with_decision(),
            ScriptedSender(),
            ManualClock(),
        )
        await store.add_report("c", "tx-1", ReportKind.DECISION, {"n": 1}, START)
        await store.add_report("c", "tx-1", ReportKind.RETURN, {"n": 2}, START)
        outbox = worker(store, sender, clock)
        # The store leases a transaction's next report once the one before it is done.
        assert [await outbox.drain_once() for _ in range(3)] == [1, 1, 0]
        assert [body["n"] for _, body in sender.sent] == [1, 2]


@contextlib.asynccontextmanager
async def running_worker() -> AsyncIterator[
    tuple[InMemoryDecisionStore, ManualClock, Outcomes, OutboxWorker]
]:
    """A started worker over a store holding one decision, stopped afterwards."""
    store, clock, outcomes = await store_with_decision(), ManualClock(), Outcomes()
    outbox = worker(store, ScriptedSender(), clock, outcomes)
    outbox.start()
    try:
        yield store, clock, outcomes, outbox
    finally:
        await outbox.stop()


class TestRunning:
    async def test_an_idle_worker_looks_again_after_its_poll_interval(self) -> None:
        async with running_worker() as (store, clock, outcomes, _):
            await clock.sleeping()  # nothing to deliver: idle until the next poll
            assert clock.pending == [1]
            # Stored by another replica: nothing wakes this worker but its poll.
            await store.add_report("c", "tx-1", ReportKind.RETURN, {"a": 1}, START)
            clock.advance(1)
            assert await outcomes.wait_for(1) == ["delivered"]

    async def test_after_a_wake_it_goes_back_to_its_poll(self) -> None:
        """A wake is spent by the round it started: the worker does not spin on it."""
        async with running_worker() as (store, clock, outcomes, outbox):
            await clock.sleeping()
            await store.add_report("c", "tx-1", ReportKind.RETURN, {"a": 1}, START)
            outbox.wake()
            await outcomes.wait_for(1)
            await clock.sleeping()  # idle again, waiting for its next poll
            rounds = store.claim_rounds
            for _ in range(20):  # a spinning worker would claim on every turn
                await asyncio.sleep(0)
            assert store.claim_rounds == rounds
            assert clock.pending == [1]

    async def test_a_wake_delivers_without_waiting_for_the_poll(self) -> None:
        async with running_worker() as (store, clock, outcomes, outbox):
            await clock.sleeping()
            await store.add_report("c", "tx-1", ReportKind.RETURN, {"a": 1}, START)
            outbox.wake()
            assert await outcomes.wait_for(1) == ["delivered"]
            assert clock.monotonic() == ManualClock().monotonic()  # no time passed

    async def test_a_failed_report_is_sent_again_once_its_backoff_has_passed(
        self,
    ) -> None:
        store, clock = await store_with_decision(), ManualClock()
        sender = ScriptedSender(FailureKind.UNAVAILABLE, FailureKind.UNAVAILABLE)
        outcomes = Outcomes()
        outbox = worker(store, sender, clock, outcomes)
        await store.add_report("c", "tx-1", ReportKind.RETURN, {"a": 1}, START)
        outbox.start()
        try:
            assert await outcomes.wait_for(1) == ["retry"]  # due again in 1 s
            await clock.sleeping()
            clock.advance(1)
            assert await outcomes.wait_for(2) == ["retry", "retry"]  # then in 2 s
            await clock.sleeping()
            clock.advance(1)
            await clock.sleeping()  # polled once: not due yet
            assert len(sender.sent) == 2
            clock.advance(1)
            assert await outcomes.wait_for(3) == ["retry", "retry", "delivered"]
        finally:
            await outbox.stop()
