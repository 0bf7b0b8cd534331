"""The ledger and outbox tables as the store queries them (migrations create them).

Keep in step with migrations/versions; tests/store compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


def utc(moment: datetime) -> datetime:
    """The moment in UTC; naive datetimes are refused (the store's one rule for times)."""
    if moment.tzinfo is None:
        raise ValueError("the store takes timezone-aware datetimes only")
    return moment.astimezone(UTC)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database; naive values are refused."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        in_utc = utc(value)
        # SQLite keeps fixed-width naive text, which compares in time order only in one zone.
        return in_utc.replace(tzinfo=None) if dialect.name == "sqlite" else in_utc

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# decisions.state: PENDING while an owner's lease holds the claim, DONE once decided.
PENDING, DONE = "PENDING", "DONE"

# SQLite gives rowids only to a column declared exactly INTEGER PRIMARY KEY.
ReportId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("caller", sa.Text, primary_key=True),
    sa.Column("client_transaction_id", sa.Text, primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("decision_json", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("completed_at", UtcDateTime, nullable=True),
    # A live balance this decision fetched, for reuse (ACCEPT_RECENT): a keyed
    # fingerprint of (access token, account_id) and when the balance was true.
    sa.Column("balance_key", sa.Text, nullable=True),
    sa.Column("balance_fetched_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("state IN ('PENDING', 'DONE')", name="ck_decisions_state"),
    sa.Index("ix_decisions_completed_at", "completed_at"),
    sa.Index("ix_decisions_balance", "caller", "balance_key", "balance_fetched_at"),
    # The claim's check that no other caller holds the id (ledger_rules.py).
    sa.Index("ix_decisions_client_transaction_id", "client_transaction_id"),
)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", ReportId, sa.Identity(), primary_key=True),
    sa.Column("caller", sa.Text, nullable=False),
    sa.Column("client_transaction_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("body_json", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error_code", sa.Text, nullable=True),
    sa.Column("accepted_at", UtcDateTime, nullable=False),
    sa.Column("delivered_at", UtcDateTime, nullable=True),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.ForeignKeyConstraint(
        ["caller", "client_transaction_id"],
        ["decisions.caller", "decisions.client_transaction_id"],
        name="fk_reports_decision",
    ),
    sa.CheckConstraint("kind IN ('DECISION', 'RETURN')", name="ck_reports_kind"),
    sa.CheckConstraint(
        "status IN ('PENDING', 'DELIVERED', 'DEAD_LETTERED')", name="ck_reports_status"
    ),
    sa.Index("ix_reports_due", "status", "next_attempt_at"),
    sa.Index("ix_reports_decision", "caller", "client_transaction_id"),
    # Never reuse a purged report's id: a stale worker might still hold it.
    sqlite_autoincrement=True,
)

# One row per call spent from a Plaid rate budget (adapters/store/rate_rules.py):
# `spent_at` in seconds since the epoch, `weight` calls (a Plaid 429 fills a window).
rate_spends = sa.Table(
    "rate_spends",
    metadata,
    sa.Column("budget_key", sa.Text, nullable=False),
    sa.Column("spent_at", sa.Double, nullable=False),
    sa.Column("weight", sa.Integer, nullable=False),
    sa.Index("ix_rate_spends_key_time", "budget_key", "spent_at"),
    sa.Index("ix_rate_spends_time", "spent_at"),
)
