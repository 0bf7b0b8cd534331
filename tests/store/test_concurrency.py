"""Replicas sharing one PostgreSQL: each store here has its own engine and connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest

from service.adapters.store.sql import SqlDecisionStore, open_store
from service.app.ports import Claim, ClaimState, ReportKind
from tests.store.examples import LEASE_S, NOW, decision, later

REPLICAS = 20


@pytest.fixture
async def replicas(postgres_url: str) -> AsyncIterator[list[SqlDecisionStore]]:
    """Stores opened at once on a fresh database, as replicas start (and migrate)."""
    stores = await asyncio.gather(*(open_store(postgres_url) for _ in range(REPLICAS)))
    # Each replica connects before the race, so the race is between open connections.
    assert all(await asyncio.gather(*(s.ready() for s in stores)))
    yield list(stores)
    await asyncio.gather(*(s.close() for s in stores))


def states(claims: list[Claim]) -> list[str]:
    return sorted(c.state.value for c in claims)


class TestConcurrentClaims:
    async def test_twenty_replicas_claiming_one_payment_make_one_new(self, replicas):
        claims = await asyncio.gather(
            *(
                s.claim("acme", "txn-1", "fp", f"replica-{n}", LEASE_S, NOW)
                for n, s in enumerate(replicas)
            )
        )

        assert states(claims) == ["IN_FLIGHT"] * (REPLICAS - 1) + ["NEW"]

    async def test_twenty_replicas_taking_over_an_expired_lease_make_one_new(
        self, replicas
    ):
        await replicas[0].claim("acme", "txn-1", "fp", "crashed", LEASE_S, NOW)

        claims = await asyncio.gather(
            *(
                s.claim("acme", "txn-1", "fp", f"replica-{n}", LEASE_S, later(LEASE_S))
                for n, s in enumerate(replicas)
            )
        )

        assert states(claims) == ["IN_FLIGHT"] * (REPLICAS - 1) + ["NEW"]

    async def test_replicas_that_claim_and_complete_at_once_all_see_one_decision(
        self, replicas
    ):
        async def evaluate(store: SqlDecisionStore, owner: str) -> str:
            claim = await store.claim("acme", "txn-1", "fp", owner, LEASE_S, NOW)
            if claim.state is ClaimState.NEW:
                await store.complete("acme", "txn-1", owner, decision(), NOW)
            return claim.state.value

        outcomes = await asyncio.gather(
            *(evaluate(s, f"replica-{n}") for n, s in enumerate(replicas))
        )

        assert outcomes.count("NEW") == 1
        assert set(outcomes) <= {"NEW", "IN_FLIGHT", "DONE"}


class TestConcurrentOutbox:
    async def test_replicas_draining_the_outbox_never_lease_the_same_report(
        self, replicas
    ):
        for n in range(60):
            await replicas[0].claim("acme", f"txn-{n}", "fp", "r", LEASE_S, NOW)
            await replicas[0].complete("acme", f"txn-{n}", "r", decision(), NOW)
            await replicas[0].add_report(
                "acme", f"txn-{n}", ReportKind.DECISION, {}, NOW
            )

        async def drain(store: SqlDecisionStore, owner: str) -> list[int]:
            leased: list[int] = []
            while batch := await store.claim_reports(owner, 3, LEASE_S, later(1)):
                leased += [r.id for r in batch]
            return leased

        drained = await asyncio.gather(
            *(drain(s, f"worker-{n}") for n, s in enumerate(replicas[:4]))
        )

        every = [report_id for leased in drained for report_id in leased]
        assert len(every) == len(set(every)) == 60

    async def test_a_report_locked_by_another_replica_is_skipped_not_awaited(
        self, replicas, postgres_url
    ):
        store = replicas[0]
        for txid in ("txn-1", "txn-2"):
            await store.claim("acme", txid, "fp", "r", LEASE_S, NOW)
            await store.complete("acme", txid, "r", decision(), NOW)
        first = await store.add_report("acme", "txn-1", ReportKind.DECISION, {}, NOW)
        await store.add_report("acme", "txn-2", ReportKind.DECISION, {}, NOW)

        other = await _raw_connection(postgres_url)
        async with other, other.transaction():
            await other.execute(
                "SELECT id FROM reports WHERE id = %s FOR UPDATE", (first.id,)
            )
            leased = await asyncio.wait_for(
                store.claim_reports("worker-a", 10, LEASE_S, later(1)), 5
            )

        assert [r.client_transaction_id for r in leased] == ["txn-2"]


async def _raw_connection(sqlalchemy_url: str) -> psycopg.AsyncConnection:
    """A plain psycopg connection to the database behind a SQLAlchemy URL."""
    return await psycopg.AsyncConnection.connect(
        sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://"),
        autocommit=True,
    )
