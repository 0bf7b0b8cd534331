"""The service's clock and `within`, its timeout measured on that clock."""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest

from service.app.clock import SystemClock, within
from tests.clock import ManualClock


def test_the_system_clock_tells_utc_time() -> None:
    assert SystemClock().now().tzinfo is UTC


class TestWithin:
    async def test_the_work_s_result_when_it_finishes_in_time(self) -> None:
        clock, done = ManualClock(), asyncio.Event()
        waiting = asyncio.create_task(within(clock, 1, done.wait()))
        await clock.sleeping()
        clock.advance(0.9)
        done.set()
        assert await waiting is True
        assert clock.pending == []  # its timer is gone with it

    async def test_timeout_when_the_clock_passes_it_and_the_work_is_cancelled(
        self,
    ) -> None:
        clock, started, cancelled = ManualClock(), asyncio.Event(), asyncio.Event()

        async def forever() -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            finally:
                cancelled.set()

        waiting = asyncio.create_task(within(clock, 1, forever()))
        await clock.sleeping()
        await started.wait()
        clock.advance(1)
        with pytest.raises(TimeoutError):
            await waiting
        assert cancelled.is_set()

    async def test_cancelling_the_waiter_cancels_the_work(self) -> None:
        clock, cancelled = ManualClock(), asyncio.Event()

        async def forever() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                cancelled.set()

        waiting = asyncio.create_task(within(clock, 1, forever()))
        await clock.sleeping()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.wait_for(cancelled.wait(), 5)
        assert clock.pending == []
