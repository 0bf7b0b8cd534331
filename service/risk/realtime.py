"""Did a real-time balance call to the bank happen? (SPEC 2.1), decided from evidence.

Plaid returns no "fetched" flag: the basis is the ruleset Plaid applied and what the
operator declared about it, cross-checked against the shape and times of the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from service.risk.model import (
    Balance,
    BalanceAnswer,
    Basis,
    Note,
    RealtimeReport,
    SignalAnswer,
    TimeSource,
)

# A Balance-only ruleset returns only these core attributes (reference/plaid.md 1.1.1).
BALANCE_ONLY_ATTRIBUTES = frozenset(
    {"available_balance", "current_balance", "balance_last_updated"}
)
BALANCE_ONLY = "balance_only"


@dataclass(frozen=True, slots=True)
class RulesetDeclaration:
    """What the operator declared about a Dashboard ruleset (the API does not say)."""

    balance_rule: bool
    kind: str | None = None


def assess_signal(
    answer: SignalAnswer,
    requested_key: str | None,
    registry: Mapping[str, RulesetDeclaration],
    window: timedelta,
) -> RealtimeReport:
    """Decide fetched/basis for a `/signal/evaluate` answer, with every disagreement."""
    warnings: list[Note] = []
    if answer.ruleset is None:
        fetched, basis = False, Basis.NO_RULESET
        if requested_key:
            warnings.append(
                Note(
                    "REQUESTED_RULESET_NOT_APPLIED",
                    f"ruleset {requested_key} was requested but Plaid's answer "
                    "names no applied ruleset",
                )
            )
    else:
        key = _applied_key(answer, requested_key, warnings)
        declaration = registry.get(key) if key else None
        fetched, basis = _from_declaration(answer, key, declaration, window, warnings)
    fetched = _gate_on_evidence(answer, fetched, window, warnings)
    return RealtimeReport(fetched, basis, tuple(warnings))


def _applied_key(
    answer: SignalAnswer, requested: str | None, out: list[Note]
) -> str | None:
    assert answer.ruleset is not None
    if answer.ruleset.key:
        if requested and answer.ruleset.key != requested:
            out.append(
                Note(
                    "APPLIED_RULESET_DIFFERS",
                    f"ruleset {requested} was requested but Plaid applied "
                    f"{answer.ruleset.key}; the applied one decides the basis",
                )
            )
        return answer.ruleset.key
    if requested:
        out.append(
            Note(
                "APPLIED_RULESET_KEY_MISSING",
                f"Plaid's answer names no ruleset_key; assuming the requested "
                f"{requested}",
            )
        )
        return requested
    out.append(
        Note(
            "APPLIED_RULESET_UNKNOWN",
            "Plaid applied a ruleset but named none, and none was requested",
        )
    )
    return None


def _from_declaration(
    answer: SignalAnswer,
    key: str | None,
    declaration: RulesetDeclaration | None,
    window: timedelta,
    out: list[Note],
) -> tuple[bool, Basis]:
    shape_balance_only = is_balance_only_shape(answer)
    if declaration is None:
        return shape_balance_only, Basis.INFERRED_FROM_RESPONSE
    if declaration.balance_rule:
        if declaration.kind == BALANCE_ONLY and answer.scores is not None:
            out.append(
                Note(
                    "DECLARED_BALANCE_ONLY_BUT_SCORES_RETURNED",
                    f"ruleset {key} is declared Balance-only but Plaid returned scores",
                )
            )
        return True, Basis.RULESET_HAS_BALANCE_RULE
    if shape_balance_only:
        out.append(
            Note(
                "DECLARED_NO_BALANCE_RULE_BUT_BALANCE_ONLY_SHAPE",
                f"ruleset {key} is declared without a balance rule but the answer "
                "has the Balance-only shape (no scores, only balance attributes)",
            )
        )
    updated = answer.balance.as_of
    if updated is not None and updated >= answer.sent_at - window:
        out.append(
            Note(
                "DECLARED_NO_BALANCE_RULE_BUT_BALANCE_FRESH",
                f"ruleset {key} is declared without a balance rule but "
                f"balance_last_updated {updated.isoformat()} is within "
                f"{int(window.total_seconds())} s of the call",
            )
        )
    return False, Basis.RULESET_HAS_NO_BALANCE_RULE


def _gate_on_evidence(
    answer: SignalAnswer, fetched: bool, window: timedelta, out: list[Note]
) -> bool:
    """Evidence can only take a claimed fetch away, never invent one."""
    has_balance = (
        answer.balance.available is not None or answer.balance.current is not None
    )
    if answer.scores is None and not has_balance:
        out.append(
            Note(
                "NO_EVIDENCE",
                "Plaid's answer has neither scores nor balance attributes: "
                "nothing shows a balance was fetched",
            )
        )
        return False
    if fetched and not has_balance:
        out.append(
            Note(
                "DECLARED_BALANCE_RULE_BUT_NO_BALANCE",
                "the ruleset is declared with a balance rule but Plaid's answer has no "
                "balance: nothing shows a balance was fetched",
            )
        )
        return False
    updated = answer.balance.as_of
    if fetched and updated is not None and updated < answer.sent_at - window:
        out.append(_stale_note("balance_last_updated", updated, answer.sent_at, window))
        return False
    return fetched


def is_balance_only_shape(answer: SignalAnswer) -> bool:
    """No scores, and only balance attributes, at least one of them with a value."""
    has_balance = (
        answer.balance.available is not None or answer.balance.current is not None
    )
    return (
        answer.scores is None
        and has_balance
        and answer.attribute_keys <= BALANCE_ONLY_ATTRIBUTES
    )


def assess_balance_endpoint(answer: BalanceAnswer, window: timedelta) -> RealtimeReport:
    """`/accounts/balance/get` asks the institution live, unless its timestamp says not."""
    updated = answer.balance.as_of
    if answer.too_old:
        newest = updated.isoformat() if updated else "unknown"
        return RealtimeReport(
            False,
            Basis.BALANCE_ENDPOINT,
            (
                Note(
                    "BALANCE_OLDER_THAN_ALLOWED",
                    f"the institution had no balance newer than the allowed age (newest: {newest})",
                ),
            ),
        )
    if updated is not None and updated < answer.sent_at - window:
        return RealtimeReport(
            False,
            Basis.BALANCE_ENDPOINT,
            (_stale_note("last_updated_datetime", updated, answer.sent_at, window),),
        )
    return RealtimeReport(True, Basis.BALANCE_ENDPOINT)


def _stale_note(
    field: str, updated: datetime, sent_at: datetime, window: timedelta
) -> Note:
    age = int((sent_at - updated).total_seconds())
    return Note(
        "BALANCE_TIMESTAMP_PREDATES_CALL",
        f"{field} {updated.isoformat()} is {age} s before the call, more than the "
        f"{int(window.total_seconds())} s window: the balance was cached, not fetched",
    )


def settle_as_of(
    balance: Balance, report: RealtimeReport, received_at: datetime
) -> Balance:
    """A live fetch with no timestamp from Plaid was true when Plaid answered."""
    no_values = balance.available is None and balance.current is None
    if balance.as_of is not None or not report.fetched or no_values:
        return balance
    return replace(balance, as_of=received_at, as_of_source=TimeSource.RESPONSE_TIME)
