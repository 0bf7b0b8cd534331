"""Balance freshness on demand: the domain's rules and the use cases applying them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.app.decide import Budgets, Decider, PaymentRequest
from service.app.errors import FailureKind, PlaidFailure
from service.app.evaluate import EvaluatePayment, balance_fingerprint
from service.app.ports import PlaidAccount, SignalContext
from service.config.policies import PolicySections
from service.domain.degraded import DegradedPolicy, DegradedRule, FailureClass
from service.domain.freshness import (
    RecentBalance,
    fetched_balance_time,
    hold_unless_fetched,
    needs_live_balance,
    reuse_recent,
    severity,
    stricter,
)
from service.domain.model import (
    AppliedRuleset,
    Balance,
    BalanceAnswer,
    Basis,
    Decision,
    Freshness,
    Note,
    PaymentAttempt,
    PlaidCall,
    Rail,
    RealtimeReport,
    Result,
    Scores,
    SignalAnswer,
    Source,
    TimeSource,
    Verdict,
)
from service.domain.money import Money
from service.domain.realtime import RulesetDeclaration, RulesetType
from service.domain.secret import Secret
from tests.clock import ManualClock
from tests.fakes import FakeSignalSource, InMemoryDecisionStore

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KEY = b"test-key"
RULESETS = {
    "sts": RulesetDeclaration(RulesetType.TRANSACTION_SCORES, True),
    "balance-only": RulesetDeclaration(RulesetType.BALANCE_ONLY, None),
}
SIGNAL_CALL = PlaidCall("/signal/evaluate", "sig-1", 200, None, 5)
BALANCE_CALL = PlaidCall("/accounts/balance/get", "bal-1", 200, None, 7)

verdicts = st.builds(
    Verdict,
    st.sampled_from(Result),
    st.sampled_from(Source),
    st.lists(st.builds(Note, st.text(max_size=5), st.text(max_size=5)), max_size=3).map(
        tuple
    ),
)


class TestStricter:
    @given(verdicts, verdicts)
    def test_the_stricter_result_wins_and_every_reason_is_kept(
        self, a: Verdict, b: Verdict
    ) -> None:
        both = stricter(a, b)
        assert severity(both.result) == max(severity(a.result), severity(b.result))
        assert sorted(both.reasons, key=repr) == sorted(
            (*a.reasons, *b.reasons), key=repr
        )
        winner = a if severity(a.result) >= severity(b.result) else b
        assert both.source is winner.source
        assert both.reasons[: len(winner.reasons)] == winner.reasons

    @given(verdicts, verdicts)
    def test_the_order_changes_no_result(self, a: Verdict, b: Verdict) -> None:
        assert stricter(a, b).result is stricter(b, a).result

    def test_accept_review_reroute_in_that_order(self) -> None:
        assert severity(Result.ACCEPT) < severity(Result.REVIEW)
        assert severity(Result.REVIEW) < severity(Result.REROUTE)


def usd(cents: int) -> Money:
    return Money(cents, "USD")


def attempt(rail: Rail = Rail.ACH_STANDARD, key: str | None = "sts") -> PaymentAttempt:
    return PaymentAttempt("tx-1", usd(5000), rail, key if rail.is_ach else None)


class TestRules:
    @pytest.mark.parametrize(
        ("rail", "attempted", "required", "needed"),
        [
            (Rail.ACH_STANDARD, False, True, True),
            (Rail.ACH_SAME_DAY, False, True, True),
            (Rail.ACH_STANDARD, True, True, False),
            (Rail.ACH_STANDARD, False, False, False),
            (Rail.RTP, False, True, False),
        ],
    )
    def test_only_ach_requiring_live_without_an_extraction_needs_a_second_call(
        self, rail: Rail, attempted: bool, required: bool, needed: bool
    ) -> None:
        report = RealtimeReport(False, Basis.RULESET_TRANSACTION_SCORES, (), attempted)
        assert needs_live_balance(attempt(rail), report, required) is needed

    @given(verdicts)
    def test_without_a_fetch_nothing_passes_silently(self, verdict: Verdict) -> None:
        report = RealtimeReport(False, Basis.RULESET_BALANCE_ONLY, (), True)
        held = hold_unless_fetched(verdict, report)
        assert held.result is not Result.ACCEPT
        assert severity(held.result) >= severity(verdict.result)
        assert "LIVE_BALANCE_NOT_FETCHED" in [n.code for n in held.reasons]

    @given(verdicts)
    def test_a_fetch_changes_nothing(self, verdict: Verdict) -> None:
        report = RealtimeReport(True, Basis.BALANCE_ENDPOINT, (), True)
        assert hold_unless_fetched(verdict, report) == verdict


def balance_decision(fetched: bool, as_of: datetime | None = NOW) -> Decision:
    return Decision(
        attempt=attempt(Rail.RTP),
        verdict=Verdict(Result.ACCEPT, Source.BALANCE_POLICY, ()),
        balance=Balance(Decimal(100), None, "USD", as_of, TimeSource.RESPONSE_TIME),
        realtime=RealtimeReport(fetched, Basis.BALANCE_ENDPOINT, (), True),
        evaluated_at=NOW + timedelta(seconds=1),
    )


class TestReuse:
    def test_a_fetched_balance_is_lent_from_the_time_it_was_true(self) -> None:
        assert fetched_balance_time(balance_decision(True)) == NOW
        undated = balance_decision(True, as_of=None)
        assert fetched_balance_time(undated) == NOW + timedelta(seconds=1)

    def test_a_cached_or_reused_balance_is_never_lent(self) -> None:
        assert fetched_balance_time(balance_decision(False)) is None
        empty = replace(balance_decision(True), balance=Balance(None, None, None))
        assert fetched_balance_time(empty) is None

    def test_a_reused_balance_is_decided_by_the_balance_policy_and_reported(
        self,
    ) -> None:
        policy = PolicySections().policies().balance_default
        recent = RecentBalance("tx-0", Balance(Decimal(10), None, "USD", NOW), NOW)
        verdict, report = reuse_recent(
            attempt(Rail.RTP), recent, policy, NOW + timedelta(seconds=30)
        )
        assert verdict.result is Result.REROUTE  # 10 USD does not cover 50 USD
        assert verdict.source is Source.BALANCE_POLICY
        assert report.basis is Basis.REUSED_RECENT_FETCH
        assert (report.fetched, report.attempted) == (False, False)
        assert report.reused is not None
        assert report.reused.client_transaction_id == "tx-0"
        assert report.reused.age == timedelta(seconds=30)


# --- the use cases ----------------------------------------------------------------


def sts_answer(result: str = "ACCEPT") -> SignalAnswer:
    return SignalAnswer(
        request_id="sig-1",
        ruleset=AppliedRuleset("sts", result),
        scores=Scores(10, None, 20, None),
        core_attributes={"available_balance": 900.0, "balance_last_updated": None},
        balance=Balance(Decimal(900), None, "USD"),
        warnings=(),
        sent_at=NOW,
        received_at=NOW,
    )


def balance_only_answer(available: Decimal | None) -> SignalAnswer:
    return SignalAnswer(
        request_id="sig-1",
        ruleset=AppliedRuleset("balance-only", "ACCEPT"),
        scores=None,
        core_attributes={"available_balance": None, "current_balance": None},
        balance=Balance(available, None, "USD"),
        warnings=(),
        sent_at=NOW,
        received_at=NOW,
    )


def balance_answer(available: int) -> BalanceAnswer:
    return BalanceAnswer("bal-1", Balance(Decimal(available), None, "USD"), NOW, NOW)


def decider(
    fake: FakeSignalSource,
    clock: ManualClock | None = None,
    degraded: DegradedPolicy | None = None,
) -> Decider:
    defaults = PolicySections().policies()
    policies = replace(
        defaults,
        rulesets=RULESETS,
        degraded_by_caller={"checkout": degraded} if degraded else {},
    )
    return Decider(fake, policies, Budgets(10, 40, 5, 35), clock or ManualClock(NOW))


def request(
    rail: Rail = Rail.ACH_STANDARD,
    key: str | None = "sts",
    freshness: Freshness = Freshness.REQUIRE_LIVE,
    max_age: timedelta | None = None,
    txid: str = "tx-1",
    account: str = "acc-1",
) -> PaymentRequest:
    return PaymentRequest(
        PaymentAttempt(txid, usd(5000), rail, key if rail.is_ach else None),
        PlaidAccount(Secret("access-a"), account),
        SignalContext(),
        freshness,
        max_age,
    )


class TestRequireLive:
    async def test_a_transaction_scores_ruleset_gets_a_live_balance_too(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append((sts_answer("ACCEPT"), (SIGNAL_CALL,)))
        fake.balance.append((balance_answer(10), (BALANCE_CALL,)))

        decision = await decider(fake).evaluate(request(), None)

        assert decision.plaid_calls == (SIGNAL_CALL, BALANCE_CALL)
        assert decision.verdict.result is Result.REROUTE  # the balance policy's
        codes = [n.code for n in decision.verdict.reasons]
        assert codes[0] == "BALANCE_BELOW_REQUIRED"
        assert "RULESET_RESULT" in codes
        assert decision.realtime.basis is Basis.BALANCE_ENDPOINT
        assert decision.realtime.fetched
        assert decision.realtime.attempted
        assert decision.balance.available == Decimal(10)
        assert decision.scores is not None  # Signal's evidence stays
        # Signal's cached-balance warning is kept beside the endpoint's report.
        assert "BALANCE_RULES_RAN_ON_CACHED_BALANCE" in [
            w.code for w in decision.realtime.warnings
        ]

    async def test_signal_wins_when_it_is_stricter(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append((sts_answer("REVIEW"), (SIGNAL_CALL,)))
        fake.balance.append((balance_answer(1000), (BALANCE_CALL,)))
        decision = await decider(fake).evaluate(request(), None)
        assert decision.verdict.result is Result.REVIEW
        assert decision.verdict.source is Source.SIGNAL_RULESET
        assert "BALANCE_COVERS_AMOUNT" in [n.code for n in decision.verdict.reasons]

    async def test_it_gets_the_long_budget_for_the_live_balance(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append((sts_answer(), (SIGNAL_CALL,)))
        fake.balance.append((balance_answer(1000), (BALANCE_CALL,)))
        await decider(fake).evaluate(request(), None)
        assert fake.budgets[0].attempt_timeout_s == 35

    async def test_the_default_asks_signal_only(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append((sts_answer("ACCEPT"), (SIGNAL_CALL,)))
        decision = await decider(fake).evaluate(
            request(freshness=Freshness.DEFAULT), None
        )
        assert decision.plaid_calls == (SIGNAL_CALL,)
        assert decision.verdict.result is Result.ACCEPT
        assert decision.realtime.basis is Basis.RULESET_TRANSACTION_SCORES

    async def test_a_balance_only_extraction_is_enough(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append((balance_only_answer(Decimal(900)), (SIGNAL_CALL,)))
        decision = await decider(fake).evaluate(request(key="balance-only"), None)
        assert decision.plaid_calls == (SIGNAL_CALL,)
        assert decision.verdict.result is Result.ACCEPT
        assert decision.realtime.fetched

    async def test_a_failed_balance_only_extraction_does_not_pass(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append((balance_only_answer(None), (SIGNAL_CALL,)))
        decision = await decider(fake).evaluate(request(key="balance-only"), None)
        assert decision.plaid_calls == (SIGNAL_CALL,)  # no second bill
        assert decision.verdict.result is Result.REVIEW
        assert "LIVE_BALANCE_NOT_FETCHED" in [n.code for n in decision.verdict.reasons]

    async def test_a_stale_balance_endpoint_answer_does_not_pass_on_other_rails(
        self,
    ) -> None:
        fake = FakeSignalSource()
        stale = BalanceAnswer(
            "bal-1",
            Balance(Decimal(1000), None, "USD", NOW - timedelta(seconds=200)),
            NOW,
            NOW,
        )
        fake.balance.append((stale, (BALANCE_CALL,)))
        decision = await decider(fake).evaluate(request(rail=Rail.RTP), None)
        assert not decision.realtime.fetched
        assert decision.verdict.result is Result.REVIEW

    async def test_no_live_balance_follows_the_degraded_policy(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append((sts_answer("ACCEPT"), (SIGNAL_CALL,)))
        failed_call = PlaidCall("/accounts/balance/get", None, 0, None, 35000)
        fake.balance.append(
            PlaidFailure(
                FailureKind.TIMEOUT,
                "timed out",
                endpoint="/accounts/balance/get",
                calls=(failed_call,),
            )
        )
        review = DegradedPolicy(
            (DegradedRule(Result.REVIEW, frozenset(FailureClass), None, None),),
            try_balance_endpoint=False,
        )
        decision = await decider(fake, degraded=review).evaluate(
            request(), None, caller="checkout"
        )
        assert decision.degraded
        assert decision.verdict.result is Result.REVIEW
        assert decision.plaid_calls == (SIGNAL_CALL, failed_call)
        assert decision.degraded_cause is not None
        assert decision.degraded_cause.failure_class == "TIMEOUT"
        assert "LIVE_BALANCE_UNAVAILABLE" in [
            w.code for w in decision.realtime.warnings
        ]

    async def test_no_live_balance_and_no_degraded_rule_is_an_error(self) -> None:
        fake = FakeSignalSource()
        fake.signal.append((sts_answer("ACCEPT"), (SIGNAL_CALL,)))
        fake.balance.append(
            PlaidFailure(
                FailureKind.UNAVAILABLE, "down", endpoint="/accounts/balance/get"
            )
        )
        with pytest.raises(PlaidFailure) as raised:
            await decider(fake).evaluate(request(), None)
        assert raised.value.calls == (SIGNAL_CALL,)  # Signal's id went out


def evaluate_payment(
    fake: FakeSignalSource, store: InMemoryDecisionStore, clock: ManualClock
) -> EvaluatePayment:
    return EvaluatePayment(decider(fake, clock), store, KEY, "me", 40, clock)


def recent(txid: str, age_s: float = 60, **kw: object) -> PaymentRequest:
    return request(
        rail=Rail.RTP,
        freshness=Freshness.ACCEPT_RECENT,
        max_age=timedelta(seconds=age_s),
        txid=txid,
        **kw,  # type: ignore[arg-type]
    )


class LiveFetched(NamedTuple):
    """One acme evaluation of "tx-a" that fetched a live balance, and what made it."""

    fake: FakeSignalSource
    store: InMemoryDecisionStore
    clock: ManualClock
    use_case: EvaluatePayment
    first: Decision


async def after_one_live_fetch() -> LiveFetched:
    fake, store, clock = FakeSignalSource(), InMemoryDecisionStore(), ManualClock(NOW)
    fake.balance.append((balance_answer(1000), (BALANCE_CALL,)))
    use_case = evaluate_payment(fake, store, clock)
    first = await use_case.evaluate(recent("tx-a"), None, "acme")
    return LiveFetched(fake, store, clock, use_case, first)


class TestAcceptRecent:
    async def test_a_recent_live_balance_is_reused_without_plaid(self) -> None:
        _, store, clock, use_case, first = await after_one_live_fetch()
        clock.advance(30)
        second = await use_case.evaluate(recent("tx-b"), None, "acme")

        assert first.plaid_calls == (BALANCE_CALL,)
        assert second.plaid_calls == ()
        assert second.realtime.basis is Basis.REUSED_RECENT_FETCH
        assert not second.realtime.fetched
        assert not second.realtime.attempted
        assert second.realtime.reused is not None
        assert second.realtime.reused.client_transaction_id == "tx-a"
        assert second.realtime.reused.age == timedelta(seconds=30)
        assert second.verdict.result is Result.ACCEPT
        assert second.balance.available == Decimal(1000)
        # The reused decision lends nothing itself: only live fetches are keyed.
        assert store.rows[("acme", "tx-b")].fetch is None
        fetch = store.rows[("acme", "tx-a")].fetch
        assert fetch is not None
        assert fetch.key == balance_fingerprint(recent("x").account, KEY)
        assert "access-a" not in fetch.key

    async def test_past_the_age_plaid_is_called_again(self) -> None:
        fake, _, clock, use_case, _ = await after_one_live_fetch()

        clock.advance(61)
        fake.balance.append((balance_answer(1000), (BALANCE_CALL,)))
        again = await use_case.evaluate(recent("tx-b"), None, "acme")

        assert again.plaid_calls == (BALANCE_CALL,)
        assert again.realtime.basis is Basis.BALANCE_ENDPOINT

    async def test_another_caller_or_account_never_gets_it(self) -> None:
        fake, _, _, use_case, _ = await after_one_live_fetch()

        fake.balance.extend([(balance_answer(1000), (BALANCE_CALL,))] * 2)
        other_caller = await use_case.evaluate(recent("tx-b"), None, "globex")
        other_account = await use_case.evaluate(
            recent("tx-c", account="acc-2"), None, "acme"
        )
        assert other_caller.realtime.basis is Basis.BALANCE_ENDPOINT
        assert other_account.realtime.basis is Basis.BALANCE_ENDPOINT

    async def test_a_default_request_never_reuses(self) -> None:
        fake, _, _, use_case, _ = await after_one_live_fetch()
        fake.balance.append((balance_answer(1000), (BALANCE_CALL,)))
        plain = request(rail=Rail.RTP, freshness=Freshness.DEFAULT, txid="tx-b")
        decision = await use_case.evaluate(plain, None, "acme")
        assert decision.plaid_calls == (BALANCE_CALL,)

    async def test_ach_calls_signal_anyway(self) -> None:
        fake, _, _, use_case, _ = await after_one_live_fetch()
        fake.signal.append((sts_answer(), (SIGNAL_CALL,)))
        ach = request(
            freshness=Freshness.ACCEPT_RECENT, max_age=timedelta(60), txid="tx-b"
        )
        decision = await use_case.evaluate(ach, None, "acme")
        assert decision.plaid_calls == (SIGNAL_CALL,)
        assert decision.realtime.basis is Basis.RULESET_TRANSACTION_SCORES
