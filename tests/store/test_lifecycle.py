"""Opening, migrating, restarting and probing the store."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.adapters.store.engine import create_engine
from service.adapters.store.schema import metadata
from service.adapters.store.sql import SqlDecisionStore, open_store
from service.adapters.store.sqlite import SqliteWriter
from service.app.ports import (
    ClaimState,
    DecisionLedger,
    LedgerUpkeep,
    OutboxQueue,
    ReportInbox,
    ReportKind,
)
from tests.store.examples import LEASE_S, NOW, decision


class TestRestart:
    async def test_decisions_and_reports_survive_a_restart(self, store_url):
        first = await open_store(store_url)
        await first.claim("acme", "txn-1", "fp", "replica-a", LEASE_S, NOW)
        await first.complete("acme", "txn-1", "replica-a", decision(), NOW)
        await first.add_report("acme", "txn-1", ReportKind.DECISION, {"a": 1}, NOW)
        await first.close()

        second = await open_store(store_url)
        try:
            stored = await second.get("acme", "txn-1")
            claim = await second.claim("acme", "txn-1", "fp", "replica-b", 1, NOW)
        finally:
            await second.close()

        assert stored is not None
        assert stored.decision == decision()
        assert [r.body for r in stored.reports] == [{"a": 1}]
        assert claim.state is ClaimState.DONE


class TestMigrations:
    async def test_opening_a_migrated_database_again_changes_nothing(self, store_url):
        for _ in range(2):
            opened = await open_store(store_url)
            await opened.close()

        engine = create_engine(store_url)
        try:
            async with engine.connect() as connection:
                versions = await connection.execute(
                    sa.text("SELECT version_num FROM alembic_version")
                )
                assert versions.scalars().all() == ["0004_transaction_id_index"]
        finally:
            await engine.dispose()

    async def test_migrations_build_exactly_the_tables_the_store_queries(
        self, store_url
    ):
        await (await open_store(store_url)).close()

        engine = create_engine(store_url)
        try:
            async with engine.connect() as connection:
                differences = await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync), metadata
                    )
                )
        finally:
            await engine.dispose()

        assert differences == []


class TestReady:
    async def test_a_store_whose_database_answers_is_ready(self, store):
        assert await store.ready() is True

    async def test_a_store_whose_database_is_gone_is_not_ready(
        self, tmp_path: Path
    ) -> None:
        url = f"postgresql+psycopg://postgres@/nothing?host={tmp_path}"
        writer = SqliteWriter(
            str(tmp_path / "ledger.db")
        )  # healthy: only SELECT 1 fails
        await writer.start()
        unreachable = SqlDecisionStore(create_engine(url), writer)

        assert writer.healthy()
        assert await unreachable.ready() is False
        await unreachable.close()


class TestSqlite:
    async def test_the_database_file_is_in_wal_mode(self, sqlite_url):
        opened = await open_store(sqlite_url)
        await opened.close()

        engine = create_engine(sqlite_url)
        try:
            async with engine.connect() as connection:
                mode = await connection.exec_driver_sql("PRAGMA journal_mode")
                assert mode.scalar_one() == "wal"
        finally:
            await engine.dispose()

    def test_an_in_memory_database_is_refused(self):
        with pytest.raises(ValueError, match="file path"):
            create_engine("sqlite+aiosqlite://")


class TestUnsupportedDatabases:
    @pytest.mark.parametrize(
        "url", ["mysql+aiomysql://db/ledger", "oracle://db/ledger", "mssql://db"]
    )
    async def test_a_database_without_ledger_writes_is_refused_by_name(self, url):
        with pytest.raises(ValueError, match="SQLite or PostgreSQL, not '"):
            await open_store(url)


class TestPort:
    async def test_the_store_serves_every_use_cases_port(
        self, store: SqlDecisionStore
    ) -> None:
        """mypy --strict checks the annotations: SqlDecisionStore implements each port."""
        ledger: DecisionLedger = store
        inbox: ReportInbox = store
        queue: OutboxQueue = store
        upkeep: LedgerUpkeep = store
        assert {ledger, inbox, queue} == {store}
        assert await upkeep.ready()
