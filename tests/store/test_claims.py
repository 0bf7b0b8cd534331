"""Single-flight claims on (caller, client_transaction_id), their decisions and leases."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
import sqlalchemy as sa

from service.adapters.store.sql import SqlDecisionStore
from service.app.ports import Claim, ClaimNotHeld, ClaimState
from tests.store.examples import LEASE_S, NOW, decision, later


async def claim(
    store: SqlDecisionStore,
    owner: str = "replica-a",
    now: datetime = NOW,
    fingerprint: str = "fp-1",
    txid: str = "txn-1",
    caller: str = "acme",
) -> Claim:
    return await store.claim(caller, txid, fingerprint, owner, LEASE_S, now)


class TestClaim:
    async def test_the_first_claim_on_a_payment_is_new(self, store):
        assert await claim(store) == Claim(ClaimState.NEW)

    async def test_a_decided_payment_is_done_with_its_stored_decision(self, store):
        await claim(store)
        await store.complete("acme", "txn-1", "replica-a", decision(), NOW)

        found = await claim(store, owner="replica-b", now=later(3600))

        assert found == Claim(ClaimState.DONE, decision())

    async def test_another_payment_under_a_pending_id_is_a_conflict(self, store):
        await claim(store)

        assert (await claim(store, fingerprint="fp-2")).state is ClaimState.CONFLICT

    async def test_another_payment_under_a_decided_id_is_a_conflict(self, store):
        await claim(store)
        await store.complete("acme", "txn-1", "replica-a", decision(), NOW)

        assert (await claim(store, fingerprint="fp-2")).state is ClaimState.CONFLICT

    async def test_another_owners_live_lease_is_in_flight(self, store):
        await claim(store)

        found = await claim(store, owner="replica-b", now=later(LEASE_S - 1))

        assert found.state is ClaimState.IN_FLIGHT

    async def test_an_expired_lease_is_taken_over_by_the_next_claimer(self, store):
        await claim(store)

        assert (await claim(store, owner="replica-b", now=later(LEASE_S))).state is (
            ClaimState.NEW
        )
        assert (await claim(store, owner="replica-c", now=later(LEASE_S))).state is (
            ClaimState.IN_FLIGHT
        )

    async def test_the_owner_claiming_again_renews_its_lease(self, store):
        await claim(store)

        assert (await claim(store, now=later(LEASE_S - 1))).state is ClaimState.NEW
        renewed = await claim(store, owner="replica-b", now=later(LEASE_S + 1))
        assert renewed.state is ClaimState.IN_FLIGHT

    async def test_concurrent_claims_through_one_store_make_one_new(self, store):
        claims = await asyncio.gather(
            *(claim(store, owner=f"replica-{n}") for n in range(10))
        )

        assert sorted(c.state.value for c in claims) == ["IN_FLIGHT"] * 9 + ["NEW"]


class TestComplete:
    async def test_a_stored_decision_reads_back_exactly(self, store):
        await claim(store)
        await store.complete("acme", "txn-1", "replica-a", decision(), NOW)

        stored = await store.get("acme", "txn-1")

        assert stored is not None
        assert stored.decision == decision()
        assert stored.decision.balance.as_of == decision().balance.as_of
        assert str(stored.decision.balance.available) == "1234.5600"
        assert stored.reports == ()

    async def test_completing_without_a_claim_is_refused(self, store):
        with pytest.raises(ClaimNotHeld):
            await store.complete("acme", "txn-1", "replica-a", decision(), NOW)

    async def test_an_owner_whose_lease_was_taken_over_cannot_complete(self, store):
        await claim(store)
        await claim(store, owner="replica-b", now=later(LEASE_S))

        with pytest.raises(ClaimNotHeld):
            await store.complete("acme", "txn-1", "replica-a", decision(), NOW)
        await store.complete("acme", "txn-1", "replica-b", decision(), later(LEASE_S))

    async def test_an_owner_past_its_lease_completes_if_nobody_took_over(self, store):
        await claim(store)

        await store.complete("acme", "txn-1", "replica-a", decision(), later(3600))

        assert await store.get("acme", "txn-1") is not None

    async def test_a_decision_is_stored_once(self, store):
        await claim(store)
        await store.complete("acme", "txn-1", "replica-a", decision(), NOW)

        with pytest.raises(ClaimNotHeld):
            await store.complete("acme", "txn-1", "replica-a", decision("x"), NOW)
        stored = await store.get("acme", "txn-1")
        assert stored is not None
        assert stored.decision == decision()

    async def test_naive_times_are_refused(self, store):
        # SQLAlchemy wraps the ValueError (PostgreSQL); the SQLite writer raises it.
        with pytest.raises((ValueError, sa.exc.StatementError), match="timezone-aware"):
            await claim(store, now=NOW.replace(tzinfo=None))


class TestRelease:
    async def test_a_released_claim_lets_the_next_claimer_start_over(self, store):
        await claim(store)
        await store.release("acme", "txn-1", "replica-a")

        assert (await claim(store, owner="replica-b")).state is ClaimState.NEW

    async def test_another_owner_cannot_release_a_claim(self, store):
        await claim(store)
        await store.release("acme", "txn-1", "replica-b")

        assert (await claim(store, owner="replica-b")).state is ClaimState.IN_FLIGHT

    async def test_release_never_deletes_a_decision(self, store):
        await claim(store)
        await store.complete("acme", "txn-1", "replica-a", decision(), NOW)

        await store.release("acme", "txn-1", "replica-a")

        assert await store.get("acme", "txn-1") is not None


class TestOneIdPerPlaidClient:
    """Plaid keys client_transaction_id per Plaid client: one caller per id."""

    async def test_another_callers_id_is_a_conflict_even_for_the_same_payment(
        self, store
    ):
        await claim(store)

        found = await claim(store, caller="intruder", owner="replica-b")

        assert found == Claim(ClaimState.CONFLICT)

    async def test_a_decided_id_stays_its_callers(self, store):
        await claim(store)
        await store.complete("acme", "txn-1", "replica-a", decision(), NOW)

        assert (await claim(store, caller="intruder")).state is ClaimState.CONFLICT
        assert await store.get("intruder", "txn-1") is None
        assert await claim(store, owner="replica-b", now=later(5)) == Claim(
            ClaimState.DONE, decision()
        )

    async def test_the_refused_claim_leaves_no_row_behind(self, store):
        await claim(store)
        await claim(store, caller="intruder")
        await store.release("acme", "txn-1", "replica-a")

        assert await claim(store, caller="intruder") == Claim(ClaimState.NEW)


class TestAbandon:
    """An evaluation that failed after Plaid may have seen its id leaves that known."""

    async def test_the_next_claim_takes_it_over_knowing_an_attempt_went_out(
        self, store
    ):
        await claim(store)
        await store.abandon("acme", "txn-1", "replica-a", later(1))

        again = await claim(store, owner="replica-b", now=later(2))

        assert again == Claim(ClaimState.NEW, taken_over=True)

    async def test_the_same_owner_takes_it_over_too(self, store):
        await claim(store)
        await store.abandon("acme", "txn-1", "replica-a", later(1))

        assert (await claim(store, now=later(2))).taken_over

    async def test_another_payment_under_an_abandoned_id_is_a_conflict(self, store):
        await claim(store)
        await store.abandon("acme", "txn-1", "replica-a", later(1))

        found = await claim(store, owner="replica-b", now=later(2), fingerprint="fp-2")

        assert found.state is ClaimState.CONFLICT

    async def test_another_owner_cannot_abandon_a_claim(self, store):
        await claim(store)
        await store.abandon("acme", "txn-1", "replica-b", later(1))

        found = await claim(store, owner="replica-b", now=later(2))

        assert found.state is ClaimState.IN_FLIGHT

    async def test_a_released_claim_starts_fresh(self, store):
        await claim(store)
        await store.release("acme", "txn-1", "replica-a")

        assert await claim(store, owner="replica-b") == Claim(ClaimState.NEW)


class TestGet:
    async def test_an_unknown_payment_has_no_decision(self, store):
        assert await store.get("acme", "txn-1") is None

    async def test_a_pending_claim_has_no_decision_yet(self, store):
        await claim(store)

        assert await store.get("acme", "txn-1") is None
