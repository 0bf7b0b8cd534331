"""Cheap, defensive parsing of Plaid's JSON into the core's evidence types.

The SDK's type-checked model layer costs ~3 ms per Signal answer and raises TypeError
when `scores` or `warnings` is missing; this reads only what the decision needs.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from service.app.errors import FailureKind, PlaidFailure
from service.domain.model import (
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
    """A Plaid answer that does not have the shape the schema promises; `field` is
    the JSON path of the offending value."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field


def parse_scores(value: object) -> Scores | None:
    """`scores`; the deprecated `risk_tier` may be absent (Plaid's documented shape)."""
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
    customer_name = "scores.customer_initiated_return_risk"
    bank_name = "scores.bank_initiated_return_risk"
    return Scores(
        customer_initiated=_bounded(
            customer.get("score"), f"{customer_name}.score", 99
        ),
        customer_tier=_tier(customer.get("risk_tier"), f"{customer_name}.risk_tier", 5),
        bank_initiated=_bounded(bank.get("score"), f"{bank_name}.score", 99),
        bank_tier=_tier(bank.get("risk_tier"), f"{bank_name}.risk_tier", 8),
    )


def parse_ruleset(value: object) -> AppliedRuleset | None:
    """`ruleset`; the deprecated `outcome` is ignored, `result` is required."""
    if value is None:
        return None
    data = _mapping(value, "ruleset")
    result = data.get("result")
    if result is None:
        raise MalformedAnswer("ruleset.result", "is missing")
    details = data.get("triggered_rule_details")
    if details is None:
        details = {}
    details = _mapping(details, "ruleset.triggered_rule_details")
    return AppliedRuleset(
        key=_optional_str(data.get("ruleset_key"), "ruleset.ruleset_key"),
        result=_str(result, "ruleset.result"),
        custom_action_key=_optional_str(
            details.get("custom_action_key"),
            "ruleset.triggered_rule_details.custom_action_key",
        ),
        internal_note=_optional_str(
            details.get("internal_note"),
            "ruleset.triggered_rule_details.internal_note",
        ),
    )


def parse_warnings(value: object) -> tuple[PlaidWarning, ...]:
    """`warnings`, always sent by Plaid (possibly empty); absent reads as none."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedAnswer("warnings", "is not a list")
    parsed = []
    for index, item in enumerate(value):
        name = f"warnings[{index}]"
        w = _mapping(item, name)
        parsed.append(
            PlaidWarning(
                *(
                    _optional_str(w.get(key), f"{name}.{key}") or ""
                    for key in ("warning_type", "warning_code", "warning_message")
                )
            )
        )
    return tuple(parsed)


def parse_core_attributes(value: object) -> dict[str, Any]:
    """`core_attributes`, kept whole: absent or null reads as none. Every attribute
    Plaid documents is a number, string, boolean or null; anything else is malformed
    (and could not be stored or returned as it came)."""
    if value is None:
        return {}
    attributes = _mapping(value, "core_attributes")
    for name, item in attributes.items():
        if item is not None and not isinstance(item, str | int | float | bool):
            raise MalformedAnswer(
                f"core_attributes.{name}", "is not a number, string, boolean or null"
            )
    return attributes


def parse_signal_balance(attributes: dict[str, Any]) -> Balance:
    """Balance evidence in Signal's core_attributes; Signal evaluates USD accounts."""
    updated = parse_time(
        attributes.get("balance_last_updated"), "core_attributes.balance_last_updated"
    )
    return Balance(
        available=parse_amount(
            attributes.get("available_balance"), "core_attributes.available_balance"
        ),
        current=parse_amount(
            attributes.get("current_balance"), "core_attributes.current_balance"
        ),
        currency="USD",
        as_of=updated,
        as_of_source=TimeSource.PLAID_REPORTED if updated else TimeSource.UNKNOWN,
    )


def parse_request_id(body: dict[str, Any]) -> str:
    """Every successful Plaid answer carries a request_id; one without it is no answer."""
    value = body.get("request_id")
    if value is None:
        raise MalformedAnswer("request_id", "is missing")
    text = _str(value, "request_id")
    if not text:
        raise MalformedAnswer("request_id", "is empty")
    return text


def parse_account_balance(body: dict[str, Any], account_id: str) -> Balance:
    """The requested account's `balances` in an `/accounts/balance/get` answer."""
    accounts = body.get("accounts")
    if not isinstance(accounts, list):
        raise MalformedAnswer("accounts", "is not a list")
    for index, account in enumerate(accounts):
        if isinstance(account, dict) and account.get("account_id") == account_id:
            name = f"accounts[{index}].balances"
            balances = _mapping(account.get("balances"), name)
            updated = parse_time(
                balances.get("last_updated_datetime"), f"{name}.last_updated_datetime"
            )
            currency = _optional_str(
                balances.get("iso_currency_code"), f"{name}.iso_currency_code"
            ) or _optional_str(
                balances.get("unofficial_currency_code"),
                f"{name}.unofficial_currency_code",
            )
            return Balance(
                available=parse_amount(balances.get("available"), f"{name}.available"),
                current=parse_amount(balances.get("current"), f"{name}.current"),
                currency=currency,
                as_of=updated,
                as_of_source=TimeSource.PLAID_REPORTED
                if updated
                else TimeSource.UNKNOWN,
            )
    raise MalformedAnswer("accounts", "does not hold the requested account")


def parse_amount(value: object, name: str) -> Decimal | None:
    """A JSON number as the exact decimal Plaid wrote (shortest round-trip repr)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedAnswer(name, "is not a number")
    if not abs(value) < MAX_AMOUNT:
        raise MalformedAnswer(name, "is not a plausible balance")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def parse_time(value: object, name: str) -> datetime | None:
    """ISO 8601; a time without an offset is UTC (as plaid-python treats it)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedAnswer(name, "is not a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedAnswer(name, "is not an ISO 8601 time") from exc
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
        answer_field=exc.field,
    )


def _mapping(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedAnswer(name, "is not an object")
    return value


def _int(value: object, name: str) -> int:
    if value is None:
        raise MalformedAnswer(name, "is missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedAnswer(name, "is not an integer")
    return value


def _bounded(value: object, name: str, highest: int) -> int:
    """Scores are 1-99 and tiers 1-5 or 1-8: anything else is not Plaid's."""
    number = _int(value, name)
    if not 1 <= number <= highest:
        raise MalformedAnswer(name, f"is {number}, outside 1 to {highest}")
    return number


def _tier(value: object, name: str, highest: int) -> int | None:
    return None if value is None else _bounded(value, name, highest)


def _str(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise MalformedAnswer(name, "is not a string")
    return value


def _optional_str(value: object, name: str) -> str | None:
    """A string field that may be null; an empty string reads as absent."""
    return (_str(value, name) or None) if value is not None else None
