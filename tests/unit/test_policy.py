"""The decision policies: Signal's ruleset result, the score policy, the balance policy."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.model import (
    AppliedRuleset,
    Balance,
    PlaidWarning,
    Result,
    Scores,
    SignalAnswer,
    Source,
    Verdict,
)
from service.domain.money import Money
from service.domain.policy import (
    BalancePolicy,
    ScorePolicy,
    decide_balance,
    decide_scores,
    decide_signal,
)
from tests.strategies import (
    CALL_TIMES,
    balance_policies,
    balances,
    margins,
    payment_amounts,
    score_policies,
    scores,
    signal_answers,
)

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
# The tests below are written against these thresholds and balance rules.
SCORES = ScorePolicy(
    review_customer_initiated=70,
    reroute_customer_initiated=90,
    review_bank_initiated=60,
    reroute_bank_initiated=80,
)
BALANCE = BalancePolicy(
    margin=Decimal(0), allow_current_fallback=False, max_balance_age_s=3600
)
USD_100 = Money(10000, "USD")
LOW_SCORES = Scores(
    customer_initiated=10, customer_tier=1, bank_initiated=10, bank_tier=1
)


def answer(
    ruleset: AppliedRuleset | None = None,
    answer_scores: Scores | None = LOW_SCORES,
    warnings: tuple[PlaidWarning, ...] = (),
) -> SignalAnswer:
    return SignalAnswer(
        request_id="req-1",
        ruleset=ruleset,
        scores=answer_scores,
        core_attributes={},
        balance=Balance(None, None, "USD"),
        warnings=warnings,
        sent_at=NOW,
        received_at=NOW,
    )


def score(customer: int, bank: int) -> Scores:
    return Scores(
        customer_initiated=customer, customer_tier=1, bank_initiated=bank, bank_tier=1
    )


def codes(verdict: Verdict) -> list[str]:
    return [note.code for note in verdict.reasons]


def balance(
    available: str | None = "100.00",
    current: str | None = None,
    currency: str | None = "USD",
    age_s: int | None = 0,
) -> Balance:
    return Balance(
        available=None if available is None else Decimal(available),
        current=None if current is None else Decimal(current),
        currency=currency,
        as_of=None if age_s is None else NOW - timedelta(seconds=age_s),
    )


class TestDecideSignal:
    @pytest.mark.parametrize("result", list(Result))
    def test_a_ruleset_result_is_the_decision(self, result):
        verdict = decide_signal(
            answer(AppliedRuleset("sts", result.value, "nsf-hold")), SCORES
        )
        assert verdict.result is result
        assert verdict.source is Source.SIGNAL_RULESET
        assert codes(verdict) == ["RULESET_RESULT"]

    def test_the_reason_names_the_ruleset_and_the_custom_action_key(self):
        verdict = decide_signal(
            answer(AppliedRuleset("sts", "REVIEW", "3-day-hold", "note")), SCORES
        )
        message = verdict.reasons[0].message
        assert "sts" in message
        assert "REVIEW" in message
        assert "'3-day-hold'" in message

    def test_the_internal_note_names_the_rule_when_there_is_no_custom_action_key(self):
        verdict = decide_signal(
            answer(AppliedRuleset("sts", "ACCEPT", None, "good customer")),
            SCORES,
        )
        assert "(rule 'good customer')" in verdict.reasons[0].message

    def test_a_result_without_rule_details_came_from_the_fallback_rule(self):
        verdict = decide_signal(answer(AppliedRuleset("sts", "ACCEPT")), SCORES)
        assert "(fallback rule)" in verdict.reasons[0].message

    def test_a_ruleset_with_no_key_is_called_unnamed(self):
        verdict = decide_signal(answer(AppliedRuleset(None, "ACCEPT")), SCORES)
        assert "<unnamed>" in verdict.reasons[0].message

    @pytest.mark.parametrize("result", ["BLOCK", "accept", ""])
    def test_an_unknown_ruleset_result_is_held_for_review(self, result):
        verdict = decide_signal(answer(AppliedRuleset("sts", result)), SCORES)
        assert verdict.result is Result.REVIEW
        assert verdict.source is Source.SIGNAL_RULESET
        assert codes(verdict) == ["UNKNOWN_RULESET_RESULT"]
        assert repr(result) in verdict.reasons[0].message

    def test_without_a_ruleset_the_score_policy_decides(self):
        verdict = decide_signal(answer(None, score(95, 10)), SCORES)
        assert verdict.result is Result.REROUTE
        assert verdict.source is Source.SIGNAL_NO_RULESET

    def test_without_a_ruleset_or_scores_the_plaid_warnings_are_the_reason(self):
        warning = PlaidWarning("BANK_ERROR", "ITEM_LOGIN_REQUIRED", "relink")
        verdict = decide_signal(answer(None, None, (warning,)), SCORES)
        assert verdict.result is Result.REVIEW
        assert codes(verdict) == ["NO_SCORES"]
        assert "ITEM_LOGIN_REQUIRED" in verdict.reasons[0].message

    def test_an_accept_with_neither_scores_nor_balance_is_held_for_review(self):
        warning = PlaidWarning("BANK_ERROR", "ITEM_LOGIN_REQUIRED", "relink")
        verdict = decide_signal(
            answer(AppliedRuleset("sts", "ACCEPT"), None, (warning,)), SCORES
        )
        assert verdict.result is Result.REVIEW
        assert verdict.source is Source.SIGNAL_RULESET
        assert codes(verdict) == ["RULESET_RESULT", "ACCEPT_WITHOUT_EVIDENCE"]
        assert "ITEM_LOGIN_REQUIRED" in verdict.reasons[1].message

    def test_an_accept_without_evidence_says_plaid_gave_no_warnings(self):
        verdict = decide_signal(answer(AppliedRuleset("sts", "ACCEPT"), None), SCORES)
        assert "(warnings: none)" in verdict.reasons[1].message

    @pytest.mark.parametrize("result", [Result.REVIEW, Result.REROUTE])
    def test_a_non_accept_without_evidence_stands(self, result):
        verdict = decide_signal(
            answer(AppliedRuleset("sts", result.value), None), SCORES
        )
        assert verdict.result is result
        assert codes(verdict) == ["RULESET_RESULT"]

    @pytest.mark.parametrize(
        "evidence",
        [
            Balance(Decimal("10.00"), None, "USD"),
            Balance(None, Decimal("10.00"), "USD"),
        ],
    )
    def test_a_balance_alone_is_evidence_for_an_accept(self, evidence):
        signal_answer = replace(
            answer(AppliedRuleset("balance-only", "ACCEPT"), None), balance=evidence
        )
        verdict = decide_signal(signal_answer, SCORES)
        assert verdict.result is Result.ACCEPT

    @given(signal_answers(evidence=False), score_policies)
    def test_never_accepts_an_answer_without_scores_or_balance(
        self, signal_answer, policy
    ):
        assert decide_signal(signal_answer, policy).result is not Result.ACCEPT

    @given(signal_answers(), score_policies)
    def test_is_deterministic(self, signal_answer, policy):
        assert decide_signal(signal_answer, policy) == decide_signal(
            signal_answer, policy
        )


class TestDecideScores:
    """Defaults: review at 70 (customer) / 60 (bank), reroute at 90 / 80."""

    @pytest.mark.parametrize(
        ("customer", "bank", "result", "reason_codes"),
        [
            (1, 1, Result.ACCEPT, ["SCORES_BELOW_THRESHOLDS"]),
            (69, 59, Result.ACCEPT, ["SCORES_BELOW_THRESHOLDS"]),
            (70, 1, Result.REVIEW, ["SCORE_AT_REVIEW_THRESHOLD"]),
            (1, 60, Result.REVIEW, ["SCORE_AT_REVIEW_THRESHOLD"]),
            (70, 60, Result.REVIEW, ["SCORE_AT_REVIEW_THRESHOLD"] * 2),
            (89, 79, Result.REVIEW, ["SCORE_AT_REVIEW_THRESHOLD"] * 2),
            (90, 1, Result.REROUTE, ["SCORE_AT_REROUTE_THRESHOLD"]),
            (1, 80, Result.REROUTE, ["SCORE_AT_REROUTE_THRESHOLD"]),
            (99, 99, Result.REROUTE, ["SCORE_AT_REROUTE_THRESHOLD"] * 2),
            (90, 60, Result.REROUTE, ["SCORE_AT_REROUTE_THRESHOLD"]),
        ],
    )
    def test_thresholds_are_inclusive(self, customer, bank, result, reason_codes):
        verdict = decide_scores(score(customer, bank), (), SCORES)
        assert verdict.result is result
        assert verdict.source is Source.SIGNAL_NO_RULESET
        assert codes(verdict) == reason_codes

    def test_each_reason_names_the_score_and_its_threshold(self):
        verdict = decide_scores(score(75, 85), (), SCORES)
        assert [n.message for n in verdict.reasons] == [
            "bank-initiated return-risk score 85 is at or above 80"
        ]
        verdict = decide_scores(score(75, 1), (), SCORES)
        assert verdict.reasons[0].message == (
            "customer-initiated return-risk score 75 is at or above 70"
        )

    def test_an_accept_states_both_scores_against_their_thresholds(self):
        verdict = decide_scores(score(12, 34), (), SCORES)
        assert verdict.reasons[0].message == (
            "scores below review thresholds: customer-initiated 12 < 70, "
            "bank-initiated 34 < 60"
        )

    def test_missing_scores_are_held_for_review(self):
        verdict = decide_scores(None, (), SCORES)
        assert verdict.result is Result.REVIEW
        assert verdict.reasons[0].message == (
            "Plaid applied no ruleset and returned no scores"
        )

    def test_missing_scores_name_every_plaid_warning(self):
        verdict = decide_scores(None, ("A", "B"), SCORES)
        assert verdict.reasons[0].message.endswith("; Plaid warned A, B")

    @given(scores, score_policies)
    def test_never_accepts_a_score_at_or_above_its_review_threshold(
        self, signal_scores, policy
    ):
        at_review = (
            signal_scores.customer_initiated >= policy.review_customer_initiated
            or signal_scores.bank_initiated >= policy.review_bank_initiated
        )
        verdict = decide_scores(signal_scores, (), policy)
        if at_review:
            assert verdict.result is not Result.ACCEPT

    @given(scores, score_policies)
    def test_accepts_when_every_score_is_below_every_threshold(
        self, signal_scores, policy
    ):
        below = signal_scores.customer_initiated < min(
            policy.review_customer_initiated, policy.reroute_customer_initiated
        ) and signal_scores.bank_initiated < min(
            policy.review_bank_initiated, policy.reroute_bank_initiated
        )
        verdict = decide_scores(signal_scores, (), policy)
        assert (verdict.result is Result.ACCEPT) is below

    @given(scores, score_policies)
    def test_every_verdict_carries_a_reason(self, signal_scores, policy):
        verdict = decide_scores(signal_scores, (), policy)
        assert verdict.reasons


class TestDecideBalance:
    def test_accepts_when_available_covers_the_amount(self):
        verdict = decide_balance(USD_100, balance("100.00"), BALANCE, NOW)
        assert verdict.result is Result.ACCEPT
        assert verdict.source is Source.BALANCE_POLICY
        assert codes(verdict) == ["BALANCE_COVERS_AMOUNT"]
        assert "available balance 100.00" in verdict.reasons[0].message

    def test_reroutes_when_available_is_one_cent_short(self):
        verdict = decide_balance(USD_100, balance("99.99"), BALANCE, NOW)
        assert verdict.result is Result.REROUTE
        assert codes(verdict) == ["BALANCE_BELOW_REQUIRED"]

    @pytest.mark.parametrize(
        ("available", "result"),
        [("104.99", Result.REROUTE), ("105.00", Result.ACCEPT)],
    )
    def test_the_margin_raises_the_required_balance(self, available, result):
        policy = replace(BALANCE, margin=Decimal("0.05"))
        verdict = decide_balance(USD_100, balance(available), policy, NOW)
        assert verdict.result is result
        assert "105.00" in verdict.reasons[0].message

    def test_a_reroute_explains_amount_and_margin(self):
        policy = replace(BALANCE, margin=Decimal("0.05"))
        verdict = decide_balance(USD_100, balance("1.00"), policy, NOW)
        assert verdict.reasons[0].message == (
            "available balance 1.00 is below the required 105.0000 "
            "(amount 100.00 x (1 + margin 0.05))"
        )

    def test_without_available_and_no_fallback_it_reviews(self):
        verdict = decide_balance(USD_100, balance(None, current="500.00"), BALANCE, NOW)
        assert verdict.result is Result.REVIEW
        assert codes(verdict) == ["AVAILABLE_BALANCE_MISSING"]

    @pytest.mark.parametrize(
        ("current", "result", "last_code"),
        [
            ("100.00", Result.ACCEPT, "BALANCE_COVERS_AMOUNT"),
            ("99.99", Result.REROUTE, "BALANCE_BELOW_REQUIRED"),
        ],
    )
    def test_without_available_the_fallback_decides_on_current(
        self, current, result, last_code
    ):
        policy = replace(BALANCE, allow_current_fallback=True)
        verdict = decide_balance(USD_100, balance(None, current=current), policy, NOW)
        assert verdict.result is result
        assert codes(verdict) == ["USED_CURRENT_BALANCE", last_code]
        assert verdict.reasons[1].message.startswith("current balance")

    def test_the_fallback_cannot_help_when_current_is_missing_too(self):
        policy = replace(BALANCE, allow_current_fallback=True)
        verdict = decide_balance(USD_100, balance(None, None), policy, NOW)
        assert verdict.result is Result.REVIEW
        assert codes(verdict) == ["AVAILABLE_BALANCE_MISSING"]

    def test_available_wins_over_current_even_with_the_fallback(self):
        policy = replace(BALANCE, allow_current_fallback=True)
        verdict = decide_balance(
            USD_100, balance("1.00", current="1000.00"), policy, NOW
        )
        assert verdict.result is Result.REROUTE
        assert codes(verdict) == ["BALANCE_BELOW_REQUIRED"]

    @pytest.mark.parametrize(
        ("age_s", "result"),
        [(3600, Result.ACCEPT), (3601, Result.REVIEW), (-30, Result.ACCEPT)],
    )
    def test_a_balance_older_than_the_maximum_age_is_reviewed(self, age_s, result):
        verdict = decide_balance(USD_100, balance(age_s=age_s), BALANCE, NOW)
        assert verdict.result is result

    def test_the_staleness_reason_states_the_age_and_the_limit(self):
        policy = replace(BALANCE, max_balance_age_s=60)
        verdict = decide_balance(USD_100, balance(age_s=61), policy, NOW)
        assert codes(verdict) == ["BALANCE_TOO_OLD"]
        assert verdict.reasons[0].message == (
            "the balance is 61 s old; the policy allows 60 s"
        )

    def test_a_balance_of_unknown_age_is_not_stale(self):
        verdict = decide_balance(USD_100, balance(age_s=None), BALANCE, NOW)
        assert verdict.result is Result.ACCEPT

    def test_too_old_means_review_whatever_the_balance(self):
        verdict = decide_balance(
            USD_100, balance("1000000.00"), BALANCE, NOW, too_old=True
        )
        assert verdict.result is Result.REVIEW
        assert codes(verdict) == ["BALANCE_TOO_OLD"]
        assert "3600 s" in verdict.reasons[0].message

    def test_a_balance_in_another_currency_is_reviewed(self):
        verdict = decide_balance(
            USD_100, balance("1000.00", currency="EUR"), BALANCE, NOW
        )
        assert verdict.result is Result.REVIEW
        assert codes(verdict) == ["CURRENCY_MISMATCH"]
        assert verdict.reasons[0].message == (
            "the account holds EUR, the payment is in USD"
        )

    def test_a_balance_of_unknown_currency_is_reviewed_not_compared(self):
        verdict = decide_balance(
            USD_100, balance("100.00", currency=None), BALANCE, NOW
        )
        assert verdict.result is Result.REVIEW
        assert verdict.reasons[0].code == "CURRENCY_MISMATCH"

    def test_currency_exponents_are_respected(self):
        yen = Money(1500, "JPY")
        assert (
            decide_balance(yen, balance("1500", currency="JPY"), BALANCE, NOW)
        ).result is Result.ACCEPT
        assert (
            decide_balance(yen, balance("1499", currency="JPY"), BALANCE, NOW)
        ).result is Result.REROUTE


class TestDecideBalanceProperties:
    @given(
        payment_amounts(),
        balances(now=datetime(2030, 1, 1, tzinfo=UTC)),
        balance_policies,
        st.booleans(),
    )
    def test_is_deterministic(self, amount, account_balance, policy, too_old):
        now = datetime(2030, 1, 1, tzinfo=UTC)
        first = decide_balance(amount, account_balance, policy, now, too_old=too_old)
        again = decide_balance(amount, account_balance, policy, now, too_old=too_old)
        assert first == again

    @settings(max_examples=200)
    @given(
        payment_amounts(),
        payment_amounts(),
        balances(now=datetime(2030, 1, 1, tzinfo=UTC)),
        balance_policies,
        st.booleans(),
    )
    def test_raising_the_amount_never_turns_a_non_accept_into_accept(
        self, one, other, account_balance, policy, too_old
    ):
        now = datetime(2030, 1, 1, tzinfo=UTC)
        smaller, larger = sorted((one, other), key=lambda m: m.minor_units)
        low = decide_balance(smaller, account_balance, policy, now, too_old=too_old)
        high = decide_balance(larger, account_balance, policy, now, too_old=too_old)
        if low.result is not Result.ACCEPT:
            assert high.result is not Result.ACCEPT
        if low.result is Result.REVIEW:
            assert high.result is Result.REVIEW

    @settings(max_examples=200)
    @given(
        payment_amounts(),
        balances(now=datetime(2030, 1, 1, tzinfo=UTC)),
        balance_policies,
        margins,
    )
    def test_a_reroute_never_becomes_accept_with_a_larger_margin(
        self, amount, account_balance, policy, other_margin
    ):
        now = datetime(2030, 1, 1, tzinfo=UTC)
        larger = replace(policy, margin=max(policy.margin, other_margin))
        before = decide_balance(amount, account_balance, policy, now)
        after = decide_balance(amount, account_balance, larger, now)
        if before.result is Result.REROUTE:
            assert after.result is Result.REROUTE

    @given(payment_amounts(), balances(), balance_policies, CALL_TIMES)
    def test_every_verdict_has_a_reason_from_the_balance_policy(
        self, amount, account_balance, policy, now
    ):
        verdict = decide_balance(amount, account_balance, policy, now)
        assert verdict.source is Source.BALANCE_POLICY
        assert verdict.reasons
