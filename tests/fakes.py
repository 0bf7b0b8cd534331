"""In-memory implementations of the ports, for testing the shell without a network."""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from service.app.errors import PlaidFailure
from service.app.ports import (
    CallBudget,
    Claim,
    ClaimState,
    DeliveryStatus,
    OutboxStats,
    PlaidAccount,
    ReportKind,
    ReportRecord,
    SignalContext,
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


class InMemoryDecisionStore:
    """The DecisionStore port in a dict: one process, no durability; for shell tests."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.reports: list[ReportRecord] = []
        self.claims = 0

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
        row = self.rows.get((caller, txid))
        if row is None and any(t == txid and c != caller for c, t in self.rows):
            return Claim(ClaimState.CONFLICT)
        if row is None:
            self.rows[(caller, txid)] = {
                "fp": fingerprint,
                "owner": owner,
                "decision": None,
                "lease_until": now + timedelta(seconds=lease_s),
            }
            return Claim(ClaimState.NEW)
        if row["fp"] != fingerprint:
            return Claim(ClaimState.CONFLICT)
        if row["decision"] is not None:
            return Claim(ClaimState.DONE, row["decision"])
        if row["owner"] != owner and row["lease_until"] > now:
            return Claim(ClaimState.IN_FLIGHT)
        row["owner"] = owner
        row["lease_until"] = now + timedelta(seconds=lease_s)
        return Claim(ClaimState.NEW, taken_over=True)

    async def complete(
        self, caller: str, txid: str, owner: str, decision: Decision, now: datetime
    ) -> None:
        row = self.rows[(caller, txid)]
        assert row["owner"] == owner
        assert row["decision"] is None
        row["decision"] = decision

    async def release(self, caller: str, txid: str, owner: str) -> None:
        row = self.rows.get((caller, txid))
        if row is not None and row["owner"] == owner and row["decision"] is None:
            del self.rows[(caller, txid)]

    async def abandon(self, caller: str, txid: str, owner: str, now: datetime) -> None:
        row = self.rows.get((caller, txid))
        if row is not None and row["owner"] == owner and row["decision"] is None:
            row["lease_until"] = now

    async def get(self, caller: str, txid: str) -> StoredDecision | None:
        row = self.rows.get((caller, txid))
        if row is None or row["decision"] is None:
            return None
        mine = tuple(
            r
            for r in self.reports
            if (r.caller, r.client_transaction_id) == (caller, txid)
        )
        return StoredDecision(row["decision"], mine)

    async def add_report(
        self,
        caller: str,
        txid: str,
        kind: ReportKind,
        body: dict[str, Any],
        now: datetime,
    ) -> ReportRecord:
        if await self.get(caller, txid) is None:
            raise UnknownTransaction(txid)
        record = ReportRecord(
            len(self.reports) + 1,
            caller,
            txid,
            kind,
            body,
            DeliveryStatus.PENDING,
            0,
            None,
            now,
            None,
            now,
        )
        self.reports.append(record)
        return record

    async def claim_reports(
        self, owner: str, limit: int, lease_s: float, now: datetime
    ) -> list[ReportRecord]:
        due = [
            r
            for r in self.reports
            if r.status is DeliveryStatus.PENDING and r.next_attempt_at <= now
        ]
        return due[:limit]

    async def report_delivered(self, report_id: int, now: datetime) -> None:
        self._update(report_id, status=DeliveryStatus.DELIVERED, delivered_at=now)

    async def report_failed(
        self, report_id: int, error_code: str | None, next_attempt_at: datetime | None
    ) -> None:
        if next_attempt_at is None:
            self._update(
                report_id,
                status=DeliveryStatus.DEAD_LETTERED,
                last_error_code=error_code,
            )
        else:
            self._update(
                report_id, last_error_code=error_code, next_attempt_at=next_attempt_at
            )

    def _update(self, report_id: int, **changes: Any) -> None:
        record = self.reports[report_id - 1]
        self.reports[report_id - 1] = replace(
            record, attempts=record.attempts + 1, **changes
        )

    async def outbox_stats(self, now: datetime) -> OutboxStats:
        pending = [r for r in self.reports if r.status is DeliveryStatus.PENDING]
        oldest = min((r.accepted_at for r in pending), default=now)
        dead = sum(r.status is DeliveryStatus.DEAD_LETTERED for r in self.reports)
        return OutboxStats(len(pending), (now - oldest).total_seconds(), dead)

    async def purge(self, before: datetime) -> int:
        return 0

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        return None
