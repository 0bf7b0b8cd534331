"""The `[rate_budgets]` table: Plaid rate budgets counted before Plaid is called.

Plaid's documented default limits (docs/plaid-behaviour.md, "Errors and rate limits")
are written here once, per Plaid environment; the emulator enforces the production
ones by default. Plaid says a client's limits may differ: override any of them.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field

from service.app.rate_budget import Budget, RateBudgets
from service.app.rate_budget import Scope as BudgetScope
from service.config.section import Section
from service.domain.model import BALANCE_GET, SIGNAL_EVALUATE

_MINUTE: Final = 60.0
_HOUR: Final = 3600.0
# (Plaid environment, endpoint, scope) -> (limit, window_s): Plaid's defaults.
DEFAULT_LIMITS: Final[dict[str, dict[tuple[str, BudgetScope], tuple[int, float]]]] = {
    "production": {
        (SIGNAL_EVALUATE, BudgetScope.ITEM): (70, _HOUR),
        (SIGNAL_EVALUATE, BudgetScope.CLIENT): (20, 1.0),
        (BALANCE_GET, BudgetScope.ITEM): (5, _MINUTE),
        (BALANCE_GET, BudgetScope.CLIENT): (1200, _MINUTE),
    },
    "sandbox": {
        (SIGNAL_EVALUATE, BudgetScope.ITEM): (70, _HOUR),
        (SIGNAL_EVALUATE, BudgetScope.CLIENT): (30, 1.0),
        (BALANCE_GET, BudgetScope.ITEM): (25, _MINUTE),
        (BALANCE_GET, BudgetScope.CLIENT): (100, _MINUTE),
    },
}
# The emulator's default profile is production's.
DEFAULT_LIMITS["emulator"] = DEFAULT_LIMITS["production"]


class LimitSection(Section):
    """At most `limit` calls in any `window_s` seconds."""

    limit: Annotated[int, Field(ge=1)]
    window_s: Annotated[float, Field(gt=0)]


class EndpointBudgets(Section):
    """One endpoint's budgets; one left out keeps Plaid's default for the environment."""

    item: LimitSection | None = None
    client: LimitSection | None = None


class RateBudgetsSection(Section):
    """`[rate_budgets]`: spend before calling Plaid, shared by every replica on the
    ledger's database; wait at most `max_wait_s` (and never past the caller's
    deadline) for room, else refuse with RESOURCE_EXHAUSTED."""

    enabled: bool = True
    max_wait_s: Annotated[float, Field(ge=0)] = 2.0
    signal_evaluate: EndpointBudgets = EndpointBudgets()
    accounts_balance_get: EndpointBudgets = EndpointBudgets()

    def budgets(self, plaid_env: str) -> RateBudgets:
        limits = {
            key: Budget(limit, window_s)
            for key, (limit, window_s) in DEFAULT_LIMITS[plaid_env].items()
        }
        for endpoint, overrides in (
            (SIGNAL_EVALUATE, self.signal_evaluate),
            (BALANCE_GET, self.accounts_balance_get),
        ):
            for scope in BudgetScope:
                given = getattr(overrides, scope.value)
                if given is not None:
                    limits[(endpoint, scope)] = Budget(given.limit, given.window_s)
        return RateBudgets(self.enabled, self.max_wait_s, limits)
