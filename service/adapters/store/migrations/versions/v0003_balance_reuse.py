"""Live balances a decision fetched, keyed for reuse by later ACCEPT_RECENT requests.

Revision ID: 0003_balance_reuse
Revises: 0002_rate_budgets

Two nullable columns on decisions, written by the completion's one statement, and an
index for the lookup (caller, balance_key, newest balance_fetched_at first). The key is
a keyed fingerprint of (access token, account_id), never the token
(docs/realtime-balance.md, "Balance freshness").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_balance_reuse"
down_revision = "0002_rate_budgets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("balance_key", sa.Text, nullable=True))
        batch.add_column(
            sa.Column("balance_fetched_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_index(
        "ix_decisions_balance",
        "decisions",
        ["caller", "balance_key", "balance_fetched_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_decisions_balance", table_name="decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("balance_fetched_at")
        batch.drop_column("balance_key")
