"""The imperative shell of EvaluatePayment: gather evidence, let the core decide, return."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.config import Policies
from service.ports import PlaidAccount, SignalContext, SignalSource
from service.risk.model import Decision, PaymentAttempt
from service.risk.policy import decide_balance, decide_signal
from service.risk.realtime import assess_balance_endpoint, assess_signal, settle_as_of


@dataclass(frozen=True, slots=True)
class Budgets:
    """Default time budgets when the caller sets no deadline (and caps when it does)."""

    scores_s: float
    live_balance_s: float


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A validated EvaluatePayment request: the core's part and what only Plaid reads."""

    attempt: PaymentAttempt
    account: PlaidAccount
    context: SignalContext


class Evaluator:
    """Evaluates one payment against Plaid and the configured policies."""

    def __init__(
        self,
        plaid: SignalSource,
        policies: Policies,
        budgets: Budgets,
        clock: Callable[[], datetime],
    ) -> None:
        self._plaid = plaid
        self._policies = policies
        self._budgets = budgets
        self._clock = clock

    async def evaluate(
        self, request: PaymentRequest, deadline: float | None
    ) -> Decision:
        """Decide `request`; `deadline` is absolute on time.monotonic(), None for none."""
        started = time.monotonic()
        deadline = min(
            deadline or float("inf"), started + self._budget_s(request.attempt)
        )
        if request.attempt.rail.is_ach:
            decision = await self._evaluate_ach(request, deadline)
        else:
            decision = await self._evaluate_balance(request, deadline)
        # Collect, decide, act: the decision is complete here; only timing is added.
        return decision.with_duration(int((time.monotonic() - started) * 1000))

    def _budget_s(self, attempt: PaymentAttempt) -> float:
        """Scores-only answers come in seconds; a live balance can take 30 s or more."""
        declared = self._policies.rulesets.get(attempt.ruleset_key or "")
        if attempt.rail.is_ach and declared is not None and not declared.balance_rule:
            return self._budgets.scores_s
        return self._budgets.live_balance_s

    async def _evaluate_ach(self, request: PaymentRequest, deadline: float) -> Decision:
        attempt = request.attempt
        answer, calls = await self._plaid.evaluate_signal(
            attempt, request.account, request.context, deadline
        )
        realtime = assess_signal(
            answer,
            attempt.ruleset_key,
            self._policies.rulesets,
            self._policies.realtime_window,
        )
        return Decision(
            attempt=attempt,
            verdict=decide_signal(answer, self._policies.score),
            balance=settle_as_of(answer.balance, realtime, answer.received_at),
            realtime=realtime,
            evaluated_at=answer.received_at,
            plaid_calls=calls,
            applied_ruleset=answer.ruleset,
            scores=answer.scores,
            plaid_warnings=answer.warnings,
        )

    async def _evaluate_balance(
        self, request: PaymentRequest, deadline: float
    ) -> Decision:
        attempt = request.attempt
        policy = self._policies.balance_for(attempt.rail)
        oldest = self._clock() - timedelta(seconds=policy.max_balance_age_s)
        answer, calls = await self._plaid.get_balance(request.account, oldest, deadline)
        realtime = assess_balance_endpoint(answer, self._policies.realtime_window)
        balance = settle_as_of(answer.balance, realtime, answer.received_at)
        verdict = decide_balance(
            attempt.amount, balance, policy, answer.received_at, too_old=answer.too_old
        )
        return Decision(
            attempt=attempt,
            verdict=verdict,
            balance=balance,
            realtime=realtime,
            evaluated_at=answer.received_at,
            plaid_calls=calls,
        )
