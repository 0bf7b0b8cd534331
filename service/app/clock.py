"""The one clock the service reads: wall time for the ledger, monotonic time for budgets.

Every use case and adapter gets a Clock through its constructor instead of calling
`time` or `datetime` itself, so tests can move time forward instead of waiting for it.
Deadlines (CallBudget.deadline, the caller's gRPC deadline) are absolute values on
`monotonic()` of the same clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """Now (UTC wall time), a monotonic reading in seconds, and a wait on that reading."""

    def now(self) -> datetime:
        """The wall time, timezone-aware UTC: what the ledger stores."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: what deadlines are measured on."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once `seconds` have passed on monotonic()."""
        ...


class SystemClock:
    """The real clock: the system's UTC time, time.monotonic() and asyncio's sleep."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def within(clock: Clock, timeout_s: float, work: Awaitable[T]) -> T:
    """`work`'s result, or TimeoutError once `timeout_s` has passed on `clock` (then
    `work` is cancelled). asyncio.wait_for on the clock's sleep rather than the loop's
    timer, so a test clock decides when the time is up."""
    task = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(clock.sleep(timeout_s))
    try:
        await asyncio.wait((task, timer), return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
            await asyncio.wait((task,))
    except BaseException:  # we were cancelled: so is the work
        task.cancel()
        raise
    finally:
        timer.cancel()
    if task.cancelled():
        raise TimeoutError
    return task.result()
