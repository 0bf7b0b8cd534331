"""Plaid rate budgets as a sliding-window log, written once for both databases.

One row of rate_spends per call spent (a Plaid 429 adds one row that weighs a whole
window). A budget of N calls in W seconds has room when the spends newer than now - W
weigh at most N - 1, so "at most N in any window" holds exactly, where a token bucket
would let 2N through around a refill. `take` counts every key a call needs and
records one spend on each only if all have room: one transaction, and on PostgreSQL
an advisory lock per key taken in name order (two takers never wait on each other in
a cycle), so replicas never both take the last room. On SQLite the writer thread's
batch transaction holds the database's write lock (sqlite.py), so no lock is needed.

Rules follow ledger_rules.py: generators yielding statements, sent each one's first
row back; every statement returns a row.
"""

from __future__ import annotations

from service.adapters.store.ledger_rules import Dialect, Steps
from service.app.ports import RateKey, SpendRefused

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(?, 0)) IS NULL"
_SPENT = (
    "SELECT COALESCE(SUM(weight), 0) FROM rate_spends"
    " WHERE budget_key = ? AND spent_at > ?"
)
# The newest spend at which the window, counted from its newest end, reaches the
# limit: once it leaves the window, what is newer weighs at most limit - 1.
_BLOCKING = (
    "SELECT MAX(spent_at) FROM (SELECT spent_at, SUM(weight) OVER"
    " (ORDER BY spent_at DESC) AS newer FROM rate_spends"
    " WHERE budget_key = ? AND spent_at > ?) AS window_spends WHERE newer >= ?"
)
_SPEND = (
    "INSERT INTO rate_spends (budget_key, spent_at, weight) VALUES (?, ?, ?)"
    " RETURNING weight"
)


def take(
    dialect: Dialect, keys: tuple[RateKey, ...], now: float, lock: bool
) -> Steps[SpendRefused | None]:
    """One spend on every key if all have room (None); else nothing is recorded and
    the refusal names the key that has room last, and in how many seconds."""
    ordered = sorted(keys, key=lambda key: key.name)
    if lock:
        for key in ordered:
            yield dialect.sql(_LOCK), (key.name,)
    refused: SpendRefused | None = None
    for key in ordered:
        since = now - key.window_s
        spent = yield dialect.sql(_SPENT), (key.name, since)
        if spent is not None and int(spent[0]) < key.limit:
            continue
        blocking = yield dialect.sql(_BLOCKING), (key.name, since, key.limit)
        oldest = blocking[0] if blocking and blocking[0] is not None else now
        retry_after_s = float(oldest) + key.window_s - now
        if refused is None or retry_after_s > refused.retry_after_s:
            refused = SpendRefused(key.name, retry_after_s)
    if refused is not None:
        return refused
    for key in ordered:
        yield dialect.sql(_SPEND), (key.name, now, 1)
    return None


def block(dialect: Dialect, key: RateKey, until: float) -> Steps[None]:
    """Fill `key`'s window until `until`: one spend weighing the whole limit, dated so
    that it leaves the window then."""
    yield dialect.sql(_SPEND), (key.name, until - key.window_s, key.limit)
