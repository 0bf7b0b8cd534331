"""DecisionStore on SQL: SQLite embedded, PostgreSQL shared by replicas.

One code path for both through SQLAlchemy Core's asyncio engine; the outbox and
retention live in sql_outbox.py and sql_purge.py, the schema in sql_schema.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters import sql_outbox, sql_purge
from service.adapters.sql_engine import create_engine
from service.adapters.sql_migrate import migrate
from service.adapters.sql_records import (
    decision_from_json,
    decision_to_json,
    report_from_row,
)
from service.adapters.sql_schema import decisions, reports
from service.ports import (
    Claim,
    ClaimState,
    OutboxStats,
    ReportKind,
    ReportRecord,
    StoredDecision,
)
from service.risk.model import Decision

PENDING, DONE = "PENDING", "DONE"
# A claim retries when a row vanishes or a takeover loses a race; more means contention.
_CLAIM_ROUNDS = 3


class ClaimNotHeld(Exception):
    """complete() found no PENDING claim of this owner: taken over, released, decided."""


async def open_store(database_url: str) -> SqlDecisionStore:
    """Connect, migrate the schema to head, and return the store."""
    engine = create_engine(database_url)
    try:
        await migrate(engine)
    except BaseException:
        await engine.dispose()
        raise
    return SqlDecisionStore(engine)


class SqlDecisionStore:
    """The ledger and the outbox in one SQL database; every key includes the caller."""

    def __init__(self, engine: AsyncEngine, ready_timeout_s: float = 2.0) -> None:
        self._engine = engine
        self._ready_timeout_s = ready_timeout_s
        # SQLite has one writer: pooled connections that race for it sleep in SQLite's
        # busy handler (1 ms up to 100 ms per retry), which made p99 tail latency at 50
        # in flight ~1 s. Queue this process's ledger writes here instead (issue 7).
        self._writes: contextlib.AbstractAsyncContextManager[object] = (
            asyncio.Lock()
            if engine.dialect.name == "sqlite"
            else contextlib.nullcontext()
        )

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
        lease_until = now + timedelta(seconds=lease_s)
        async with self._writes, self._engine.begin() as connection:
            for _ in range(_CLAIM_ROUNDS):
                claim = await _claim_once(
                    connection, caller, txid, fingerprint, owner, lease_until, now
                )
                if claim is not None:
                    return claim
        return Claim(ClaimState.IN_FLIGHT)

    async def complete(
        self, caller: str, txid: str, owner: str, decision: Decision, now: datetime
    ) -> None:
        """Store the decision for a claim this owner holds; the row becomes DONE."""
        done = (
            decisions.update()
            .where(*_key(caller, txid), _pending_of(owner))
            .values(
                state=DONE,
                decision_json=decision_to_json(decision),
                completed_at=now,
                lease_until=None,
            )
        )
        async with self._writes, self._engine.begin() as connection:
            result = await connection.execute(done)
        if result.rowcount != 1:
            raise ClaimNotHeld(
                f"no pending claim of {owner!r} on {txid!r}: lease lost or decided"
            )

    async def release(self, caller: str, txid: str, owner: str) -> None:
        """Forget this owner's pending claim; a DONE decision is never deleted."""
        forget = decisions.delete().where(*_key(caller, txid), _pending_of(owner))
        async with self._writes, self._engine.begin() as connection:
            await connection.execute(forget)

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
        """Whether the database answers `SELECT 1` within the readiness timeout."""
        try:
            async with asyncio.timeout(self._ready_timeout_s):
                async with self._engine.connect() as connection:
                    await connection.execute(sa.text("SELECT 1"))
        except (TimeoutError, OSError, sa.exc.SQLAlchemyError):
            return False
        return True

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._engine.dispose()


def _key(caller: str, txid: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        decisions.c.caller == caller,
        decisions.c.client_transaction_id == txid,
    )


def _pending_of(owner: str) -> sa.ColumnElement[bool]:
    return sa.and_(decisions.c.state == PENDING, decisions.c.owner == owner)


async def _claim_once(
    connection: AsyncConnection,
    caller: str,
    txid: str,
    fingerprint: str,
    owner: str,
    lease_until: datetime,
    now: datetime,
) -> Claim | None:
    """One round of claim; None when the row changed under us and we must look again."""
    if await _insert_pending(
        connection, caller, txid, fingerprint, owner, lease_until, now
    ):
        return Claim(ClaimState.NEW)
    found = sa.select(decisions).where(*_key(caller, txid))
    row = (await connection.execute(found)).first()
    if row is None:  # released between our insert and our read
        return None
    if row.fingerprint != fingerprint:
        return Claim(ClaimState.CONFLICT)
    if row.state == DONE:
        return Claim(ClaimState.DONE, decision_from_json(row.decision_json))
    if row.owner != owner and row.lease_until > now:
        return Claim(ClaimState.IN_FLIGHT)
    # The lease ended (or is ours): only one taker's UPDATE matches the old lease.
    take_over = (
        decisions.update()
        .where(
            *_key(caller, txid),
            decisions.c.state == PENDING,
            decisions.c.fingerprint == fingerprint,
            sa.or_(decisions.c.lease_until <= now, decisions.c.owner == owner),
        )
        .values(owner=owner, lease_until=lease_until)
        .returning(decisions.c.caller)
    )
    if (await connection.execute(take_over)).first() is not None:
        return Claim(ClaimState.NEW)
    return None


async def _insert_pending(
    connection: AsyncConnection,
    caller: str,
    txid: str,
    fingerprint: str,
    owner: str,
    lease_until: datetime,
    now: datetime,
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row is ours."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = (
        dialect.insert(decisions)
        .values(
            caller=caller,
            client_transaction_id=txid,
            fingerprint=fingerprint,
            state=PENDING,
            owner=owner,
            lease_until=lease_until,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["caller", "client_transaction_id"])
        .returning(decisions.c.caller)
    )
    return (await connection.execute(insert)).first() is not None
