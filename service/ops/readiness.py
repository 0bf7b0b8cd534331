"""Readiness: SERVING only while Plaid accepts our credentials and the ledger works.

Rejected credentials make the service NOT_SERVING and start a probe, since an orchestrator
stops sending traffic to a pod that is not ready and no call would ever succeed again.
The same holds for a ledger that does not answer (checked by main.py's housekeeping).
Shutdown sets NOT_SERVING on its own (main.py).

Readiness is what the health checks of "" and achrisk.v1.RiskDecisionService answer.
Liveness is another name, LIVENESS_SERVICE: SERVING from the moment the server starts
until shutdown, whatever the ledger or Plaid do, so that an outage of either takes pods
out of traffic without restarting them (a restart would not bring the database back). It
is answered by the process's own event loop, so a loop that stops answering fails it by
timing out; in `serve --workers N` it is each worker's own, never gated by the others.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from service.app.clock import Clock
from service.app.ports import CallBudget, SignalSource

log = structlog.get_logger("service.ops.readiness")
SetServing = Callable[[bool], Awaitable[None]]
# Each condition held or failed, as it is checked (the achrisk_ready gauge).
Observe = Callable[[str, bool], None]
LEDGER = "ledger"
PLAID_CREDENTIALS = "plaid_credentials"
# The grpc.health.v1 name the liveness probe asks (not a gRPC service of its own).
LIVENESS_SERVICE = "liveness"


class Readiness:
    """SERVING while no condition fails; each change of the whole is logged once."""

    def __init__(self, set_serving: SetServing, observe: Observe | None = None) -> None:
        self._set_serving = set_serving
        self._observe = observe
        self._failing: set[str] = set()
        # The service starts SERVING: every condition holds until a check says not.
        for condition in (LEDGER, PLAID_CREDENTIALS):
            self._observed(condition, True)

    @property
    def failing(self) -> frozenset[str]:
        return frozenset(self._failing)

    async def set(self, condition: str, ok: bool) -> None:
        """Record whether `condition` (e.g. "ledger") holds; SERVING needs all."""
        self._observed(condition, ok)
        was_serving = not self._failing
        if ok:
            self._failing.discard(condition)
        else:
            self._failing.add(condition)
        serving = not self._failing
        if serving != was_serving:
            report = log.info if serving else log.error
            report("readiness.changed", serving=serving, failing=sorted(self._failing))
            await self._set_serving(serving)

    def _observed(self, condition: str, ok: bool) -> None:
        if self._observe is not None:
            self._observe(condition, ok)


class CredentialsWatch:
    """Marks the service unready while Plaid rejects our keys; probes until it accepts."""

    def __init__(
        self,
        plaid: SignalSource,
        set_serving: SetServing,
        clock: Clock,
        probe_interval_s: float,
        probe_timeout_s: float = 10.0,
    ) -> None:
        self._plaid = plaid
        self._set_serving = set_serving
        self._clock = clock
        self._interval_s = probe_interval_s
        self._timeout_s = probe_timeout_s
        self._rejected = False
        self._probe: asyncio.Task[None] | None = None

    @property
    def rejected(self) -> bool:
        return self._rejected

    async def credentials_rejected(self) -> None:
        if self._rejected:
            return
        self._rejected = True
        log.error(
            "plaid.credentials_rejected",
            action="readiness NOT_SERVING until Plaid accepts PLAID_CLIENT_ID/PLAID_SECRET",
            probe_interval_s=self._interval_s,
        )
        await self._set_serving(False)
        self._probe = asyncio.create_task(self._probe_until_accepted())

    async def plaid_answered(self) -> None:
        if not self._rejected:
            return
        self._rejected = False
        if self._probe is not None and self._probe is not asyncio.current_task():
            self._probe.cancel()
        self._probe = None
        log.warning("plaid.credentials_accepted", action="readiness SERVING")
        await self._set_serving(True)

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe

    async def _probe_until_accepted(self) -> None:
        while self._rejected:
            await self._clock.sleep(self._interval_s)
            budget = CallBudget.from_now(self._clock, self._timeout_s, self._timeout_s)
            try:
                accepted = await self._plaid.credentials_accepted(budget)
            except Exception:
                log.warning("plaid.credentials_probe_failed", exc_info=True)
                continue
            if accepted:
                await self.plaid_answered()
