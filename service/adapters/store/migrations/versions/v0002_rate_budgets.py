"""Spends of Plaid rate budgets, shared by every replica on the database.

Revision ID: 0002_rate_budgets
Revises: 0001

Written out here as it is at this revision (see v0001): one row per call spent,
`spent_at` in seconds since the epoch, `weight` the calls it counts for.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_rate_budgets"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_spends",
        sa.Column("budget_key", sa.Text, nullable=False),
        sa.Column("spent_at", sa.Double, nullable=False),
        sa.Column("weight", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_rate_spends_key_time", "rate_spends", ["budget_key", "spent_at"]
    )
    op.create_index("ix_rate_spends_time", "rate_spends", ["spent_at"])


def downgrade() -> None:
    op.drop_table("rate_spends")
