"""Every statement of an evaluation's ledger writes finds its rows through an index.

A claim runs on every evaluation: a statement that scans the decisions table costs more
with every decision stored (a full scan per claim made the writer the service's
bottleneck at a few thousand rows). Plans are read with EXPLAIN, not timed.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from service.adapters.store import ledger_rules
from service.adapters.store.engine import create_engine
from service.adapters.store.sql import open_store

# Each statement with parameters of the right types (values need not exist).
NOW = "2026-01-01 00:00:00.000000"
STATEMENTS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "find": (ledger_rules._FIND, ("caller", "tx")),
    "held_by_another": (ledger_rules._HELD_BY_ANOTHER, ("tx", "caller")),
    "take_over": (
        ledger_rules._TAKE_OVER,
        ("owner", NOW, "caller", "tx", "fp", NOW, "owner"),
    ),
    "complete": (
        ledger_rules._COMPLETE,
        ("{}", NOW, None, None, "caller", "tx", "owner"),
    ),
    "recent_balance": (ledger_rules._RECENT_BALANCE, ("caller", "key", NOW)),
    "release": (ledger_rules._RELEASE, ("caller", "tx", "owner")),
    "abandon": (ledger_rules._ABANDON, (NOW, "caller", "tx", "owner")),
}


async def _plan(url: str, statement: str, values: tuple[Any, ...]) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            if url.startswith("sqlite"):
                cursor = await driver.execute(f"EXPLAIN QUERY PLAN {statement}", values)
                rows = await cursor.fetchall()
                return "\n".join(str(row[3]) for row in rows)
            # On an empty table PostgreSQL rightly prefers a sequential scan: ask for
            # the plan it would use once the table is large.
            await connection.execute(sa.text("SET enable_seqscan = off"))
            cursor = driver.cursor()
            await cursor.execute(
                f"EXPLAIN {statement.replace('?', '%s')}",
                values,
            )
            rows = await cursor.fetchall()
            return "\n".join(str(row[0]) for row in rows)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("name", sorted(STATEMENTS))
async def test_no_ledger_statement_scans_the_decisions_table(
    store_url: str, name: str
) -> None:
    await (await open_store(store_url)).close()
    statement, values = STATEMENTS[name]

    plan = await _plan(store_url, statement, values)

    if store_url.startswith("sqlite"):
        # "SCAN decisions" (with or without a covering index) reads every row;
        # "SEARCH decisions USING ... INDEX" finds them by key.
        assert "SCAN decisions" not in plan, plan
    else:
        assert "Seq Scan on decisions" not in plan, plan


async def test_the_cross_caller_check_uses_its_own_index(store_url: str) -> None:
    # The primary key leads with caller: PostgreSQL can still use it for a lookup by
    # client_transaction_id alone, by reading the whole index. Only the id's own
    # index makes it one probe.
    await (await open_store(store_url)).close()
    statement, values = STATEMENTS["held_by_another"]

    plan = await _plan(store_url, statement, values)

    assert "ix_decisions_client_transaction_id" in plan, plan
