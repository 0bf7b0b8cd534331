"""Deterministic stand-ins for the Signal data Plaid computes: scores and attributes.

Every value derives from a seed, so the same payment always gets the same answer.
"""

import hashlib
import re
from datetime import datetime, timedelta

from service.emulator.attributes import (
    BALANCE_ATTRIBUTES,
    CORE_ATTRIBUTES,
    DATETIME_ATTRIBUTES,
)

_WINDOW = re.compile(r"_(\d+)d$")
# Counts of events that signal risk; real accounts mostly have none.
_RARE_EVENTS = ("unauthorized_", "nsf_", "days_with_negative", "failed_")
_HANDLED_ELSEWHERE = BALANCE_ATTRIBUTES | {"balance_last_updated"}


def payment_seed(access_token: str, account_id: str, amount: float) -> bytes:
    """The seed for one payment: sha256 of token, account and amount."""
    return hashlib.sha256(f"{access_token}|{account_id}|{amount!r}".encode()).digest()


def _fraction(seed: bytes, name: str) -> float:
    digest = hashlib.sha256(seed + name.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def derived_score(seed: bytes, which: str) -> int:
    """A score in 1..99 for `which` ("customer_initiated" or "bank_initiated")."""
    return 1 + int(_fraction(seed, which) * 99)


def customer_tier(score: int) -> int:
    """Customer-initiated risk tier 1..5, in equal score bands."""
    return 1 + (score - 1) * 5 // 99


def bank_tier(score: int) -> int:
    """Bank-initiated risk tier 1..8, in equal score bands."""
    return 1 + (score - 1) * 8 // 99


def synthetic_attributes(
    seed: bytes, now: datetime, base_balance: float
) -> dict[str, object]:
    """Plausible values for every core attribute that does not come from balances."""
    values: dict[str, object] = {}
    for name in CORE_ATTRIBUTES:
        if name in _HANDLED_ELSEWHERE:
            continue
        fraction = _fraction(seed, name)
        if name in DATETIME_ATTRIBUTES:
            stamp = now - timedelta(hours=24 * fraction)
            values[name] = stamp.replace(microsecond=0)
        else:
            values[name] = _number(name, fraction, base_balance)
    return values


def _number(name: str, fraction: float, base_balance: float) -> float | int | bool:
    match = _WINDOW.search(name)
    days = int(match[1]) if match else 30
    if name.startswith("is_"):
        return fraction < 0.03
    if "eod_balance" in name:
        return round(base_balance * (0.5 + fraction), 2)
    if "amount" in name:
        scale = 60 * days if name.startswith("total_") else 300
        return round(5 + fraction * scale, 2)
    if name.startswith("days_since"):
        return 30 + int(fraction * 3000)
    if name.startswith(_RARE_EVENTS) or "change_count" in name:
        return int(fraction**4 * 4)
    if "transactions_count" in name:
        return int(fraction * days * 1.5)
    return 1 + int(fraction * 4)
