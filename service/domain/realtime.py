"""Did a real-time balance call to the bank happen? Decided from the ruleset type.

Plaid returns no "fetched" flag: the basis is the ruleset Plaid applied and the type the
operator declared for it, cross-checked against the answer (docs/realtime-balance.md).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from service.domain.model import (
    Balance,
    BalanceAnswer,
    Basis,
    Note,
    RealtimeReport,
    SignalAnswer,
    TimeSource,
)

# A Balance-only ruleset returns only these core attributes (docs/plaid-behaviour.md).
BALANCE_ONLY_ATTRIBUTES = frozenset(
    {"available_balance", "current_balance", "balance_last_updated"}
)


class RulesetType(enum.Enum):
    """A Signal ruleset's type, which alone decides whether Plaid extracts live."""

    BALANCE_ONLY = "balance_only"
    TRANSACTION_SCORES = "transaction_scores"


@dataclass(frozen=True, slots=True)
class RulesetDeclaration:
    """What the operator declared about a Dashboard ruleset (the API does not say).

    `type` None: declared with the old keys only, so the type is inferred from each
    answer. `balance_rule` notes whether its rules test the balance.
    """

    type: RulesetType | None
    balance_rule: bool | None


def assess_signal(
    answer: SignalAnswer,
    requested_key: str | None,
    registry: Mapping[str, RulesetDeclaration],
    window: timedelta,
) -> RealtimeReport:
    """Decide attempted/fetched/basis for a `/signal/evaluate` answer.

    A Balance-only ruleset always asks the bank; a Transaction Scores ruleset never
    does, whatever its rules test. Evidence may take a fetch away, never invent one.
    """
    warnings: list[Note] = []
    if answer.ruleset is None:
        attempted, basis = False, Basis.NO_RULESET
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
        attempted, basis = _from_declaration(answer, key, declaration, window, warnings)
    fetched = _gate_on_evidence(answer, attempted, window, warnings)
    return RealtimeReport(fetched, basis, tuple(warnings), attempted)


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
    """Whether a live extraction was asked of the bank, and the basis for saying so."""
    if declaration is None or declaration.type is None:
        return looks_balance_only(answer), Basis.INFERRED_FROM_RESPONSE
    if declaration.type is RulesetType.BALANCE_ONLY:
        if answer.scores is not None:
            out.append(
                Note(
                    "DECLARED_BALANCE_ONLY_BUT_SCORES_RETURNED",
                    f"ruleset {key} is declared Balance-only but Plaid returned "
                    "scores, as a Transaction Scores ruleset does: the declaration "
                    "is probably out of date",
                )
            )
        return True, Basis.RULESET_BALANCE_ONLY
    if is_balance_only_shape(answer):
        out.append(
            Note(
                "DECLARED_TRANSACTION_SCORES_BUT_BALANCE_ONLY_SHAPE",
                f"ruleset {key} is declared Transaction Scores but the answer has the "
                "Balance-only shape (no scores, only balance attributes): the "
                "declaration is probably out of date",
            )
        )
    if declaration.balance_rule:
        out.append(_cached_balance_rules_note(answer, key))
    updated = answer.balance.as_of
    if updated is not None and updated >= answer.sent_at - window:
        out.append(
            Note(
                "CACHED_BALANCE_RECENTLY_UPDATED",
                f"balance_last_updated {updated.isoformat()} is within "
                f"{int(window.total_seconds())} s of the call: Plaid may have "
                "refreshed its data for this call, which a Transaction Scores "
                "ruleset does without saying; no live extraction is claimed",
            )
        )
    return False, Basis.RULESET_TRANSACTION_SCORES


def _cached_balance_rules_note(answer: SignalAnswer, key: str | None) -> Note:
    updated = answer.balance.as_of
    if updated is None:
        age = "of unknown age (Plaid gave no balance_last_updated)"
    else:
        seconds = int((answer.received_at - updated).total_seconds())
        age = f"{seconds} s old (balance_last_updated {updated.isoformat()})"
    return Note(
        "BALANCE_RULES_RAN_ON_CACHED_BALANCE",
        f"ruleset {key} is a Transaction Scores ruleset: Plaid does not extract a "
        f"live balance for it, so its balance rules ran on a cached balance {age}",
    )


def _gate_on_evidence(
    answer: SignalAnswer, attempted: bool, window: timedelta, out: list[Note]
) -> bool:
    """Fetched: attempted, unless the answer shows no fresh balance came back."""
    has_balance = (
        answer.balance.available is not None or answer.balance.current is not None
    )
    if attempted and not has_balance:
        out.append(
            Note(
                "LIVE_BALANCE_NOT_RETURNED",
                "a live balance extraction was asked of the bank but Plaid's answer "
                "has no balance: the extraction failed (Plaid still bills it)",
            )
        )
        return False
    if answer.scores is None and not has_balance:
        out.append(
            Note(
                "NO_EVIDENCE",
                "Plaid's answer has neither scores nor balance attributes: "
                "nothing shows a balance was fetched",
            )
        )
        return False
    if attempted and answer.scores is not None:
        return False  # the Transaction Scores shape: DECLARED_BALANCE_ONLY_BUT_...
    if attempted and answer.warnings:
        codes = ", ".join(w.warning_code or w.warning_type for w in answer.warnings)
        out.append(
            Note(
                "LIVE_BALANCE_WARNING",
                f"Plaid answered the live balance extraction with warnings ({codes}): "
                "the balance it returned is not known to be fresh",
            )
        )
        return False
    updated = answer.balance.as_of
    if attempted and updated is not None and updated < answer.sent_at - window:
        out.append(_stale_note("balance_last_updated", updated, answer.sent_at, window))
        return False
    return attempted


def looks_balance_only(answer: SignalAnswer) -> bool:
    """No scores, and only balance attributes, even with null values: a Balance-only
    answer, its extraction successful or not."""
    keys = answer.attribute_keys
    return answer.scores is None and bool(keys) and keys <= BALANCE_ONLY_ATTRIBUTES


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
    """`/accounts/balance/get` asks the institution live, unless its timestamp says not;
    refused as LAST_UPDATED_DATETIME_OUT_OF_RANGE, it asked nothing of the bank."""
    updated = answer.balance.as_of
    if answer.too_old:
        newest = updated.isoformat() if updated else "unknown"
        note = Note(
            "BALANCE_OLDER_THAN_ALLOWED",
            "the institution had no balance newer than the allowed age "
            f"(newest: {newest}); Plaid refused the call, so nothing was extracted",
        )
        return RealtimeReport(False, Basis.BALANCE_ENDPOINT, (note,))
    if updated is not None and updated < answer.sent_at - window:
        note = _stale_note("last_updated_datetime", updated, answer.sent_at, window)
        return RealtimeReport(False, Basis.BALANCE_ENDPOINT, (note,), attempted=True)
    return RealtimeReport(True, Basis.BALANCE_ENDPOINT, attempted=True)


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
