"""Cheap, defensive parsing of Plaid's JSON into the core's evidence types.

The SDK's type-checked model layer costs ~3 ms per Signal answer and raises TypeError
when `scores` or `warnings` is missing; this reads only what the decision needs.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from service.errors import FailureKind, PlaidFailure
from service.risk.model import (
    AppliedRuleset,
    Balance,
    PlaidWarning,
    Scores,
    TimeSource,
)

_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?")


# A balance beyond this is no bank's (and no double holds cents exactly past it).
MAX_AMOUNT = 1e15


class MalformedAnswer(ValueError):
    """A Plaid answer that does not have the shape the schema promises."""


def parse_scores(value: object) -> Scores | None:
    if value is None:
        return None
    data = _mapping(value, "scores")
    customer = _mapping(
        data.get("customer_initiated_return_risk"),
        "scores.customer_initiated_return_risk",
    )
    bank = _mapping(
        data.get("bank_initiated_return_risk"), "scores.bank_initiated_return_risk"
    )
    return Scores(
        customer_initiated=_int(customer.get("score"), "customer score"),
        customer_tier=_int(customer.get("risk_tier"), "customer risk_tier"),
        bank_initiated=_int(bank.get("score"), "bank score"),
        bank_tier=_int(bank.get("risk_tier"), "bank risk_tier"),
    )


def parse_ruleset(value: object) -> AppliedRuleset | None:
    if value is None:
        return None
    data = _mapping(value, "ruleset")
    result = data.get("result")
    if not isinstance(result, str):
        raise MalformedAnswer("ruleset.result is missing")
    details = data.get("triggered_rule_details")
    details = _mapping(details, "triggered_rule_details") if details is not None else {}
    return AppliedRuleset(
        key=_optional_text(data.get("ruleset_key")),
        result=result,
        custom_action_key=_optional_text(details.get("custom_action_key")),
        internal_note=_optional_text(details.get("internal_note")),
    )


def parse_warnings(value: object) -> tuple[PlaidWarning, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedAnswer("warnings is not a list")
    return tuple(
        PlaidWarning(
            str(w.get("warning_type") or ""),
            str(w.get("warning_code") or ""),
            str(w.get("warning_message") or ""),
        )
        for w in (_mapping(item, "warnings[]") for item in value)
    )


def parse_signal_balance(attributes: dict[str, Any]) -> Balance:
    """Balance evidence in Signal's core_attributes; Signal evaluates USD accounts."""
    updated = parse_time(attributes.get("balance_last_updated"), "balance_last_updated")
    return Balance(
        available=parse_amount(
            attributes.get("available_balance"), "available_balance"
        ),
        current=parse_amount(attributes.get("current_balance"), "current_balance"),
        currency="USD",
        as_of=updated,
        as_of_source=TimeSource.PLAID_REPORTED if updated else TimeSource.UNKNOWN,
    )


def parse_account_balance(body: dict[str, Any], account_id: str) -> Balance:
    accounts = body.get("accounts")
    if not isinstance(accounts, list):
        raise MalformedAnswer("accounts is not a list")
    for account in accounts:
        if isinstance(account, dict) and account.get("account_id") == account_id:
            balances = _mapping(account.get("balances"), "balances")
            updated = parse_time(
                balances.get("last_updated_datetime"), "last_updated_datetime"
            )
            return Balance(
                available=parse_amount(balances.get("available"), "available"),
                current=parse_amount(balances.get("current"), "current"),
                currency=_optional_text(balances.get("iso_currency_code"))
                or _optional_text(balances.get("unofficial_currency_code")),
                as_of=updated,
                as_of_source=TimeSource.PLAID_REPORTED
                if updated
                else TimeSource.UNKNOWN,
            )
    raise MalformedAnswer("the requested account is not in the answer")


def parse_amount(value: object, name: str) -> Decimal | None:
    """A JSON number as the exact decimal Plaid wrote (shortest round-trip repr)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedAnswer(f"{name} is not a number")
    if not abs(value) < MAX_AMOUNT:
        raise MalformedAnswer(f"{name} is not a plausible balance")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def parse_time(value: object, name: str) -> datetime | None:
    """ISO 8601; a time without an offset is UTC (as plaid-python treats it)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedAnswer(f"{name} is not a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedAnswer(f"{name} is not an ISO 8601 time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def newest_time_in(message: str) -> datetime | None:
    """LAST_UPDATED_DATETIME_OUT_OF_RANGE names the newest balance time in its message."""
    match = _ISO_TIME.search(message)
    try:
        return parse_time(match.group(0), "error_message") if match else None
    except MalformedAnswer:
        return None


def malformed(
    endpoint: str,
    exc: MalformedAnswer,
    failure_calls: tuple[Any, ...],
    request_id: str | None,
) -> PlaidFailure:
    return PlaidFailure(
        FailureKind.MALFORMED_RESPONSE,
        f"Plaid's answer to {endpoint} is malformed: {exc}",
        endpoint=endpoint,
        http_status=200,
        request_id=request_id,
        calls=failure_calls,
    )


def _mapping(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedAnswer(f"{name} is not an object")
    return value


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedAnswer(f"{name} is not an integer")
    return value


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
