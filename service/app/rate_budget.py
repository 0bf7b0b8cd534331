"""Rate budgets before Plaid: at most `limit` calls in any `window_s`, per Item and per
client, counted in the ledger's database so that every replica on it shares them.

The rule lives here (which budgets a call spends, when to wait for one and when to
refuse); the counting is the store's (RateLedger in ports.py). Every attempt at a
budgeted endpoint spends, retries included; a replay of a stored decision never gets
here. Plaid's own 429 shrinks the budget until its window passes. Plaid's documented
limits and what the service does about them: docs/plaid-behaviour.md, "Errors and
rate limits".
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from service.app.clock import Clock
from service.app.errors import FailureKind, PlaidFailure
from service.app.ports import CallBudget, RateKey, RateLedger
from service.domain.model import PlaidCall
from service.domain.secret import Secret

# Plaid's 429 codes that name the budget hit; any other (RATE_LIMIT) names none.
_CODE_SCOPES = {
    "BALANCE_LIMIT": "item",
    "ACCOUNTS_BALANCE_GET_LIMIT": "client",
}
# A 429 that names no budget blocks the Item this long (or its window, if shorter):
# the same minute the caller is told to wait (api/status.py).
UNNAMED_LIMIT_BLOCK_S = 60.0


def transit_margin_s(window_s: float) -> float:
    """How much longer than Plaid's window the budget counts. A call is spent when it
    leaves and reaches Plaid a little later, by a delay that varies: counted over
    exactly Plaid's window, 20 calls spent in one second can arrive within less than
    one, and Plaid answers 429. A tenth of the window, at most a second, absorbs the
    difference; the cost is that much of the window's throughput."""
    return min(window_s / 10, 1.0)


class Scope(enum.Enum):
    """Whom a budget counts: one Item (an access token), or our whole Plaid client."""

    ITEM = "item"
    CLIENT = "client"


@dataclass(frozen=True, slots=True)
class Budget:
    """At most `limit` calls in any `window_s` seconds (a sliding window)."""

    limit: int
    window_s: float


@dataclass(frozen=True, slots=True)
class RateBudgets:
    """The budgets in force (the [rate_budgets] table, service/config/rate_budgets.py)."""

    enabled: bool
    max_wait_s: float  # the longest one call waits for budgets, in all
    limits: Mapping[tuple[str, Scope], Budget]  # (endpoint, scope) -> budget

    def longest_window_s(self) -> float:
        return max((b.window_s for b in self.limits.values()), default=0.0)


class RateBudgetExhausted(PlaidFailure):
    """A budget is spent and refills too late for this call: Plaid was not asked.

    Kind RATE_LIMITED, so a degraded policy answers as for Plaid's own 429;
    `retry_after_s` is when the budget has room again.
    """

    def __init__(
        self,
        endpoint: str,
        scope: Scope,
        budget: Budget,
        retry_after_s: float,
        calls: tuple[PlaidCall, ...] = (),
    ) -> None:
        super().__init__(
            FailureKind.RATE_LIMITED,
            f"the {scope.value} budget of {budget.limit} calls in "
            f"{budget.window_s:g} s is spent; it has room again in "
            f"{retry_after_s:.1f} s",
            endpoint=endpoint,
            calls=calls,
            retry_after_s=retry_after_s,
        )
        self.scope = scope
        self.budget = budget

    def with_calls(self, calls: tuple[PlaidCall, ...]) -> RateBudgetExhausted:
        return RateBudgetExhausted(
            self.endpoint, self.scope, self.budget, self.retry_after_s or 0.0, calls
        )


@dataclass(slots=True)
class Waited:
    """Time a request spent waiting for budgets, for its log line: the servicer sets
    one per request in WAITED, the evaluation (in a task of its own) adds to it."""

    seconds: float = 0.0


WAITED: ContextVar[Waited | None] = ContextVar("rate_budget_waited", default=None)

# (endpoint, scope, outcome "waited" | "refused", seconds waited)
Observer = Callable[[str, str, str, float], None]


