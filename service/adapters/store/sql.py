"""The store on SQL: SQLite embedded, PostgreSQL shared by replicas.

Reads, the outbox (outbox.py) and retention (purge.py) go through SQLAlchemy Core's
asyncio engine for both databases. The writes of every evaluation (ledger_rules.py)
take the fastest safe path for each: a batching writer thread on SQLite (sqlite.py),
autocommit statements on psycopg's pool for PostgreSQL (postgres.py).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.store import ledger_rules as rules
from service.adapters.store import outbox as sql_outbox
from service.adapters.store import purge as sql_purge
from service.adapters.store.engine import create_engine
from service.adapters.store.ledger_rules import Dialect, Rule
from service.adapters.store.migrate import migrate
from service.adapters.store.postgres import PgWriter
from service.adapters.store.records import decision_from_json, report_from_row
from service.adapters.store.schema import DONE, decisions, reports
from service.adapters.store.sqlite import SqliteWriter
from service.app.ports import (
    Claim,
    ClaimNotHeld,
    OutboxStats,
    ReportKind,
    ReportRecord,
    StoredDecision,
)
from service.domain.model import Decision

T = TypeVar("T")


class LedgerWriter(Protocol):
    """Runs ledger rules on one database: SqliteWriter or PgWriter."""

    @property
    def dialect(self) -> Dialect: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def healthy(self) -> bool:
        """False once the writes cannot work any more (writer stopped, pool closed)."""
        ...

    async def run(self, rule: Rule[T]) -> T: ...


async def open_store(database_url: str) -> SqlDecisionStore:
    """Connect, migrate the schema to head, and return the store."""
    engine = create_engine(database_url)  # refuses what the store cannot run on
    if engine.dialect.name == "postgresql":
        writer: LedgerWriter = PgWriter(database_url)
    else:
        uri = engine.url.query.get("uri") in ("true", "1")
        writer = SqliteWriter(str(engine.url.database), uri=uri)
    try:
        await migrate(engine)
        try:
            await writer.start()
        except BaseException:
            await writer.close()
            raise
    except BaseException:
        await engine.dispose()
        raise
    return SqlDecisionStore(engine, writer)


class SqlDecisionStore:
    """The ledger and the outbox in one SQL database; every key includes the caller."""

    def __init__(
        self, engine: AsyncEngine, writer: LedgerWriter, ready_timeout_s: float = 2.0
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._dialect = writer.dialect
        self._ready_timeout_s = ready_timeout_s

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
        return await self._writer.run(
            rules.claim(self._dialect, caller, txid, fingerprint, owner, lease_s, now)
        )

    async def complete(
        self, caller: str, txid: str, owner: str, decision: Decision, now: datetime
    ) -> None:
        """Store the decision for a claim this owner holds; the row becomes DONE."""
        done = rules.complete(self._dialect, caller, txid, owner, decision, now)
        if not await self._writer.run(done):
            raise ClaimNotHeld(owner, txid)

    async def release(self, caller: str, txid: str, owner: str) -> None:
        """Forget this owner's pending claim; a DONE decision is never deleted."""
        await self._writer.run(rules.release(self._dialect, caller, txid, owner))

    async def abandon(self, caller: str, txid: str, owner: str, now: datetime) -> None:
        """The evaluation failed after Plaid may have seen the id: keep the row PENDING
        with its lease ended, so the next claim takes it over knowing that."""
        await self._writer.run(rules.abandon(self._dialect, caller, txid, owner, now))

    async def get(self, caller: str, txid: str) -> StoredDecision | None:
        """The stored decision and its reports (oldest first), or None."""
        decision = sa.select(decisions.c.decision_json).where(
            *_key(caller, txid), decisions.c.state == DONE
        )
        made = (
            reports.select()
            .where(reports.c.caller == caller, reports.c.client_transaction_id == txid)
            .order_by(reports.c.id)
        )
        async with self._engine.connect() as connection:
            stored = (await connection.execute(decision)).scalar_one_or_none()
            if stored is None:
                return None
            rows = (await connection.execute(made)).all()
        return StoredDecision(
            decision_from_json(stored), tuple(report_from_row(row) for row in rows)
        )

    async def add_report(
        self,
        caller: str,
        txid: str,
        kind: ReportKind,
        body: dict[str, Any],
        now: datetime,
    ) -> ReportRecord:
        """Persist a report for a stored decision; raises UnknownTransaction if none."""
        return await sql_outbox.add_report(self._engine, caller, txid, kind, body, now)

    async def claim_reports(
        self, owner: str, limit: int, lease_s: float, now: datetime
    ) -> list[ReportRecord]:
        """Due PENDING reports, leased to owner; replicas never share one."""
        return await sql_outbox.claim_reports(self._engine, owner, limit, lease_s, now)

    async def report_delivered(self, report_id: int, now: datetime) -> None:
        """Mark delivered (attempts + 1); a report no longer PENDING is left alone."""
        await sql_outbox.report_delivered(self._engine, report_id, now)

    async def report_failed(
        self, report_id: int, error_code: str | None, next_attempt_at: datetime | None
    ) -> None:
        """Record a failed attempt (attempts + 1); None dead-letters the report."""
        await sql_outbox.report_failed(
            self._engine, report_id, error_code, next_attempt_at
        )

    async def outbox_stats(self, now: datetime) -> OutboxStats:
        """Counts for metrics."""
        return await sql_outbox.outbox_stats(self._engine, now)

    async def purge(self, before: datetime) -> int:
        """Delete decisions (and their delivered or dead reports) older than `before`."""
        return await sql_purge.purge(self._engine, before)

    async def ready(self) -> bool:
        """Whether the evaluations' writes can work and the database answers
        `SELECT 1` within the readiness timeout."""
        if not self._writer.healthy():
            return False
        try:
            async with asyncio.timeout(self._ready_timeout_s):
                async with self._engine.connect() as connection:
                    await connection.execute(sa.text("SELECT 1"))
        except (TimeoutError, OSError, sa.exc.SQLAlchemyError):
            return False
        return True

    async def close(self) -> None:
        """Finish queued writes, then close every connection."""
        try:
            await self._writer.close()
        finally:
            await self._engine.dispose()


def _key(caller: str, txid: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        decisions.c.caller == caller,
        decisions.c.client_transaction_id == txid,
    )
