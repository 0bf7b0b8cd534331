"""An index on decisions.client_transaction_id alone, for the claim's cross-caller check.

Revision ID: 0004_transaction_id_index
Revises: 0003_balance_reuse

Every claim asks whether another caller holds the same client_transaction_id (Plaid keys
the id per Plaid client, not per caller: ledger_rules.py, _HELD_BY_ANOTHER). The primary
key leads with caller, so that lookup scanned the whole table: each claim cost grew
with the ledger (a 5,000-row ledger already made it most of the writer's time, profiled).
With this index it is one index probe at any size (docs/performance.md).
"""

from __future__ import annotations

from alembic import op

revision = "0004_transaction_id_index"
down_revision = "0003_balance_reuse"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_decisions_client_transaction_id", "decisions", ["client_transaction_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_decisions_client_transaction_id", table_name="decisions")
