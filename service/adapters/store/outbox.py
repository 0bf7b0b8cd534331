"""The outbox of reports in SQL: accept, lease to one worker, record each attempt."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.store.records import body_to_json, report_from_row
from service.adapters.store.schema import decisions, reports
from service.app.ports import (
    DeliveryStatus,
    OutboxStats,
    ReportKind,
    ReportRecord,
    UnknownTransaction,
)

PENDING = DeliveryStatus.PENDING.value
DELIVERED = DeliveryStatus.DELIVERED.value
DEAD_LETTERED = DeliveryStatus.DEAD_LETTERED.value


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        reports.c.status == PENDING,
        reports.c.next_attempt_at <= now,
        sa.or_(reports.c.lease_until.is_(None), reports.c.lease_until <= now),
    )


class SqlOutbox:
    """The outbox half of the store: reports accepted, leased, and their attempts."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_report(
        self,
        caller: str,
        txid: str,
        kind: ReportKind,
        body: dict[str, Any],
        now: datetime,
    ) -> ReportRecord:
        """Insert a PENDING report if (caller, txid) has a decision, in one statement."""
        values = {
            "caller": caller,
            "client_transaction_id": txid,
            "kind": kind.value,
            "body_json": body_to_json(body),
            "status": PENDING,
            "attempts": 0,
            "accepted_at": now,
            "next_attempt_at": now,
        }
        # INSERT ... SELECT FROM decisions: the check and the insert cannot be split.
        source = sa.select(
            *(sa.literal(value, reports.c[name].type) for name, value in values.items())
        ).where(
            decisions.c.caller == caller,
            decisions.c.client_transaction_id == txid,
            decisions.c.state == "DONE",
        )
        insert = reports.insert().from_select(list(values), source)
        try:
            async with self._engine.begin() as connection:
                row = (await connection.execute(insert.returning(*reports.c))).first()
        except sa.exc.IntegrityError as exc:  # a purge deleted the decision meanwhile
            raise UnknownTransaction(txid) from exc
        if row is None:
            raise UnknownTransaction(txid)
        return report_from_row(row)

    async def claim_reports(
        self, owner: str, limit: int, lease_s: float, now: datetime
    ) -> list[ReportRecord]:
        """Lease up to `limit` due reports to owner, oldest first."""
        if limit <= 0:
            return []
        # SKIP LOCKED (PostgreSQL only; SQLite renders nothing and has one writer anyway)
        # passes over rows another replica is leasing instead of waiting for them. The
        # CTE is MATERIALIZED: as an IN (subquery), PostgreSQL may rerun it per row and
        # lease more than `limit` reports.
        # One transaction's reports go one at a time, oldest first: a return report never
        # overtakes its decision report, and a retried decision report never lands after
        # a newer one (Plaid keeps the latest).
        earlier = reports.alias("earlier")
        waits_for_earlier = sa.exists().where(
            earlier.c.caller == reports.c.caller,
            earlier.c.client_transaction_id == reports.c.client_transaction_id,
            earlier.c.status == PENDING,
            earlier.c.id < reports.c.id,
        )
        chosen = (
            sa.select(reports.c.id)
            .where(_due(now), sa.not_(waits_for_earlier))
            .order_by(reports.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("chosen")
            .prefix_with("MATERIALIZED")
        )
        lease = (
            reports.update()
            .where(reports.c.id == chosen.c.id, _due(now))
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
            .returning(*reports.c)
        )
        async with self._engine.begin() as connection:
            rows = (await connection.execute(lease)).all()
        return sorted((report_from_row(row) for row in rows), key=lambda r: r.id)

    async def report_delivered(self, report_id: int, now: datetime) -> None:
        """Mark a PENDING report DELIVERED; a finished or purged one is left alone."""
        await self._finish_attempt(
            report_id, status=DELIVERED, delivered_at=now, last_error_code=None
        )

    async def report_failed(
        self,
        report_id: int,
        error_code: str | None,
        next_attempt_at: datetime | None,
    ) -> None:
        """Schedule the next attempt, or dead-letter the report when there is none."""
        if next_attempt_at is None:
            changes: dict[str, Any] = {"status": DEAD_LETTERED}
        else:
            changes = {"next_attempt_at": next_attempt_at}
        await self._finish_attempt(report_id, last_error_code=error_code, **changes)

    async def _finish_attempt(self, report_id: int, **changes: Any) -> None:
        attempt = (
            reports.update()
            .where(reports.c.id == report_id, reports.c.status == PENDING)
            .values(
                attempts=reports.c.attempts + 1,
                lease_owner=None,
                lease_until=None,
                **changes,
            )
        )
        async with self._engine.begin() as connection:
            await connection.execute(attempt)

    async def outbox_stats(self, now: datetime) -> OutboxStats:
        """Pending reports, the age of the oldest one, and dead letters."""
        pending = sa.select(sa.func.count(), sa.func.min(reports.c.accepted_at)).where(
            reports.c.status == PENDING
        )
        dead = sa.select(sa.func.count()).where(reports.c.status == DEAD_LETTERED)
        async with self._engine.connect() as connection:
            pending_count, oldest = (await connection.execute(pending)).one()
            dead_count = (await connection.execute(dead)).scalar_one()
        age_s = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        return OutboxStats(pending_count, age_s, dead_count)
