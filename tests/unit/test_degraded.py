"""Degraded mode: the core's rules, and the shell choosing between error and decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from service.app.decide import Budgets, Decider, PaymentRequest
from service.app.errors import FailureKind, PlaidFailure
from service.app.ports import PlaidAccount, SignalContext
from service.app.rate_budget import Budget, RateBudgetExhausted, Scope
from service.config.policies import PolicySections
from service.domain.degraded import (
    DegradedPolicy,
    DegradedRule,
    FailureClass,
    decide_degraded,
)
from service.domain.model import (
    SIGNAL_EVALUATE,
    Balance,
    BalanceAnswer,
    Basis,
    PaymentAttempt,
    PlaidCall,
    Rail,
    Result,
    Source,
)
from service.domain.money import Money
from service.domain.realtime import RulesetDeclaration, RulesetType
from service.domain.secret import Secret
from tests.clock import ManualClock
from tests.fakes import FakeSignalSource

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ANY_FAILURE = frozenset(FailureClass)
CAPPED = DegradedPolicy(
    rules=(
        DegradedRule(
            Result.ACCEPT,
            frozenset({FailureClass.TIMEOUT, FailureClass.PLAID_UNAVAILABLE}),
            min_amount=None,
            max_amount=Decimal("50.00"),
        ),
        DegradedRule(Result.REROUTE, ANY_FAILURE, Decimal("1000"), None),
        DegradedRule(Result.REVIEW, ANY_FAILURE, None, None),
    ),
    try_balance_endpoint=False,
)
FAIL_CLOSED = DegradedPolicy(rules=(), try_balance_endpoint=False)


def usd(cents: int) -> Money:
    return Money(cents, "USD")


class TestRules:
    @pytest.mark.parametrize(
        ("failure", "cents", "result"),
        [
            (FailureClass.TIMEOUT, 5000, Result.ACCEPT),
            (FailureClass.TIMEOUT, 5001, Result.REVIEW),
            (FailureClass.PLAID_UNAVAILABLE, 100, Result.ACCEPT),
            (FailureClass.RATE_LIMITED, 100, Result.REVIEW),
            (FailureClass.INSTITUTION_DOWN, 100_000, Result.REROUTE),
        ],
    )
    def test_the_first_rule_matching_the_failure_and_amount_decides(
        self, failure: FailureClass, cents: int, result: Result
    ) -> None:
        verdict = decide_degraded(failure, usd(cents), CAPPED)
        assert verdict is not None
        assert verdict.result is result
        assert verdict.source is Source.DEGRADED_POLICY
        assert verdict.reasons[0].code == "DEGRADED_RULE"
        assert failure.value in verdict.reasons[0].message

    def test_no_matching_rule_fails_closed(self) -> None:
        policy = DegradedPolicy(
            (
                DegradedRule(
                    Result.REVIEW, frozenset({FailureClass.TIMEOUT}), None, None
                ),
            ),
            try_balance_endpoint=False,
        )
        assert decide_degraded(FailureClass.RATE_LIMITED, usd(1), policy) is None

    def test_the_default_policy_fails_closed(self) -> None:
        default = PolicySections().policies().degraded_default
        assert default.fails_closed
        assert decide_degraded(FailureClass.TIMEOUT, usd(1), default) is None


def evaluator(
    fake: FakeSignalSource,
    degraded: DegradedPolicy,
    rulesets: Mapping[str, RulesetDeclaration] | None = None,
    clock: ManualClock | None = None,
) -> Decider:
    defaults = PolicySections().policies()
    policies = replace(
        defaults, rulesets=rulesets or {}, degraded_by_caller={"checkout": degraded}
    )
    return Decider(fake, policies, Budgets(10, 40, 5, 35), clock or ManualClock(NOW))


def request(
    rail: Rail = Rail.ACH_STANDARD, cents: int = 2500, ruleset_key: str | None = None
) -> PaymentRequest:
    return PaymentRequest(
        PaymentAttempt("tx-degraded", usd(cents), rail, ruleset_key=ruleset_key),
        PlaidAccount(Secret("access-x"), "acc"),
        SignalContext(),
    )


def failure(kind: FailureKind, code: str | None = None) -> PlaidFailure:
    call = PlaidCall("/signal/evaluate", "r-1", 500, code, 12, 1)
    return PlaidFailure(
        kind, "scripted", endpoint="/signal/evaluate", error_code=code, calls=(call,)
    )


class TestShell:
    async def test_a_caller_without_a_policy_gets_the_error(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append(failure(FailureKind.TIMEOUT))
        with pytest.raises(PlaidFailure):
            await evaluator(fake, CAPPED).evaluate(
                request(), None, caller="someone-else"
            )

    async def test_a_degraded_decision_says_so_and_keeps_the_failed_calls(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append(failure(FailureKind.UNAVAILABLE, "INTERNAL_SERVER_ERROR"))
        decision = await evaluator(fake, CAPPED).evaluate(request(), None, "checkout")
        assert decision.degraded
        assert decision.verdict.result is Result.ACCEPT
        assert decision.degraded_cause is not None
        assert decision.degraded_cause.failure_class == "PLAID_UNAVAILABLE"
        assert decision.degraded_cause.error_code == "INTERNAL_SERVER_ERROR"
        assert decision.realtime.basis is Basis.NO_PLAID_RESPONSE
        assert not decision.realtime.fetched
        assert [c.request_id for c in decision.plaid_calls] == ["r-1"]

    async def test_a_spent_rate_budget_is_degraded_as_plaids_own_limit(self) -> None:
        """Refused before Plaid saw the call: the caller's policy answers, as for a 429."""
        fake = FakeSignalSource()
        fake.signal.append(
            RateBudgetExhausted(SIGNAL_EVALUATE, Scope.CLIENT, Budget(20, 1.0), 0.4)
        )
        decision = await evaluator(fake, CAPPED).evaluate(request(), None, "checkout")
        assert decision.degraded
        assert decision.degraded_cause is not None
        assert decision.degraded_cause.failure_class == "RATE_LIMITED"
        assert decision.plaid_calls == ()  # Plaid was never called
        assert decision.realtime.basis is Basis.NO_PLAID_RESPONSE

    @pytest.mark.parametrize(
        "kind",
        [
            FailureKind.RELINK_REQUIRED,
            FailureKind.INVALID_ACCOUNT,
            FailureKind.CREDENTIALS_REJECTED,
            FailureKind.QUOTA_EXHAUSTED,
        ],
    )
    async def test_permanent_failures_are_never_degraded(
        self, kind: FailureKind
    ) -> None:
        fake = FakeSignalSource()
        fake.signal.append(failure(kind))
        with pytest.raises(PlaidFailure):
            await evaluator(fake, CAPPED).evaluate(request(), None, "checkout")

    async def test_ach_falls_back_to_the_balance_endpoint_when_allowed(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append(failure(FailureKind.TIMEOUT))
        balance = Balance(Decimal("100.00"), Decimal("100.00"), "USD")
        call = PlaidCall("/accounts/balance/get", "r-2", 200, None, 30)
        fake.balance.append((BalanceAnswer("r-2", balance, NOW, NOW), (call,)))
        policy = DegradedPolicy((), try_balance_endpoint=True)
        decision = await evaluator(fake, policy).evaluate(request(), None, "checkout")
        assert decision.degraded
        assert decision.verdict.source is Source.BALANCE_POLICY
        assert decision.verdict.result is Result.ACCEPT
        assert [r.code for r in decision.verdict.reasons] == [
            "DEGRADED_BALANCE_FALLBACK",
            "BALANCE_COVERS_AMOUNT",
        ]
        assert decision.realtime.basis is Basis.BALANCE_ENDPOINT
        assert [c.request_id for c in decision.plaid_calls] == ["r-1", "r-2"]

    async def test_a_failed_fallback_leaves_the_rules_to_decide(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append(failure(FailureKind.TIMEOUT))
        fake.balance.append(failure(FailureKind.UNAVAILABLE))
        policy = DegradedPolicy(CAPPED.rules, try_balance_endpoint=True)
        decision = await evaluator(fake, policy).evaluate(request(), None, "checkout")
        assert decision.verdict.result is Result.ACCEPT
        assert decision.verdict.source is Source.DEGRADED_POLICY
        assert len(decision.plaid_calls) == 2

    async def test_a_failed_fallback_without_rules_fails_closed(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append(failure(FailureKind.TIMEOUT))
        fake.balance.append(failure(FailureKind.UNAVAILABLE))
        policy = DegradedPolicy((), try_balance_endpoint=True)
        with pytest.raises(PlaidFailure) as caught:
            await evaluator(fake, policy).evaluate(request(), None, "checkout")
        assert caught.value.kind is FailureKind.TIMEOUT
        assert len(caught.value.calls) == 2


# Budgets(scores_s=10, live_balance_s=40, scores_attempt_s=5, live_balance_attempt_s=35)
SCORES_BUDGET = (10, 5)
LIVE_BALANCE_BUDGET = (40, 35)
REGISTRY = {
    "sts-scores": RulesetDeclaration(RulesetType.TRANSACTION_SCORES, None),
    "balance-only": RulesetDeclaration(RulesetType.BALANCE_ONLY, None),
    "legacy": RulesetDeclaration(None, balance_rule=False),
}


class TestBudgets:
    @pytest.mark.parametrize(
        ("rail", "ruleset_key", "registry", "expected"),
        [
            pytest.param(
                Rail.ACH_STANDARD,
                "sts-scores",
                REGISTRY,
                SCORES_BUDGET,
                id="ACH, a declared Transaction Scores ruleset: scores",
            ),
            pytest.param(
                Rail.ACH_SAME_DAY,
                None,
                {"default": RulesetDeclaration(RulesetType.TRANSACTION_SCORES, None)},
                SCORES_BUDGET,
                id="ACH, no key, `default` declared Transaction Scores: scores",
            ),
            pytest.param(
                Rail.ACH_STANDARD,
                "balance-only",
                REGISTRY,
                LIVE_BALANCE_BUDGET,
                id="ACH, a Balance-only ruleset: live balance",
            ),
            pytest.param(
                Rail.ACH_STANDARD,
                "not-declared",
                REGISTRY,
                LIVE_BALANCE_BUDGET,
                id="ACH, an undeclared ruleset: live balance",
            ),
            pytest.param(
                Rail.ACH_STANDARD,
                None,
                REGISTRY,
                LIVE_BALANCE_BUDGET,
                id="ACH, no key and no `default` declared: live balance",
            ),
            pytest.param(
                Rail.ACH_STANDARD,
                "legacy",
                REGISTRY,
                LIVE_BALANCE_BUDGET,
                id="ACH, declared without a type: live balance",
            ),
            pytest.param(
                Rail.RTP,
                "sts-scores",
                REGISTRY,
                LIVE_BALANCE_BUDGET,
                id="not ACH, whatever the ruleset: live balance",
            ),
        ],
    )
    async def test_only_a_transaction_scores_ruleset_on_ach_gets_the_short_budget(
        self,
        rail: Rail,
        ruleset_key: str | None,
        registry: Mapping[str, RulesetDeclaration],
        expected: tuple[float, float],
    ) -> None:
        fake = FakeSignalSource()
        fake.signal.append(failure(FailureKind.TIMEOUT))
        fake.balance.append(failure(FailureKind.TIMEOUT))
        clock = ManualClock(NOW)
        ev = evaluator(fake, FAIL_CLOSED, registry, clock)
        with pytest.raises(PlaidFailure):
            await ev.evaluate(request(rail, ruleset_key=ruleset_key), None)
        [budget] = fake.budgets
        total_s, attempt_s = expected
        assert budget.deadline == clock.monotonic() + total_s
        assert budget.attempt_timeout_s == attempt_s

    async def test_the_callers_deadline_wins_when_sooner(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append(failure(FailureKind.TIMEOUT))
        clock = ManualClock(NOW)
        deadline = clock.monotonic() + 1.5
        with pytest.raises(PlaidFailure):
            await evaluator(fake, FAIL_CLOSED, clock=clock).evaluate(
                request(), deadline
            )
        assert fake.budgets[0].deadline == deadline
