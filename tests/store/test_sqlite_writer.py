"""The SQLite ledger writer: batches, isolation of a failing write, shutdown, formats."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from service.adapters.store import ledger_rules as rules
from service.adapters.store.schema import decisions
from service.adapters.store.sql import SqlDecisionStore, open_store
from service.adapters.store.sqlite import SqliteWriter, sqlite_time
from service.app.ports import Claim, ClaimState
from tests.store.examples import LEASE_S, NOW, decision


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[SqlDecisionStore]:
    opened = await open_store(sqlite_url)
    yield opened
    await opened.close()


def claim(writer: SqliteWriter, txid: str) -> rules.Rule[Claim]:
    """Claim txid for owner "a" from NOW, through the writer alone."""
    d = writer.dialect
    until = d.time(NOW + timedelta(seconds=LEASE_S))
    return lambda: rules.claim(d, ("acme", txid), "fp", "a", until, d.time(NOW))


def writer_of(store: SqlDecisionStore) -> SqliteWriter:
    writer = store._writer
    assert isinstance(writer, SqliteWriter), "SQLite stores write through the writer"
    return writer


class TestBatches:
    async def test_hundreds_of_concurrent_evaluations_are_each_stored_once(
        self, store: SqlDecisionStore
    ) -> None:
        async def evaluate(n: int) -> ClaimState:
            found = await store.claim("acme", f"txn-{n}", "fp", "a", LEASE_S, NOW)
            await store.complete("acme", f"txn-{n}", "a", decision(f"txn-{n}"), NOW)
            return found.state

        states = await asyncio.gather(*(evaluate(n) for n in range(300)))
        replays = await asyncio.gather(
            *(store.claim("acme", f"txn-{n}", "fp", "b", 1, NOW) for n in range(300))
        )

        assert set(states) == {ClaimState.NEW}
        assert [r.decision for r in replays] == [
            decision(f"txn-{n}") for n in range(300)
        ]

    async def test_a_failing_write_fails_alone_and_its_batch_still_commits(self, store):
        writer = writer_of(store)

        def broken(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO no_such_table VALUES (1)")

        # Queued back to back: the writer takes them in one batch unless it wakes
        # between two puts; either way only the broken write may fail.
        results = await asyncio.gather(
            store.claim("acme", "txn-1", "fp", "a", LEASE_S, NOW),
            writer._submit(broken),
            store.claim("acme", "txn-2", "fp", "a", LEASE_S, NOW),
            return_exceptions=True,
        )

        assert isinstance(results[1], sqlite3.OperationalError)
        assert [results[0].state, results[2].state] == [ClaimState.NEW] * 2  # type: ignore[union-attr]
        again = await store.claim("acme", "txn-2", "fp", "b", LEASE_S, NOW)
        assert again.state is ClaimState.IN_FLIGHT  # the good claims were committed


class TestShutdown:
    async def test_close_finishes_queued_writes_first(self, sqlite_url):
        store = await open_store(sqlite_url)
        queued = [
            asyncio.ensure_future(
                store.claim("acme", f"txn-{n}", "fp", "a", LEASE_S, NOW)
            )
            for n in range(50)
        ]
        await asyncio.sleep(0)  # every claim is queued
        await store.close()

        assert {(await q).state for q in queued} == {ClaimState.NEW}
        reopened = await open_store(sqlite_url)
        try:
            found = await reopened.claim("acme", "txn-49", "fp", "b", LEASE_S, NOW)
        finally:
            await reopened.close()
        assert found.state is ClaimState.IN_FLIGHT

    async def test_a_closed_writer_refuses_work_instead_of_hanging(self, sqlite_url):
        store = await open_store(sqlite_url)
        await store.close()

        with pytest.raises(RuntimeError, match="closed"):
            await store.claim("acme", "txn-1", "fp", "a", LEASE_S, NOW)

    async def test_a_database_that_cannot_be_opened_fails_at_start(
        self, tmp_path: Path
    ) -> None:
        writer = SqliteWriter(str(tmp_path / "missing-dir" / "ledger.db"))

        with pytest.raises(sqlite3.OperationalError):
            await writer.start()


class TestTimes:
    async def test_times_are_stored_as_sqlalchemy_reads_them(self, store, sqlite_url):
        await store.claim("acme", "txn-1", "fp", "a", LEASE_S, NOW)

        engine = store._engine
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(decisions.c.created_at, decisions.c.lease_until)
                )
            ).one()

        assert row.created_at == NOW
        assert row.lease_until == NOW + timedelta(seconds=LEASE_S)

    def test_text_order_is_time_order_in_any_zone(self) -> None:
        moment = datetime(2025, 3, 1, 23, 59, 59, 999_999, tzinfo=UTC)
        new_york = timezone(timedelta(hours=-5))

        assert (
            sqlite_time(moment - timedelta(microseconds=1))
            < sqlite_time(moment)
            < sqlite_time((moment + timedelta(microseconds=1)).astimezone(new_york))
        )
        assert sqlite_time(moment.astimezone(new_york)) == sqlite_time(moment)

    @given(
        st.datetimes(
            min_value=datetime(1970, 1, 2),  # noqa: DTZ001 (hypothesis wants naive bounds)
            max_value=datetime(9999, 12, 30),  # noqa: DTZ001
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=9))]),
        )
    )
    def test_it_is_sqlalchemys_sqlite_datetime_text(self, moment: datetime) -> None:
        # Written by hand here so that reads through SQLAlchemy (reports, purge) agree;
        # pinned to the field-by-field spelling SQLAlchemy's SQLite dialect uses.
        t = moment.astimezone(UTC)
        expected = (
            f"{t.year:04d}-{t.month:02d}-{t.day:02d} "
            f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond:06d}"
        )
        assert sqlite_time(moment) == expected


class TestFailures:
    async def test_a_locked_database_fails_the_whole_batch_at_once(
        self, sqlite_url: str, tmp_path: Path
    ) -> None:
        await (await open_store(sqlite_url)).close()  # migrated
        path = sqlite_url.split("///", 1)[1]
        writer = SqliteWriter(path, busy_timeout_ms=200)
        await writer.start()
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            started = asyncio.get_running_loop().time()
            results = await asyncio.gather(
                *(writer.run(claim(writer, f"txn-{n}")) for n in range(5)),
                return_exceptions=True,
            )
            waited = asyncio.get_running_loop().time() - started
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        try:
            after = await writer.run(claim(writer, "txn-9"))
        finally:
            await writer.close()

        assert all(isinstance(r, sqlite3.OperationalError) for r in results)
        assert waited < 1.5  # not one busy timeout per job
        assert after.state is ClaimState.NEW  # the writer carries on

    async def test_a_writer_that_dies_fails_its_callers_instead_of_hanging(
        self, store: SqlDecisionStore
    ) -> None:
        writer = writer_of(store)

        def fatal(db: sqlite3.Connection) -> None:
            raise SystemExit("the thread is gone")

        with pytest.raises(RuntimeError, match="closed"):
            await asyncio.wait_for(writer._submit(fatal), timeout=5)
        with pytest.raises(RuntimeError, match="closed"):
            await asyncio.wait_for(
                store.claim("acme", "txn-1", "fp", "a", LEASE_S, NOW), timeout=5
            )

    async def test_closing_twice_at_once_waits_for_the_writes_both_times(
        self, sqlite_url: str
    ) -> None:
        store = await open_store(sqlite_url)
        writer = writer_of(store)
        claim = asyncio.ensure_future(
            store.claim("acme", "txn-1", "fp", "a", LEASE_S, NOW)
        )
        await asyncio.sleep(0)
        await asyncio.gather(writer.close(), writer.close())

        assert (await claim).state is ClaimState.NEW
        await store.close()
