"""Our own Plaid credentials rejected: INTERNAL to the caller and readiness NOT_SERVING."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from plaid_emulator import RunningEmulator
from tests.conftest import (
    EmulatorAdmin,
    Harness,
    default_scenario,
    packaged_config_plus,
    payment,
    sample,
    scrape,
    start_harness,
    stop_harness,
)


@pytest.fixture
async def probing(
    emulator: RunningEmulator, tmp_path: Path, database_url: str
) -> AsyncIterator[Harness]:
    config = packaged_config_plus(
        tmp_path, "[plaid]\ncredentials_probe_interval_s = 0.1\n"
    )
    running = await start_harness(emulator.url, config, database_url=database_url)
    yield running
    await stop_harness(running)


async def health(harness: Harness) -> int:
    stub = health_pb2_grpc.HealthStub(harness.channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    status: int = reply.status
    return status


async def reject_our_keys(admin: EmulatorAdmin, reject: bool) -> None:
    scenario = default_scenario()
    if reject:
        scenario["credentials"] = {"client_id": "someone-else", "secret": "not-ours"}
    await admin.put_scenario(scenario)


class TestCredentialsRejected:
    async def test_readiness_drops_and_returns_when_a_later_call_succeeds(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        await reject_our_keys(admin, True)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await harness.stub.EvaluatePayment(payment(), timeout=10)
        assert caught.value.code() == grpc.StatusCode.INTERNAL
        assert await health(harness) == health_pb2.HealthCheckResponse.NOT_SERVING
        # What the credentials alert reads (deploy/prometheus/rules).
        ready = 'achrisk_ready{condition="plaid_credentials"} '
        assert f"{ready}0.0" in (await scrape(harness)).splitlines()
        await reject_our_keys(admin, False)
        await harness.stub.EvaluatePayment(payment(), timeout=10)
        assert await health(harness) == health_pb2.HealthCheckResponse.SERVING
        assert sample(await scrape(harness), ready) == 1

    async def test_a_probe_restores_readiness_without_traffic(
        self, probing: Harness, admin: EmulatorAdmin
    ) -> None:
        await reject_our_keys(admin, True)
        with pytest.raises(grpc.aio.AioRpcError):
            await probing.stub.EvaluatePayment(payment(), timeout=10)
        await asyncio.sleep(0.3)  # probes keep failing while the keys are rejected
        assert await health(probing) == health_pb2.HealthCheckResponse.NOT_SERVING
        await reject_our_keys(admin, False)
        for _ in range(50):
            if await health(probing) == health_pb2.HealthCheckResponse.SERVING:
                break
            await asyncio.sleep(0.05)
        assert await health(probing) == health_pb2.HealthCheckResponse.SERVING
        probes = [c for c in await admin.calls() if c["endpoint"] == "/item/get"]
        assert probes
        assert probes[-1]["error_code"] != "INVALID_API_KEYS"
