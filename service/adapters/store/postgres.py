"""The ledger's hot writes on PostgreSQL: psycopg 3 directly, one statement per step.

Through SQLAlchemy's asyncio engine a claim and its completion cost ~4.9 ms of CPU
(statement building, cache keys, three round trips per transaction). Here each step
is one prepared statement on an autocommit connection from a psycopg pool: every
statement is atomic on its own, and the claim is written so that a race with another
replica only ever makes one of them the owner (the same design as sql_claims.py,
which remains the SQLAlchemy reference for tests and other dialects).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

from service.adapters.store.records import decision_to_json, found_claim
from service.adapters.store.schema import utc
from service.app.ports import Claim, ClaimNotHeld, ClaimState
from service.domain.model import Decision

# Enough for hundreds of evaluations a second (each holds a connection for one round
# trip); PostgreSQL's default max_connections is 100, shared by every replica.
POOL_SIZE = 10
# A claim looks again when a row vanishes or a takeover loses a race.
_CLAIM_ROUNDS = 3

_INSERT_PENDING = (
    "INSERT INTO decisions (caller, client_transaction_id, fingerprint, state, owner,"
    " lease_until, created_at) VALUES (%s, %s, %s, 'PENDING', %s, %s, %s)"
    " ON CONFLICT (caller, client_transaction_id) DO NOTHING RETURNING caller"
)
_FIND = (
    "SELECT fingerprint, state, owner, lease_until, decision_json FROM decisions"
    " WHERE caller = %s AND client_transaction_id = %s"
)
# Only one taker's UPDATE matches the old lease.
_TAKE_OVER = (
    "UPDATE decisions SET owner = %s, lease_until = %s"
    " WHERE caller = %s AND client_transaction_id = %s AND state = 'PENDING'"
    " AND fingerprint = %s AND (lease_until <= %s OR owner = %s) RETURNING caller"
)
_COMPLETE = (
    "UPDATE decisions SET state = 'DONE', decision_json = %s, completed_at = %s,"
    " lease_until = NULL WHERE caller = %s AND client_transaction_id = %s"
    " AND state = 'PENDING' AND owner = %s"
)
_RELEASE = (
    "DELETE FROM decisions WHERE caller = %s AND client_transaction_id = %s"
    " AND state = 'PENDING' AND owner = %s"
)
# Plaid keys client_transaction_id per Plaid client, not per caller of ours. Checked
# after our insert: of two callers racing for one id, at most one goes on.
_HELD_BY_ANOTHER = (
    "SELECT 1 FROM decisions WHERE client_transaction_id = %s AND caller <> %s LIMIT 1"
)
_ABANDON = (
    "UPDATE decisions SET lease_until = %s WHERE caller = %s"
    " AND client_transaction_id = %s AND state = 'PENDING' AND owner = %s"
)


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL (postgresql+psycopg://...) as a libpq connection URI."""
    return (
        make_url(database_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


class PgClaims:
    """claim / complete / release on an autocommit psycopg pool."""

    def __init__(self, database_url: str, pool_size: int = POOL_SIZE) -> None:
        self._pool = AsyncConnectionPool(
            libpq_url(database_url),
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            # Replicas outlive database restarts and failovers: a connection is
            # checked when taken from the pool, as the SQLAlchemy engine's pre-ping.
            check=AsyncConnectionPool.check_connection,
            open=False,
        )

    async def start(self) -> None:
        """Open the pool; raises if the database cannot be reached."""
        await self._pool.open(wait=True)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._pool.close()

    def healthy(self) -> bool:
        """The pool is open (each connection is checked when it is taken)."""
        return not self._pool.closed

    async def claim(
        self,
        caller: str,
        txid: str,
        fingerprint: str,
        owner: str,
        lease_s: float,
        now: datetime,
    ) -> Claim:
        """Atomically start (or find) the evaluation of (caller, txid)."""
        now = utc(now)
        lease_until = now + timedelta(seconds=lease_s)
        async with self._pool.connection() as db:
            for _ in range(_CLAIM_ROUNDS):
                claim = await _claim_once(
                    db, caller, txid, fingerprint, owner, lease_until, now
                )
                if claim is not None:
                    return claim
        return Claim(ClaimState.IN_FLIGHT)

    async def complete(
        self, caller: str, txid: str, owner: str, decision: Decision, now: datetime
    ) -> None:
        """Store the decision for a claim this owner holds; the row becomes DONE."""
        values = (decision_to_json(decision), utc(now), caller, txid, owner)
        async with self._pool.connection() as db:
            done = await db.execute(_COMPLETE, values)
        if done.rowcount != 1:
            raise ClaimNotHeld(owner, txid)

    async def release(self, caller: str, txid: str, owner: str) -> None:
        """Forget this owner's pending claim; a DONE decision is never deleted."""
        async with self._pool.connection() as db:
            await db.execute(_RELEASE, (caller, txid, owner))

    async def abandon(self, caller: str, txid: str, owner: str, now: datetime) -> None:
        """The evaluation failed after Plaid may have seen the id: keep the row PENDING
        with its lease ended, so the next claim takes it over knowing that."""
        async with self._pool.connection() as db:
            await db.execute(_ABANDON, (utc(now), caller, txid, owner))


async def _claim_once(
    db: AsyncConnection[Any],
    caller: str,
    txid: str,
    fingerprint: str,
    owner: str,
    lease_until: datetime,
    now: datetime,
) -> Claim | None:
    """One round of claim; None when the row changed under us and we must look again."""
    inserted = await db.execute(
        _INSERT_PENDING, (caller, txid, fingerprint, owner, lease_until, now)
    )
    if await inserted.fetchone() is not None:
        held = await db.execute(_HELD_BY_ANOTHER, (txid, caller))
        if await held.fetchone() is not None:
            await db.execute(_RELEASE, (caller, txid, owner))
            return Claim(ClaimState.CONFLICT)
        return Claim(ClaimState.NEW)
    row = await (await db.execute(_FIND, (caller, txid))).fetchone()
    if row is None:  # released between our insert and our read
        return None
    settled = found_claim(row, fingerprint, owner, now)
    if settled is not None:
        return settled
    taken = await db.execute(
        _TAKE_OVER,
        (owner, lease_until, caller, txid, fingerprint, now, owner),
    )
    if await taken.fetchone() is not None:
        return Claim(ClaimState.NEW, taken_over=True)
    return None
