"""The policy tables of the TOML file: the ruleset registry, the balance, score and
degraded policies, and the real-time window; they build the domain's `Policies`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from service.config.section import Section
from service.domain.degraded import DegradedPolicy, DegradedRule, FailureClass
from service.domain.model import Rail, Result
from service.domain.policies import Policies
from service.domain.policy import BalancePolicy, ScorePolicy
from service.domain.realtime import RulesetDeclaration, RulesetType


class _Ruleset(Section):
    """One ruleset of the registry; `type` decides whether Plaid extracts live."""

    type: Literal["balance_only", "transaction_scores"] | None = None
    # A note of whether its rules test the balance (a warning on each decision when a
    # Transaction Scores ruleset does: those rules ran on a cached balance).
    balance_rule: bool | None = None
    # The old key, read only to migrate: `type` replaces it.
    kind: Literal["balance_only", "transaction_score"] | None = None

    @model_validator(mode="after")
    def _declared(self) -> _Ruleset:
        if self.type is None and self.kind is None and self.balance_rule is None:
            raise ValueError(
                'declare type = "balance_only" or type = "transaction_scores"'
            )
        if self.type and self.kind and self.type.rstrip("s") != self.kind:
            raise ValueError(
                f"type {self.type!r} contradicts the old kind {self.kind!r}"
            )
        return self

    @property
    def is_legacy(self) -> bool:
        return self.type is None or self.kind is not None

    def declaration(self) -> RulesetDeclaration:
        """Old `kind` maps to its type; `balance_rule` alone says nothing of the type
        (the type is then inferred from each answer)."""
        declared = self.type or (
            "transaction_scores" if self.kind == "transaction_score" else self.kind
        )
        return RulesetDeclaration(
            RulesetType(declared) if declared else None, self.balance_rule
        )


class _BalancePolicy(Section):
    margin: Annotated[Decimal, Field(ge=0, le=10)] = Decimal(0)
    allow_current_fallback: bool = False
    max_balance_age_s: Annotated[int, Field(gt=0)] = 3600


class _BalanceOverride(Section):
    """A rail's policy: fields left out are taken from [balance_policy.default]."""

    margin: Annotated[Decimal, Field(ge=0, le=10)] | None = None
    allow_current_fallback: bool | None = None
    max_balance_age_s: Annotated[int, Field(gt=0)] | None = None


class _BalancePolicies(Section):
    default: _BalancePolicy = _BalancePolicy()
    rails: dict[
        Literal["rtp", "fednow", "wire", "card", "balance_check"], _BalanceOverride
    ] = Field(default_factory=dict)


class _ScorePolicy(Section):
    review_customer_initiated: Annotated[int, Field(ge=1, le=100)] = 70
    reroute_customer_initiated: Annotated[int, Field(ge=1, le=100)] = 90
    review_bank_initiated: Annotated[int, Field(ge=1, le=100)] = 60
    reroute_bank_initiated: Annotated[int, Field(ge=1, le=100)] = 80

    @model_validator(mode="after")
    def _review_before_reroute(self) -> _ScorePolicy:
        for kind in ("customer_initiated", "bank_initiated"):
            review = getattr(self, f"review_{kind}")
            reroute = getattr(self, f"reroute_{kind}")
            if review > reroute:
                raise ValueError(
                    f"review_{kind} ({review}) must not exceed "
                    f"reroute_{kind} ({reroute})"
                )
        return self


class _Realtime(Section):
    window_s: Annotated[int, Field(ge=0)] = 120


class _DegradedRule(Section):
    result: Literal["ACCEPT", "REVIEW", "REROUTE"]
    failures: (
        list[
            Literal["TIMEOUT", "RATE_LIMITED", "PLAID_UNAVAILABLE", "INSTITUTION_DOWN"]
        ]
        | None
    ) = None
    min_amount: Annotated[Decimal, Field(ge=0)] | None = None
    max_amount: Annotated[Decimal, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _bounded(self) -> _DegradedRule:
        if self.result == "ACCEPT" and self.max_amount is None:
            raise ValueError(
                "an ACCEPT rule needs max_amount: an unchecked payment is "
                "only let through under a cap"
            )
        if (
            self.min_amount is not None
            and self.max_amount is not None
            and self.min_amount > self.max_amount
        ):
            raise ValueError("min_amount must not exceed max_amount")
        return self


class _Degraded(Section):
    try_balance_endpoint: bool = False
    rules: list[_DegradedRule] = Field(default_factory=list)


class _DegradedPolicies(Section):
    default: _Degraded = _Degraded()
    callers: dict[str, _Degraded] = Field(default_factory=dict)


def _balance(p: _BalancePolicy) -> BalancePolicy:
    return BalancePolicy(p.margin, p.allow_current_fallback, p.max_balance_age_s)


def _degraded(policy: _Degraded) -> DegradedPolicy:
    rules = tuple(
        DegradedRule(
            result=Result(rule.result),
            failures=frozenset(FailureClass(f) for f in rule.failures)
            if rule.failures
            else frozenset(FailureClass),
            min_amount=rule.min_amount,
            max_amount=rule.max_amount,
        )
        for rule in policy.rules
    )
    return DegradedPolicy(rules, policy.try_balance_endpoint)


class PolicySections(Section):
    """The policy tables of the config file."""

    rulesets: dict[str, _Ruleset] = Field(default_factory=dict)
    balance_policy: _BalancePolicies = _BalancePolicies()
    score_policy: _ScorePolicy = _ScorePolicy()
    realtime: _Realtime = _Realtime()
    degraded: _DegradedPolicies = _DegradedPolicies()

    def policies(self) -> Policies:
        """A rail's balance policy is [balance_policy.default] with its own keys over it."""
        base = self.balance_policy.default

        def merged(o: _BalanceOverride) -> BalancePolicy:
            return _balance(base.model_copy(update=o.model_dump(exclude_none=True)))

        return Policies(
            rulesets={k: v.declaration() for k, v in self.rulesets.items()},
            score=ScorePolicy(**self.score_policy.model_dump()),
            balance_default=_balance(base),
            balance_by_rail={
                Rail[name.upper()]: merged(p)
                for name, p in self.balance_policy.rails.items()
            },
            realtime_window=timedelta(seconds=self.realtime.window_s),
            degraded_default=_degraded(self.degraded.default),
            degraded_by_caller={
                k: _degraded(v) for k, v in self.degraded.callers.items()
            },
        )

    def migration_note(self) -> str | None:
        """One start-up warning naming every ruleset still declared with the old keys."""
        legacy = sorted(k for k, v in self.rulesets.items() if v.is_legacy)
        if not legacy:
            return None
        return (
            f"rulesets {', '.join(legacy)} are declared with the old keys (`kind`, "
            '`balance_rule`): add type = "balance_only" or type = "transaction_scores" '
            "to each. Plaid's ruleset type alone decides whether it extracts a live "
            "balance; `balance_rule` stays as a note. Until then `kind` maps to its "
            "type and `balance_rule` alone leaves the type to be inferred from each "
            "answer."
        )
