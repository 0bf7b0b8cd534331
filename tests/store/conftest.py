"""Every store test runs against SQLite in tmp_path and against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.adapters.store.sql import SqlDecisionStore, open_store
from tests.store.postgres import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A database file in a directory that does not exist yet (the store creates it)."""
    return f"sqlite+aiosqlite:///{tmp_path}/var/ach-risk.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database of each kind."""
    fixture = {"sqlite": "sqlite_url", "postgresql": "postgres_url"}[request.param]
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlDecisionStore]:
    opened = await open_store(store_url)
    yield opened
    await opened.close()
