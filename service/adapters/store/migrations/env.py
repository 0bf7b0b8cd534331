"""Alembic environment: runs on the connection that migrate.py hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    # The store migrates itself at start-up (open_store); there is no alembic.ini.
    raise RuntimeError("run migrations through service.adapters.store.migrate")

context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
