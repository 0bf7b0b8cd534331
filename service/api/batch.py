"""Ordered, bounded-concurrency evaluation of a request stream (EvaluatePayments).

Up to `concurrency` items are evaluated or waiting at once; answers leave in request
order; the reader stops reading while that many are unanswered, so a fast writer is
held back by gRPC flow control instead of buffering without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

Req = TypeVar("Req")
Resp = TypeVar("Resp")
_END = object()


async def ordered(
    requests: AsyncIterator[Req],
    answer: Callable[[int, Req], Coroutine[Any, Any, Resp]],
    concurrency: int,
) -> AsyncIterator[Resp]:
    """Yield answer(i, request) for each request, in order, `concurrency` at a time."""
    pending: asyncio.Queue[asyncio.Task[Resp] | object] = asyncio.Queue()
    # A slot is held from reading a request until its answer is sent, so at most
    # `concurrency` requests are being evaluated or waiting to be sent.
    slots = asyncio.Semaphore(concurrency)

    async def read() -> None:
        index = 0
        async for request in requests:
            await slots.acquire()
            pending.put_nowait(asyncio.create_task(answer(index, request)))
            index += 1
        pending.put_nowait(_END)

    reader = asyncio.create_task(read())
    try:
        while True:
            item = await _next(pending, reader)
            if item is _END:
                break
            assert isinstance(item, asyncio.Task)
            yield await item
            slots.release()
        await reader  # surfaces a failure to read the request stream
    finally:
        reader.cancel()
        while not pending.empty():
            item = pending.get_nowait()
            if isinstance(item, asyncio.Task):
                item.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


async def _next(
    pending: asyncio.Queue[asyncio.Task[Resp] | object], reader: asyncio.Task[None]
) -> asyncio.Task[Resp] | object:
    """The next queued item, or the reader's failure if it dies before queuing one."""
    getter = asyncio.ensure_future(pending.get())
    done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        return getter.result()
    getter.cancel()
    reader.result()  # raises the reader's exception
    return _END
