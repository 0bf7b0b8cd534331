"""Each database gets its fast path for the per-evaluation writes."""

from __future__ import annotations

from service.adapters.store.postgres import PgWriter, libpq_url
from service.adapters.store.sql import open_store
from service.adapters.store.sqlite import SqliteWriter


async def test_each_database_writes_claims_without_sqlalchemy(store_url: str) -> None:
    store = await open_store(store_url)
    try:
        expected = SqliteWriter if store_url.startswith("sqlite") else PgWriter
        assert isinstance(store._writer, expected)
    finally:
        await store.close()


def test_a_sqlalchemy_url_becomes_a_libpq_uri_with_its_password_and_options() -> None:
    url = "postgresql+psycopg://ach:p%40ss@db.internal:5433/achrisk?sslmode=require"

    assert (
        libpq_url(url)
        == "postgresql://ach:p%40ss@db.internal:5433/achrisk?sslmode=require"
    )
