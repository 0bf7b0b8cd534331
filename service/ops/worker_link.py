"""A worker's end of its private socket to the supervisor (`ach-risk serve --workers N`).

The supervisor (service/workers/) gives each worker one end of a socketpair. Lines go
both ways, each `ready` or `unready`:

- the worker sends its own readiness (what Readiness decides: ledger, Plaid credentials,
  the server started) when it changes and again every HEARTBEAT_S, so that a worker whose
  event loop stalls stops counting as ready;
- the supervisor sends whether every worker is ready, when that changes and as soon as
  the worker connects.

The worker answers gRPC health checks with SERVING only while both hold: a check lands on
one worker of the shared port, and must speak for all of them. When the socket closes
(the supervisor died) the worker is told to stop, so that it drains instead of serving
on alone. docs/workers.md has the whole design.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

import structlog

from service.ops.readiness import SetServing

log = structlog.get_logger("service.ops.worker_link")
READY = b"ready\n"
UNREADY = b"unready\n"
HEARTBEAT_S = 1.0


def encode(ready: bool) -> bytes:
    return READY if ready else UNREADY


def decode(line: bytes) -> bool | None:
    """True for `ready`, False for `unready`, None for anything else."""
    if line == READY:
        return True
    if line == UNREADY:
        return False
    return None


class SupervisorLink:
    """Reports this worker's readiness and applies every worker's to its health."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._own = False
        self._everyone = False  # until the supervisor says otherwise
        self._left = False
        self._lost = False
        self._set_serving: SetServing | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._on_lost: Callable[[], None] = lambda: None

    async def connect(self, set_serving: SetServing) -> SetServing:
        """Open the socket and start listening; returns what readiness should call
        with this worker's own state instead of `set_serving` (the health servicer's)."""
        self._set_serving = set_serving
        reader, self._writer = await asyncio.open_unix_connection(
            sock=socket.socket(fileno=self._fd)
        )
        self._tasks = [
            asyncio.create_task(self._listen(reader), name="supervisor-link"),
            asyncio.create_task(self._heartbeat(), name="supervisor-heartbeat"),
        ]
        return self._own_readiness

    async def leaving(self) -> None:
        """This worker drains (SIGTERM): no longer ready, whatever readiness says."""
        await self._own_readiness(False)
        self._left = True

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the supervisor goes away (at once if it already has)."""
        self._on_lost = callback
        if self._lost:
            callback()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    async def _own_readiness(self, ready: bool) -> None:
        if self._left:
            return  # draining: readiness changes are not passed on
        self._own = ready
        self._send()
        await self._apply()

    def _send(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(encode(self._own))

    async def _apply(self) -> None:
        if self._set_serving is not None:
            await self._set_serving(self._own and self._everyone)

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                everyone = decode(line)
                if everyone is not None and everyone != self._everyone:
                    self._everyone = everyone
                    await self._apply()
        log.warning("worker.supervisor_lost", action="draining")
        self._lost = True
        self._everyone = False
        await self._apply()
        self._on_lost()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            self._send()
