"""An SQLAlchemy async engine for the database URL, with SQLite set up for a service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# The ledger's writes exist for these two (sqlite.py, postgres.py) and no other.
SUPPORTED = ("sqlite", "postgresql")
# WAL lets readers run beside the one writer; writers queue for up to 5 s, not fail.
_SQLITE_PRAGMAS = ("journal_mode=WAL", "busy_timeout=5000", "foreign_keys=ON")


def with_async_driver(raw: str) -> str:
    """Accept plain URLs and pick the async drivers: aiosqlite and psycopg 3."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+psycopg://"),
        ("postgres://", "postgresql+psycopg://"),
    ):
        if raw.startswith(plain):
            return driver + raw.removeprefix(plain)
    return raw


def create_engine(database_url: str) -> AsyncEngine:
    """`sqlite+aiosqlite:///path` (parent dir created) or `postgresql+psycopg://...`."""
    url = make_url(database_url)
    if url.get_backend_name() not in SUPPORTED:
        raise ValueError(
            f"the store runs on SQLite or PostgreSQL, not {url.get_backend_name()!r}:"
            " use sqlite+aiosqlite:///path or postgresql+psycopg://..."
        )
    if url.get_backend_name() == "postgresql":
        # Replicas outlive database restarts and failovers: test connections on checkout.
        # Only reads, reports and retention use this pool (the per-evaluation writes
        # have postgres.py's): 10 connections here + 10 there per replica.
        return create_async_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    if url.database in (None, "", ":memory:"):
        # Each pooled connection would see its own empty database.
        raise ValueError(
            "the SQLite store needs a file path, not an in-memory database"
        )
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)
    event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
