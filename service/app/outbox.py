"""The outbox worker: delivers stored reports to Plaid, at least once, across restarts.

Reports are claimed with a lease (SKIP LOCKED on PostgreSQL), so replicas share the
work; a crash leaves the lease to expire and another worker to deliver. Plaid dedupes
by client_transaction_id, and the latest decision report wins.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog

from service.app.clock import Clock, within
from service.app.errors import DeadlineTooShort, FailureKind, PlaidFailure
from service.app.ports import CallBudget, OutboxQueue, ReportRecord, ReportSender

log = structlog.get_logger("service.app.outbox")
# Plaid will never take these: retrying cannot help (docs/plaid-behaviour.md, "Errors and rate limits").
NEVER = frozenset({FailureKind.NOT_SUPPORTED})
# What an operator should do about a dead letter, where one thing always helps.
NOTES = {
    "ADDENDUM_NOT_SIGNED": (
        "this Plaid client has not signed the Signal Addendum, so Plaid refuses every "
        "report from it; sign it, or set [outbox] report_balance_only = false to stop "
        "accepting reports about Balance-only decisions (docs/plaid-behaviour.md)"
    ),
}


@dataclass(frozen=True, slots=True)
class OutboxPolicy:
    """Delivery pacing and give-up rules (the [outbox] table, service/config/outbox.py)."""

    batch: int
    lease_s: float
    idle_poll_s: float
    attempt_timeout_s: float
    backoff_initial_s: float
    backoff_max_s: float
    max_permanent_failures: int


class OutboxWorker:
    """Claims due reports, sends each, and records the outcome."""

    def __init__(
        self,
        store: OutboxQueue,
        sender: ReportSender,
        owner: str,
        policy: OutboxPolicy,
        clock: Clock,
        observe: Callable[[str, str, str], None] = lambda kind, outcome, reason: None,
        sent: Callable[[str, bool], None] = lambda caller, answered: None,
    ) -> None:
        self._observe = observe  # (report kind, outcome, reason) for metrics
        self._sent = sent  # (caller, answered) per report sent to Plaid, for metrics
        self._store = store
        self._sender = sender
        self._owner = owner
        self._policy = policy
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox")

    def wake(self) -> None:
        """A report was stored: deliver it now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                delivered = await self.drain_once()
            except Exception:  # the store may be down: try again at the next poll
                log.exception("outbox.drain_failed")
                delivered = 0
            if delivered == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await within(
                        self._clock, self._policy.idle_poll_s, self._wake.wait()
                    )

    async def drain_once(self) -> int:
        """Claim one batch and attempt each report; returns how many were claimed."""
        records = await self._store.claim_reports(
            self._owner, self._policy.batch, self._policy.lease_s, self._clock.now()
        )
        by_transaction: dict[tuple[str, str], list[ReportRecord]] = defaultdict(list)
        for record in records:
            by_transaction[(record.caller, record.client_transaction_id)].append(record)
        # One transaction's reports go in order (a return after its decision report).
        await asyncio.gather(
            *(self._in_order(group) for group in by_transaction.values())
        )
        return len(records)

    async def _in_order(self, records: list[ReportRecord]) -> None:
        for record in records:
            await self._deliver(record)

    async def _deliver(self, record: ReportRecord) -> None:
        timeout_s = self._policy.attempt_timeout_s
        budget = CallBudget.from_now(self._clock, timeout_s, timeout_s)
        try:
            call = await self._sender.send_report(record.kind, record.body, budget)
        except (PlaidFailure, DeadlineTooShort) as failure:
            if isinstance(failure, PlaidFailure) and failure.calls:
                self._sent(record.caller, False)  # sent, and refused or unanswered
            await self._failed(record, failure)
            return
        self._sent(record.caller, True)
        await self._store.report_delivered(record.id, self._clock.now())
        self._observe(record.kind.value, "delivered", "")
        log.info(
            "outbox.delivered",
            report_id=record.id,
            kind=record.kind.value,
            client_transaction_id=record.client_transaction_id,
            plaid_request_id=call.request_id,
            attempts=record.attempts + 1,
        )

    async def _failed(
        self, record: ReportRecord, failure: PlaidFailure | DeadlineTooShort
    ) -> None:
        kind = (
            failure.kind if isinstance(failure, PlaidFailure) else FailureKind.TIMEOUT
        )
        code = failure.error_code if isinstance(failure, PlaidFailure) else None
        attempts = record.attempts + 1
        permanent = not kind.transient and kind is not FailureKind.CREDENTIALS_REJECTED
        give_up = kind in NEVER or (
            permanent and attempts >= self._policy.max_permanent_failures
        )
        backoff_s = min(
            self._policy.backoff_initial_s * 2 ** (attempts - 1),
            self._policy.backoff_max_s,
        )
        next_at = None if give_up else self._clock.now() + timedelta(seconds=backoff_s)
        await self._store.report_failed(record.id, code or kind.value, next_at)
        reason = code or kind.value
        self._observe(
            record.kind.value, "dead_lettered" if give_up else "retry", reason
        )
        event = "outbox.dead_lettered" if give_up else "outbox.retry_scheduled"
        log.warning(
            event,
            report_id=record.id,
            kind=record.kind.value,
            client_transaction_id=record.client_transaction_id,
            failure_kind=kind.value,
            plaid_error_code=code,
            attempts=attempts,
            retry_in_s=None if give_up else backoff_s,
            note=NOTES.get(reason),
        )
