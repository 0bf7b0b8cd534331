"""Balance freshness on demand: the rules behind `balance_freshness` (pure).

REQUIRE_LIVE: a decision rests on a balance fetched live by this very call; when a
Signal ruleset extracted none, a live balance is fetched too and the stricter of the
two verdicts wins. ACCEPT_RECENT: a live balance fetched earlier for the same caller
and account may be reused within the request's maximum age, decided by the same
balance policy. docs/realtime-balance.md, "Balance freshness", says the same for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from service.domain.model import (
    Balance,
    Basis,
    Decision,
    Note,
    PaymentAttempt,
    RealtimeReport,
    Result,
    ReusedFetch,
    Verdict,
)
from service.domain.policy import BalancePolicy, decide_balance

# The bounds of max_balance_age: at least a second, at most a day.
MIN_REUSE_AGE = timedelta(seconds=1)
MAX_REUSE_AGE = timedelta(days=1)

_SEVERITY = {Result.ACCEPT: 0, Result.REVIEW: 1, Result.REROUTE: 2}


def severity(result: Result) -> int:
    """ACCEPT < REVIEW < REROUTE."""
    return _SEVERITY[result]


def stricter(first: Verdict, second: Verdict) -> Verdict:
    """The stricter verdict's result and source, with every reason of both: the
    winner's first (on a tie, `first` wins)."""
    if severity(second.result) > severity(first.result):
        first, second = second, first
    return Verdict(first.result, first.source, (*first.reasons, *second.reasons))


def needs_live_balance(
    attempt: PaymentAttempt, realtime: RealtimeReport, live_required: bool
) -> bool:
    """An ACH decision under REQUIRE_LIVE whose Signal ruleset asked the bank for no
    balance (Transaction Scores, no ruleset, or inferred so): fetch one live."""
    return live_required and attempt.rail.is_ach and not realtime.was_attempted


def hold_unless_fetched(verdict: Verdict, realtime: RealtimeReport) -> Verdict:
    """REQUIRE_LIVE with no fresh balance from this call: never a silent ACCEPT;
    at least REVIEW, saying why."""
    if realtime.fetched:
        return verdict
    note = Note(
        "LIVE_BALANCE_NOT_FETCHED",
        "the request requires a live balance and none was fetched by this call "
        f"(basis {realtime.basis.value}); held for review at least",
    )
    return stricter(verdict, Verdict(Result.REVIEW, verdict.source, (note,)))


@dataclass(frozen=True, slots=True)
class RecentBalance:
    """A live balance an earlier decision fetched, as the ledger found it."""

    client_transaction_id: str
    balance: Balance
    fetched_at: datetime


def fetched_balance_time(decision: Decision) -> datetime | None:
    """When the balance a decision fetched live was true, if it fetched one that a
    later ACCEPT_RECENT request may reuse: fetched, with a value, never itself reused."""
    balance = decision.balance
    no_values = balance.available is None and balance.current is None
    if not decision.realtime.fetched or no_values:
        return None
    return balance.as_of or decision.evaluated_at


def reuse_recent(
    attempt: PaymentAttempt,
    recent: RecentBalance,
    policy: BalancePolicy,
    now: datetime,
) -> tuple[Verdict, RealtimeReport]:
    """Decide on a reused balance with the balance policy: nothing was asked of the
    bank for this decision, and the report names the fetch it rests on."""
    age = max(now - recent.fetched_at, timedelta(0))
    verdict = decide_balance(attempt.amount, recent.balance, policy, now)
    note = Note(
        "REUSED_RECENT_BALANCE",
        f"reused the live balance fetched for {recent.client_transaction_id} "
        f"{int(age.total_seconds())} s ago; no Plaid call was made",
    )
    verdict = Verdict(verdict.result, verdict.source, (*verdict.reasons, note))
    report = RealtimeReport(
        fetched=False,
        basis=Basis.REUSED_RECENT_FETCH,
        attempted=False,
        reused=ReusedFetch(recent.client_transaction_id, age),
    )
    return verdict, report
