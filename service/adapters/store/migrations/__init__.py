"""Alembic migrations of the ledger and outbox; sql_migrate.py applies them at start-up."""
