"""DecisionLedger on SQL: each call is one rule of ledger_rules.py, run by a writer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from opentelemetry import trace

from service.adapters.store import ledger_rules as rules
from service.adapters.store.ledger_rules import Dialect, Rule
from service.adapters.store.records import decision_from_json, decision_to_json
from service.app.ports import BalanceFetch, Claim, ClaimNotHeld
from service.domain.model import Decision

T = TypeVar("T")


class LedgerWriter(Protocol):
    """Runs ledger rules on one database: SqliteWriter or PgWriter."""

    @property
    def dialect(self) -> Dialect: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def healthy(self) -> bool:
        """False once the writes cannot work any more (writer stopped, pool closed)."""
        ...

    async def run(self, rule: Rule[T]) -> T: ...

    async def run_atomic(self, rule: Rule[T]) -> T:
        """Run a rule's statements in one transaction."""
        ...

    @property
    def locks(self) -> bool:
        """Whether rules must take locks to be atomic across replicas (PostgreSQL);
        SQLite's writer holds the database's write lock for its whole batch."""
        ...


class SqlLedger:
    """The ledger's per-evaluation writes; every key includes the caller."""

    def __init__(
        self,
        writer: LedgerWriter,
        tracer: trace.Tracer | None = None,
        db_system: str = "sqlite",
    ) -> None:
        self._writer = writer
        self._dialect = writer.dialect
        self._tracer = tracer  # None: tracing is off (service/ops/tracing.py)
        self._db_system = db_system  # sqlite or postgresql, for the spans

    async def _write(self, operation: str, rule: Rule[T]) -> T:
        """Run a write of an evaluation; with tracing on, as a CLIENT span under the
        RPC's naming the database and the operation, never a value."""
        if self._tracer is None:
            return await self._writer.run(rule)
        span = self._tracer.start_span(
            f"ledger {operation}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                "db.system.name": self._db_system,
                "db.operation.name": operation,
                "db.collection.name": "decisions",
            },
        )
        try:
            return await self._writer.run(rule)
        except BaseException as exc:
            # The type only: a driver's message may quote the statement's values.
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(trace.StatusCode.ERROR, type(exc).__qualname__)
            raise
        finally:
            span.end()

    # Times and JSON are converted before a rule runs: a bad value fails its caller,
    # never the batch of writes it would have joined.

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
        d, key = self._dialect, (caller, txid)
        at, until = d.time(now), d.time(now + timedelta(seconds=lease_s))
        return await self._write(
            "claim", lambda: rules.claim(d, key, fingerprint, owner, until, at)
        )

    async def complete(
        self,
        caller: str,
        txid: str,
        owner: str,
        decision: Decision,
        now: datetime,
        fetch: BalanceFetch | None = None,
    ) -> None:
        """Store the decision for a claim this owner holds; the row becomes DONE.
        A live balance's reuse key is written by the same statement."""
        d, key = self._dialect, (caller, txid)
        stored, at = decision_to_json(decision), d.time(now)
        lent = None if fetch is None else (fetch.key, d.time(fetch.fetched_at))
        if not await self._write(
            "complete", lambda: rules.complete(d, key, owner, stored, at, lent)
        ):
            raise ClaimNotHeld(owner, txid)

    async def recent_balance(
        self, caller: str, key: str, since: datetime
    ) -> Decision | None:
        """The caller's newest decision whose live balance for `key` was fetched at
        or after `since`, or None."""
        d, at = self._dialect, self._dialect.time(since)
        found = await self._writer.run(lambda: rules.recent_balance(d, caller, key, at))
        return None if found is None else decision_from_json(found)

    async def release(self, caller: str, txid: str, owner: str) -> None:
        """Forget this owner's pending claim; a DONE decision is never deleted."""
        d, key = self._dialect, (caller, txid)
        await self._write("release", lambda: rules.release(d, key, owner))

    async def abandon(self, caller: str, txid: str, owner: str, now: datetime) -> None:
        """The evaluation failed after Plaid may have seen the id: keep the row PENDING
        with its lease ended, so the next claim takes it over knowing that."""
        d, key, at = self._dialect, (caller, txid), self._dialect.time(now)
        await self._write("abandon", lambda: rules.abandon(d, key, owner, at))
