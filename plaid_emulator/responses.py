"""JSON fragments of Plaid's responses, in the documented shape with every key
plaid-python 46 requires (docs/plaid-behaviour.md) except deprecated ones, which come
only with the scenario's `deprecated_fields`.
"""

import hashlib
from datetime import UTC, datetime, timedelta

from plaid_emulator.scenario import Account, Item, Rule
from plaid_emulator.synthetic import bank_tier, customer_tier

# Deprecated `ruleset.outcome` values (docs/plaid-behaviour.md).
_LEGACY_OUTCOMES = {"ACCEPT": "accept", "REVIEW": "review", "REROUTE": "block"}


def iso(stamp: datetime) -> str:
    """ISO 8601 in UTC with a Z, as Plaid writes datetimes."""
    return stamp.astimezone(UTC).isoformat().replace("+00:00", "Z")


def scores_json(
    customer_score: int, bank_score: int, *, deprecated_fields: bool = False
) -> dict[str, object]:
    """A SignalScores object: each score alone, as documented, or with its tier."""
    customer: dict[str, object] = {"score": customer_score}
    bank: dict[str, object] = {"score": bank_score}
    # Deprecated and hidden, yet required by plaid-python 46's type-checked models
    # (docs/plaid-behaviour.md): sent only when a scenario asks for it.
    if deprecated_fields:
        customer["risk_tier"] = customer_tier(customer_score)
        bank["risk_tier"] = bank_tier(bank_score)
    return {
        "customer_initiated_return_risk": customer,
        "bank_initiated_return_risk": bank,
    }


def ruleset_json(
    ruleset_key: str, rule: Rule, *, deprecated_fields: bool = False
) -> dict[str, object]:
    """The `ruleset` object for the rule that matched."""
    # RuleDetails' fields are non-nullable strings, so absent ones are left out.
    details = {
        key: value
        for key, value in (
            ("internal_note", rule.internal_note),
            ("custom_action_key", rule.custom_action_key),
        )
        if value is not None
    }
    applied: dict[str, object] = {
        "ruleset_key": ruleset_key,
        "result": rule.result,
        "triggered_rule_details": details or None,
    }
    if deprecated_fields:
        applied["outcome"] = _LEGACY_OUTCOMES[rule.result]
    return applied


def balance_ratio(
    available: float | None, current: float | None, amount: float
) -> float | None:
    """balance_to_transaction_amount_ratio: available (else current) over amount."""
    balance = available if available is not None else current
    return None if balance is None else round(balance / amount, 2)


def item_id(item: Item) -> str:
    """A stable item_id that does not reveal the access token."""
    return "item-" + hashlib.sha256(item.access_token.encode()).hexdigest()[:24]


def item_json(item: Item, error: dict[str, object] | None = None) -> dict[str, object]:
    """An Item object with the seven keys plaid-python requires, and a few more."""
    return {
        "item_id": item_id(item),
        "institution_id": item.institution_id,
        "institution_name": None,
        "webhook": "",
        "error": error,
        "available_products": ["balance", "identity", "transactions"],
        "billed_products": ["auth", "signal"],
        "products": ["auth", "signal"],
        "consented_products": ["auth", "signal"],
        "consent_expiration_time": None,
        "update_type": "background",
        "auth_method": "INSTANT_AUTH",
    }


def item_status_json(now: datetime) -> dict[str, object]:
    """/item/get's `status`: a daily transactions refresh, no investments or webhook."""
    refreshed = (now - timedelta(hours=6)).replace(microsecond=0)
    return {
        "transactions": {
            "last_successful_update": iso(refreshed),
            "last_failed_update": None,
        },
        "investments": None,
        "last_webhook": None,
    }


def account_json(account: Account, last_updated: datetime | None) -> dict[str, object]:
    """An AccountBase object with all five balance keys."""
    return {
        "account_id": account.account_id,
        "balances": {
            "available": account.available,
            "current": account.current,
            "limit": None,
            "iso_currency_code": account.currency,
            "unofficial_currency_code": None,
            "last_updated_datetime": None
            if last_updated is None
            else iso(last_updated),
        },
        "mask": account.mask,
        "name": account.name,
        "official_name": None,
        "type": account.type,
        "subtype": account.subtype,
        "holder_category": "personal",
    }
