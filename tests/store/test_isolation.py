"""Callers share tables, never rows: every key includes the caller."""

from __future__ import annotations

import pytest

from service.app.ports import (
    Claim,
    ClaimNotHeld,
    ClaimState,
    ReportKind,
    UnknownTransaction,
)
from tests.store.examples import LEASE_S, NOW, decision


class TestCallerIsolation:
    async def test_an_id_belongs_to_the_first_caller_as_plaid_keys_it_per_client(
        self, store
    ):
        first = await store.claim("acme", "txn-1", "fp-a", "replica-a", LEASE_S, NOW)
        second = await store.claim("globex", "txn-1", "fp-g", "replica-a", LEASE_S, NOW)

        assert (first.state, second.state) == (ClaimState.NEW, ClaimState.CONFLICT)

    async def test_a_caller_never_sees_another_callers_decision(self, store):
        await store.claim("acme", "txn-1", "fp", "replica-a", LEASE_S, NOW)
        await store.complete("acme", "txn-1", "replica-a", decision(), NOW)

        assert await store.get("globex", "txn-1") is None
        claim = await store.claim("globex", "txn-1", "fp", "replica-a", LEASE_S, NOW)
        assert claim == Claim(ClaimState.CONFLICT)  # no decision in it

    async def test_a_caller_cannot_report_another_callers_payment(self, store):
        await store.claim("acme", "txn-1", "fp", "replica-a", LEASE_S, NOW)
        await store.complete("acme", "txn-1", "replica-a", decision(), NOW)

        with pytest.raises(UnknownTransaction):
            await store.add_report("globex", "txn-1", ReportKind.DECISION, {}, NOW)

    async def test_a_caller_cannot_complete_or_release_another_callers_claim(
        self, store
    ):
        await store.claim("acme", "txn-1", "fp", "replica-a", LEASE_S, NOW)

        with pytest.raises(ClaimNotHeld):
            await store.complete("globex", "txn-1", "replica-a", decision(), NOW)
        await store.release("globex", "txn-1", "replica-a")
        await store.complete("acme", "txn-1", "replica-a", decision(), NOW)

    async def test_reports_stay_with_their_callers_decision(self, store):
        for caller, txid in (("acme", "txn-1"), ("globex", "txn-2")):
            await store.claim(caller, txid, "fp", "replica-a", LEASE_S, NOW)
            await store.complete(caller, txid, "replica-a", decision(txid), NOW)
        await store.add_report("acme", "txn-1", ReportKind.DECISION, {"a": 1}, NOW)

        globex = await store.get("globex", "txn-2")

        assert globex is not None
        assert globex.reports == ()
