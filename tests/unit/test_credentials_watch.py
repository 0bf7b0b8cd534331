"""CredentialsWatch: unready while Plaid rejects our keys, probing at its interval."""

from __future__ import annotations

import asyncio

import pytest

from service.ops.readiness import CredentialsWatch
from tests.clock import ManualClock
from tests.fakes import FakeSignalSource


async def test_rejected_keys_are_probed_every_interval_until_accepted() -> None:
    plaid, clock = FakeSignalSource(), ManualClock()
    plaid.accepts_credentials = False
    told: list[bool] = []
    serving_again = asyncio.Event()

    async def set_serving(serving: bool) -> None:
        told.append(serving)
        if serving:
            serving_again.set()

    watch = CredentialsWatch(
        plaid, set_serving, clock, probe_interval_s=30, probe_timeout_s=10
    )
    try:
        await watch.credentials_rejected()
        assert told == [False]
        for probes in (1, 2):
            await clock.sleeping()
            assert clock.pending == [30]  # no probe before the interval is up
            clock.advance(30)
            await clock.sleeping()  # probed, still rejected: waiting again
            assert len(plaid.budgets) == probes
            # Each probe has its own timeout, counted from when it starts.
            assert plaid.budgets[-1].deadline == pytest.approx(clock.monotonic() + 10)
        plaid.accepts_credentials = True
        clock.advance(30)
        await asyncio.wait_for(serving_again.wait(), 5)  # 5 s only against a hang
        assert told == [False, True]
        assert not watch.rejected
    finally:
        await watch.close()
