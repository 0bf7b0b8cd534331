"""The ledger's hot writes on SQLite: one writer thread, one connection, group commit.

Every evaluation writes twice (claim before Plaid, complete after). Through
SQLAlchemy's asyncio engine and aiosqlite that cost ~4.7 ms of CPU per evaluation,
most of it statement building and thread hops on the event loop (issue 7's profile).
Here the event loop only queues the work and awaits a future; the writer thread runs
every queued claim, completion and release in one transaction and one fsync, then
settles the whole batch with a single wake-up of the loop. SQLite has one writer at a
time anyway, so a single thread loses no parallelism.

The SQL matches what sql_store.py does through SQLAlchemy for PostgreSQL; times are
written in SQLAlchemy's SQLite DATETIME text form so its reads (reports, purge) agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from service.adapters.sql_records import decision_from_json, decision_to_json
from service.adapters.sql_schema import DONE
from service.ports import Claim, ClaimNotHeld, ClaimState
from service.risk.model import Decision

# Enough to drain a burst in one transaction, small enough to settle callers promptly.
MAX_BATCH = 512
BUSY_TIMEOUT_MS = 5000

_INSERT_PENDING = (
    "INSERT INTO decisions (caller, client_transaction_id, fingerprint, state, owner,"
    " lease_until, created_at) VALUES (?, ?, ?, 'PENDING', ?, ?, ?)"
    " ON CONFLICT (caller, client_transaction_id) DO NOTHING"
)
_FIND = (
    "SELECT fingerprint, state, owner, lease_until, decision_json FROM decisions"
    " WHERE caller = ? AND client_transaction_id = ?"
)
_TAKE_OVER = (
    "UPDATE decisions SET owner = ?, lease_until = ?"
    " WHERE caller = ? AND client_transaction_id = ? AND state = 'PENDING'"
)
_COMPLETE = (
    "UPDATE decisions SET state = 'DONE', decision_json = ?, completed_at = ?,"
    " lease_until = NULL WHERE caller = ? AND client_transaction_id = ?"
    " AND state = 'PENDING' AND owner = ?"
)
_RELEASE = (
    "DELETE FROM decisions WHERE caller = ? AND client_transaction_id = ?"
    " AND state = 'PENDING' AND owner = ?"
)


def sqlite_time(moment: datetime) -> str:
    """UTC as SQLAlchemy stores a SQLite DATETIME: fixed width, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("the store takes timezone-aware datetimes only")
    t = moment.astimezone(UTC)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond:06d}"
    )


# An operation runs on the writer thread inside the batch's transaction.
_Operation = Callable[[sqlite3.Connection], Any]


@dataclass(slots=True)
class _Job:
    future: asyncio.Future[Any]
    operation: _Operation


