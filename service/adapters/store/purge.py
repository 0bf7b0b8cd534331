"""Retention: delete old decisions with their finished reports, in small batches."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters.store.outbox import DEAD_LETTERED, DELIVERED, PENDING
from service.adapters.store.schema import decisions, reports

# One transaction per batch: a large purge holds few row locks, and briefly.
BATCH = 500

Key = tuple[str, str]


async def purge(engine: AsyncEngine, before: datetime) -> int:
    """Delete decisions completed (or claims abandoned) before `before`; count them."""
    purged, after = 0, None
    while True:
        async with engine.begin() as connection:
            keys = await _lock_batch(connection, before, after)
            if keys:
                purged += await _delete(connection, keys)
        if len(keys) < BATCH:
            return purged
        after = keys[-1]


def _has_report(table: sa.Table | sa.Alias, *, pending: bool) -> sa.Exists:
    """Whether the decision (or report) row of `table` has a (pending) report."""
    other = reports.alias("other")
    found = sa.exists().where(
        other.c.caller == table.c.caller,
        other.c.client_transaction_id == table.c.client_transaction_id,
    )
    return found.where(other.c.status == PENDING) if pending else found


async def _lock_batch(
    connection: AsyncConnection, before: datetime, after: Key | None
) -> list[Key]:
    key = sa.tuple_(decisions.c.caller, decisions.c.client_transaction_id)
    query = (
        sa.select(decisions.c.caller, decisions.c.client_transaction_id)
        .where(
            sa.or_(
                sa.and_(decisions.c.state == "DONE", decisions.c.completed_at < before),
                # A claim whose owner died and that nobody retried holds no decision.
                sa.and_(
                    decisions.c.state == "PENDING", decisions.c.lease_until < before
                ),
            ),
            ~_has_report(decisions, pending=True),
        )
        .order_by(decisions.c.caller, decisions.c.client_transaction_id)
        .limit(BATCH)
        # A replica adding a report holds a key-share lock on its decision: skip that row.
        .with_for_update(skip_locked=True)
    )
    if after is not None:
        query = query.where(key > sa.tuple_(*after))
    return [
        (row.caller, row.client_transaction_id)
        for row in await connection.execute(query)
    ]


async def _delete(connection: AsyncConnection, keys: list[Key]) -> int:
    # Both deletes look again: a report committed after the batch was chosen keeps
    # its decision, and that decision's history, in place.
    report_key = sa.tuple_(reports.c.caller, reports.c.client_transaction_id)
    await connection.execute(
        reports.delete().where(
            report_key.in_(keys),
            reports.c.status.in_((DELIVERED, DEAD_LETTERED)),
            ~_has_report(reports, pending=True),
        )
    )
    decision_key = sa.tuple_(decisions.c.caller, decisions.c.client_transaction_id)
    deleted = await connection.execute(
        decisions.delete().where(
            decision_key.in_(keys), ~_has_report(decisions, pending=False)
        )
    )
    return deleted.rowcount
