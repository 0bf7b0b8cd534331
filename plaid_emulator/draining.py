"""Stopping with calls in flight: the emulator ends them itself before aiohttp's cleanup.

aiohttp's own graceful stop waits for each connection's call on a future under a
timeout. When that timeout fires in the same pass of the event loop as the call ends
(its latency is up, or its client hung up and it was cancelled), the timeout has
already cancelled the future and the call's own ending then sets its result: aiohttp
logs "Unhandled exception ... InvalidStateError" with a traceback for that connection.
With thousands of slow calls in flight and the loop busy answering them, stopping
logged a few such tracebacks. So the emulator stops listening, waits a grace period for
the calls in flight, cancels those left (each finishes its call, as when its client
hangs up), and only then lets aiohttp clean up, with no call left for it to wait on.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
IN_FLIGHT: Final = web.AppKey[set["asyncio.Task[object]"]]("in_flight")
# A call dispatched on a connection just before the stop starts its task a pass or two
# of the event loop later; yielding this often first lets it register.
_SETTLE_PASSES: Final = 3


@web.middleware
async def track_in_flight(
    request: web.Request, handler: _Handler
) -> web.StreamResponse:
    """Note the task answering each call until it ends: that is after the answer is
    written, which aiohttp does in the same task once the handler returns."""
    task = asyncio.current_task()
    if task is not None:  # aiohttp always runs a handler in a task
        tasks = request.app[IN_FLIGHT]
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    return await handler(request)


async def stop_serving(runner: web.AppRunner, grace_s: float) -> None:
    """Stop accepting connections and calls, wait up to `grace_s` for the calls in
    flight, then cancel the rest and wait for them to finish."""
    for site in list(runner.sites):
        await site.stop()
    if runner.server is not None:
        # Idle keep-alive connections close; busy ones close after their call.
        runner.server.pre_shutdown()
    tasks = runner.app[IN_FLIGHT]
    for _ in range(_SETTLE_PASSES):
        await asyncio.sleep(0)
    if tasks:
        await asyncio.wait(set(tasks), timeout=grace_s)
    for task in set(tasks):
        task.cancel()
    if tasks:
        # A cancelled call finishes at once (see server._answer); the bound is for
        # safety only, aiohttp's cleanup deals with anything left.
        await asyncio.wait(set(tasks), timeout=grace_s)