class SqliteClaims:
    """claim / complete / release for the ledger, written by one thread in batches."""

    def __init__(self, path: str, max_batch: int = MAX_BATCH) -> None:
        self._path = path
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name="ledger-writer", daemon=True
        )

    async def start(self) -> None:
        """Open the connection on the writer thread; raises what opening raised."""
        self._thread.start()
        await asyncio.to_thread(self._opened.wait)
        if self._open_error is not None:
            raise self._open_error

    async def close(self) -> None:
        """Finish every queued write, then close the connection."""
        if self._closed or not self._thread.is_alive():
            self._closed = True
            return
        self._closed = True
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)

    async def claim(
        self,
        caller: str,
        txid: str,
        fingerprint: str,
        owner: str,
        lease_s: float,
        now: datetime,
    ) -> Claim:
        """Atomically start (or find) the evaluation of (caller, txid)."""
        lease_until = sqlite_time(now + timedelta(seconds=lease_s))
        at = sqlite_time(now)

        def claim(db: sqlite3.Connection) -> tuple[ClaimState, str | None]:
            inserted = db.execute(
                _INSERT_PENDING, (caller, txid, fingerprint, owner, lease_until, at)
            )
            if inserted.rowcount == 1:
                return ClaimState.NEW, None
            # The batch holds SQLite's write lock: the row cannot change under us.
            found, state, holder, held_until, stored = db.execute(
                _FIND, (caller, txid)
            ).fetchone()
            if found != fingerprint:
                return ClaimState.CONFLICT, None
            if state == DONE:
                return ClaimState.DONE, stored
            if holder != owner and held_until > at:
                return ClaimState.IN_FLIGHT, None
            db.execute(_TAKE_OVER, (owner, lease_until, caller, txid))
            return ClaimState.NEW, None

        state, stored = await self._submit(claim)
        if state is ClaimState.DONE:
            return Claim(state, decision_from_json(stored))
        return Claim(state)

    async def complete(
        self, caller: str, txid: str, owner: str, decision: Decision, now: datetime
    ) -> None:
        """Store the decision for a claim this owner holds; the row becomes DONE."""
        values = (decision_to_json(decision), sqlite_time(now), caller, txid, owner)

        def complete(db: sqlite3.Connection) -> int:
            return db.execute(_COMPLETE, values).rowcount

        if await self._submit(complete) != 1:
            raise ClaimNotHeld(
                f"no pending claim of {owner!r} on {txid!r}: lease lost or decided"
            )

    async def release(self, caller: str, txid: str, owner: str) -> None:
        """Forget this owner's pending claim; a DONE decision is never deleted."""
        values = (caller, txid, owner)

        def release(db: sqlite3.Connection) -> None:
            db.execute(_RELEASE, values)

        await self._submit(release)

    async def _submit(self, operation: _Operation) -> Any:
        if self._closed:
            raise RuntimeError("the ledger writer is closed")
        future = asyncio.get_running_loop().create_future()
        self._jobs.put(_Job(future, operation))
        return await future

    # --- the writer thread -------------------------------------------------------

    def _run(self) -> None:
        try:
            db = self._connect()
        except BaseException as error:  # handed to start()
            self._open_error = error
            self._opened.set()
            return
        self._opened.set()
        try:
            while (batch := self._next_batch()) is not None:
                jobs, last = batch
                if jobs:
                    _settle(self._write(db, jobs))
                if last:
                    break
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: the writer issues BEGIN IMMEDIATE / COMMIT itself.
        db = sqlite3.connect(self._path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    def _next_batch(self) -> tuple[list[_Job], bool] | None:
        """Block for one job, then take what else is queued; (jobs, stop after)."""
        first = self._jobs.get()
        if first is None:
            return [], True
        jobs = [first]
        while len(jobs) < self._max_batch:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
        return jobs, False

    def _write(
        self, db: sqlite3.Connection, jobs: Sequence[_Job]
    ) -> list[tuple[_Job, Any, BaseException | None]]:
        """All jobs in one transaction; if that fails, each alone so one bad job
        cannot fail the others."""
        with contextlib.suppress(Exception):
            return _transaction(db, jobs)
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        for job in jobs:
            try:
                outcomes += _transaction(db, [job])
            except Exception as error:  # handed to the caller
                outcomes.append((job, None, error))
        return outcomes


def _transaction(
    db: sqlite3.Connection, jobs: Sequence[_Job]
) -> list[tuple[_Job, Any, BaseException | None]]:
    db.execute("BEGIN IMMEDIATE")
    try:
        results: list[tuple[_Job, Any, BaseException | None]] = [
            (job, job.operation(db), None) for job in jobs
        ]
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return results


def _settle(outcomes: list[tuple[_Job, Any, BaseException | None]]) -> None:
    """Wake each waiting event loop once for the whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Any, Any]]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].future.get_loop(), []).append(outcome)
    for loop, settled in by_loop.items():
        # A closed loop raises RuntimeError: nobody is waiting there any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, settled)


def _resolve(outcomes: list[tuple[_Job, Any, BaseException | None]]) -> None:
    for job, result, error in outcomes:
        if job.future.done():  # the caller gave up (cancelled)
            continue
        if error is None:
            job.future.set_result(result)
        else:
            job.future.set_exception(error)
