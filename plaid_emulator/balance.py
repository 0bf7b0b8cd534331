"""One /accounts/balance/get answer: live balances, or cached ones (cached-only banks).

No state here; the engine resolves the Item and keeps the log.
"""

from dataclasses import dataclass
from datetime import datetime

from plaid_emulator.errors import (
    PlaidApiError,
    invalid_input,
    invalid_request,
    item_error,
    known_error,
)
from plaid_emulator.responses import account_json, iso, item_json
from plaid_emulator.scenario import Account, Item
from plaid_emulator.validation import BalanceGetRequest


@dataclass(frozen=True, slots=True)
class BalanceOutcome:
    """The answer (a body, or the error of a failed extraction) and whether the bank
    was asked for a real-time balance (attempted) and gave one (fetched)."""

    answer: dict[str, object] | PlaidApiError
    realtime_balance_attempted: bool
    realtime_balance_fetched: bool


def requested_accounts(req: BalanceGetRequest, item: Item) -> tuple[Account, ...]:
    """The accounts asked for (all by default); raises for an id not in the Item."""
    if req.account_ids is None:
        return item.accounts
    accounts = tuple(map(item.account, req.account_ids))
    if None in accounts:
        raise invalid_input(
            "INVALID_ACCOUNT_ID",
            "one or more of the account IDs is invalid or does not belong to this Item",
        )
    return tuple(a for a in accounts if a is not None)


def balance_get(
    req: BalanceGetRequest, item: Item, now: datetime, request_id: str
) -> BalanceOutcome:
    """Answer one balance request; raises PlaidApiError as Plaid would before asking
    the bank, and returns the error of an extraction the bank did not answer."""
    accounts = requested_accounts(req, item)
    if item.error is not None:
        raise item_error(item.error)
    cached = [a for a in accounts if a.is_cached_only]
    if cached:
        _check_freshness(cached, req.min_last_updated, now)
    # Every answered call asked for a live balance (and is billed); cached-only
    # institutions (Capital One style) answer from their cache: not fetched.
    fetched = len(cached) < len(accounts)
    if any(a.live_balance == "fails" for a in accounts if not a.is_cached_only):
        return BalanceOutcome(known_error("INSTITUTION_NOT_RESPONDING"), True, False)
    body: dict[str, object] = {
        "accounts": [
            account_json(a, a.cached_balance_time(now) if a.is_cached_only else None)
            for a in accounts
        ],
        "item": item_json(item),
        "request_id": request_id,
    }
    return BalanceOutcome(body, True, fetched)


def _check_freshness(
    cached: list[Account], floor: datetime | None, now: datetime
) -> None:
    if floor is None:
        raise invalid_request(
            "INVALID_FIELD",
            "options.min_last_updated_datetime is required for this institution",
        )
    stale = [
        a.cached_balance_time(now) for a in cached if a.cached_balance_time(now) < floor
    ]
    if stale:
        raise PlaidApiError(
            "INVALID_RESULT",
            "LAST_UPDATED_DATETIME_OUT_OF_RANGE",
            "requested datetime out of range, most recently updated balance "
            + iso(max(stale)),
        )
