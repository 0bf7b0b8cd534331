"""Plaid's rate limits per Item, per client and per transaction, on the engine's clock.

Defaults are Plaid's documented ones (docs/plaid-behaviour.md); a scenario may override.
"""

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from plaid_emulator.endpoints import (
    ACCOUNTS_BALANCE_GET,
    ITEM_GET,
    SIGNAL_DECISION_REPORT,
    SIGNAL_EVALUATE,
    SIGNAL_PREPARE,
    SIGNAL_RETURN_REPORT,
    Endpoint,
)
from plaid_emulator.errors import PlaidApiError, known_error

Scope = Literal["per_item", "per_client", "per_transaction"]
_SCOPES: Final[tuple[Scope, ...]] = ("per_item", "per_client", "per_transaction")
# A long-running emulator sees endless keys (one per transaction); sweep now and then.
_SWEEP_EVERY: Final = 10_000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Limit(_Frozen):
    """At most `limit` calls in any `window_s` seconds (a sliding window)."""

    limit: StrictInt = Field(ge=1)
    window_s: StrictFloat = Field(gt=0)


class EndpointLimits(_Frozen):
    """Overrides for one endpoint; a scope left out keeps its default, null lifts it."""

    per_item: Limit | None = None
    per_client: Limit | None = None
    per_transaction: Limit | None = None


class RateLimits(_Frozen):
    """The scenario's `rate_limits`: Plaid's documented production limits unless the
    scenario turns them off (`enabled: false`) or picks the sandbox profile."""

    enabled: bool = True
    profile: Literal["production", "sandbox"] = "production"
    endpoints: dict[Endpoint, EndpointLimits] = Field(default_factory=dict)


def _per(limit: int, window_s: float) -> Limit:
    return Limit(limit=limit, window_s=window_s)


_MINUTE: Final = 60
_HOUR: Final = 3600
_CLIENT_LIMITS_PER_MINUTE: Final[tuple[tuple[Endpoint, int], ...]] = (
    (SIGNAL_DECISION_REPORT, 4000),
    (SIGNAL_RETURN_REPORT, 4000),
    (SIGNAL_PREPARE, 2000),
)
# (endpoint, profile) -> scope -> limit; from docs/plaid-behaviour.md.
_DEFAULTS: Final[dict[tuple[Endpoint, str], dict[Scope, Limit]]] = {
    (SIGNAL_EVALUATE, "production"): {
        "per_item": _per(70, _HOUR),
        "per_transaction": _per(10, _HOUR),
        "per_client": _per(20, 1),
    },
    (SIGNAL_EVALUATE, "sandbox"): {
        "per_item": _per(70, _HOUR),
        "per_transaction": _per(10, _HOUR),
        "per_client": _per(30, 1),
    },
    (ACCOUNTS_BALANCE_GET, "production"): {
        "per_item": _per(5, _MINUTE),
        "per_client": _per(1200, _MINUTE),
    },
    (ACCOUNTS_BALANCE_GET, "sandbox"): {
        "per_item": _per(25, _MINUTE),
        "per_client": _per(100, _MINUTE),
    },
    (ITEM_GET, "production"): {
        "per_item": _per(15, _MINUTE),
        "per_client": _per(5000, _MINUTE),
    },
    (ITEM_GET, "sandbox"): {
        "per_item": _per(40, _MINUTE),
        "per_client": _per(5000, _MINUTE),
    },
    **{
        (endpoint, profile): {"per_client": _per(per_minute, _MINUTE)}
        for endpoint, per_minute in _CLIENT_LIMITS_PER_MINUTE
        for profile in ("production", "sandbox")
    },
}
# The error_code each endpoint answers with when over a limit; RATE_LIMIT otherwise.
_CODES: Final[dict[tuple[str, Scope], str]] = {
    (ACCOUNTS_BALANCE_GET, "per_item"): "BALANCE_LIMIT",
    (ACCOUNTS_BALANCE_GET, "per_client"): "ACCOUNTS_BALANCE_GET_LIMIT",
    (ITEM_GET, "per_item"): "ITEM_GET_LIMIT",
    (ITEM_GET, "per_client"): "ITEM_GET_LIMIT",
}


def effective_limits(config: RateLimits, endpoint: Endpoint) -> dict[Scope, Limit]:
    """The limits in force for `endpoint`: defaults, then the scenario's overrides."""
    if not config.enabled:
        return {}
    limits = dict(_DEFAULTS.get((endpoint, config.profile), {}))
    override = config.endpoints.get(endpoint)
    if override is not None:
        for scope in _SCOPES:
            if scope not in override.model_fields_set:
                continue
            value = getattr(override, scope)
            if value is None:
                limits.pop(scope, None)
            else:
                limits[scope] = value
    return limits


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request counts against: the client, and the Item and transaction if any."""

    client_id: str
    access_token: str | None = None
    client_transaction_id: str | None = None

    def key(self, scope: Scope) -> str | None:
        """The identity a scope counts calls by, or None if the request has none."""
        if scope == "per_client":
            return self.client_id
        if scope == "per_item":
            return self.access_token
        if self.client_transaction_id is None:
            return None
        return f"{self.client_id}\x00{self.client_transaction_id}"


class RateLimiter:
    """Counts admitted calls in sliding windows and refuses the one over a limit."""

    def __init__(self, config: RateLimits) -> None:
        self._limits: dict[str, dict[Scope, Limit]] = {
            e: effective_limits(config, e) for e in _endpoints(config)
        }
        self._windows: dict[tuple[str, Scope, str], deque[datetime]] = {}
        self._admitted = 0

    def __call__(self, endpoint: str, caller: Caller, now: datetime) -> None:
        """Admit the call, or raise Plaid's 429 for the first limit it would exceed."""
        limits = self._limits.get(endpoint)
        if not limits:
            return
        windows = []
        for scope in _SCOPES:
            limit, key = limits.get(scope), caller.key(scope)
            if limit is None or key is None:
                continue
            window = self._window((endpoint, scope, key), limit, now)
            if len(window) >= limit.limit:
                raise _over_limit(endpoint, scope, limit)
            windows.append(window)
        # Only admitted calls count, so a client backing off gets back in.
        for window in windows:
            window.append(now)
        self._admitted += 1
        if self._admitted % _SWEEP_EVERY == 0:
            self._sweep(now)

    def _window(
        self, key: tuple[str, Scope, str], limit: Limit, now: datetime
    ) -> deque[datetime]:
        window = self._windows.setdefault(key, deque())
        oldest_kept = now - timedelta(seconds=limit.window_s)
        while window and window[0] <= oldest_kept:
            window.popleft()
        return window

    def _sweep(self, now: datetime) -> None:
        for key in list(self._windows):
            limit = self._limits[key[0]][key[1]]
            if not self._window(key, limit, now):
                del self._windows[key]


def _endpoints(config: RateLimits) -> set[Endpoint]:
    return {endpoint for endpoint, _ in _DEFAULTS} | set(config.endpoints)


def _over_limit(endpoint: str, scope: Scope, limit: Limit) -> PlaidApiError:
    code = _CODES.get((endpoint, scope), "RATE_LIMIT")
    what = {
        "per_item": "Item",
        "per_client": "client",
        "per_transaction": "transaction",
    }
    return known_error(
        code,
        f"rate limit exceeded: {limit.limit} calls to {endpoint} per "
        f"{what[scope]} in {limit.window_s:g} s. please try again later",
    )
