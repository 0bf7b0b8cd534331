"""The ledger's hot writes on SQLite: one writer thread, one connection, group commit.

Every evaluation writes twice (claim before Plaid, complete after). Through
SQLAlchemy's asyncio engine and aiosqlite that cost ~4.7 ms of CPU per evaluation,
most of it statement building and thread hops on the event loop (profiled under load).
Here the event loop only queues the work and awaits a future; the writer thread runs
every queued claim, completion and release in one transaction and one fsync, then
settles the whole batch with a single wake-up of the loop. SQLite has one writer at a
time anyway, so a single thread loses no parallelism.

The statements are ledger_rules.py's, as PostgreSQL runs them; times are written in
SQLAlchemy's SQLite DATETIME text form so its reads (reports, purge) agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import structlog

from service.adapters.store.ledger_rules import Dialect, Rule, Steps
from service.adapters.store.schema import utc

# RETURNING, which every ledger statement uses, came with SQLite 3.35.
MIN_SQLITE = (3, 35, 0)
# Enough to drain a burst in one transaction, small enough to settle callers promptly.
MAX_BATCH = 512
BUSY_TIMEOUT_MS = 5000
log = structlog.get_logger("service.ledger")


def sqlite_time(moment: datetime) -> str:
    """UTC as SQLAlchemy stores a SQLite DATETIME: fixed width, so text order is time order."""
    t = moment if moment.tzinfo is UTC else utc(moment)  # the clock's times are UTC
    # isoformat in C: 4 of these per evaluation, and formatting field by field in
    # Python cost ~1.5% of the CPU under load (profiled).
    return t.isoformat(" ", "microseconds")[:26]  # without the "+00:00"


T = TypeVar("T")
DIALECT = Dialect(placeholder="?", time=sqlite_time)


def run_rule(db: sqlite3.Connection, rule: Rule[T]) -> T:
    """Drive a rule from its first statement on this connection (in its transaction)."""
    steps: Steps[T] = rule()
    try:
        statement, values = next(steps)
        while True:
            rows = db.execute(statement, values).fetchall()  # finishes the statement
            statement, values = steps.send(rows[0] if rows else None)
    except StopIteration as done:
        return cast(T, done.value)


# An operation runs on the writer thread inside the batch's transaction.
_Operation = Callable[[sqlite3.Connection], Any]


@dataclass(slots=True)
class _Job:
    future: asyncio.Future[Any]
    operation: _Operation


# A settled job: its result, or the error its caller gets.
_Outcome = tuple[_Job, Any, BaseException | None]


class SqliteWriter:
    """Runs the ledger's rules on SQLite: one thread, one connection, in batches."""

    dialect = DIALECT
    locks = False  # the batch transaction holds the database's write lock

    def __init__(
        self,
        path: str,
        max_batch: int = MAX_BATCH,
        uri: bool = False,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        self._path = path
        self._uri = uri
        self._busy_timeout_ms = busy_timeout_ms
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
        """Finish every queued write, then close the connection (also when called
        twice at once: both return once the writes are done)."""
        if not self._closed:
            self._closed = True
            self._jobs.put(None)
        if self._thread.ident is not None:  # started
            await asyncio.to_thread(self._thread.join)

    def healthy(self) -> bool:
        """The writer thread is running and not closed."""
        return not self._closed and self._thread.is_alive()

    async def run(self, rule: Rule[T]) -> T:
        """Run a ledger rule in the writer's next batch transaction."""
        done: T = await self._submit(lambda db: run_rule(db, rule))
        return done

    async def run_atomic(self, rule: Rule[T]) -> T:
        """Every rule already runs inside the batch's one transaction."""
        return await self.run(rule)

    async def _submit(self, operation: _Operation) -> Any:
        if self._closed:
            raise _stopped()
        future = asyncio.get_running_loop().create_future()
        self._jobs.put(_Job(future, operation))
        if not self._thread.is_alive():  # it stopped between our check and our put
            _fail_queued(self._jobs)
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
        in_hand: list[_Job] = []
        try:
            while (batch := self._next_batch()) is not None:
                in_hand, last = batch
                if in_hand:
                    _settle(self._write(db, in_hand))
                in_hand = []
                if last:
                    break
        except BaseException as error:  # the thread ends here; its callers must not
            log.error("ledger.writer_stopped", error=type(error).__name__)
        finally:
            # Nobody may wait forever: whatever is in hand or still queued fails.
            self._closed = True
            with contextlib.suppress(sqlite3.Error):
                db.close()
            _settle([(job, None, _stopped()) for job in in_hand])
            _fail_queued(self._jobs)

    def _connect(self) -> sqlite3.Connection:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise RuntimeError(
                f"the ledger needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer"
                f" (RETURNING); this Python has {sqlite3.sqlite_version}"
            )
        # Autocommit mode: the writer issues BEGIN IMMEDIATE / COMMIT itself.
        db = sqlite3.connect(self._path, isolation_level=None, uri=self._uri)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
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

    def _write(self, db: sqlite3.Connection, jobs: Sequence[_Job]) -> list[_Outcome]:
        """All jobs in one transaction. If one job's statement fails, each runs alone
        so that only it fails; if the database fails (locked past the busy timeout,
        disk full), the batch fails at once rather than retrying job by job."""
        try:
            return _transaction(db, jobs)
        except _JobFailed:
            pass
        except Exception as error:
            log.error(
                "ledger.write_failed",
                error=type(error).__name__,
                message=str(error),  # SQLite's text names tables, never values
                jobs=len(jobs),
            )
            return [(job, None, error) for job in jobs]
        outcomes: list[_Outcome] = []
        for job in jobs:
            try:
                outcomes += _transaction(db, [job])
            except _JobFailed as failed:
                outcomes.append((job, None, failed.error))
            except Exception as error:
                outcomes.append((job, None, error))
        return outcomes


class _JobFailed(Exception):
    """A job's own statement failed (not BEGIN or COMMIT)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _transaction(db: sqlite3.Connection, jobs: Sequence[_Job]) -> list[_Outcome]:
    db.execute("BEGIN IMMEDIATE")
    try:
        results: list[_Outcome] = []
        for job in jobs:
            try:
                results.append((job, job.operation(db), None))
            except Exception as error:
                raise _JobFailed(error) from error
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return results


def _stopped() -> RuntimeError:
    return RuntimeError("the ledger writer is closed")


def _fail_queued(jobs: queue.SimpleQueue[_Job | None]) -> None:
    """Fail every job still queued (the writer thread is gone)."""
    failed: list[_Outcome] = []
    while True:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            break
        if job is not None:
            failed.append((job, None, _stopped()))
    _settle(failed)


def _settle(outcomes: list[_Outcome]) -> None:
    """Wake each waiting event loop once for the whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].future.get_loop(), []).append(outcome)
    for loop, settled in by_loop.items():
        # A closed loop raises RuntimeError: nobody is waiting there any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, settled)


def _resolve(outcomes: list[_Outcome]) -> None:
    for job, result, error in outcomes:
        if job.future.done():  # the caller gave up (cancelled)
            continue
        if error is None:
            job.future.set_result(result)
        else:
            job.future.set_exception(error)
