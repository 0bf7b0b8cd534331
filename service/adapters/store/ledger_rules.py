"""The ledger's per-evaluation writes (claim, complete, release, abandon), written once.

Each write is a rule: a generator that yields the statements it needs one at a time
and is sent each statement's first row back (or None). Every statement returns at most
one row (a lookup by key, or RETURNING), so "a row or None" is all a rule ever reads.
A rule never touches a connection: the SQLite writer thread drives it synchronously
inside its batch transaction (sqlite.py), a psycopg autocommit connection drives it
with awaits (postgres.py). Both databases thus run the same statements under the same
guards; a Dialect holds all that differs, the placeholder and the form of a time.

Replicas share PostgreSQL and each statement commits on its own there, so every step
is one conditional statement, and a step that loses a race looks again. On SQLite the
batch holds the write lock and nothing races, but the guards cost nothing there.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from service.adapters.store.records import decision_from_json
from service.adapters.store.schema import DONE
from service.app.ports import Claim, ClaimState

T = TypeVar("T")
# A statement and its parameters; the answer is its first row, or None.
Step = tuple[str, tuple[Any, ...]]
Row = tuple[Any, ...] | None
Steps = Generator[Step, Row, T]
# A write ready to run from its first statement, as often as needed: the SQLite writer
# runs it again alone when another write in its batch failed and rolled it back.
Rule = Callable[[], Steps[T]]

# A claim looks again when a row vanishes or a takeover loses a race; more rounds
# than this means heavy contention, and the claimer waits as for a live lease.
CLAIM_ROUNDS = 3

# Written with SQLite's `?` placeholders; Dialect renders them for its driver.
_INSERT_PENDING = (
    "INSERT INTO decisions (caller, client_transaction_id, fingerprint, state, owner,"
    " lease_until, created_at) VALUES (?, ?, ?, 'PENDING', ?, ?, ?)"
    " ON CONFLICT (caller, client_transaction_id) DO NOTHING RETURNING caller"
)
_FIND = (
    "SELECT fingerprint, state, owner, lease_until, decision_json FROM decisions"
    " WHERE caller = ? AND client_transaction_id = ?"
)
# The row may have changed since the claimer read it: the guards repeat what made it
# take over (same payment, lease ended or its own), so of two takers only one matches.
_TAKE_OVER = (
    "UPDATE decisions SET owner = ?, lease_until = ?"
    " WHERE caller = ? AND client_transaction_id = ? AND state = 'PENDING'"
    " AND fingerprint = ? AND (lease_until <= ? OR owner = ?) RETURNING caller"
)
# Plaid keys client_transaction_id per Plaid client, not per caller of ours. Checked
# after our insert: of two callers racing for one id, at most one goes on.
_HELD_BY_ANOTHER = (
    "SELECT 1 FROM decisions WHERE client_transaction_id = ? AND caller <> ? LIMIT 1"
)
# The live balance's reuse key and time ride on the completion: still one statement.
_COMPLETE = (
    "UPDATE decisions SET state = 'DONE', decision_json = ?, completed_at = ?,"
    " lease_until = NULL, balance_key = ?, balance_fetched_at = ?"
    " WHERE caller = ? AND client_transaction_id = ?"
    " AND state = 'PENDING' AND owner = ? RETURNING caller"
)
# The newest reusable live balance of one caller's account (ix_decisions_balance).
_RECENT_BALANCE = (
    "SELECT decision_json FROM decisions WHERE caller = ? AND balance_key = ?"
    " AND balance_fetched_at >= ? AND state = 'DONE'"
    " ORDER BY balance_fetched_at DESC LIMIT 1"
)
_RELEASE = (
    "DELETE FROM decisions WHERE caller = ? AND client_transaction_id = ?"
    " AND state = 'PENDING' AND owner = ? RETURNING caller"
)
_ABANDON = (
    "UPDATE decisions SET lease_until = ? WHERE caller = ? AND client_transaction_id = ?"
    " AND state = 'PENDING' AND owner = ? RETURNING caller"
)


@dataclass(frozen=True, slots=True)
class Dialect:
    """What one database's driver needs to run the rules: its placeholder, and a
    time as it stores one (its lease comparisons in SQL and here must agree)."""

    placeholder: str
    time: Callable[[datetime], Any]

    def sql(self, statement: str) -> str:
        return (
            statement
            if self.placeholder == "?"
            else statement.replace("?", self.placeholder)
        )


Key = tuple[str, str]  # (caller, client_transaction_id)


def claim(
    dialect: Dialect, key: Key, fingerprint: str, owner: str, lease_until: Any, now: Any
) -> Steps[Claim]:
    """Start (or find) the evaluation of `key`; times in the dialect's form."""
    caller, txid = key
    for _ in range(CLAIM_ROUNDS):
        inserted = yield (
            dialect.sql(_INSERT_PENDING),
            (*key, fingerprint, owner, lease_until, now),
        )
        if inserted is not None:
            if (yield dialect.sql(_HELD_BY_ANOTHER), (txid, caller)) is not None:
                yield dialect.sql(_RELEASE), (*key, owner)
                return Claim(ClaimState.CONFLICT)
            return Claim(ClaimState.NEW)
        row = yield dialect.sql(_FIND), key
        if row is None:  # released between our insert and our read
            continue
        settled = found_claim(row, fingerprint, owner, now)
        if settled is not None:
            return settled
        taken = yield (
            dialect.sql(_TAKE_OVER),
            (owner, lease_until, *key, fingerprint, now, owner),
        )
        if taken is not None:
            return Claim(ClaimState.NEW, taken_over=True)
    return Claim(ClaimState.IN_FLIGHT)