class RateGate:
    """Hands out a Ticket per Plaid call; the ticket spends before every attempt."""

    def __init__(
        self,
        ledger: RateLedger,
        budgets: RateBudgets,
        fingerprint_key: bytes,
        client_id: Secret,
        clock: Clock,
        observe: Observer | None = None,
    ) -> None:
        self._ledger = ledger
        self._budgets = budgets
        self._key = fingerprint_key
        self._client = _digest(fingerprint_key, b"plaid-client", client_id)
        self._clock = clock
        self._observe = observe

    def ticket(self, endpoint: str, access_token: Secret) -> Ticket | None:
        """The budgets a call to `endpoint` for this Item spends; None if none."""
        if not self._budgets.enabled:
            return None
        item = _digest(self._key, b"plaid-item", access_token)
        keys = []
        for scope, who in ((Scope.ITEM, item), (Scope.CLIENT, self._client)):
            budget = self._budgets.limits.get((endpoint, scope))
            if budget is not None:
                name = f"{endpoint} {scope.value} {who}"
                window_s = budget.window_s + transit_margin_s(budget.window_s)
                keys.append((scope, budget, RateKey(name, budget.limit, window_s)))
        return Ticket(self, endpoint, tuple(keys)) if keys else None

    async def sweep(self) -> int:
        """Forget spends older than the longest window (housekeeping)."""
        before = self._clock.now() - timedelta(seconds=self._budgets.longest_window_s())
        return await self._ledger.sweep_spends(before)


class Ticket:
    """One Plaid call's budgets: `spend` before each attempt, `refused_by_plaid` on a
    429."""

    def __init__(
        self,
        gate: RateGate,
        endpoint: str,
        keys: tuple[tuple[Scope, Budget, RateKey], ...],
    ) -> None:
        self._gate = gate
        self.endpoint = endpoint
        self._keys = keys

    async def spend(self, budget: CallBudget, min_call_s: float) -> float:
        """Spend one call of every budget, waiting for room while the caller's deadline
        and max_wait_s allow; the seconds waited. Raises RateBudgetExhausted."""
        gate = self._gate
        clock = gate._clock
        waited = 0.0
        waited_for = self._keys[0][0]
        rate_keys = tuple(key for _, _, key in self._keys)
        while True:
            refusal = await gate._ledger.take_spends(rate_keys, clock.now())
            if refusal is None:
                if waited:
                    self._note(waited_for, "waited", waited)
                return waited
            scope, limit = self._find(refusal.key)
            wait_s = max(refusal.retry_after_s, 0.001)
            left_after_s = budget.left_s(clock) - wait_s
            if waited + wait_s > gate._budgets.max_wait_s or left_after_s < min_call_s:
                self._note(scope, "refused", waited)
                raise RateBudgetExhausted(self.endpoint, scope, limit, wait_s)
            await clock.sleep(wait_s)
            waited, waited_for = waited + wait_s, scope
            holder = WAITED.get()
            if holder is not None:
                holder.seconds += wait_s

    async def refused_by_plaid(self, failure: PlaidFailure) -> None:
        """Plaid answered 429: block the budget it names (the Item when it names none)
        until its window passes, so that the next calls wait or are refused here."""
        if failure.error_type != "RATE_LIMIT_EXCEEDED":
            return  # the bank's limit (INSTITUTION_RATE_LIMIT), not ours to count
        wanted = _CODE_SCOPES.get(failure.error_code or "", "item")
        for scope, budget, key in self._keys:
            if scope.value != wanted:
                continue
            block_s = budget.window_s
            if failure.error_code not in _CODE_SCOPES:
                block_s = min(block_s, UNNAMED_LIMIT_BLOCK_S)
            now = self._gate._clock.now()
            await self._gate._ledger.block_spends(
                key, now + timedelta(seconds=block_s), now
            )

    def _find(self, name: str) -> tuple[Scope, Budget]:
        for scope, budget, key in self._keys:
            if key.name == name:
                return scope, budget
        return self._keys[0][0], self._keys[0][1]

    def _note(self, scope: Scope, outcome: str, waited: float) -> None:
        if self._gate._observe is not None:
            self._gate._observe(self.endpoint, scope.value, outcome, waited)


def _digest(key: bytes, purpose: bytes, value: Secret) -> str:
    """A keyed fingerprint: the budget's name never holds the token itself."""
    message = purpose + b"\x00" + value.reveal().encode()
    return hmac.digest(key, message, hashlib.sha256).hex()[:32]
