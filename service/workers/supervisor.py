"""`ach-risk serve --workers N`: one supervisor process, N serving processes on one port.

The supervisor migrates the ledger once, starts the Plaid emulator once when there is no
PLAID_BASE_URL, serves the one metrics endpoint, starts the N workers (each a whole
`ach-risk serve` bound to the same address with SO_REUSEPORT), keeps them running, and
on SIGTERM or SIGINT drains them all. It imports neither gRPC nor the service's handlers.
docs/workers.md has the design and what it relies on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Callable

import structlog

from service.adapters.store.sql import migrate_store
from service.config.settings import Settings
from service.emulated import embedded_emulator
from service.ops.worker_metrics import WorkerMetrics
from service.workers import worker
from service.workers.readiness import WorkersReadiness

log = structlog.get_logger("service.workers")
# After SIGTERM a worker drains for [server] grace_s, then closes the outbox and the
# ledger; past grace_s plus this, it is killed.
STOP_MARGIN_S = 5.0
# How often the supervisor looks for workers whose readiness went stale.
TICK_S = 0.5


async def supervise(settings: Settings, config_path: str | None) -> int:
    """Run settings.server.workers workers until SIGTERM or SIGINT; the exit code:
    0 when every worker drained, 1 when one had to be killed or never started."""
    count = settings.server.workers
    grace_s = settings.server.limits.grace_s
    stopping = asyncio.Event()

    def stop() -> None:
        if not stopping.is_set():
            log.info("workers.stopping", grace_s=grace_s)
            stopping.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    async with contextlib.AsyncExitStack() as stack:
        directory = stack.enter_context(
            tempfile.TemporaryDirectory(prefix="ach-risk-metrics-")
        )
        # Once, before any worker opens the ledger: each then finds the schema at head.
        await migrate_store(settings.state.database_url.reveal())
        env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": directory}
        if settings.plaid.base_url is None:
            env["PLAID_BASE_URL"] = await embedded_emulator(stack)
            log.warning(
                "plaid.emulator_embedded",
                url=env["PLAID_BASE_URL"],
                note="PLAID_ENV=emulator without PLAID_BASE_URL: not real Plaid",
            )
        metrics = WorkerMetrics(directory)
        stack.callback(metrics.close)
        listen = settings.server.metrics_listen
        metrics_port = metrics.serve(listen) if listen else None
        readiness = WorkersReadiness(count)
        shared = worker.Settings(
            command=_command(settings, config_path),
            env=env,
            readiness=readiness,
            metrics=metrics,
            stop_after_s=grace_s + STOP_MARGIN_S,
            silence_kill_s=settings.server.limits.worker_silence_s,
        )
        log.info(
            "workers.starting",
            workers=count,
            listen=settings.listen,
            metrics=listen,
            metrics_port=metrics_port,
            supervisor_pid=os.getpid(),
        )
        tick = asyncio.create_task(_tick(readiness), name="workers-readiness")
        stack.push_async_callback(_cancel, tick)
        announce = asyncio.create_task(_announce(readiness, count), name="announce")
        stack.push_async_callback(_cancel, announce)
        slots = [worker.Worker(i, shared) for i in range(count)]
        return await _run(slots, stopping, stop)


async def _run(
    slots: list[worker.Worker], stopping: asyncio.Event, stop: Callable[[], None]
) -> int:
    """Every slot until `stopping`; a worker that never started stops them all."""
    runs = [asyncio.create_task(w.run(stopping), name=f"run-{w.index}") for w in slots]
    await asyncio.wait(runs, return_when=asyncio.FIRST_EXCEPTION)
    failed = [r for r in runs if r.done() and r.exception() is not None]
    if failed:
        log.error("workers.failed_to_start", reason=str(failed[0].exception()))
        stop()
    await asyncio.gather(*runs, return_exceptions=True)
    killed = [w.index for w in slots if w.killed]
    log.info("workers.stopped", killed=killed)
    return 1 if failed or killed else 0


def _command(settings: Settings, config_path: str | None) -> list[str]:
    """A worker: this `serve` on the same address, without a metrics endpoint of its own
    (the supervisor serves all of theirs); the environment carries everything else."""
    command = [sys.executable, "-m", "service", "serve", "--listen", settings.listen]
    command += ["--metrics-listen", ""]
    if config_path:
        command += ["--config", config_path]
    return command


async def _tick(readiness: WorkersReadiness) -> None:
    while True:
        await asyncio.sleep(TICK_S)
        readiness.check()


async def _announce(readiness: WorkersReadiness, count: int) -> None:
    await readiness.became_ready.wait()
    log.info("workers.started", workers=count)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
