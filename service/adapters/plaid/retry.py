"""Retries of transient Plaid failures with tenacity, never past the caller's deadline.

The one place the service retries. Every attempt of a call carries the same
body, so `/signal/evaluate` keeps its client_transaction_id (Plaid's idempotency key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from service.adapters.plaid.http import PlaidReply, PlaidTransport
from service.app.clock import Clock
from service.app.errors import DeadlineTooShort, FailureKind, PlaidFailure
from service.app.ports import CallBudget
from service.app.rate_budget import Ticket
from service.domain.model import PlaidCall

log = structlog.get_logger("service.plaid")
# Left for our own work after Plaid answers or times out within the caller's deadline
# (parse, decide, the ledger write, the reply's trip back): 5% of the time left, at
# most 100 ms. 20 ms flat left a 6 s deadline only ~15 ms to spare.
SAFETY_SHARE = 0.05
MAX_SAFETY_MARGIN_S = 0.1
MIN_CALL_S = 0.01


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How transient Plaid failures are retried: bounded attempts, full-jitter backoff
    (the [plaid.retry] table, service/config/plaid.py)."""

    max_attempts: int
    initial_backoff_s: float
    max_backoff_s: float
    min_attempt_s: float  # an attempt with less time than this is not started


class _deadline_stop(stop_base):  # noqa: N801 (tenacity names its stops in lower case)
    """Stop when the next attempt would start with less than min_attempt_s left."""

    def __init__(self, clock: Clock, budget: CallBudget, min_attempt_s: float) -> None:
        self._clock = clock
        self._budget = budget
        self._min_attempt_s = min_attempt_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        left_at_start_s = self._budget.left_s(self._clock) - retry_state.upcoming_sleep
        return left_at_start_s < self._min_attempt_s


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, PlaidFailure) and exc.kind.retried_within_call


def outcome_unknown(failure: PlaidFailure, sent_before: bool = False) -> PlaidFailure:
    """CLIENT_TRANSACTION_ID_ALREADY_IN_USE after an earlier attempt of ours with the
    same id (in this call, or an evaluation that never finished) is no conflict: that
    attempt may have been evaluated, result unknown (docs/plaid-behaviour.md, "A
    repeated client_transaction_id"). Otherwise the id was used elsewhere."""
    earlier = sent_before or len(failure.calls) > 1
    if failure.kind is not FailureKind.IDEMPOTENCY_CONFLICT or not earlier:
        return failure
    return PlaidFailure(
        FailureKind.OUTCOME_UNKNOWN,
        "an earlier attempt with this client_transaction_id went to Plaid without a "
        "usable answer, and Plaid refused the retry as "
        "CLIENT_TRANSACTION_ID_ALREADY_IN_USE: the first attempt may have been "
        "evaluated (and billed), its result is unknown; evaluate again under a new "
        "client_transaction_id",
        endpoint=failure.endpoint,
        http_status=failure.http_status,
        error_type=failure.error_type,
        error_code=failure.error_code,
        request_id=failure.request_id,
        calls=failure.calls,
    )


def _log_retry(retry_state: RetryCallState) -> None:
    failure = retry_state.outcome.exception() if retry_state.outcome else None
    log.info(
        "plaid.retry_scheduled",
        attempt=retry_state.attempt_number,
        wait_s=round(retry_state.upcoming_sleep, 3),
        failure_kind=failure.kind.value if isinstance(failure, PlaidFailure) else None,
        plaid_error_code=failure.error_code
        if isinstance(failure, PlaidFailure)
        else None,
    )


class RetryingPoster:
    """POSTs to Plaid through a transport, retrying transient failures within budget."""

    def __init__(
        self,
        transport: PlaidTransport,
        policy: RetryPolicy,
        clock: Clock,
    ) -> None:
        self._transport = transport
        self._policy = policy
        self._clock = clock

    async def post(
        self,
        endpoint: str,
        body: dict[str, Any],
        budget: CallBudget,
        ticket: Ticket | None = None,
    ) -> tuple[PlaidReply, tuple[PlaidCall, ...]]:
        """The reply and every attempt's record; a failure carries all records too.
        With a ticket, every attempt first spends from its rate budgets
        (app/rate_budget.py), and Plaid's 429 is recorded against them."""
        calls: list[PlaidCall] = []
        # Almost every call succeeds first time: try once before building tenacity's
        # machinery (~0.15 ms of CPU per call under load).
        try:
            reply = await self._attempt(endpoint, body, budget, 1, calls, ticket)
        except PlaidFailure as failure:
            if not _is_transient(failure) or self._policy.max_attempts <= 1:
                raise failure.with_calls(tuple(calls)) from None
            first_failure = failure
        else:
            return reply, tuple(calls)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._policy.max_attempts)
            | _deadline_stop(self._clock, budget, self._policy.min_attempt_s),
            wait=wait_random_exponential(
                multiplier=self._policy.initial_backoff_s,
                max=self._policy.max_backoff_s,
            ),
            retry=retry_if_exception(_is_transient),
            # Backoff waits on our clock, as the deadline stop measures on it.
            sleep=self._clock.sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    if number == 1:
                        # Tenacity decides on the first attempt's failure as it would
                        # have, had it made the attempt: same stops, same backoff.
                        raise first_failure
                    reply = await self._attempt(
                        endpoint, body, budget, number, calls, ticket
                    )
        except PlaidFailure as failure:
            raise failure.with_calls(tuple(calls)) from None
        return reply, tuple(calls)

    async def _attempt(
        self,
        endpoint: str,
        body: dict[str, Any],
        budget: CallBudget,
        number: int,
        calls: list[PlaidCall],
        ticket: Ticket | None = None,
    ) -> PlaidReply:
        if ticket is not None:
            await ticket.spend(budget, self._policy.min_attempt_s)
        remaining_s = budget.left_s(self._clock)
        left_s = remaining_s - min(MAX_SAFETY_MARGIN_S, SAFETY_SHARE * remaining_s)
        if left_s < MIN_CALL_S:
            raise DeadlineTooShort(
                f"{max(left_s, 0) * 1000:.0f} ms left: not enough for a call to {endpoint}"
            )
        timeout_s = min(left_s, budget.attempt_timeout_s)
        try:
            reply = await self._transport.post(
                endpoint, body, timeout_s, attempt=number
            )
        except PlaidFailure as failure:
            calls.extend(failure.calls)
            if ticket is not None and failure.kind is FailureKind.RATE_LIMITED:
                await ticket.refused_by_plaid(failure)
            raise
        calls.append(reply.call)
        return reply
