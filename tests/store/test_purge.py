"""Retention: old decisions go with their finished reports; pending work stays."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from service.adapters.store import purge as sql_purge
from service.adapters.store.sql import SqlDecisionStore
from service.app.ports import ClaimState, ReportKind, ReportRecord
from tests.store.examples import LEASE_S, NOW, decision, later

DAY = timedelta(days=1)


async def decided(store: SqlDecisionStore, txid: str, at: datetime = NOW) -> None:
    await store.claim("acme", txid, "fp", "replica-a", LEASE_S, at)
    await store.complete("acme", txid, "replica-a", decision(txid), at)


async def reported(store: SqlDecisionStore, txid: str) -> ReportRecord:
    return await store.add_report("acme", txid, ReportKind.DECISION, {}, NOW)


class TestPurge:
    async def test_decisions_completed_before_the_cutoff_are_deleted(self, store):
        await decided(store, "old")
        await decided(store, "new", at=NOW + 2 * DAY)

        assert await store.purge(NOW + DAY) == 1

        assert await store.get("acme", "old") is None
        assert await store.get("acme", "new") is not None

    async def test_finished_reports_go_with_their_decision(self, store):
        await decided(store, "delivered")
        await store.report_delivered((await reported(store, "delivered")).id, NOW)
        await decided(store, "dead")
        await store.report_failed((await reported(store, "dead")).id, "X", None)

        assert await store.purge(NOW + DAY) == 2

        assert await store.get("acme", "delivered") is None
        assert await store.get("acme", "dead") is None
        assert (await store.outbox_stats(NOW)).dead_lettered == 0

    async def test_a_decision_with_a_pending_report_is_kept_whole(self, store):
        await decided(store, "txn-1")
        delivered = await reported(store, "txn-1")
        await store.report_delivered(delivered.id, NOW)
        await reported(store, "txn-1")

        assert await store.purge(NOW + DAY) == 0

        stored = await store.get("acme", "txn-1")
        assert stored is not None
        assert len(stored.reports) == 2

    async def test_a_live_claim_is_kept_and_an_abandoned_one_is_deleted(self, store):
        await store.claim("acme", "live", "fp", "replica-a", LEASE_S, NOW + DAY)
        await store.claim("acme", "dead", "fp", "replica-a", LEASE_S, NOW)

        assert await store.purge(NOW + DAY) == 1

        live = await store.claim("acme", "live", "fp", "replica-b", LEASE_S, NOW + DAY)
        assert live.state is ClaimState.IN_FLIGHT
        dead = await store.claim("acme", "dead", "fp", "replica-b", LEASE_S, later(1))
        assert dead.state is ClaimState.NEW

    async def test_purge_works_through_many_batches(
        self, store: SqlDecisionStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(sql_purge, "BATCH", 3)
        for n in range(10):
            await decided(store, f"txn-{n:02}")
        await reported(store, "txn-04")

        assert await store.purge(NOW + DAY) == 9

        assert await store.get("acme", "txn-04") is not None
