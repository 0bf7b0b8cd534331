"""The ledger lends a live balance for reuse: keyed by caller and balance key, newest
first, within the asked age; the same on SQLite, PostgreSQL and the unit tests' fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from service.adapters.store.sql import open_store
from service.app.ports import BalanceFetch, DecisionLedger
from tests.fakes import InMemoryDecisionStore
from tests.store.examples import LEASE_S, decision, later


@pytest.fixture(params=["sql", "fake"])
async def ledger(
    request: pytest.FixtureRequest, store_url: str
) -> AsyncIterator[DecisionLedger]:
    if request.param == "fake":
        yield InMemoryDecisionStore()
        return
    opened = await open_store(store_url)
    yield opened
    await opened.close()


async def decide(
    ledger: DecisionLedger,
    txid: str,
    fetch: BalanceFetch | None,
    caller: str = "acme",
) -> None:
    await ledger.claim(caller, txid, f"fp-{txid}", "me", LEASE_S, later(0))
    await ledger.complete(caller, txid, "me", decision(txid), later(0), fetch)


async def test_the_newest_fetch_within_the_age_is_found(
    ledger: DecisionLedger,
) -> None:
    await decide(ledger, "old", BalanceFetch("k", later(-100)))
    await decide(ledger, "new", BalanceFetch("k", later(-10)))
    await decide(ledger, "none", None)

    found = await ledger.recent_balance("acme", "k", later(-60))
    assert found == decision("new")
    found = await ledger.recent_balance("acme", "k", later(-100))
    assert found == decision("new")
    assert await ledger.recent_balance("acme", "k", later(-9)) is None


async def test_never_across_callers_or_keys(ledger: DecisionLedger) -> None:
    await decide(ledger, "t1", BalanceFetch("k", later(-10)), caller="acme")
    assert await ledger.recent_balance("globex", "k", later(-60)) is None
    assert await ledger.recent_balance("acme", "other", later(-60)) is None
    assert await ledger.recent_balance("acme", "k", later(-60)) == decision("t1")


async def test_a_pending_claim_lends_nothing(ledger: DecisionLedger) -> None:
    await ledger.claim("acme", "t1", "fp", "me", LEASE_S, later(0))
    assert await ledger.recent_balance("acme", "k", later(-60)) is None
