"""In-memory implementations of the ports, for testing the use cases without a network."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from service.adapters.store.records import (
    body_to_json,
    decision_from_json,
    decision_to_json,
)
from service.adapters.store.schema import DONE, PENDING, utc
from service.app.errors import PlaidFailure
from service.app.ports import (
    BalanceFetch,
    CallBudget,
    Claim,
    ClaimNotHeld,
    ClaimState,
    DeliveryStatus,
    PlaidAccount,
    RateKey,
    ReportKind,
    ReportRecord,
    SignalContext,
    SpendRefused,
    StoredDecision,
    UnknownTransaction,
)
from service.domain.model import (
    BalanceAnswer,
    Decision,
    PaymentAttempt,
    PlaidCall,
    SignalAnswer,
)

Scripted = tuple[SignalAnswer | BalanceAnswer, tuple[PlaidCall, ...]] | PlaidFailure


class FakeSignalSource:
    """Answers each endpoint from its own queue of answers or failures, in order."""

    def __init__(self) -> None:
        self.signal: deque[Scripted] = deque()
        self.balance: deque[Scripted] = deque()
        self.budgets: list[CallBudget] = []
        self.accepts_credentials = True

    async def evaluate_signal(
        self,
        attempt: PaymentAttempt,
        account: PlaidAccount,
        context: SignalContext,
        budget: CallBudget,
    ) -> tuple[SignalAnswer, tuple[PlaidCall, ...]]:
        self.budgets.append(budget)
        answer, calls = self._next(self.signal)
        assert isinstance(answer, SignalAnswer)
        return answer, calls

    async def get_balance(
        self, account: PlaidAccount, min_last_updated: datetime, budget: CallBudget
    ) -> tuple[BalanceAnswer, tuple[PlaidCall, ...]]:
        self.budgets.append(budget)
        answer, calls = self._next(self.balance)
        assert isinstance(answer, BalanceAnswer)
        return answer, calls

    async def credentials_accepted(self, budget: CallBudget) -> bool:
        self.budgets.append(budget)
        return self.accepts_credentials

    @staticmethod
    def _next(
        queue: deque[Scripted],
    ) -> tuple[SignalAnswer | BalanceAnswer, tuple[PlaidCall, ...]]:
        item = queue.popleft()
        if isinstance(item, PlaidFailure):
            raise item
        return item


class InMemoryRateLedger:
    """RateLedger in a list, counting as rate_rules.py does (weights, sliding
    windows); one process only. Every InMemoryDecisionStore is one too."""

    def __init__(self) -> None:
        self.spends: list[tuple[str, float, int]] = []  # (key, spent_at, weight)
        self.takes = 0

    async def take_spends(
        self, keys: tuple[RateKey, ...], now: datetime
    ) -> SpendRefused | None:
        self.takes += 1
        at = now.timestamp()
        refused: SpendRefused | None = None
        for key in sorted(keys, key=lambda k: k.name):
            window = sorted(
                (
                    s
                    for s in self.spends
                    if s[0] == key.name and s[1] > at - key.window_s
                ),
                key=lambda s: s[1],
                reverse=True,
            )
            if sum(s[2] for s in window) < key.limit:
                continue
            newer = 0
            for _, spent_at, weight in window:
                newer += weight
                if newer >= key.limit:
                    wait_s = spent_at + key.window_s - at
                    break
            if refused is None or wait_s > refused.retry_after_s:
                refused = SpendRefused(key.name, wait_s)
        if refused is None:
            self.spends += [(key.name, at, 1) for key in keys]
        return refused

    async def block_spends(self, key: RateKey, until: datetime, now: datetime) -> None:
        self.spends.append((key.name, until.timestamp() - key.window_s, key.limit))

    async def sweep_spends(self, before: datetime) -> int:
        kept = [s for s in self.spends if s[1] >= before.timestamp()]
        swept, self.spends = len(self.spends) - len(kept), kept
        return swept


@dataclass(slots=True)
class LedgerRow:
    """One decisions row as the SQL store keeps it: the decision as its JSON text."""

    fingerprint: str
    state: str  # PENDING or DONE
    owner: str
    lease_until: datetime | None
    decision_json: str | None = None
    fetch: BalanceFetch | None = None  # the live balance it lends, keyed


class InMemoryDecisionStore(InMemoryRateLedger):
    """The ledger and the outbox in dicts, answering as the SQL store does (same
    states, ClaimNotHeld, leases, decisions through their JSON); one process only.
    tests/store/test_fake_store.py runs the same scenarios on it and on both databases.
    """

    def __init__(self) -> None:
        InMemoryRateLedger.__init__(self)
        self.rows: dict[tuple[str, str], LedgerRow] = {}
        self.reports: list[ReportRecord] = []  # report id n at index n - 1
        self._report_leases: dict[int, datetime] = {}
        self.claims = 0
        self.claim_rounds = 0  # claim_reports calls: how often the outbox looked

    # --- DecisionLedger ------------------------------------------------------------

    async def claim(
        self,
        caller: str,
        txid: str,
        fingerprint: str,
        owner: str,
        lease_s: float,
        now: datetime,
    ) -> Claim:
        self.claims += 1
        now = utc(now)
        lease_until = now + timedelta(seconds=lease_s)
        row = self.rows.get((caller, txid))
        if row is None:
            if any(t == txid and c != caller for c, t in self.rows):
                return Claim(ClaimState.CONFLICT)
            self.rows[(caller, txid)] = LedgerRow(
                fingerprint, PENDING, owner, lease_until
            )
            return Claim(ClaimState.NEW)
        if row.fingerprint != fingerprint:
            return Claim(ClaimState.CONFLICT)
        if row.state == DONE:
            assert row.decision_json is not None
            return Claim(ClaimState.DONE, decision_from_json(row.decision_json))
        assert row.lease_until is not None
        if row.owner != owner and row.lease_until > now:
            return Claim(ClaimState.IN_FLIGHT)
        row.owner, row.lease_until = owner, lease_until
        return Claim(ClaimState.NEW, taken_over=True)

    async def complete(
        self,
        caller: str,
        txid: str,
        owner: str,
        decision: Decision,
        now: datetime,
        fetch: BalanceFetch | None = None,
    ) -> None:
        utc(now)
        row = self._pending_of(caller, txid, owner)
        if row is None:
            raise ClaimNotHeld(owner, txid)
        row.state, row.lease_until = DONE, None
        row.decision_json = decision_to_json(decision)
        row.fetch = fetch

    async def recent_balance(
        self, caller: str, key: str, since: datetime
    ) -> Decision | None:
        since = utc(since)
        found = [
            (row.fetch.fetched_at, row.decision_json)
            for (c, _), row in self.rows.items()
            if c == caller
            and row.state == DONE
            and row.fetch is not None
            and row.fetch.key == key
            and utc(row.fetch.fetched_at) >= since
            and row.decision_json is not None
        ]
        if not found:
            return None
        return decision_from_json(max(found, key=lambda f: f[0])[1])

    async def release(self, caller: str, txid: str, owner: str) -> None:
        if self._pending_of(caller, txid, owner) is not None:
            del self.rows[(caller, txid)]

    async def abandon(self, caller: str, txid: str, owner: str, now: datetime) -> None:
        row = self._pending_of(caller, txid, owner)
        if row is not None:
            row.lease_until = utc(now)

    def _pending_of(self, caller: str, txid: str, owner: str) -> LedgerRow | None:
        row = self.rows.get((caller, txid))
        if row is None or row.state != PENDING or row.owner != owner:
            return None
        return row

    # --- ReportInbox ---------------------------------------------------------------

    async def get(self, caller: str, txid: str) -> StoredDecision | None:
        row = self.rows.get((caller, txid))
        if row is None or row.decision_json is None:
            return None
        mine = tuple(
            r
            for r in self.reports
            if (r.caller, r.client_transaction_id) == (caller, txid)
        )
        return StoredDecision(decision_from_json(row.decision_json), mine)

    async def add_report(
        self,
        caller: str,
        txid: str,
        kind: ReportKind,
        body: dict[str, Any],
        now: datetime,
    ) -> ReportRecord:
        row = self.rows.get((caller, txid))
        if row is None or row.state != DONE:
            raise UnknownTransaction(txid)
        now = utc(now)
        record = ReportRecord(
            len(self.reports) + 1,
            caller,
            txid,
            kind,
            json.loads(body_to_json(body)),
            DeliveryStatus.PENDING,
            0,
            None,
            now,
            None,
            now,
        )
        self.reports.append(record)
        return record

    # --- OutboxQueue ---------------------------------------------------------------

    async def claim_reports(
        self, owner: str, limit: int, lease_s: float, now: datetime
    ) -> list[ReportRecord]:
        self.claim_rounds += 1
        now = utc(now)
        waiting: set[tuple[str, str]] = set()  # a transaction's later reports wait
        due: list[ReportRecord] = []
        for r in self.reports:
            if r.status is not DeliveryStatus.PENDING:
                continue
            key = (r.caller, r.client_transaction_id)
            lease = self._report_leases.get(r.id)
            if (
                key not in waiting
                and r.next_attempt_at <= now
                and (lease is None or lease <= now)
            ):
                due.append(r)
            waiting.add(key)
        chosen = due[: max(limit, 0)]
        for r in chosen:
            self._report_leases[r.id] = now + timedelta(seconds=lease_s)
        return chosen

    async def report_delivered(self, report_id: int, now: datetime) -> None:
        self._attempted(
            report_id,
            status=DeliveryStatus.DELIVERED,
            delivered_at=utc(now),
            last_error_code=None,
        )

    async def report_failed(
        self, report_id: int, error_code: str | None, next_attempt_at: datetime | None
    ) -> None:
        if next_attempt_at is None:
            self._attempted(
                report_id,
                status=DeliveryStatus.DEAD_LETTERED,
                last_error_code=error_code,
            )
        else:
            self._attempted(
                report_id,
                last_error_code=error_code,
                next_attempt_at=utc(next_attempt_at),
            )

    def _attempted(self, report_id: int, **changes: Any) -> None:
        """One more attempt on a PENDING report; a finished one is left alone."""
        record = self.reports[report_id - 1]
        if record.status is not DeliveryStatus.PENDING:
            return
        self._report_leases.pop(report_id, None)
        self.reports[report_id - 1] = replace(
            record, attempts=record.attempts + 1, **changes
        )
