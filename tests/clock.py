"""ManualClock: a Clock that moves only when a test moves it.

Code under test sleeps on the clock; the test waits until it is asleep (`sleeping`),
moves time on (`advance`), and the sleeps that are due wake up. No test waits for real
time to pass, and what a test sees does not depend on how busy the machine is.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta
from typing import TypeVar

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
START_MONOTONIC = 1_000.0
T = TypeVar("T")


class ManualClock:
    """Wall and monotonic time that advance together, only through `advance`."""

    def __init__(
        self, start: datetime = START, monotonic: float = START_MONOTONIC
    ) -> None:
        self._start = start
        self._monotonic_start = monotonic
        self._elapsed = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._monotonic_start + self._elapsed

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)  # a zero sleep still lets others run, as asyncio's
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(
            self._sleepers, (self.monotonic() + seconds, next(self._order), wake)
        )
        self._changed.set()
        try:
            await wake
        finally:
            if not wake.done():  # cancelled: no longer a sleeper
                wake.cancel()
            self._sleepers = [s for s in self._sleepers if s[2] is not wake]
            heapq.heapify(self._sleepers)
            self._changed.set()

    @property
    def pending(self) -> list[float]:
        """How long until each pending sleep is due, soonest first."""
        now = self.monotonic()
        return sorted(at - now for at, _, wake in self._sleepers if not wake.done())

    def advance(self, seconds: float) -> None:
        """Move time on by `seconds` and wake every sleep that is now due."""
        if seconds < 0:
            raise ValueError("time does not go back")
        self._elapsed += seconds
        now = self.monotonic()
        while self._sleepers and self._sleepers[0][0] <= now:
            _, _, wake = heapq.heappop(self._sleepers)
            if not wake.done():
                wake.set_result(None)
        self._changed.set()

    async def sleeping(self, count: int = 1, give_up_s: float = 5.0) -> None:
        """Return once at least `count` sleeps are pending (the code under test has
        reached its wait), letting the event loop run meanwhile. `give_up_s` of real
        time only keeps a broken test from hanging: it measures nothing."""
        try:
            async with asyncio.timeout(give_up_s):
                while len(self.pending) < count:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"{len(self.pending)} sleeps pending on the clock, {count} expected"
            ) from None

    async def run(self, task: asyncio.Future[T], max_jumps: int = 100) -> list[float]:
        """Jump time from one pending sleep to the next until `task` is done; returns
        the waits jumped over, in order. A task still not done after `max_jumps`
        fails the test (e.g. a loop that ignores its deadline)."""
        jumps: list[float] = []
        while True:
            asleep = asyncio.ensure_future(self.sleeping())
            try:
                await asyncio.wait((task, asleep), return_when=asyncio.FIRST_COMPLETED)
            finally:
                asleep.cancel()
            if task.done():
                return jumps
            asleep.result()  # neither done nor asleep: the AssertionError it raised
            if len(jumps) >= max_jumps:
                raise AssertionError(f"still not done after {max_jumps} waits")
            jumps.append(self.pending[0])
            self.advance(self.pending[0])


class JumpingClock(ManualClock):
    """A ManualClock whose every sleep moves time on at once, by its own length.

    For code whose only waits on the clock are its own pauses (retry backoff): nothing
    races the jump. Waits on sockets stay real, as aiohttp's timeouts are its own.
    """

    async def sleep(self, seconds: float) -> None:
        self.advance(max(seconds, 0))
        await asyncio.sleep(0)
