"""One worker slot of the supervisor: start the process, restart it when it exits (backing
off when it crash-loops), and drain it when the supervisor stops (docs/workers.md).

Workers are new processes (`python -m service serve --worker-link FD ...`), never forks
of the supervisor: gRPC's threads do not survive a fork, and a fresh interpreter is the
one safe way to start a gRPC server beside others.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
from dataclasses import dataclass, field

import structlog

from service.ops.worker_link import decode
from service.ops.worker_metrics import WorkerMetrics
from service.workers.readiness import WorkersReadiness

log = structlog.get_logger("service.workers")
# A worker that ran this long before it exited was not crash-looping: restart it at once.
STABLE_S = 30.0
# A crash loop's restarts wait 0.5 s, 1 s, 2 s, ... up to 30 s.
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 30.0


class WorkerFailedToStart(Exception):
    """A worker exited before it ever served: the configuration or the machine is wrong,
    and restarting it would not help (the supervisor stops, exit 1)."""


@dataclass(slots=True)
class Backoff:
    """Restart at once after one crash; wait twice as long after each quick one more."""

    quick_exits: int = 0

    def delay_after(self, uptime_s: float) -> float:
        if uptime_s >= STABLE_S:
            self.quick_exits = 0
        self.quick_exits += 1
        if self.quick_exits == 1:
            return 0.0
        return float(min(FIRST_DELAY_S * 2 ** (self.quick_exits - 2), MAX_DELAY_S))


@dataclass
class Settings:
    """What every worker slot shares."""

    command: list[str]  # to which --worker-link and --worker-index are added
    env: dict[str, str]
    readiness: WorkersReadiness
    metrics: WorkerMetrics
    stop_after_s: float  # SIGKILL a worker still draining this long after SIGTERM
    silence_kill_s: float = 60.0  # SIGKILL a serving worker silent this long


@dataclass
class Worker:
    """Worker `index`: its current process, restarted until the supervisor stops."""

    index: int
    settings: Settings
    backoff: Backoff = field(default_factory=Backoff)
    killed: bool = False  # it overstayed its drain and got SIGKILL
    _served: bool = False
    _listener: asyncio.Task[None] | None = None

    async def run(self, stopping: asyncio.Event) -> None:
        """Keep the worker running until `stopping` is set, then drain it. Raises
        WorkerFailedToStart if its first process exits before it ever served."""
        first = True
        while True:
            process, started = await self._spawn(first), time.monotonic()
            exited = asyncio.ensure_future(process.wait())
            stop = asyncio.ensure_future(stopping.wait())
            watch = asyncio.ensure_future(self._watch(process))
            await asyncio.wait({exited, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            watch.cancel()
            if not exited.done():
                await self._drain(process, exited)
                return
            self._gone(process, started)
            if stopping.is_set():
                return
            if first and not self._served:
                raise WorkerFailedToStart(f"worker {self.index} exited before serving")
            delay_s = self.backoff.delay_after(time.monotonic() - started)
            if delay_s:
                log.warning(
                    "worker.restart_delayed", worker=self.index, delay_s=delay_s
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), delay_s)
                if stopping.is_set():
                    return
            first = False

    async def _spawn(self, first: bool) -> asyncio.subprocess.Process:
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                *self.settings.command,
                "--worker-link",
                str(theirs.fileno()),
                "--worker-index",
                str(self.index),
                env=self.settings.env,
                stdin=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the worker holds its own copy
        self.settings.metrics.worker_started(process.pid)
        if first:
            log.info("worker.started", worker=self.index, pid=process.pid)
        else:
            self.settings.metrics.restarts.inc()
            log.info("worker.restarted", worker=self.index, pid=process.pid)
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        self.settings.readiness.joined(self.index, writer)
        self._listener = asyncio.create_task(
            self._listen(reader, writer), name=f"worker-{self.index}"
        )
        return process

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        """Kill the worker if it served and then fell silent for silence_kill_s: its
        event loop is stuck, and a probe that reaches another worker would never see
        it. Killed, it is restarted as any worker that dies."""
        while True:
            await asyncio.sleep(min(1.0, self.settings.silence_kill_s / 4))
            silent = self.settings.readiness.silent_s(self.index, time.monotonic())
            if (
                self._served
                and silent is not None
                and silent > self.settings.silence_kill_s
            ):
                log.error(
                    "worker.unresponsive",
                    worker=self.index,
                    pid=process.pid,
                    silent_s=round(silent, 1),
                )
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                return

    async def _listen(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """The worker's lines until its end of the link closes (it exited)."""
        readiness = self.settings.readiness
        try:
            while line := await reader.readline():
                ready = decode(line)
                if ready is not None:
                    self._served = self._served or ready
                    readiness.reported(self.index, ready)
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _drain(
        self, process: asyncio.subprocess.Process, exited: asyncio.Future[int]
    ) -> None:
        """SIGTERM (the worker drains as a lone server does), then SIGKILL if it
        overstays."""
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(exited), self.settings.stop_after_s)
        except TimeoutError:
            log.error(
                "worker.killed",
                worker=self.index,
                pid=process.pid,
                after_s=self.settings.stop_after_s,
            )
            self.killed = True
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await exited
        self._gone(process, None)

    def _gone(self, process: asyncio.subprocess.Process, started: float | None) -> None:
        """Log the exit and forget the process (readiness, live metrics). `started`:
        when it started, for an exit the supervisor did not ask for."""
        code = process.returncode
        assert code is not None  # waited for
        if self._listener is not None:
            # Lines still buffered from the dead process must not count it ready again:
            # cancelled here, it reads no further (nothing awaits in between).
            self._listener.cancel()
        self.settings.metrics.worker_exited(process.pid)
        self.settings.readiness.left(self.index)
        how = (
            {"signal": signal.Signals(-code).name} if code < 0 else {"exit_code": code}
        )
        if started is None:
            log.info("worker.stopped", worker=self.index, pid=process.pid, **how)
        else:
            uptime_s = round(time.monotonic() - started, 3)
            log.error(
                "worker.exited",
                worker=self.index,
                pid=process.pid,
                uptime_s=uptime_s,
                **how,
            )
