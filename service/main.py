"""Composition root: settings in, adapters built, gRPC server started, shutdown handled."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Protocol

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from prometheus_client import start_http_server

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc
from service.adapters.plaid.http import PlaidTransport
from service.adapters.plaid.reports import PlaidReportSender
from service.adapters.plaid.requests import PlaidReportFormat
from service.adapters.plaid.retry import RetryingPoster
from service.adapters.plaid.signals import PlaidSignalSource
from service.adapters.store.sql import open_store
from service.api.callers import ApiKeys
from service.api.interceptors import Gatekeeper
from service.api.reflection import enable_reflection
from service.api.servicer import RiskDecisionServicer
from service.app.clock import Clock, SystemClock
from service.app.decide import Decider
from service.app.evaluate import EvaluatePayment
from service.app.outbox import OutboxWorker
from service.app.ports import (
    DecisionLedger,
    LedgerUpkeep,
    OutboxQueue,
    RateLedger,
    ReportInbox,
    SignalSource,
)
from service.app.rate_budget import RateGate
from service.app.reports import Reports
from service.config.settings import Settings
from service.emulated import embedded_emulator
from service.ops.metrics import Metrics
from service.ops.readiness import (
    LEDGER,
    LIVENESS_SERVICE,
    PLAID_CREDENTIALS,
    CredentialsWatch,
    Readiness,
    SetServing,
)
from service.ops.runtime import tune_garbage_collector
from service.ops.tracing import Tracing
from service.ops.worker_link import SupervisorLink

log = structlog.get_logger("service.main")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RiskDecisionService"].full_name
# The largest valid request, every string at its limit, is under 6 KiB (api/convert.py);
# a bigger one is refused by gRPC before Python allocates it, key or no key.
MAX_REQUEST_BYTES = 16 * 1024
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
MAX_PENDING_CALLS = 10_000
PURGE_INTERVAL_S = 3600.0
STATS_INTERVAL_S = 5.0
SWEEP_INTERVAL_S = 60.0
# Keepalive: find dead clients within a minute; let clients ping every 10 s at most.
KEEPALIVE_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
]


class Store(
    DecisionLedger, ReportInbox, OutboxQueue, LedgerUpkeep, RateLedger, Protocol
):
    """Every port the ledger adapter fills; only the composition root needs them all."""


@dataclass
class RunningService:
    """A started service; `stop()` drains it, then closes what start_service opened."""

    server: grpc.aio.Server
    port: int
    health: health_aio.HealthServicer
    store: Store
    metrics_port: int | None
    resources: contextlib.AsyncExitStack

    async def stop(self, grace_s: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)
        await self.resources.aclose()


async def start_service(
    settings: Settings,
    *,
    signal_source: SignalSource | None = None,
    store: Store | None = None,
    clock: Clock | None = None,
    link: SupervisorLink | None = None,
    tracing: Tracing | None = None,
) -> RunningService:
    """Start serving on settings.listen (port 0 picks one), with the production adapters
    for whatever is not given. Tests give fakes of Plaid's evaluations and of the
    ledger here; what is given is not closed by `stop()`, its owner closes it.
    `link`: this process is one of `--workers N`, its health gated by all of them.
    `tracing`: spans for every RPC, Plaid attempt and ledger write (None: off)."""
    owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tuning = settings.plaid.tuning
    clock = clock or SystemClock()  # the one clock every part reads
    async with contextlib.AsyncExitStack() as stack:
        transport = await _plaid_transport(settings, clock, stack, tracing)
        if store is None:
            store = await open_store(
                settings.state.database_url.reveal(),
                tracing.tracer("service.adapters.store") if tracing else None,
            )
            stack.push_async_callback(store.close)
        health = health_aio.HealthServicer()
        # grpc's servicer starts SERVING; a worker must not say so before it is gated.
        await _set_serving(health, False)
        # Liveness: this process answers, until shutdown (enter_graceful_shutdown sets
        # every name NOT_SERVING). Never the ledger's or Plaid's state, never gated by
        # the other workers: a stuck worker is the supervisor's heartbeat to find.
        await health.set(LIVENESS_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        set_serving: SetServing = partial(_set_serving, health)
        if link is not None:
            set_serving = await link.connect(set_serving)
            stack.push_async_callback(link.close)
        metrics = Metrics()
        readiness = Readiness(set_serving, observe=metrics.readiness)
        rates = RateGate(
            store,
            settings.rate_budgets,
            settings.state.fingerprint_key.reveal().encode(),
            settings.plaid.client_id,
            clock,
            observe=metrics.rate_budget,
        )
        source = signal_source or PlaidSignalSource(
            RetryingPoster(transport, tuning.retry.policy(), clock), clock, rates
        )
        credentials = CredentialsWatch(
            source,
            partial(readiness.set, PLAID_CREDENTIALS),
            clock,
            probe_interval_s=tuning.credentials_probe_interval_s,
        )
        stack.push_async_callback(credentials.close)
        outbox = OutboxWorker(
            store,
            PlaidReportSender(transport, clock),
            owner,
            settings.state.outbox.policy(),
            clock,
            observe=metrics.delivery,
            sent=metrics.report_sent,
        )
        evaluator = EvaluatePayment(
            Decider(source, settings.policies, tuning.budgets(), clock, credentials),
            store,
            settings.state.fingerprint_key.reveal().encode(),
            owner,
            lease_s=tuning.live_balance_budget_s,
            clock=clock,
        )
        # Runs before the store closes (the stack unwinds last-in first-out).
        stack.push_async_callback(evaluator.drain, tuning.live_balance_budget_s)
        reports = Reports(
            store,
            PlaidReportFormat(),
            clock,
            outbox.wake,
            report_balance_only=settings.state.outbox.report_balance_only,
        )
        servicer = RiskDecisionServicer(evaluator, reports, metrics, clock)
        keys = settings.server.api_key_hashes
        gate = Gatekeeper(
            ApiKeys(keys) if keys is not None else None,
            settings.server.limits.max_in_flight,
            metrics,
            clock,
        )
        # Tracing first: its span is current while the gate and the servicer run.
        interceptors: list[grpc.aio.ServerInterceptor] = [gate]
        if tracing is not None:
            interceptors[:0] = tracing.server_interceptors()
        server, port = await _start_grpc(settings, servicer, health, interceptors)
        stack.push_async_callback(server.stop, 0)  # only if a later start step fails
        await set_serving(True)
        outbox.start()
        stack.push_async_callback(outbox.stop)
        _start_housekeeping(
            store,
            metrics,
            readiness,
            settings.state.ledger.retention_days,
            clock,
            stack,
            rates,
        )
        metrics_port = _serve_metrics(settings.server.metrics_listen, metrics, stack)
        _log_started(settings, port, owner)
        resources = stack.pop_all()
    return RunningService(server, port, health, store, metrics_port, resources)


async def _plaid_transport(
    settings: Settings,
    clock: Clock,
    stack: contextlib.AsyncExitStack,
    tracing: Tracing | None,
) -> PlaidTransport:
    base_url = settings.plaid.base_url
    if base_url is None:
        base_url = await embedded_emulator(stack)
        log.warning(
            "plaid.emulator_embedded",
            url=base_url,
            note="PLAID_ENV=emulator without PLAID_BASE_URL: not real Plaid",
        )
    transport = PlaidTransport(
        base_url,
        settings.plaid.client_id,
        settings.plaid.secret,
        clock=clock,
        pool_size=settings.plaid.tuning.pool_size,
        connect_timeout_s=settings.plaid.tuning.connect_timeout_s,
        tracer=tracing.tracer("service.adapters.plaid") if tracing else None,
    )
    await transport.start()
    stack.push_async_callback(transport.close)
    return transport


def _start_housekeeping(
    store: LedgerUpkeep,
    metrics: Metrics,
    readiness: Readiness,
    retention_days: int,
    clock: Clock,
    stack: contextlib.AsyncExitStack,
    rates: RateGate,
) -> None:
    """Every few seconds the ledger's health (readiness) and the outbox gauges;
    rate-budget spends past their windows swept every minute; decisions past
    retention purged hourly."""

    async def forever() -> None:
        last_purge = last_sweep = -PURGE_INTERVAL_S
        while True:
            try:
                if clock.monotonic() - last_sweep >= SWEEP_INTERVAL_S:
                    last_sweep = clock.monotonic()
                    await rates.sweep()
                await readiness.set(LEDGER, await store.ready())
                metrics.outbox(await store.outbox_stats(clock.now()))
                if clock.monotonic() - last_purge >= PURGE_INTERVAL_S:
                    last_purge = clock.monotonic()
                    purged = await store.purge(
                        clock.now() - timedelta(days=retention_days)
                    )
                    if purged:
                        log.info(
                            "ledger.purged",
                            decisions=purged,
                            retention_days=retention_days,
                        )
            except Exception:  # the store may be down: try again at the next round
                log.exception("ledger.housekeeping_failed")
            await clock.sleep(STATS_INTERVAL_S)

    task = asyncio.create_task(forever(), name="housekeeping")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)


async def _set_serving(health: health_aio.HealthServicer, serving: bool) -> None:
    """Readiness: the whole server ("") and the service's own name, never liveness."""
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ("", SERVICE_NAME):
        await health.set(name, status)


