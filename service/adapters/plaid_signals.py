"""PlaidSignalSource: the SignalSource port over Plaid, with deadline-derived timeouts."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from service.adapters.plaid_http import PlaidReply, PlaidTransport
from service.adapters.plaid_requests import balance_get_body, signal_evaluate_body
from service.adapters.plaid_responses import (
    MalformedAnswer,
    malformed,
    newest_time_in,
    parse_account_balance,
    parse_ruleset,
    parse_scores,
    parse_signal_balance,
    parse_warnings,
)
from service.errors import DeadlineTooShort, PlaidFailure
from service.ports import PlaidAccount, SignalContext
from service.risk.model import (
    Balance,
    BalanceAnswer,
    PaymentAttempt,
    PlaidCall,
    SignalAnswer,
    TimeSource,
)

SIGNAL_EVALUATE = "/signal/evaluate"
BALANCE_GET = "/accounts/balance/get"
# Left for our own work after Plaid answers (parse, decide, reply) within the deadline.
SAFETY_MARGIN_S = 0.02
MIN_CALL_S = 0.01


class PlaidSignalSource:
    """Calls Plaid through an async transport; every call is bounded by the deadline."""

    def __init__(
        self, transport: PlaidTransport, clock: Callable[[], datetime]
    ) -> None:
        self._transport = transport
        self._clock = clock

    async def evaluate_signal(
        self,
        attempt: PaymentAttempt,
        account: PlaidAccount,
        context: SignalContext,
        deadline: float,
    ) -> tuple[SignalAnswer, tuple[PlaidCall, ...]]:
        body = signal_evaluate_body(attempt, account, context)
        sent_at = self._clock()
        reply = await self._post(SIGNAL_EVALUATE, body, deadline)
        try:
            answer = _signal_answer(reply.body, sent_at, self._clock())
        except MalformedAnswer as exc:
            raise malformed(
                SIGNAL_EVALUATE, exc, (reply.call,), reply.call.request_id
            ) from exc
        return answer, (reply.call,)

    async def get_balance(
        self,
        account: PlaidAccount,
        min_last_updated: datetime,
        deadline: float,
    ) -> tuple[BalanceAnswer, tuple[PlaidCall, ...]]:
        body = balance_get_body(account, min_last_updated)
        sent_at = self._clock()
        try:
            reply = await self._post(BALANCE_GET, body, deadline)
        except PlaidFailure as failure:
            if failure.error_code != "LAST_UPDATED_DATETIME_OUT_OF_RANGE":
                raise
            # Not an error for the caller: the balance is too old, which the policy decides.
            return _too_old(failure, sent_at, self._clock()), failure.calls
        try:
            balance = parse_account_balance(reply.body, account.account_id)
        except MalformedAnswer as exc:
            raise malformed(
                BALANCE_GET, exc, (reply.call,), reply.call.request_id
            ) from exc
        answer = BalanceAnswer(
            reply.call.request_id or "", balance, sent_at, self._clock()
        )
        return answer, (reply.call,)

    async def _post(
        self, endpoint: str, body: dict[str, Any], deadline: float
    ) -> PlaidReply:
        timeout_s = deadline - time.monotonic() - SAFETY_MARGIN_S
        if timeout_s < MIN_CALL_S:
            raise DeadlineTooShort(
                f"{max(timeout_s, 0) * 1000:.0f} ms left: not enough "
                f"for a call to {endpoint}"
            )
        return await self._transport.post(endpoint, body, timeout_s)


def _signal_answer(
    body: dict[str, Any], sent_at: datetime, received_at: datetime
) -> SignalAnswer:
    attributes = body.get("core_attributes") or {}
    if not isinstance(attributes, dict):
        raise MalformedAnswer("core_attributes is not an object")
    return SignalAnswer(
        request_id=str(body.get("request_id") or ""),
        ruleset=parse_ruleset(body.get("ruleset")),
        scores=parse_scores(body.get("scores")),
        attribute_keys=frozenset(attributes),
        balance=parse_signal_balance(attributes),
        warnings=parse_warnings(body.get("warnings")),
        sent_at=sent_at,
        received_at=received_at,
    )


def _too_old(
    failure: PlaidFailure, sent_at: datetime, received_at: datetime
) -> BalanceAnswer:
    newest = newest_time_in(str(failure))
    balance = Balance(
        None,
        None,
        None,
        newest,
        TimeSource.PLAID_REPORTED if newest else TimeSource.UNKNOWN,
    )
    return BalanceAnswer(
        failure.request_id or "", balance, sent_at, received_at, too_old=True
    )
