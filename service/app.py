"""Composition root: settings in, adapters built, gRPC server started, shutdown handled."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc
from service.adapters.plaid_http import PlaidTransport
from service.adapters.plaid_reports import PlaidReportSender
from service.adapters.plaid_requests import PlaidReportFormat
from service.adapters.plaid_retry import RetryingPoster
from service.adapters.plaid_signals import PlaidSignalSource
from service.adapters.sql_store import open_store
from service.api.servicer import RiskDecisionServicer
from service.config import Settings
from service.emulator import default_scenario_path, load_scenario, start_emulator
from service.evaluate import Budgets, Evaluator
from service.idempotency import IdempotentEvaluator
from service.outbox import OutboxWorker
from service.ports import DecisionStore
from service.readiness import CredentialsWatch
from service.reporting import Reports

log = structlog.get_logger("service.app")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RiskDecisionService"].full_name
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_PENDING_CALLS = 10_000
PURGE_INTERVAL_S = 3600.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunningService:
    """A started service; `stop()` drains it, then closes what start_service opened."""

    server: grpc.aio.Server
    port: int
    health: health_aio.HealthServicer
    store: DecisionStore
    outbox: OutboxWorker
    resources: contextlib.AsyncExitStack

    async def stop(self, grace_s: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)
        await self.resources.aclose()


async def start_service(settings: Settings) -> RunningService:
    """Build the adapters and start serving on settings.listen (port 0 picks one)."""
    owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    async with contextlib.AsyncExitStack() as stack:
        transport = await _plaid_transport(settings, stack)
        store = await open_store(settings.state.database_url.reveal())
        stack.push_async_callback(store.close)
        health = health_aio.HealthServicer()
        source = PlaidSignalSource(
            RetryingPoster(transport, settings.plaid.retry), utc_now
        )
        credentials = CredentialsWatch(
            source,
            partial(_set_serving, health),
            probe_interval_s=settings.plaid.credentials_probe_interval_s,
        )
        stack.push_async_callback(credentials.close)
        outbox = OutboxWorker(
            store, PlaidReportSender(transport), owner, settings.state.outbox, utc_now
        )
        evaluator = IdempotentEvaluator(
            _evaluator(settings, source, credentials),
            store,
            settings.state.fingerprint_key.reveal().encode(),
            owner,
            lease_s=settings.plaid.live_balance_budget_s,
            clock=utc_now,
        )
        reports = Reports(store, PlaidReportFormat(), utc_now, outbox.wake)
        servicer = RiskDecisionServicer(evaluator, reports)
        server, port = await _start_grpc(settings, servicer, health)
        outbox.start()
        stack.push_async_callback(outbox.stop)
        _start_purge(store, settings.state.retention_days, stack)
        _log_started(settings, port, owner)
        resources = stack.pop_all()
    return RunningService(server, port, health, store, outbox, resources)


async def _plaid_transport(
    settings: Settings, stack: contextlib.AsyncExitStack
) -> PlaidTransport:
    base_url = settings.plaid.base_url
    if base_url is None:
        emulator = await start_emulator(load_scenario(default_scenario_path()))
        stack.push_async_callback(emulator.close)
        base_url = emulator.url
        log.warning(
            "plaid.emulator_embedded",
            url=base_url,
            note="PLAID_ENV=emulator without PLAID_BASE_URL: not real Plaid",
        )
    transport = PlaidTransport(
        base_url,
        settings.plaid.client_id,
        settings.plaid.secret,
        pool_size=settings.plaid.pool_size,
        connect_timeout_s=settings.plaid.connect_timeout_s,
    )
    await transport.start()
    stack.push_async_callback(transport.close)
    return transport


def _evaluator(
    settings: Settings, source: PlaidSignalSource, credentials: CredentialsWatch
) -> Evaluator:
    plaid = settings.plaid
    budgets = Budgets(
        scores_s=plaid.scores_budget_s,
        live_balance_s=plaid.live_balance_budget_s,
        scores_attempt_s=plaid.scores_attempt_timeout_s,
        live_balance_attempt_s=plaid.live_balance_attempt_timeout_s,
    )
    return Evaluator(source, settings.policies, budgets, utc_now, credentials)


def _start_purge(
    store: DecisionStore, retention_days: int, stack: contextlib.AsyncExitStack
) -> None:
    """Forget decisions past the retention period, hourly."""

    async def purge_forever() -> None:
        while True:
            try:
                purged = await store.purge(utc_now() - timedelta(days=retention_days))
                if purged:
                    log.info(
                        "ledger.purged", decisions=purged, retention_days=retention_days
                    )
            except Exception:  # the store may be down: try again at the next interval
                log.exception("ledger.purge_failed")
            await asyncio.sleep(PURGE_INTERVAL_S)

    task = asyncio.create_task(purge_forever(), name="purge")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)


async def _set_serving(health: health_aio.HealthServicer, serving: bool) -> None:
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ("", SERVICE_NAME):
        await health.set(name, status)


async def _start_grpc(
    settings: Settings,
    servicer: RiskDecisionServicer,
    health: health_aio.HealthServicer,
) -> tuple[grpc.aio.Server, int]:
    """The gRPC server with our service, health checking and reflection, started."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # gRPC core CANCELs calls that arrive faster than Python picks them up once
            # 1,000 are pending; a burst of slow Plaid calls must not hit that default.
            ("grpc.server.max_pending_requests", MAX_PENDING_CALLS),
            ("grpc.server.max_pending_requests_hard_limit", 2 * MAX_PENDING_CALLS),
        ]
    )
    pb_grpc.add_RiskDecisionServiceServicer_to_server(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_name, reflection.SERVICE_NAME), server
    )
    port = server.add_insecure_port(settings.listen)
    if port == 0:
        raise OSError(f"cannot listen on {settings.listen}")
    await server.start()
    await _set_serving(health, True)
    return server, port


def _log_started(settings: Settings, port: int, owner: str) -> None:
    if settings.state.development_fingerprint_key:
        log.warning(
            "ledger.development_fingerprint_key",
            note="set ACH_RISK_FINGERPRINT_KEY: the built-in key is public",
        )
    log.info(
        "service.started",
        listen=settings.listen,
        port=port,
        instance=owner,
        plaid_env=settings.plaid.env,
        config=settings.config_source,
        rulesets=sorted(settings.policies.rulesets),
    )


async def serve_forever(settings: Settings, grace_s: float = 10.0) -> None:
    """Run until SIGTERM or SIGINT, then drain within grace_s."""
    service = await start_service(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("service.stopping", grace_s=grace_s)
    await service.stop(grace_s)
    log.info("service.stopped")
