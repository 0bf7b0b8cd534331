"""The outbox worker: delivery, retry with backoff, dead letters, order per transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
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
from tests.fakes import InMemoryDecisionStore

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


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
    store: InMemoryDecisionStore, sender: ScriptedSender, clock: Clock
) -> OutboxWorker:
    policy = replace(
        OutboxSection().policy(),
        backoff_initial_s=1,
        backoff_max_s=8,
        max_permanent_failures=3,
    )
    return OutboxWorker(store, sender, "me", policy, clock)


class TestDelivery:
    async def test_a_report_is_delivered_exactly_as_stored(self) -> None:
        store, sender, clock = await store_with_decision(), ScriptedSender(), Clock()
        body = {"client_transaction_id": "tx-1", "return_code": "R01"}
        await store.add_report("c", "tx-1", ReportKind.RETURN, body, START)
        assert await worker(store, sender, clock).drain_once() == 1
        assert sender.sent == [(ReportKind.RETURN, body)]
        assert store.reports[0].status is DeliveryStatus.DELIVERED
        assert store.reports[0].attempts == 1

    async def test_a_transient_failure_is_retried_after_a_growing_backoff(self) -> None:
        store, clock = await store_with_decision(), Clock()
        sender = ScriptedSender(FailureKind.UNAVAILABLE, FailureKind.RATE_LIMITED)
        await store.add_report("c", "tx-1", ReportKind.RETURN, {"a": 1}, START)
        outbox = worker(store, sender, clock)
        await outbox.drain_once()
        assert store.reports[0].next_attempt_at == START + timedelta(seconds=1)
        assert await outbox.drain_once() == 0  # not due yet
        clock.now += timedelta(seconds=1)
        await outbox.drain_once()
        assert store.reports[0].next_attempt_at == clock.now + timedelta(seconds=2)
        clock.now += timedelta(seconds=2)
        await outbox.drain_once()
        assert store.reports[0].status is DeliveryStatus.DELIVERED
        assert store.reports[0].attempts == 3

    async def test_a_report_plaid_will_never_take_is_dead_lettered_at_once(
        self,
    ) -> None:
        store, clock = await store_with_decision(), Clock()
        sender = ScriptedSender(FailureKind.NOT_SUPPORTED)  # e.g. ADDENDUM_NOT_SIGNED
        await store.add_report("c", "tx-1", ReportKind.DECISION, {"a": 1}, START)
        await worker(store, sender, clock).drain_once()
        assert store.reports[0].status is DeliveryStatus.DEAD_LETTERED
        assert store.reports[0].last_error_code == "NOT_SUPPORTED"

    async def test_other_permanent_failures_dead_letter_after_the_bound(self) -> None:
        store, clock = await store_with_decision(), Clock()
        sender = ScriptedSender(*[FailureKind.REQUEST_REJECTED] * 5)
        await store.add_report("c", "tx-1", ReportKind.RETURN, {"a": 1}, START)
        outbox = worker(store, sender, clock)
        for _ in range(3):
            clock.now += timedelta(seconds=60)
            await outbox.drain_once()
        assert store.reports[0].status is DeliveryStatus.DEAD_LETTERED
        assert len(sender.sent) == 3

    @pytest.mark.parametrize(
        "kind", [FailureKind.CREDENTIALS_REJECTED, FailureKind.TIMEOUT]
    )
    async def test_our_credentials_or_timeouts_never_dead_letter(
        self, kind: FailureKind
    ) -> None:
        store, clock = await store_with_decision(), Clock()
        sender = ScriptedSender(*[kind] * 6)
        await store.add_report("c", "tx-1", ReportKind.RETURN, {"a": 1}, START)
        outbox = worker(store, sender, clock)
        for _ in range(6):
            clock.now += timedelta(seconds=600)
            await outbox.drain_once()
        assert store.reports[0].status is DeliveryStatus.PENDING

    async def test_one_transactions_reports_go_in_order(self) -> None:
        store, sender, clock = await store_with_decision(), ScriptedSender(), Clock()
        await store.add_report("c", "tx-1", ReportKind.DECISION, {"n": 1}, START)
        await store.add_report("c", "tx-1", ReportKind.RETURN, {"n": 2}, START)
        await worker(store, sender, clock).drain_once()
        assert [body["n"] for _, body in sender.sent] == [1, 2]
