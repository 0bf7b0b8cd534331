"""A takeover re-checks, in its UPDATE, what made the claimer decide to take over.

Between a claimer reading a row (lease ended) and its takeover, another replica may
change the row. These tests drive the claim rule one statement at a time on a
connection of their own and make that change in between, on both databases.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from service.adapters.store import ledger_rules as rules
from service.adapters.store.postgres import libpq_url
from service.adapters.store.sql import SqlDecisionStore, open_store
from service.app.ports import Claim, ClaimState
from tests.store.examples import LEASE_S, NOW, decision, later

Execute = Callable[[str, tuple[Any, ...]], rules.Row]
# When replica-b looks: replica-a's lease (from NOW) has ended.
LOOKS_AT = later(LEASE_S + 1)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlDecisionStore]:
    opened = await open_store(store_url)
    yield opened
    await opened.close()


@pytest.fixture
def execute(store_url: str) -> Iterator[Execute]:
    """One statement at a time, each committed, on a connection besides the store's."""
    if store_url.startswith("sqlite"):
        lite = sqlite3.connect(str(make_url(store_url).database), isolation_level=None)

        def on_sqlite(statement: str, values: tuple[Any, ...]) -> rules.Row:
            rows = lite.execute(statement, values).fetchall()
            return rows[0] if rows else None

        yield on_sqlite
        lite.close()
        return
    with psycopg.connect(libpq_url(store_url), autocommit=True) as pg:

        def on_postgres(statement: str, values: tuple[Any, ...]) -> rules.Row:
            cursor = pg.execute(statement, values)
            return cursor.fetchone()

        yield on_postgres


def claim_by_b(
    store: SqlDecisionStore, execute: Execute
) -> tuple[rules.Steps[Claim], rules.Step]:
    """replica-b's claim of fp-1, run up to (not including) its takeover."""
    d = store._dialect
    until = d.time(LOOKS_AT + timedelta(seconds=LEASE_S))
    steps = rules.claim(
        d, ("acme", "txn-1"), "fp-1", "replica-b", until, d.time(LOOKS_AT)
    )
    step = next(steps)
    while not step[0].startswith("UPDATE decisions SET owner"):
        step = steps.send(execute(*step))
    return steps, step


def finish(steps: rules.Steps[Claim], step: rules.Step, execute: Execute) -> Claim:
    try:
        while True:
            step = steps.send(execute(*step))
    except StopIteration as done:
        claimed: Claim = done.value
        return claimed


class TestTakeover:
    async def test_a_lease_another_replica_took_first_is_not_taken_again(
        self, store: SqlDecisionStore, execute: Execute
    ) -> None:
        await store.claim("acme", "txn-1", "fp-1", "replica-a", LEASE_S, NOW)
        steps, take_over = claim_by_b(store, execute)

        first = await store.claim(
            "acme", "txn-1", "fp-1", "replica-c", LEASE_S, LOOKS_AT
        )

        assert first == Claim(ClaimState.NEW, taken_over=True)
        assert finish(steps, take_over, execute) == Claim(ClaimState.IN_FLIGHT)

    async def test_another_payment_claimed_meanwhile_is_not_taken_over(
        self, store: SqlDecisionStore, execute: Execute
    ) -> None:
        await store.claim("acme", "txn-1", "fp-1", "replica-a", LEASE_S, NOW)
        steps, take_over = claim_by_b(store, execute)

        # replica-a gives up; replica-d claims the id for another payment, and its
        # lease has ended too by the time replica-b's takeover runs.
        await store.release("acme", "txn-1", "replica-a")
        other = await store.claim("acme", "txn-1", "fp-2", "replica-d", LEASE_S, NOW)

        assert other == Claim(ClaimState.NEW)
        assert finish(steps, take_over, execute) == Claim(ClaimState.CONFLICT)

    async def test_a_claim_decided_meanwhile_is_not_taken_over_even_by_its_owner(
        self, store: SqlDecisionStore, execute: Execute
    ) -> None:
        await store.claim("acme", "txn-1", "fp-1", "replica-a", LEASE_S, NOW)
        steps, take_over = claim_by_b(store, execute)

        # A decided row has no lease left, so only its state keeps the owner's own
        # late takeover from reopening it.
        again = await store.claim(
            "acme", "txn-1", "fp-1", "replica-b", LEASE_S, LOOKS_AT
        )
        await store.complete("acme", "txn-1", "replica-b", decision(), LOOKS_AT)

        assert again == Claim(ClaimState.NEW, taken_over=True)
        assert finish(steps, take_over, execute) == Claim(ClaimState.DONE, decision())
