"""Rule evaluation: first match wins, null data skips a rule, is_null, and `amount`."""

import pytest

from plaid_emulator.rules import (
    condition_holds,
    fetches_live_balance,
    matching_rule,
)
from plaid_emulator.scenario import Condition, Rule, Ruleset


def cond(attribute: str, operator: str, value: float | str | None = None) -> Condition:
    return Condition.model_validate(
        {"attribute": attribute, "operator": operator, "value": value}
    )


def ruleset(*rules: Rule, kind: str = "transaction_score") -> Ruleset:
    return Ruleset.model_validate({"key": "r", "kind": kind, "rules": rules})


LOW_BALANCE = Rule(
    conditions=(cond("available_balance", "<", "amount"),),
    result="REROUTE",
    custom_action_key="insufficient-funds",
)
RISKY = Rule(conditions=(cond("bank_initiated_score", ">=", 90),), result="REVIEW")
FALLBACK = Rule(result="ACCEPT")


class TestConditions:
    @pytest.mark.parametrize(
        ("operator", "value", "actual", "holds"),
        [
            ("<", 10.0, 9.99, True),
            ("<", 10.0, 10.0, False),
            ("<=", 10.0, 10.0, True),
            (">", 10.0, 10.0, False),
            (">=", 10.0, 10.0, True),
            ("==", 1.0, 1, True),
            ("==", 1.0, True, True),
        ],
    )
    def test_comparisons(self, operator, value, actual, holds):
        condition = cond("current_balance", operator, value)
        assert condition_holds(condition, {"current_balance": actual}, 5.0) is holds

    def test_amount_means_the_request_amount(self):
        condition = cond("available_balance", "<", "amount")
        assert condition_holds(condition, {"available_balance": 99.0}, 100.0)
        assert not condition_holds(condition, {"available_balance": 100.0}, 100.0)

    @pytest.mark.parametrize("facts", [{"available_balance": None}, {}])
    def test_null_or_missing_data_fails_every_comparison(self, facts):
        for operator in ("<", "<=", ">", ">=", "=="):
            condition = cond("available_balance", operator, 0.0)
            assert not condition_holds(condition, facts, 1.0)

    def test_is_null_holds_exactly_when_the_value_is_null(self):
        condition = cond("available_balance", "is_null")
        assert condition_holds(condition, {"available_balance": None}, 1.0)
        assert condition_holds(condition, {}, 1.0)
        assert not condition_holds(condition, {"available_balance": 0.0}, 1.0)


class TestMatchingRule:
    def test_first_matching_rule_wins(self):
        rules = ruleset(RISKY, LOW_BALANCE, FALLBACK)
        facts = {"bank_initiated_score": 95, "available_balance": 1.0}
        assert matching_rule(rules, facts, 50.0) is RISKY

    def test_later_rule_matches_when_earlier_ones_do_not(self):
        rules = ruleset(RISKY, LOW_BALANCE, FALLBACK)
        facts = {"bank_initiated_score": 10, "available_balance": 1.0}
        assert matching_rule(rules, facts, 50.0) is LOW_BALANCE

    def test_a_rule_with_missing_data_is_skipped_for_the_fallback(self):
        rules = ruleset(LOW_BALANCE, FALLBACK)
        assert matching_rule(rules, {"available_balance": None}, 50.0) is FALLBACK

    def test_conditions_are_anded(self):
        both = Rule(
            conditions=(
                cond("bank_initiated_score", ">=", 90),
                cond("available_balance", "<", "amount"),
            ),
            result="REROUTE",
        )
        rules = ruleset(both, FALLBACK)
        rich = {"bank_initiated_score": 95, "available_balance": 500.0}
        assert matching_rule(rules, rich, 50.0) is FALLBACK
        poor = {"bank_initiated_score": 95, "available_balance": 5.0}
        assert matching_rule(rules, poor, 50.0) is both


class TestLiveBalance:
    def test_balance_only_rulesets_always_fetch(self):
        assert fetches_live_balance(ruleset(FALLBACK, kind="balance_only"))
        assert fetches_live_balance(ruleset(LOW_BALANCE, FALLBACK, kind="balance_only"))

    @pytest.mark.parametrize(
        "balance_condition",
        [
            cond("available_balance", "<", "amount"),
            cond("current_balance", "<", 10.0),
            cond("balance_to_transaction_amount_ratio", "<", 1.5),
        ],
    )
    def test_transaction_score_rulesets_never_fetch_even_with_a_balance_rule(
        self, balance_condition
    ):
        balance_rule = Rule(conditions=(balance_condition,), result="REVIEW")
        assert not fetches_live_balance(ruleset(RISKY, balance_rule, FALLBACK))
        assert not fetches_live_balance(ruleset(RISKY, FALLBACK))
