"""The ledger's claim / complete / release through SQLAlchemy: the reference version.

The service uses the faster sqlite_claims.py (SQLite) and pg_claims.py (PostgreSQL),
which run the same statements; this one serves a store built on a bare engine.
Replicas share the database, so a claim may race another replica's: every step is
one conditional statement and a lost race is looked at again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.adapters.store.records import decision_to_json, found_claim
from service.adapters.store.schema import DONE, PENDING, decisions
from service.app.ports import Claim, ClaimNotHeld, ClaimState
from service.domain.model import Decision

# A claim retries when a row vanishes or a takeover loses a race; more means contention.
_CLAIM_ROUNDS = 3


class SqlClaims:
    """claim / complete / release, one short transaction each."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def start(self) -> None:
        """Nothing to start: the engine's pool connects on demand."""

    async def close(self) -> None:
        """Nothing to close: the store disposes of the engine."""

    def healthy(self) -> bool:
        """Always: the engine's pool connects on demand."""
        return True

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
        lease_until = now + timedelta(seconds=lease_s)
        async with self._engine.begin() as connection:
            for _ in range(_CLAIM_ROUNDS):
                claim = await _claim_once(
                    connection, caller, txid, fingerprint, owner, lease_until, now
                )
                if claim is not None:
                    return claim
        return Claim(ClaimState.IN_FLIGHT)

    async def complete(
        self, caller: str, txid: str, owner: str, decision: Decision, now: datetime
    ) -> None:
        """Store the decision for a claim this owner holds; the row becomes DONE."""
        done = (
            decisions.update()
            .where(*_key(caller, txid), _pending_of(owner))
            .values(
                state=DONE,
                decision_json=decision_to_json(decision),
                completed_at=now,
                lease_until=None,
            )
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(done)
        if result.rowcount != 1:
            raise ClaimNotHeld(owner, txid)

    async def release(self, caller: str, txid: str, owner: str) -> None:
        """Forget this owner's pending claim; a DONE decision is never deleted."""
        forget = decisions.delete().where(*_key(caller, txid), _pending_of(owner))
        async with self._engine.begin() as connection:
            await connection.execute(forget)

    async def abandon(self, caller: str, txid: str, owner: str, now: datetime) -> None:
        """The evaluation failed after Plaid may have seen the id: keep the row PENDING
        with its lease ended, so the next claim takes it over knowing that."""
        ended = (
            decisions.update()
            .where(*_key(caller, txid), _pending_of(owner))
            .values(lease_until=now)
        )
        async with self._engine.begin() as connection:
            await connection.execute(ended)


def _key(caller: str, txid: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        decisions.c.caller == caller,
        decisions.c.client_transaction_id == txid,
    )


def _pending_of(owner: str) -> sa.ColumnElement[bool]:
    return sa.and_(decisions.c.state == PENDING, decisions.c.owner == owner)


async def _claim_once(
    connection: AsyncConnection,
    caller: str,
    txid: str,
    fingerprint: str,
    owner: str,
    lease_until: datetime,
    now: datetime,
) -> Claim | None:
    """One round of claim; None when the row changed under us and we must look again."""
    if await _insert_pending(
        connection, caller, txid, fingerprint, owner, lease_until, now
    ):
        # Plaid keys the id per Plaid client, not per caller of ours.
        held = sa.select(decisions.c.caller).where(
            decisions.c.client_transaction_id == txid, decisions.c.caller != caller
        )
        if (await connection.execute(held.limit(1))).first() is not None:
            await connection.execute(
                decisions.delete().where(*_key(caller, txid), _pending_of(owner))
            )
            return Claim(ClaimState.CONFLICT)
        return Claim(ClaimState.NEW)
    found = sa.select(
        decisions.c.fingerprint,
        decisions.c.state,
        decisions.c.owner,
        decisions.c.lease_until,
        decisions.c.decision_json,
    ).where(*_key(caller, txid))
    row = (await connection.execute(found)).first()
    if row is None:  # released between our insert and our read
        return None
    settled = found_claim(tuple(row), fingerprint, owner, now)
    if settled is not None:
        return settled
    # The lease ended (or is ours): only one taker's UPDATE matches the old lease.
    take_over = (
        decisions.update()
        .where(
            *_key(caller, txid),
            decisions.c.state == PENDING,
            decisions.c.fingerprint == fingerprint,
            sa.or_(decisions.c.lease_until <= now, decisions.c.owner == owner),
        )
        .values(owner=owner, lease_until=lease_until)
        .returning(decisions.c.caller)
    )
    if (await connection.execute(take_over)).first() is not None:
        return Claim(ClaimState.NEW, taken_over=True)
    return None


async def _insert_pending(
    connection: AsyncConnection,
    caller: str,
    txid: str,
    fingerprint: str,
    owner: str,
    lease_until: datetime,
    now: datetime,
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row is ours."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = (
        dialect.insert(decisions)
        .values(
            caller=caller,
            client_transaction_id=txid,
            fingerprint=fingerprint,
            state=PENDING,
            owner=owner,
            lease_until=lease_until,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["caller", "client_transaction_id"])
        .returning(decisions.c.caller)
    )
    return (await connection.execute(insert)).first() is not None
