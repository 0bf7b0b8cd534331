"""Deterministic stand-ins for the Signal data Plaid computes: scores and attributes.

Every value derives from a seed, so the same payment always gets the same answer.
"""

import functools
import hashlib
import re
import struct
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from plaid_emulator.attributes import (
    BALANCE_ATTRIBUTES,
    CORE_ATTRIBUTES,
    DATETIME_ATTRIBUTES,
)

_WINDOW = re.compile(r"_(\d+)d$")
# Counts of events that signal risk; real accounts mostly have none.
_RARE_EVENTS = ("unauthorized_", "nsf_", "days_with_negative", "failed_")
_HANDLED_ELSEWHERE = BALANCE_ATTRIBUTES | {"balance_last_updated"}
_FIRST_8_BYTES = struct.Struct(">Q")
_TWO_TO_64: Final = 2.0**64
_sha256 = hashlib.sha256

# fraction in [0, 1), base balance -> value
_Make = Callable[[float, float], float | int | bool]


def payment_seed(access_token: str, account_id: str, amount: float) -> bytes:
    """The seed for one payment: sha256 of token, account and amount."""
    return hashlib.sha256(f"{access_token}|{account_id}|{amount!r}".encode()).digest()


def _fraction(seed: bytes, key: bytes) -> float:
    digest = _sha256(seed + key).digest()
    first: int = _FIRST_8_BYTES.unpack_from(digest)[0]
    return first / _TWO_TO_64


def derived_score(seed: bytes, which: str) -> int:
    """A score in 1..99 for `which` ("customer_initiated" or "bank_initiated")."""
    return 1 + int(_fraction(seed, which.encode()) * 99)


def customer_tier(score: int) -> int:
    """Customer-initiated risk tier 1..5, in equal score bands."""
    return 1 + (score - 1) * 5 // 99


def bank_tier(score: int) -> int:
    """Bank-initiated risk tier 1..8, in equal score bands."""
    return 1 + (score - 1) * 8 // 99


def _maker(name: str) -> _Make:
    """How one attribute's value follows from its fraction; chosen once per name."""
    match = _WINDOW.search(name)
    days = int(match[1]) if match else 30
    if name.startswith("is_"):
        return lambda fraction, _: fraction < 0.03
    if "eod_balance" in name:
        return lambda fraction, base: round(base * (0.5 + fraction), 2)
    if "amount" in name:
        scale = 60 * days if name.startswith("total_") else 300
        return lambda fraction, _: round(5 + fraction * scale, 2)
    if name.startswith("days_since"):
        return lambda fraction, _: 30 + int(fraction * 3000)
    if name.startswith(_RARE_EVENTS) or "change_count" in name:
        return lambda fraction, _: int(fraction**4 * 4)
    if "transactions_count" in name:
        return lambda fraction, _: int(fraction * days * 1.5)
    return lambda fraction, _: 1 + int(fraction * 4)


# Worked out once: this runs for every transaction-score evaluation (81 attributes).
_NUMBERS: Final = tuple(
    (name, name.encode(), _maker(name))
    for name in CORE_ATTRIBUTES
    if name not in _HANDLED_ELSEWHERE and name not in DATETIME_ATTRIBUTES
)
_DATETIMES: Final = tuple(
    (name, name.encode())
    for name in CORE_ATTRIBUTES
    if name in DATETIME_ATTRIBUTES and name not in _HANDLED_ELSEWHERE
)


def synthetic_attributes(
    seed: bytes, now: datetime, base_balance: float
) -> dict[str, object]:
    """Plausible values for every core attribute that does not come from balances."""
    numbers, stamp_fractions = _seeded(seed, base_balance)
    values = dict(numbers)
    for name, fraction in stamp_fractions:
        stamp = now - timedelta(hours=24 * fraction)
        values[name] = stamp.replace(microsecond=0)
    return values


# Load tests and retries repeat payments under new ids; 79 hashes per call were the
# emulator's largest cost, so the seeded part is cached (a few MB at most).
@functools.lru_cache(maxsize=4096)
def _seeded(
    seed: bytes, base_balance: float
) -> tuple[dict[str, object], tuple[tuple[str, float], ...]]:
    # _fraction inlined: this is the emulator's hottest loop under load.
    numbers: dict[str, object] = {
        name: make(
            _FIRST_8_BYTES.unpack_from(_sha256(seed + key).digest())[0] / _TWO_TO_64,
            base_balance,
        )
        for name, key, make in _NUMBERS
    }
    return numbers, tuple((name, _fraction(seed, key)) for name, key in _DATETIMES)
