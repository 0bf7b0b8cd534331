"""One /signal/evaluate answer: the data Plaid would use, the rule that fires, the body.

No state here; the engine resolves the Item, account and ruleset and keeps the log.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from plaid_emulator.attributes import (
    BALANCE_ONLY_ATTRIBUTES,
    CORE_ATTRIBUTES,
    DATETIME_ATTRIBUTES,
)
from plaid_emulator.errors import item_error, item_error_message, item_error_type
from plaid_emulator.responses import balance_ratio, iso, ruleset_json, scores_json
from plaid_emulator.rules import Facts, fetches_live_balance, matching_rule
from plaid_emulator.scenario import Account, Item, Ruleset
from plaid_emulator.synthetic import derived_score, payment_seed, synthetic_attributes
from plaid_emulator.validation import EvaluateRequest

_SAVINGS_SUBTYPES = frozenset({"savings", "money market"})
# What a Balance-only evaluation warns of when the bank does not answer the extraction.
EXTRACTION_FAILED = "INSTITUTION_NOT_RESPONDING"


@dataclass(frozen=True, slots=True)
class SignalOutcome:
    """The response body, the rule's result, and whether the bank was asked for a
    real-time balance (attempted) and gave one (fetched)."""

    body: dict[str, object]
    result: str | None = None
    realtime_balance_attempted: bool = False
    realtime_balance_fetched: bool = False


def evaluate_signal(
    req: EvaluateRequest,
    item: Item,
    account: Account,
    ruleset: Ruleset | None,
    now: datetime,
    request_id: str,
    item_errors: Literal["warning", "error"] = "warning",
    *,
    deprecated_fields: bool = False,
) -> SignalOutcome:
    """Answer one evaluation; raises PlaidApiError for an Item error in "error" mode."""
    if item.error is not None:
        if item_errors == "error":
            raise item_error(item.error)
        return _item_error_answer(
            req, item.error, ruleset, request_id, deprecated_fields
        )
    if ruleset is not None and fetches_live_balance(ruleset):
        return _balance_only_answer(
            req, account, ruleset, request_id, deprecated_fields
        )
    return _transaction_score_answer(
        req, account, ruleset, now, request_id, deprecated_fields
    )


def _balance_only_answer(
    req: EvaluateRequest,
    account: Account,
    ruleset: Ruleset,
    request_id: str,
    deprecated_fields: bool,
) -> SignalOutcome:
    # Always a real-time extraction, billed even when the bank does not answer
    # (docs/plaid-behaviour.md). A cached-only institution has nothing live to give:
    # asked for (attempted), never fetched.
    attempted = True
    failed = account.live_balance == "fails"
    available, current = (
        (None, None) if failed else (account.available, account.current)
    )
    facts: dict[str, object] = {
        "available_balance": available,
        "current_balance": current,
        "balance_to_transaction_amount_ratio": balance_ratio(
            available, current, req.amount
        ),
    }
    applied = _apply(ruleset, facts, req.amount, deprecated_fields)
    body = _body(
        request_id,
        scores=None,
        core={name: facts[name] for name in BALANCE_ONLY_ATTRIBUTES},
        applied=applied,
        warnings=[_warning(EXTRACTION_FAILED)] if failed else [],
    )
    fetched = not account.is_cached_only and not failed
    return SignalOutcome(body, _result(applied), attempted, fetched)


def _transaction_score_answer(
    req: EvaluateRequest,
    account: Account,
    ruleset: Ruleset | None,
    now: datetime,
    request_id: str,
    deprecated_fields: bool,
) -> SignalOutcome:
    # An STS ruleset, or none, answers from Plaid's stored data whatever its rules
    # test: balance rules read the cached balance, and the bank is never asked.
    core, customer, bank = _transaction_score_data(req, account, now)
    facts = core | {"customer_initiated_score": customer, "bank_initiated_score": bank}
    applied = _apply(ruleset, facts, req.amount, deprecated_fields)
    body = _body(
        request_id,
        scores=scores_json(customer, bank, deprecated_fields=deprecated_fields),
        core=core,
        applied=applied,
        warnings=[],
    )
    return SignalOutcome(body, _result(applied))


def _item_error_answer(
    req: EvaluateRequest,
    code: str,
    ruleset: Ruleset | None,
    request_id: str,
    deprecated_fields: bool,
) -> SignalOutcome:
    # Plaid's default: 200, no scores, a warning; rules run with no data at all. A
    # Balance-only ruleset still asked for (and bills) an extraction that failed.
    applied = _apply(ruleset, {}, req.amount, deprecated_fields)
    body = _body(
        request_id, scores=None, core={}, applied=applied, warnings=[_warning(code)]
    )
    asked = ruleset is not None and fetches_live_balance(ruleset)
    return SignalOutcome(body, _result(applied), asked, False)


def _body(
    request_id: str,
    *,
    scores: dict[str, object] | None,
    core: dict[str, object],
    applied: dict[str, object] | None,
    warnings: list[dict[str, object]],
) -> dict[str, object]:
    return {
        "request_id": request_id,
        "scores": scores,
        "core_attributes": core,
        "ruleset": applied,
        "warnings": warnings,
    }


def _warning(code: str) -> dict[str, object]:
    return {
        "warning_type": item_error_type(code),
        "warning_code": code,
        "warning_message": item_error_message(code),
    }


def _apply(
    ruleset: Ruleset | None, facts: Facts, amount: float, deprecated_fields: bool
) -> dict[str, object] | None:
    if ruleset is None:
        return None
    rule = matching_rule(ruleset, facts, amount)
    return ruleset_json(ruleset.key, rule, deprecated_fields=deprecated_fields)


def _result(applied: dict[str, object] | None) -> str | None:
    return None if applied is None else str(applied["result"])


def _transaction_score_data(
    req: EvaluateRequest, account: Account, now: datetime
) -> tuple[dict[str, object], int, int]:
    seed = payment_seed(req.access_token, req.account_id, req.amount)
    base = account.available or account.current or 1000.0
    values = synthetic_attributes(seed, now, base)
    values |= {
        "available_balance": account.available,
        "current_balance": account.current,
        "balance_last_updated": account.cached_balance_time(now),
        "balance_to_transaction_amount_ratio": balance_ratio(
            account.available, account.current, req.amount
        ),
        "is_savings_or_money_market_account": account.subtype in _SAVINGS_SUBTYPES,
    }
    for name in DATETIME_ATTRIBUTES:
        values[name] = iso(cast(datetime, values[name]))
    core = {name: values[name] for name in CORE_ATTRIBUTES}
    if account.scores is not None:
        return core, account.scores.customer_initiated, account.scores.bank_initiated
    return (
        core,
        derived_score(seed, "customer_initiated"),
        derived_score(seed, "bank_initiated"),
    )
