"""The policies one evaluation is decided with, as the decision core reads them.

Built once at start-up from the config file (service/config/policies.py), which is the
one place their defaults are written; here every field is required.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from service.domain.degraded import DegradedPolicy
from service.domain.model import Rail
from service.domain.policy import BalancePolicy, ScorePolicy
from service.domain.realtime import RulesetDeclaration, RulesetType

# The ruleset Plaid applies when a request names none (accounts since 2025-10-15).
DEFAULT_RULESET_KEY = "default"


@dataclass(frozen=True, slots=True)
class Policies:
    """Everything the decision core is configured with."""

    rulesets: Mapping[str, RulesetDeclaration]
    score: ScorePolicy
    balance_default: BalancePolicy
    balance_by_rail: Mapping[Rail, BalancePolicy]
    realtime_window: timedelta
    degraded_default: DegradedPolicy
    degraded_by_caller: Mapping[str, DegradedPolicy]

    def requested_type(self, ruleset_key: str | None) -> RulesetType | None:
        """The declared type of the ruleset a request will run. With no key Plaid
        applies the ruleset named `default`, if the account has one."""
        declared = self.rulesets.get(ruleset_key or DEFAULT_RULESET_KEY)
        return declared.type if declared else None

    def balance_for(self, rail: Rail) -> BalancePolicy:
        return self.balance_by_rail.get(rail, self.balance_default)

    def degraded_for(self, caller: str) -> DegradedPolicy:
        return self.degraded_by_caller.get(caller, self.degraded_default)
