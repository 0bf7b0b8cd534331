"""The imperative shell of EvaluatePayment: gather evidence, let the core decide, return."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from service.app.clock import Clock
from service.app.errors import DeadlineTooShort, FailureKind, PlaidFailure
from service.app.ports import (
    CallBudget,
    CredentialsListener,
    PlaidAccount,
    SignalContext,
    SignalSource,
)
from service.domain.degraded import DegradedPolicy, FailureClass, decide_degraded
from service.domain.freshness import (
    RecentBalance,
    hold_unless_fetched,
    needs_live_balance,
    reuse_recent,
    stricter,
)
from service.domain.model import (
    BALANCE_GET,
    SIGNAL_EVALUATE,
    Balance,
    Basis,
    Decision,
    DegradedCause,
    Freshness,
    Note,
    PaymentAttempt,
    PlaidCall,
    RealtimeReport,
)
from service.domain.policies import Policies
from service.domain.policy import decide_balance, decide_signal
from service.domain.realtime import (
    RulesetType,
    assess_balance_endpoint,
    assess_signal,
    settle_as_of,
)

# Failures a degraded-mode policy may answer; any other failure is the caller's to see.
DEGRADABLE = {
    FailureKind.TIMEOUT: FailureClass.TIMEOUT,
    # A timeout's aftermath: Plaid refused our retry, the first attempt's fate unknown.
    FailureKind.OUTCOME_UNKNOWN: FailureClass.TIMEOUT,
    FailureKind.RATE_LIMITED: FailureClass.RATE_LIMITED,
    FailureKind.UNAVAILABLE: FailureClass.PLAID_UNAVAILABLE,
    FailureKind.CONNECTION_FAILED: FailureClass.PLAID_UNAVAILABLE,
    FailureKind.MALFORMED_RESPONSE: FailureClass.PLAID_UNAVAILABLE,
    FailureKind.INSTITUTION_DOWN: FailureClass.INSTITUTION_DOWN,
}
ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Budgets:
    """Time budgets: whole calls (the default when the caller sets no deadline, and a
    cap when it does) and single attempts (so a retry can still fit)."""

    scores_s: float
    live_balance_s: float
    scores_attempt_s: float
    live_balance_attempt_s: float


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A validated EvaluatePayment request: the core's part and what only Plaid reads."""

    attempt: PaymentAttempt
    account: PlaidAccount
    context: SignalContext
    # How fresh the balance must be; max_balance_age only with ACCEPT_RECENT.
    freshness: Freshness = Freshness.DEFAULT
    max_balance_age: timedelta | None = None

    @property
    def reuses_recent(self) -> bool:
        """A reused balance may decide: ACCEPT_RECENT on a non-ACH rail (ACH rails
        call Signal anyway, so there it changes nothing)."""
        return (
            self.freshness is Freshness.ACCEPT_RECENT
            and self.max_balance_age is not None
            and not self.attempt.rail.is_ach
        )


