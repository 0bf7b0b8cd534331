"""Composition root: settings in, adapters built, gRPC server started, shutdown handled."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc
from service.adapters.plaid_http import PlaidTransport
from service.adapters.plaid_retry import RetryingPoster
from service.adapters.plaid_signals import PlaidSignalSource
from service.api.servicer import RiskDecisionServicer
from service.config import Settings
from service.emulator import (
    RunningEmulator,
    default_scenario_path,
    load_scenario,
    start_emulator,
)
from service.evaluate import Budgets, Evaluator
from service.readiness import CredentialsWatch

log = structlog.get_logger("service.app")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RiskDecisionService"].full_name
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_PENDING_CALLS = 10_000


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunningService:
    """A started service; `stop()` drains it."""

    server: grpc.aio.Server
    port: int
    health: health_aio.HealthServicer
    transport: PlaidTransport
    emulator: RunningEmulator | None
    credentials: CredentialsWatch

    async def stop(self, grace_s: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)
        await self.credentials.close()
        await self.transport.close()
        if self.emulator is not None:
            await self.emulator.close()


async def start_service(settings: Settings) -> RunningService:
    """Build the adapters and start serving on settings.listen (port 0 picks one)."""
    emulator = None
    base_url = settings.plaid.base_url
    if base_url is None:
        emulator = await start_emulator(load_scenario(default_scenario_path()))
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
    health = health_aio.HealthServicer()
    source = PlaidSignalSource(RetryingPoster(transport, settings.plaid.retry), utc_now)
    credentials = CredentialsWatch(
        source,
        partial(_set_serving, health),
        probe_interval_s=settings.plaid.credentials_probe_interval_s,
    )
    try:
        evaluator = _evaluator(settings, source, credentials)
        server, port = await _start_grpc(settings, evaluator, health)
    except BaseException:
        await transport.close()
        if emulator is not None:
            await emulator.close()
        raise
    log.info(
        "service.started",
        listen=settings.listen,
        port=port,
        plaid_env=settings.plaid.env,
        config=settings.config_source,
        rulesets=sorted(settings.policies.rulesets),
    )
    return RunningService(server, port, health, transport, emulator, credentials)


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


async def _set_serving(health: health_aio.HealthServicer, serving: bool) -> None:
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ("", SERVICE_NAME):
        await health.set(name, status)


async def _start_grpc(
    settings: Settings, evaluator: Evaluator, health: health_aio.HealthServicer
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
    pb_grpc.add_RiskDecisionServiceServicer_to_server(
        RiskDecisionServicer(evaluator), server
    )
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
