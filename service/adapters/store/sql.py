"""The store on SQL: SQLite embedded, PostgreSQL shared by replicas.

Reads, the outbox (outbox.py) and retention (purge.py) go through SQLAlchemy Core's
asyncio engine for both databases. The writes of every evaluation (ledger_rules.py)
take the fastest safe path for each: a batching writer thread on SQLite (sqlite.py),
autocommit statements on psycopg's pool for PostgreSQL (postgres.py).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import sqlalchemy as sa
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.store import purge as sql_purge
from service.adapters.store.engine import create_engine, with_async_driver
from service.adapters.store.ledger import LedgerWriter, SqlLedger
from service.adapters.store.migrate import migrate
from service.adapters.store.outbox import SqlOutbox
from service.adapters.store.postgres import PgWriter
from service.adapters.store.rates import SqlRateLedger
from service.adapters.store.records import decision_from_json, report_from_row
from service.adapters.store.schema import DONE, decisions, reports
from service.adapters.store.sqlite import SqliteWriter
from service.app.ports import StoredDecision


async def open_store(
    database_url: str, tracer: trace.Tracer | None = None
) -> SqlDecisionStore:
    """Connect, migrate the schema to head, and return the store. Plain URLs
    (sqlite:///path, postgresql://...) get the async drivers. `tracer`: the
    evaluation's writes become spans (tracing on)."""
    database_url = with_async_driver(database_url)
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
    return SqlDecisionStore(engine, writer, tracer=tracer)


async def migrate_store(database_url: str) -> None:
    """Bring the schema to head, then disconnect: a supervisor runs this once before its
    workers open the store, so they find nothing to do (docs/workers.md)."""
    engine = create_engine(with_async_driver(database_url))
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


class SqlDecisionStore(SqlLedger, SqlOutbox, SqlRateLedger):
    """The ledger and the outbox in one SQL database; every key includes the caller.

    It serves every use case's port (app/ports.py): the ledger's writes come from
    SqlLedger, the outbox's from SqlOutbox, reads and upkeep from here.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        writer: LedgerWriter,
        ready_timeout_s: float = 2.0,
        tracer: trace.Tracer | None = None,
    ) -> None:
        SqlLedger.__init__(self, writer, tracer, engine.dialect.name)
        SqlOutbox.__init__(self, engine)
        self._ready_timeout_s = ready_timeout_s

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
