"""Plaid-style rule evaluation: rules run top-down, the first match wins.

Pure functions: no clock, no I/O. A condition on missing (null) data never matches.
"""

import operator
from collections.abc import Callable, Mapping
from typing import Final

from plaid_emulator.scenario import Condition, Rule, Ruleset

Facts = Mapping[str, object]

_COMPARE: Final[dict[str, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


def condition_holds(condition: Condition, facts: Facts, amount: float) -> bool:
    """Whether a condition holds; null or missing data holds only for is_null."""
    actual = facts.get(condition.attribute)
    if condition.operator == "is_null":
        return actual is None
    # Plaid skips a rule whose data is missing, so null fails every comparison.
    if not isinstance(actual, int | float):
        return False
    target = amount if condition.value == "amount" else condition.value
    if target is None:
        return False
    return _COMPARE[condition.operator](actual, target)


def matching_rule(ruleset: Ruleset, facts: Facts, amount: float) -> Rule:
    """The first rule whose conditions all hold."""
    for rule in ruleset.rules:
        if all(condition_holds(c, facts, amount) for c in rule.conditions):
            return rule
    # Unreachable for a validated scenario, whose last rule is unconditional.
    return ruleset.rules[-1]


def fetches_live_balance(ruleset: Ruleset) -> bool:
    """Whether applying this ruleset makes Plaid extract a real-time balance: only a
    Balance-only ruleset does, whatever the rules test (docs/plaid-behaviour.md)."""
    return ruleset.kind == "balance_only"
