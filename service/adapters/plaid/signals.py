"""PlaidSignalSource: the SignalSource port over Plaid, with deadline-derived timeouts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.adapters.plaid.requests import balance_get_body, signal_evaluate_body
from service.adapters.plaid.responses import (
    MalformedAnswer,
    malformed,
    newest_time_in,
    parse_account_balance,
    parse_core_attributes,
    parse_request_id,
    parse_ruleset,
    parse_scores,
    parse_signal_balance,
    parse_warnings,
)
from service.adapters.plaid.retry import RetryingPoster, outcome_unknown
from service.app.clock import Clock
from service.app.errors import FailureKind, PlaidFailure
from service.app.ports import CallBudget, PlaidAccount, SignalContext
from service.app.rate_budget import RateGate, Ticket
from service.domain.model import (
    BALANCE_GET,
    SIGNAL_EVALUATE,
    Balance,
    BalanceAnswer,
    PaymentAttempt,
    PlaidCall,
    SignalAnswer,
    TimeSource,
)

ITEM_GET = "/item/get"
PROBE_TOKEN = "access-probe-00000000-0000-0000-0000-000000000000"  # noqa: S105 (not a secret)


class PlaidSignalSource:
    """Plaid's Signal and Balance endpoints as evidence for the core, within budgets."""

    def __init__(
        self, poster: RetryingPoster, clock: Clock, rates: RateGate | None = None
    ) -> None:
        self._poster = poster
        self._clock = clock
        self._rates = rates  # rate budgets spent before every attempt

    async def evaluate_signal(
        self,
        attempt: PaymentAttempt,
        account: PlaidAccount,
        context: SignalContext,
        budget: CallBudget,
    ) -> tuple[SignalAnswer, tuple[PlaidCall, ...]]:
        body = signal_evaluate_body(attempt, account, context)
        sent_at = self._clock.now()
        try:
            reply, calls = await self._poster.post(
                SIGNAL_EVALUATE,
                body,
                budget,
                self._ticket(SIGNAL_EVALUATE, account),
            )
        except PlaidFailure as failure:
            unknown = outcome_unknown(failure, context.id_sent_before)
            if unknown is failure:
                raise
            raise unknown from failure
        try:
            answer = _signal_answer(reply.body, sent_at, self._clock.now())
        except MalformedAnswer as exc:
            # A well-formed JSON object of the wrong shape is not retried: the same
            # answer would come back. (Non-JSON bodies are retried by the poster.)
            raise malformed(SIGNAL_EVALUATE, exc, calls, reply.call.request_id) from exc
        return answer, calls

    async def get_balance(
        self,
        account: PlaidAccount,
        min_last_updated: datetime,
        budget: CallBudget,
    ) -> tuple[BalanceAnswer, tuple[PlaidCall, ...]]:
        body = balance_get_body(account, min_last_updated)
        sent_at = self._clock.now()
        try:
            reply, calls = await self._poster.post(
                BALANCE_GET, body, budget, self._ticket(BALANCE_GET, account)
            )
        except PlaidFailure as failure:
            if failure.error_code != "LAST_UPDATED_DATETIME_OUT_OF_RANGE":
                raise
            # Not an error for the caller: the balance is too old, which the policy decides.
            return _too_old(failure, sent_at, self._clock.now()), failure.calls
        try:
            balance = parse_account_balance(reply.body, account.account_id)
        except MalformedAnswer as exc:
            raise malformed(BALANCE_GET, exc, calls, reply.call.request_id) from exc
        answer = BalanceAnswer(
            reply.call.request_id or "", balance, sent_at, self._clock.now()
        )
        return answer, calls

    def _ticket(self, endpoint: str, account: PlaidAccount) -> Ticket | None:
        if self._rates is None:
            return None
        return self._rates.ticket(endpoint, account.access_token)

    async def credentials_accepted(self, budget: CallBudget) -> bool:
        """`/item/get` with a token no Item has: Plaid checks our keys before the token.

        INVALID_API_KEYS: rejected. INVALID_ACCESS_TOKEN: accepted. Anything else
        proves neither and is raised, so the caller probes again later.
        """
        try:
            await self._poster.post(ITEM_GET, {"access_token": PROBE_TOKEN}, budget)
        except PlaidFailure as failure:
            if failure.kind is FailureKind.CREDENTIALS_REJECTED:
                return False
            if failure.kind is FailureKind.INVALID_ACCESS_TOKEN:
                return True
            raise
        return True


def _signal_answer(
    body: dict[str, Any], sent_at: datetime, received_at: datetime
) -> SignalAnswer:
    """Liberal in what Plaid sends: deprecated fields may be absent, unknown ones are
    ignored, and only a value of the wrong type is malformed (docs/plaid-behaviour.md)."""
    attributes = parse_core_attributes(body.get("core_attributes"))
    return SignalAnswer(
        request_id=parse_request_id(body),
        ruleset=parse_ruleset(body.get("ruleset")),
        scores=parse_scores(body.get("scores")),
        core_attributes=attributes,
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
