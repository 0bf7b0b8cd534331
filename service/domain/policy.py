"""The decision policies: Signal's ruleset result, the score policy, the balance policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from service.domain.model import (
    Balance,
    Note,
    Result,
    Scores,
    SignalAnswer,
    Source,
    Verdict,
)
from service.domain.money import Money


@dataclass(frozen=True, slots=True)
class BalancePolicy:
    """How a non-ACH rail decides from a balance (docs/decisions.md)."""

    margin: Decimal
    allow_current_fallback: bool
    max_balance_age_s: int


@dataclass(frozen=True, slots=True)
class ScorePolicy:
    """Thresholds on Signal's return-risk scores, used when Plaid applied no ruleset."""

    review_customer_initiated: int
    reroute_customer_initiated: int
    review_bank_initiated: int
    reroute_bank_initiated: int


def decide_signal(answer: SignalAnswer, policy: ScorePolicy) -> Verdict:
    """Decide an ACH payment from a Signal answer: the ruleset's result, else the scores."""
    ruleset = answer.ruleset
    if ruleset is None:
        return decide_scores(answer.scores, answer.warning_codes(), policy)
    try:
        result = Result(ruleset.result)
    except ValueError:
        # plaid-python does not validate enum values; an unknown result is no approval.
        return Verdict(
            Result.REVIEW,
            Source.SIGNAL_RULESET,
            (
                Note(
                    "UNKNOWN_RULESET_RESULT",
                    f"Plaid returned ruleset result "
                    f"{ruleset.result!r}, which this service does not know; held for review",
                ),
            ),
        )
    rule = ruleset.custom_action_key or ruleset.internal_note
    detail = f" (rule {rule!r})" if rule else " (fallback rule)"
    message = (
        f"Signal ruleset {ruleset.key or '<unnamed>'!s} returned {result.value}{detail}"
    )
    reasons = (Note("RULESET_RESULT", message),)
    if result is Result.ACCEPT and not _has_evidence(answer):
        # Plaid skips rules whose data is missing, so a ruleset run on no data at all
        # falls through to its fallback rule: that ACCEPT checked nothing.
        codes = ", ".join(answer.warning_codes()) or "none"
        return Verdict(
            Result.REVIEW,
            Source.SIGNAL_RULESET,
            (
                *reasons,
                Note(
                    "ACCEPT_WITHOUT_EVIDENCE",
                    f"Plaid returned neither scores nor a balance (warnings: {codes}); an ACCEPT "
                    "that checked nothing is held for review",
                ),
            ),
        )
    return Verdict(result, Source.SIGNAL_RULESET, reasons)


def _has_evidence(answer: SignalAnswer) -> bool:
    balance = answer.balance
    has_balance = balance.available is not None or balance.current is not None
    return answer.scores is not None or has_balance


def decide_scores(
    scores: Scores | None, warning_codes: tuple[str, ...], policy: ScorePolicy
) -> Verdict:
    """The score policy: REROUTE or REVIEW when a score reaches its threshold."""
    if scores is None:
        why = f"; Plaid warned {', '.join(warning_codes)}" if warning_codes else ""
        return Verdict(
            Result.REVIEW,
            Source.SIGNAL_NO_RULESET,
            (
                Note(
                    "NO_SCORES", f"Plaid applied no ruleset and returned no scores{why}"
                ),
            ),
        )
    named = (
        ("customer-initiated", scores.customer_initiated),
        ("bank-initiated", scores.bank_initiated),
    )
    # The stricter outcome first: a score at its reroute threshold reroutes even
    # when the other one only reaches its review threshold.
    for result, code, limits in (
        (
            Result.REROUTE,
            "SCORE_AT_REROUTE_THRESHOLD",
            (policy.reroute_customer_initiated, policy.reroute_bank_initiated),
        ),
        (
            Result.REVIEW,
            "SCORE_AT_REVIEW_THRESHOLD",
            (policy.review_customer_initiated, policy.review_bank_initiated),
        ),
    ):
        notes = tuple(
            _score_note(code, name, value, limit)
            for (name, value), limit in zip(named, limits, strict=True)
            if value >= limit
        )
        if notes:
            return Verdict(result, Source.SIGNAL_NO_RULESET, notes)
    message = (
        f"scores below review thresholds: customer-initiated "
        f"{scores.customer_initiated} < {policy.review_customer_initiated}, "
        f"bank-initiated {scores.bank_initiated} < {policy.review_bank_initiated}"
    )
    return Verdict(
        Result.ACCEPT,
        Source.SIGNAL_NO_RULESET,
        (Note("SCORES_BELOW_THRESHOLDS", message),),
    )


def _score_note(code: str, name: str, value: int, limit: int) -> Note:
    return Note(code, f"{name} return-risk score {value} is at or above {limit}")


def decide_balance(
    amount: Money,
    balance: Balance,
    policy: BalancePolicy,
    now: datetime,
    *,
    too_old: bool = False,
) -> Verdict:
    """The balance policy: ACCEPT when the balance covers amount x (1 + margin).

    `too_old` means Plaid had no balance within the policy's maximum age at all.
    """
    if too_old:
        return _review(
            Note(
                "BALANCE_TOO_OLD",
                "the institution had no balance newer than "
                f"the policy's {policy.max_balance_age_s} s",
            )
        )
    stale = _staleness(balance, policy, now)
    if stale is not None:
        return _review(stale)
    if balance.currency != amount.currency:
        held = balance.currency or "an unstated currency"
        return _review(
            Note(
                "CURRENCY_MISMATCH",
                f"the account holds {held}, the payment is in {amount.currency}",
            )
        )
    figure, notes = _balance_figure(balance, policy)
    if figure is None:
        return _review(*notes)
    with localcontext() as exact:
        exact.prec = 200  # never round the requirement down (money.py does the same)
        required = amount.to_decimal() * (1 + policy.margin)
    label = "available" if balance.available is not None else "current"
    if figure >= required:
        note = Note(
            "BALANCE_COVERS_AMOUNT",
            f"{label} balance {_show(figure)} covers the required {_show(required)}",
        )
        result = Result.ACCEPT
    else:
        note = Note(
            "BALANCE_BELOW_REQUIRED",
            f"{label} balance {_show(figure)} is below the required {_show(required)} "
            f"(amount {amount.to_decimal()} x (1 + margin {policy.margin}))",
        )
        result = Result.REROUTE
    return Verdict(result, Source.BALANCE_POLICY, (*notes, note))


def _show(value: Decimal) -> str:
    """At least cents for people (100.0 -> 100.00); never rounds a finer value away."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return f"{value:f}"


def _staleness(balance: Balance, policy: BalancePolicy, now: datetime) -> Note | None:
    age = balance.age_seconds(now)
    if age is None or age <= policy.max_balance_age_s:
        return None
    return Note(
        "BALANCE_TOO_OLD",
        f"the balance is {age} s old; the policy allows {policy.max_balance_age_s} s",
    )


def _balance_figure(
    balance: Balance, policy: BalancePolicy
) -> tuple[Decimal | None, tuple[Note, ...]]:
    if balance.available is not None:
        return balance.available, ()
    if balance.current is not None and policy.allow_current_fallback:
        return balance.current, (
            Note(
                "USED_CURRENT_BALANCE",
                "available balance missing; the policy allows current",
            ),
        )
    return None, (
        Note(
            "AVAILABLE_BALANCE_MISSING",
            "Plaid returned no available balance and the policy does not "
            "allow deciding on the current balance",
        ),
    )


def _review(*notes: Note) -> Verdict:
    return Verdict(Result.REVIEW, Source.BALANCE_POLICY, notes)
