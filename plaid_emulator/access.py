"""Who may call and what they may reach: credentials, access tokens, accounts, rulesets.

Each check raises the PlaidApiError Plaid answers with.
"""

from typing import Final

from plaid_emulator.errors import (
    invalid_input,
    invalid_request,
    known_error,
    signal_error,
)
from plaid_emulator.scenario import Account, Credentials, Item, Ruleset, Scenario

# What Plaid applies when a customer new since 2025-10-15 names no ruleset.
PLAID_DEFAULT_RULESET: Final = "default"


def authenticate(
    body: object, expected: Credentials | None
) -> tuple[dict[str, object], str]:
    """The body without its credentials, and the client_id, once they check out."""
    if not isinstance(body, dict):
        raise invalid_request("INVALID_BODY", "the request body must be a JSON object")
    fields = dict(body)
    client_id = fields.pop("client_id", None)
    secret = fields.pop("secret", None)
    if (
        not (isinstance(client_id, str) and client_id)
        or not (isinstance(secret, str) and secret)
        or (expected and (client_id, secret) != (expected.client_id, expected.secret))
    ):
        raise invalid_input("INVALID_API_KEYS", "invalid client_id or secret provided")
    return fields, client_id


def find_item(scenario: Scenario, access_token: str) -> Item:
    """The Item behind an access token."""
    item = scenario.item(access_token)
    if item is None:
        raise invalid_input(
            "INVALID_ACCESS_TOKEN", "the provided access token does not match any Item"
        )
    return item


def find_account(
    scenario: Scenario, access_token: str, account_id: str
) -> tuple[Item, Account]:
    """The Item and one of its accounts."""
    item = find_item(scenario, access_token)
    account = item.account(account_id)
    if account is None:
        raise invalid_input(
            "INVALID_ACCOUNT_ID",
            "the account_id is invalid or does not belong to this Item",
        )
    return item, account


def ruleset_key_for(scenario: Scenario, requested: str | None) -> str | None:
    """The key of the ruleset a request runs: the one named, else the default; None
    for an opted-out customer naming none."""
    if requested is not None:
        return requested
    if scenario.default_ruleset is not None:
        return scenario.default_ruleset
    # A customer new since 2025-10-15 gets the ruleset Plaid names `default`.
    return None if scenario.default_ruleset_opted_out else PLAID_DEFAULT_RULESET


def applied_ruleset(scenario: Scenario, requested: str | None) -> Ruleset | None:
    """The ruleset a request runs (see ruleset_key_for); raises if there is none."""
    key = ruleset_key_for(scenario, requested)
    if key is None:
        return None
    ruleset = scenario.ruleset(key)
    if ruleset is None:
        raise signal_error("RULESET_NOT_FOUND", f"no ruleset with key {key!r}")
    return ruleset


def require_addendum(scenario: Scenario) -> None:
    """Refuse what a Balance-only customer without the Signal Addendum may not do."""
    if not scenario.signal_addendum_signed:
        raise known_error("ADDENDUM_NOT_SIGNED")