def _serve_metrics(
    listen: str | None, metrics: Metrics, stack: contextlib.AsyncExitStack
) -> int | None:
    """Prometheus' text format on http://LISTEN/metrics, from a thread of its own."""
    if listen is None:
        return None
    host, _, port = listen.rpartition(":")
    http, thread = start_http_server(int(port), host.strip("[]"), metrics.registry)
    bound: int = http.server_address[1]

    async def stop() -> None:
        http.shutdown()
        http.server_close()
        thread.join(timeout=5)

    stack.push_async_callback(stop)
    return bound


async def _start_grpc(
    settings: Settings,
    servicer: RiskDecisionServicer,
    health: health_aio.HealthServicer,
    interceptors: list[grpc.aio.ServerInterceptor],
) -> tuple[grpc.aio.Server, int]:
    """The gRPC server with our service, health checking and reflection, started."""
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            *KEEPALIVE_OPTIONS,
            ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
            ("grpc.max_send_message_length", MAX_RESPONSE_BYTES),
            # gRPC core CANCELs calls that arrive faster than Python picks them up once
            # 1,000 are pending; a burst of slow Plaid calls must not hit that default.
            ("grpc.server.max_pending_requests", MAX_PENDING_CALLS),
            ("grpc.server.max_pending_requests_hard_limit", 2 * MAX_PENDING_CALLS),
        ],
    )
    pb_grpc.add_RiskDecisionServiceServicer_to_server(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    # Reflection that also finds methods, so ghz and grpcurl need no proto files.
    enable_reflection((SERVICE_NAME, health_name), server)
    tls = settings.server.tls
    if tls is None:
        port = server.add_insecure_port(settings.listen)
    else:
        credentials = grpc.ssl_server_credentials(
            [(tls.key.read_bytes(), tls.cert.read_bytes())],
            root_certificates=tls.client_ca.read_bytes() if tls.client_ca else None,
            require_client_auth=tls.client_ca is not None,
        )
        port = server.add_secure_port(settings.listen, credentials)
    if port == 0:
        raise OSError(f"cannot listen on {settings.listen}")
    await server.start()
    return server, port


def _log_started(settings: Settings, port: int, owner: str) -> None:
    if settings.server.api_key_hashes is None:
        log.warning(
            "auth.disabled",
            note="no ACH_RISK_API_KEYS_FILE: allowed only on loopback with the emulator",
        )
    for note in settings.notes:
        log.warning("config.deprecated", note=note)
    if settings.state.development_fingerprint_key:
        log.warning(
            "ledger.development_fingerprint_key",
            note="set ACH_RISK_FINGERPRINT_KEY: the built-in key is public",
        )
    log.info(
        "service.started",
        listen=settings.listen,
        port=port,
        tls=settings.server.tls is not None,
        mutual_tls=settings.server.tls is not None
        and settings.server.tls.client_ca is not None,
        metrics=settings.server.metrics_listen,
        instance=owner,
        plaid_env=settings.plaid.env,
        config=settings.config_source,
        rulesets=sorted(settings.policies.rulesets),
    )


async def serve_forever(
    settings: Settings,
    link: SupervisorLink | None = None,
    tracing: Tracing | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then drain within the grace period. A worker of
    `--workers N` (`link`) also drains when its supervisor goes away. The spans still
    queued are exported after the drain, before the process exits."""
    grace_s = settings.server.limits.grace_s
    try:
        await _serve_until_stopped(settings, link, tracing, grace_s)
    finally:
        if tracing is not None:
            # Blocks for at most the exporter's timeout: the process is leaving.
            tracing.shutdown()


async def _serve_until_stopped(
    settings: Settings,
    link: SupervisorLink | None,
    tracing: Tracing | None,
    grace_s: float,
) -> None:
    service = await start_service(settings, link=link, tracing=tracing)
    tune_garbage_collector()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    if link is not None:
        link.on_lost(stopping.set)
    await stopping.wait()
    log.info("service.stopping", grace_s=grace_s)
    if link is not None:
        await link.leaving()
    await service.stop(grace_s)
    log.info("service.stopped")
