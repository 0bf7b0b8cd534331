"""Degraded mode: what an evaluation returns when Plaid cannot answer (docs/errors.md, "Degraded mode").

A check that never ran is never a silent pass: the default is to fail closed, and an
ACCEPT is only ever allowed under an amount cap the operator chose.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from service.domain.model import Note, Result, Source, Verdict
from service.domain.money import Money


class FailureClass(enum.Enum):
    """Why Plaid could not answer, after retries."""

    TIMEOUT = "TIMEOUT"
    RATE_LIMITED = "RATE_LIMITED"
    PLAID_UNAVAILABLE = "PLAID_UNAVAILABLE"
    INSTITUTION_DOWN = "INSTITUTION_DOWN"


@dataclass(frozen=True, slots=True)
class DegradedRule:
    """A result for some failure classes and an amount band (bounds inclusive)."""

    result: Result
    failures: frozenset[FailureClass]
    min_amount: Decimal | None  # None: no lower bound
    max_amount: Decimal | None  # None: no upper bound

    def matches(self, failure: FailureClass, amount: Decimal) -> bool:
        return (
            failure in self.failures
            and (self.min_amount is None or amount >= self.min_amount)
            and (self.max_amount is None or amount <= self.max_amount)
        )

    def describe(self) -> str:
        low = "" if self.min_amount is None else f"amount >= {self.min_amount}"
        high = "" if self.max_amount is None else f"amount <= {self.max_amount}"
        band = " and ".join(b for b in (low, high) if b) or "any amount"
        classes = ", ".join(sorted(f.value for f in self.failures))
        return f"{classes}; {band}"


@dataclass(frozen=True, slots=True)
class DegradedPolicy:
    """One caller's policy; no rules means fail closed (the caller gets the error)."""

    rules: tuple[DegradedRule, ...]
    try_balance_endpoint: bool

    @property
    def fails_closed(self) -> bool:
        return not self.rules and not self.try_balance_endpoint


def decide_degraded(
    failure: FailureClass, amount: Money, policy: DegradedPolicy
) -> Verdict | None:
    """The first matching rule's result, or None to fail closed."""
    value = amount.to_decimal()
    for number, rule in enumerate(policy.rules, start=1):
        if rule.matches(failure, value):
            message = (
                f"Plaid could not answer ({failure.value}); degraded rule {number} "
                f"({rule.describe()}) gives {rule.result.value}"
            )
            return Verdict(
                rule.result, Source.DEGRADED_POLICY, (Note("DEGRADED_RULE", message),)
            )
    return None
