"""Decisions and times for store tests: only what the store must keep exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from service.domain.model import (
    AppliedRuleset,
    Balance,
    Basis,
    Decision,
    Note,
    PaymentAttempt,
    PlaidCall,
    PlaidWarning,
    Rail,
    RealtimeReport,
    Result,
    Scores,
    Source,
    TimeSource,
    Verdict,
)
from service.domain.money import Money

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LEASE_S = 30.0


def later(seconds: float) -> datetime:
    """NOW plus some seconds."""
    return NOW + timedelta(seconds=seconds)


def decision(txid: str = "txn-1", amount_cents: int = 12_345) -> Decision:
    """A decision with every kind of value the ledger keeps: Decimals, times, tuples."""
    return Decision(
        attempt=PaymentAttempt(
            txid, Money(amount_cents, "USD"), Rail.ACH_SAME_DAY, "rs"
        ),
        verdict=Verdict(
            Result.REVIEW,
            Source.SIGNAL_RULESET,
            (Note("SCORE_HIGH", "customer-initiated score 80 >= 70"),),
        ),
        balance=Balance(
            Decimal("1234.5600"),
            Decimal("-0.01"),
            "USD",
            datetime(2025, 3, 1, 11, 59, 58, 123456, tzinfo=UTC),
            TimeSource.PLAID_REPORTED,
        ),
        realtime=RealtimeReport(
            True, Basis.RULESET_BALANCE_ONLY, (Note("W", "a warning"),), attempted=True
        ),
        evaluated_at=NOW,
        duration_ms=321,
        plaid_calls=(PlaidCall("/signal/evaluate", "req-1", 200, None, 300, 2),),
        applied_ruleset=AppliedRuleset("rs", "REVIEW", "3-day-hold", None),
        scores=Scores(80, 4, 12, 2),
        plaid_warnings=(PlaidWarning("BANK_ERROR", "NO_ACCOUNTS", "stale"),),
        core_attributes={
            "available_balance": 1234.56,
            "balance_last_updated": "2025-03-01T11:59:58Z",
            "is_account_closed": False,
            "days_since_first_plaid_connection": 412,
            "p50_eod_balance_30d": None,
        },
    )
