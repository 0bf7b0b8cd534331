"""EvaluatePayments' ordering helper: order kept, concurrency bounded, reader bounded."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, AsyncIterator

import pytest

from service.api.batch import ordered


async def numbers(n: int, read: list[int]) -> AsyncIterator[int]:
    for i in range(n):
        read.append(i)
        yield i


class TestOrdered:
    async def test_answers_leave_in_request_order_whatever_finishes_first(self) -> None:
        running = 0
        peak = 0

        async def answer(index: int, value: int) -> int:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            for _ in range(random.randint(0, 8)):  # finish in a scrambled order
                await asyncio.sleep(0)
            running -= 1
            return value * 10

        out = [x async for x in ordered(numbers(50, []), answer, concurrency=4)]
        assert out == [i * 10 for i in range(50)]
        assert peak <= 4

    async def test_the_reader_stops_while_answers_are_owed(self) -> None:
        read: list[int] = []
        gate = asyncio.Event()

        async def answer(index: int, value: int) -> int:
            await gate.wait()
            return value

        stream = ordered(numbers(100, read), answer, concurrency=3)
        assert isinstance(stream, AsyncGenerator)
        first: asyncio.Future[int] = asyncio.ensure_future(anext(stream))
        for _ in range(100):  # turns enough for an unbounded reader to read it all
            await asyncio.sleep(0)
        assert len(read) <= 5  # bounded by the queue, not the whole stream
        gate.set()
        assert await first == 0
        await stream.aclose()

    async def test_a_failing_request_stream_ends_the_batch_with_its_error(self) -> None:
        async def broken() -> AsyncIterator[int]:
            yield 1
            raise ConnectionResetError("client went away")

        async def answer(index: int, value: int) -> int:
            return value

        with pytest.raises(ConnectionResetError):
            _ = [x async for x in ordered(broken(), answer, concurrency=2)]