class Decider:
    """Decides one payment: asks Plaid, lets the domain decide, or degrades when
    Plaid fails. Stores nothing (EvaluatePayment in app/evaluate.py does)."""

    def __init__(
        self,
        plaid: SignalSource,
        policies: Policies,
        budgets: Budgets,
        clock: Clock,
        credentials: CredentialsListener | None = None,
    ) -> None:
        self._plaid = plaid
        self._policies = policies
        self._budgets = budgets
        self._clock = clock
        self._credentials = credentials

    async def evaluate(
        self,
        request: PaymentRequest,
        deadline: float | None,
        caller: str = ANONYMOUS,
        recent: RecentBalance | None = None,
    ) -> Decision:
        """Decide `request`; `deadline` is absolute on the clock's monotonic(), None for
        none. `recent`: a live balance fetched earlier that the request lets us reuse."""
        started = self._clock.monotonic()
        if recent is not None and request.reuses_recent:
            return self._reuse(request, recent)
        budget = self._budget(request, deadline)
        try:
            if request.attempt.rail.is_ach:
                decision = await self._evaluate_ach(request, budget)
            else:
                decision = await self._evaluate_balance(request, budget)
        except PlaidFailure as failure:
            await self._heard_failure(failure)
            policy = self._policies.degraded_for(caller)
            decision = await self._degrade(request, budget, failure, policy)
        else:
            if self._credentials:
                await self._credentials.plaid_answered()
            if request.freshness is Freshness.REQUIRE_LIVE:
                decision = await self._require_live(request, budget, decision, caller)
        return replace(
            decision, duration_ms=int((self._clock.monotonic() - started) * 1000)
        )

    async def _heard_failure(self, failure: PlaidFailure) -> None:
        """Rejected credentials make the service unready (ops/readiness.py)."""
        if failure.kind is FailureKind.CREDENTIALS_REJECTED and self._credentials:
            await self._credentials.credentials_rejected()

    def _budget(self, request: PaymentRequest, deadline: float | None) -> CallBudget:
        """Transaction Scores answers come in seconds; a live balance can take 30 s or
        more, so anything not declared Transaction Scores gets the long budget, and so
        does a request that requires a live balance (a second call may follow)."""
        b, attempt = self._budgets, request.attempt
        declared = self._policies.requested_type(attempt.ruleset_key)
        if (
            attempt.rail.is_ach
            and declared is RulesetType.TRANSACTION_SCORES
            and request.freshness is not Freshness.REQUIRE_LIVE
        ):
            total_s, attempt_s = b.scores_s, b.scores_attempt_s
        else:
            total_s, attempt_s = b.live_balance_s, b.live_balance_attempt_s
        return CallBudget.from_now(self._clock, total_s, attempt_s, deadline)

    async def _evaluate_ach(
        self, request: PaymentRequest, budget: CallBudget
    ) -> Decision:
        attempt = request.attempt
        context = request.context
        declared = self._policies.requested_type(attempt.ruleset_key)
        if declared is RulesetType.BALANCE_ONLY:
            context = context.for_balance_only()
        try:
            answer, calls = await self._plaid.evaluate_signal(
                attempt, request.account, context, budget
            )
        except PlaidFailure as failure:
            # No answer says what Plaid ran: the declared type tells what it bills.
            live = None if declared is None else declared is RulesetType.BALANCE_ONLY
            tagged = tuple(replace(c, live_extraction=live) for c in failure.calls)
            raise failure.with_calls(tagged) from failure
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
            core_attributes=answer.core_attributes,
        )

    async def _evaluate_balance(
        self, request: PaymentRequest, budget: CallBudget
    ) -> Decision:
        attempt = request.attempt
        policy = self._policies.balance_for(attempt.rail)
        oldest = self._clock.now() - timedelta(seconds=policy.max_balance_age_s)
        answer, calls = await self._plaid.get_balance(request.account, oldest, budget)
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

    def _reuse(self, request: PaymentRequest, recent: RecentBalance) -> Decision:
        """Decide on a live balance fetched earlier: no Plaid call, no fee."""
        attempt, now = request.attempt, self._clock.now()
        policy = self._policies.balance_for(attempt.rail)
        verdict, realtime = reuse_recent(attempt, recent, policy, now)
        return Decision(
            attempt=attempt,
            verdict=verdict,
            balance=recent.balance,
            realtime=realtime,
            evaluated_at=now,
        )

    async def _require_live(
        self,
        request: PaymentRequest,
        budget: CallBudget,
        decision: Decision,
        caller: str,
    ) -> Decision:
        """REQUIRE_LIVE: a Signal ruleset that asked the bank for nothing gets a live
        balance from /accounts/balance/get and the stricter verdict wins; a decision
        with no fresh balance from this call is held (docs/realtime-balance.md)."""
        if decision.degraded:
            return decision  # the caller's degraded policy decided, explicitly
        if needs_live_balance(decision.attempt, decision.realtime, live_required=True):
            try:
                live = await self._evaluate_balance(request, budget)
            except DeadlineTooShort as short:
                # Signal's id went out already: a timeout, not a call never made.
                timeout = PlaidFailure(
                    FailureKind.TIMEOUT, str(short), endpoint=BALANCE_GET
                )
                return self._live_unavailable(request, decision, timeout, caller)
            except PlaidFailure as failure:
                await self._heard_failure(failure)
                return self._live_unavailable(request, decision, failure, caller)
            decision = _with_live_balance(decision, live)
        return replace(
            decision, verdict=hold_unless_fetched(decision.verdict, decision.realtime)
        )

    def _live_unavailable(
        self,
        request: PaymentRequest,
        signal: Decision,
        failure: PlaidFailure,
        caller: str,
    ) -> Decision:
        """Signal answered, the live balance did not: the caller's degraded rules
        answer (never more lenient than Signal), or the error stands."""
        calls = (*signal.plaid_calls, *failure.calls)
        failure = failure.with_calls(calls)
        failure_class = DEGRADABLE.get(failure.kind)
        policy = self._policies.degraded_for(caller)
        if failure_class is None:
            raise failure
        degraded = decide_degraded(failure_class, request.attempt.amount, policy)
        if degraded is None:
            raise failure
        note = Note(
            "LIVE_BALANCE_UNAVAILABLE",
            "the request requires a live balance and /accounts/balance/get did not "
            f"answer ({failure_class.value}); the degraded policy decided",
        )
        realtime = replace(signal.realtime, warnings=(*signal.realtime.warnings, note))
        return replace(
            signal,
            verdict=stricter(degraded, signal.verdict),
            realtime=realtime,
            plaid_calls=calls,
            degraded=True,
            degraded_cause=DegradedCause(
                failure_class.value, failure.error_code, str(failure)
            ),
        )

    def _unanswered(
        self, request: PaymentRequest, failure: PlaidFailure
    ) -> RealtimeReport:
        """No answer to decide on; a Balance-only extraction may still have run."""
        balance_only = (
            self._policies.requested_type(request.attempt.ruleset_key)
            is RulesetType.BALANCE_ONLY
        )
        if not (balance_only and _maybe_extracted(failure)):
            return RealtimeReport(False, Basis.NO_PLAID_RESPONSE)
        note = Note(
            "LIVE_EXTRACTION_OUTCOME_UNKNOWN",
            "a Balance-only evaluation went to Plaid and no usable answer came back: "
            "the live extraction may have run (and been billed); no balance was used",
        )
        return RealtimeReport(False, Basis.NO_PLAID_RESPONSE, (note,), attempted=True)

    async def _degrade(
        self,
        request: PaymentRequest,
        budget: CallBudget,
        failure: PlaidFailure,
        policy: DegradedPolicy,
    ) -> Decision:
        """Plaid failed after retries: the caller's policy decides, or the error stands."""
        failure_class = DEGRADABLE.get(failure.kind)
        if failure_class is None or policy.fails_closed:
            raise failure
        cause = DegradedCause(failure_class.value, failure.error_code, str(failure))
        if policy.try_balance_endpoint and request.attempt.rail.is_ach:
            try:
                fallback = await self._evaluate_balance(request, budget)
            except (PlaidFailure, DeadlineTooShort) as second:
                extra = second.calls if isinstance(second, PlaidFailure) else ()
                failure = failure.with_calls((*failure.calls, *extra))
            else:
                return _degraded_fallback(fallback, failure.calls, cause)
        verdict = decide_degraded(failure_class, request.attempt.amount, policy)
        if verdict is None:
            raise failure
        return Decision(
            attempt=request.attempt,
            verdict=verdict,
            balance=Balance(None, None, None),
            realtime=self._unanswered(request, failure),
            evaluated_at=self._clock.now(),
            plaid_calls=failure.calls,
            degraded=True,
            degraded_cause=cause,
        )


