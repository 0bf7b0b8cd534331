"""The outbox: reports accepted for stored decisions, leased, delivered or dead-lettered."""

from __future__ import annotations

import pytest

from service.adapters.store.sql import SqlDecisionStore
from service.app.ports import (
    DeliveryStatus,
    OutboxStats,
    ReportKind,
    ReportRecord,
    UnknownTransaction,
)
from tests.store.examples import LEASE_S, NOW, decision, later

BODY = {"client_transaction_id": "txn-1", "initiated": True, "amount": 10.01}


async def decided(store: SqlDecisionStore, txid: str, caller: str = "acme") -> None:
    await store.claim(caller, txid, "fp", "replica-a", LEASE_S, NOW)
    await store.complete(caller, txid, "replica-a", decision(txid), NOW)


async def report(store: SqlDecisionStore, txid: str = "txn-1") -> ReportRecord:
    return await store.add_report("acme", txid, ReportKind.DECISION, BODY, NOW)


class TestAddReport:
    async def test_a_report_is_accepted_pending_and_due_now(self, store):
        await decided(store, "txn-1")

        accepted = await report(store)

        assert accepted == ReportRecord(
            accepted.id,
            "acme",
            "txn-1",
            ReportKind.DECISION,
            BODY,
            DeliveryStatus.PENDING,
            attempts=0,
            last_error_code=None,
            accepted_at=NOW,
            delivered_at=None,
            next_attempt_at=NOW,
        )

    async def test_a_payment_without_a_decision_cannot_be_reported(self, store):
        with pytest.raises(UnknownTransaction):
            await report(store)

    async def test_a_payment_still_being_decided_cannot_be_reported(self, store):
        await store.claim("acme", "txn-1", "fp", "replica-a", LEASE_S, NOW)

        with pytest.raises(UnknownTransaction):
            await report(store)

    async def test_a_decision_lists_its_reports_oldest_first(self, store):
        await decided(store, "txn-1")
        first = await report(store)
        second = await store.add_report(
            "acme", "txn-1", ReportKind.RETURN, {"return_code": "R01"}, later(1)
        )

        stored = await store.get("acme", "txn-1")

        assert stored is not None
        assert stored.reports == (first, second)


class TestClaimReports:
    async def test_due_reports_are_leased_oldest_first_up_to_the_limit(self, store):
        for n in range(3):
            await decided(store, f"txn-{n}")
            await report(store, f"txn-{n}")

        leased = await store.claim_reports("worker-a", 2, LEASE_S, NOW)

        assert [r.client_transaction_id for r in leased] == ["txn-0", "txn-1"]
        assert [r.id for r in leased] == sorted(r.id for r in leased)

    async def test_a_leased_report_is_not_leased_again_until_its_lease_ends(
        self, store
    ):
        await decided(store, "txn-1")
        await report(store)
        await store.claim_reports("worker-a", 10, LEASE_S, NOW)

        assert await store.claim_reports("worker-b", 10, LEASE_S, later(1)) == []
        again = await store.claim_reports("worker-b", 10, LEASE_S, later(LEASE_S))
        assert [r.client_transaction_id for r in again] == ["txn-1"]

    async def test_a_retry_waits_for_its_next_attempt_time(self, store):
        await decided(store, "txn-1")
        accepted = await report(store)
        await store.claim_reports("worker-a", 10, LEASE_S, NOW)

        await store.report_failed(accepted.id, "RATE_LIMIT", later(60))

        assert await store.claim_reports("worker-a", 10, LEASE_S, later(59)) == []
        retried = await store.claim_reports("worker-a", 10, LEASE_S, later(60))
        assert [(r.attempts, r.last_error_code) for r in retried] == [(1, "RATE_LIMIT")]

    async def test_a_zero_limit_leases_nothing(self, store):
        await decided(store, "txn-1")
        await report(store)

        assert await store.claim_reports("worker-a", 0, LEASE_S, NOW) == []


class TestDelivery:
    async def test_a_delivered_report_is_done_and_never_leased_again(self, store):
        await decided(store, "txn-1")
        accepted = await report(store)
        await store.claim_reports("worker-a", 10, LEASE_S, NOW)

        await store.report_delivered(accepted.id, later(1))

        stored = await store.get("acme", "txn-1")
        assert stored is not None
        (delivered,) = stored.reports
        assert delivered.status is DeliveryStatus.DELIVERED
        assert (delivered.attempts, delivered.delivered_at) == (1, later(1))
        assert await store.claim_reports("worker-a", 10, LEASE_S, later(3600)) == []

    async def test_a_failure_without_a_next_attempt_dead_letters_the_report(
        self, store
    ):
        await decided(store, "txn-1")
        accepted = await report(store)

        await store.report_failed(accepted.id, "INVALID_FIELD", None)

        stored = await store.get("acme", "txn-1")
        assert stored is not None
        (dead,) = stored.reports
        assert (dead.status, dead.attempts, dead.last_error_code) == (
            DeliveryStatus.DEAD_LETTERED,
            1,
            "INVALID_FIELD",
        )
        assert await store.claim_reports("worker-a", 10, LEASE_S, later(3600)) == []

    async def test_a_late_outcome_for_a_finished_report_changes_nothing(self, store):
        await decided(store, "txn-1")
        accepted = await report(store)
        await store.report_delivered(accepted.id, later(1))

        await store.report_failed(accepted.id, "TIMEOUT", None)
        await store.report_delivered(accepted.id, later(2))

        stored = await store.get("acme", "txn-1")
        assert stored is not None
        assert [(r.status, r.attempts, r.delivered_at) for r in stored.reports] == [
            (DeliveryStatus.DELIVERED, 1, later(1))
        ]


class TestOutboxStats:
    async def test_an_empty_outbox_has_nothing_pending(self, store):
        assert await store.outbox_stats(NOW) == OutboxStats(0, 0.0, 0)

    async def test_stats_count_pending_and_dead_reports_and_the_oldest_age(self, store):
        for n in range(3):
            await decided(store, f"txn-{n}")
        first = await report(store, "txn-0")
        await store.add_report("acme", "txn-1", ReportKind.DECISION, BODY, later(5))
        await report(store, "txn-2")
        await store.report_failed(first.id, "INVALID_FIELD", None)

        assert await store.outbox_stats(later(10)) == OutboxStats(2, 10.0, 1)


class TestOrderPerTransaction:
    async def test_a_later_report_waits_until_the_earlier_one_is_finished(self, store):
        await decided(store, "txn-1")
        await decided(store, "txn-2")
        first = await report(store, "txn-1")
        second = await store.add_report("acme", "txn-1", ReportKind.RETURN, BODY, NOW)
        other = await report(store, "txn-2")
        claimed = await store.claim_reports("w", 10, LEASE_S, NOW)
        assert [r.id for r in claimed] == [first.id, other.id]
        await store.report_failed(first.id, "INTERNAL_SERVER_ERROR", later(1))
        # Still pending (backing off): the return report must not overtake it.
        assert await store.claim_reports("w", 10, LEASE_S, later(0.5)) == []
        await store.report_delivered(first.id, later(2))
        assert [
            r.id for r in await store.claim_reports("w", 10, LEASE_S, later(2))
        ] == [second.id]
