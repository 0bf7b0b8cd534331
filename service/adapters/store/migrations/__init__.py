"""Alembic migrations of the ledger and outbox; migrate.py applies them at start-up."""
