"""The ledger of decisions and the outbox of reports.

Revision ID: 0001
Revises:

The tables are written out here as they were at this revision, not imported from
schema.py: a migration is frozen history, and schema.py moves on with later ones.
tests/store/test_lifecycle.py checks that the migrations build what schema.py says.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQLite gives rowids only to a column declared exactly INTEGER PRIMARY KEY.
_REPORT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("caller", sa.Text, primary_key=True),
        sa.Column("client_transaction_id", sa.Text, primary_key=True),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        _timestamp("lease_until", nullable=True),
        sa.Column("decision_json", sa.Text, nullable=True),
        _timestamp("created_at", nullable=False),
        _timestamp("completed_at", nullable=True),
        sa.CheckConstraint("state IN ('PENDING', 'DONE')", name="ck_decisions_state"),
    )
    op.create_index("ix_decisions_completed_at", "decisions", ["completed_at"])
    op.create_table(
        "reports",
        sa.Column("id", _REPORT_ID, sa.Identity(), primary_key=True),
        sa.Column("caller", sa.Text, nullable=False),
        sa.Column("client_transaction_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("body_json", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error_code", sa.Text, nullable=True),
        _timestamp("accepted_at", nullable=False),
        _timestamp("delivered_at", nullable=True),
        _timestamp("next_attempt_at", nullable=False),
        sa.Column("lease_owner", sa.Text, nullable=True),
        _timestamp("lease_until", nullable=True),
        sa.ForeignKeyConstraint(
            ["caller", "client_transaction_id"],
            ["decisions.caller", "decisions.client_transaction_id"],
            name="fk_reports_decision",
        ),
        sa.CheckConstraint("kind IN ('DECISION', 'RETURN')", name="ck_reports_kind"),
        sa.CheckConstraint(
            "status IN ('PENDING', 'DELIVERED', 'DEAD_LETTERED')",
            name="ck_reports_status",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_reports_due", "reports", ["status", "next_attempt_at"])
    op.create_index(
        "ix_reports_decision", "reports", ["caller", "client_transaction_id"]
    )


def downgrade() -> None:
    op.drop_table("reports")
    op.drop_table("decisions")