def _maybe_extracted(failure: PlaidFailure) -> bool:
    """A Signal call went out and its outcome is unknown (timed out, or our retry was
    refused as a repeat): Plaid may have run, and billed, the extraction."""
    unknown = failure.kind in (FailureKind.TIMEOUT, FailureKind.OUTCOME_UNKNOWN)
    return unknown and failure.reached(SIGNAL_EVALUATE)


def _with_live_balance(signal: Decision, live: Decision) -> Decision:
    """Signal's evidence and the live balance's, the stricter verdict deciding; the
    real-time report is the balance endpoint's (Signal's warnings kept)."""
    realtime = replace(
        live.realtime, warnings=(*signal.realtime.warnings, *live.realtime.warnings)
    )
    return replace(
        signal,
        verdict=stricter(signal.verdict, live.verdict),
        balance=live.balance,
        realtime=realtime,
        evaluated_at=live.evaluated_at,
        plaid_calls=(*signal.plaid_calls, *live.plaid_calls),
    )


def _degraded_fallback(
    fallback: Decision, failed_calls: tuple[PlaidCall, ...], cause: DegradedCause
) -> Decision:
    """Signal failed; /accounts/balance/get answered and the balance policy decided."""
    note = Note(
        "DEGRADED_BALANCE_FALLBACK",
        f"Plaid Signal could not answer ({cause.failure_class}); decided by the balance "
        "policy on /accounts/balance/get instead",
    )
    verdict = replace(fallback.verdict, reasons=(note, *fallback.verdict.reasons))
    return replace(
        fallback,
        verdict=verdict,
        plaid_calls=(*failed_calls, *fallback.plaid_calls),
        degraded=True,
        degraded_cause=cause,
    )
