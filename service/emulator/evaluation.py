"""One /signal/evaluate answer: the data Plaid would use, the rule that fires, the body.

No state here; the engine resolves the Item, account and ruleset and keeps the log.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from service.emulator.attributes import (
    BALANCE_ONLY_ATTRIBUTES,
    CORE_ATTRIBUTES,
    DATETIME_ATTRIBUTES,
)
from service.emulator.errors import item_error, item_error_message, item_error_type
from service.emulator.responses import balance_ratio, iso, ruleset_json, scores_json
from service.emulator.rules import Facts, fetches_live_balance, matching_rule
from service.emulator.scenario import Account, Item, Ruleset
from service.emulator.synthetic import derived_score, payment_seed, synthetic_attributes
from service.emulator.validation import EvaluateRequest

_SAVINGS_SUBTYPES = frozenset({"savings", "money market"})


@dataclass(frozen=True, slots=True)
class SignalOutcome:
    """The response body, whether it took a live balance fetch, and the rule's result."""

    body: dict[str, object]
    realtime_balance_fetched: bool
    result: str | None = None


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
    # A cached-only institution has nothing live to give, whatever the ruleset.
    fetched = (
        ruleset is not None
        and fetches_live_balance(ruleset)
        and not account.is_cached_only
    )
    balance_time = now if fetched else account.cached_balance_time(now)
    pair, core, facts = _signal_data(req, account, ruleset, balance_time, now)
    scores = (
        None
        if pair is None
        else scores_json(*pair, deprecated_fields=deprecated_fields)
    )
    applied = _apply(ruleset, facts, req.amount, deprecated_fields)
    body: dict[str, object] = {
        "request_id": request_id,
        "scores": scores,
        "core_attributes": core,
        "ruleset": applied,
        "warnings": [],
    }
    return SignalOutcome(body, fetched, _result(applied))


def _signal_data(
    req: EvaluateRequest,
    account: Account,
    ruleset: Ruleset | None,
    balance_time: datetime,
    now: datetime,
) -> tuple[tuple[int, int] | None, dict[str, object], Facts]:
    """Scores, core attributes, and the facts rules read (attributes plus scores)."""
    facts: dict[str, object] = {
        "available_balance": account.available,
        "current_balance": account.current,
        "balance_to_transaction_amount_ratio": balance_ratio(account, req.amount),
    }
    if ruleset is not None and ruleset.kind == "balance_only":
        return None, {name: facts[name] for name in BALANCE_ONLY_ATTRIBUTES}, facts
    core, customer, bank = _transaction_score_data(req, account, balance_time, now)
    scores = {"customer_initiated_score": customer, "bank_initiated_score": bank}
    return (customer, bank), core, facts | core | scores


def _apply(
    ruleset: Ruleset | None, facts: Facts, amount: float, deprecated_fields: bool
) -> dict[str, object] | None:
    if ruleset is None:
        return None
    rule = matching_rule(ruleset, facts, amount)
    return ruleset_json(ruleset.key, rule, deprecated_fields=deprecated_fields)


def _result(applied: dict[str, object] | None) -> str | None:
    return None if applied is None else str(applied["result"])


def _item_error_answer(
    req: EvaluateRequest,
    code: str,
    ruleset: Ruleset | None,
    request_id: str,
    deprecated_fields: bool,
) -> SignalOutcome:
    # Plaid's default: 200, no scores, a warning; rules run with no data at all.
    warning = {
        "warning_type": item_error_type(code),
        "warning_code": code,
        "warning_message": item_error_message(code),
    }
    applied = _apply(ruleset, {}, req.amount, deprecated_fields)
    body: dict[str, object] = {
        "request_id": request_id,
        "scores": None,
        "core_attributes": {},
        "ruleset": applied,
        "warnings": [warning],
    }
    return SignalOutcome(body, False, _result(applied))


def _transaction_score_data(
    req: EvaluateRequest, account: Account, balance_time: datetime, now: datetime
) -> tuple[dict[str, object], int, int]:
    seed = payment_seed(req.access_token, req.account_id, req.amount)
    base = account.available or account.current or 1000.0
    values = synthetic_attributes(seed, now, base)
    values |= {
        "available_balance": account.available,
        "current_balance": account.current,
        "balance_last_updated": balance_time,
        "balance_to_transaction_amount_ratio": balance_ratio(account, req.amount),
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