def complete(
    dialect: Dialect,
    key: Key,
    owner: str,
    decision_json: str,
    now: Any,
    fetch: tuple[str, Any] | None = None,
) -> Steps[bool]:
    """Store the decision if this owner holds the claim; False if it does not.
    `fetch`: the (balance key, fetch time) of a live balance it may lend later."""
    balance_key, fetched_at = fetch if fetch is not None else (None, None)
    values = (decision_json, now, balance_key, fetched_at, *key, owner)
    return _changed(dialect.sql(_COMPLETE), values)


def recent_balance(
    dialect: Dialect, caller: str, balance_key: str, since: Any
) -> Steps[str | None]:
    """The decision JSON of the caller's newest live balance for the key since then."""
    row = yield dialect.sql(_RECENT_BALANCE), (caller, balance_key, since)
    return None if row is None else str(row[0])


def release(dialect: Dialect, key: Key, owner: str) -> Steps[bool]:
    """Delete this owner's pending claim; a DONE decision is never deleted."""
    return _changed(dialect.sql(_RELEASE), (*key, owner))


def abandon(dialect: Dialect, key: Key, owner: str, now: Any) -> Steps[bool]:
    """End this owner's lease on its pending claim, keeping the row to say that an
    attempt may have reached Plaid."""
    return _changed(dialect.sql(_ABANDON), (now, *key, owner))


def _changed(statement: str, values: tuple[Any, ...]) -> Steps[bool]:
    return (yield statement, values) is not None


def found_claim(
    row: tuple[Any, ...], fingerprint: str, owner: str, now: Any
) -> Claim | None:
    """What an existing decisions row (fingerprint, state, owner, lease_until,
    decision_json) means to a claimer: CONFLICT, DONE or IN_FLIGHT, or None when its
    lease ended (or is the claimer's own) and the claimer may take it over. `now` is
    in the row's dialect's form of a time, as lease_until is."""
    found, state, holder, held_until, stored = row
    if found != fingerprint:
        return Claim(ClaimState.CONFLICT)
    if state == DONE:
        return Claim(ClaimState.DONE, decision_from_json(stored))
    if holder != owner and held_until > now:
        return Claim(ClaimState.IN_FLIGHT)
    return None
