"""Readiness follows the ledger too: a ledger that cannot be written makes NOT_SERVING."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from plaid_emulator import RunningEmulator
from service import main as app
from service.adapters.store.sql import SqlDecisionStore
from tests.conftest import (
    Harness,
    payment,
    sample,
    scrape,
    start_harness,
    stop_harness,
)


@pytest.fixture
async def checked_often(
    emulator: RunningEmulator, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    monkeypatch.setattr(app, "STATS_INTERVAL_S", 0.05)
    running = await start_harness(emulator.url, database_url=database_url)
    yield running
    await stop_harness(running)


async def status(harness: Harness) -> int:
    stub = health_pb2_grpc.HealthStub(harness.channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    found: int = reply.status
    return found


async def test_a_stopped_ledger_writer_makes_the_service_not_ready(
    checked_often: Harness,
) -> None:
    await checked_often.stub.EvaluatePayment(payment(), timeout=10)
    assert await status(checked_often) == health_pb2.HealthCheckResponse.SERVING
    text = await scrape(checked_often)
    assert sample(text, 'achrisk_ready{condition="ledger"} ') == 1
    assert sample(text, 'achrisk_ready{condition="plaid_credentials"} ') == 1
    store = checked_often.service.store
    assert isinstance(store, SqlDecisionStore)

    await store._writer.close()  # as if the writer thread had died
    for _ in range(100):
        if await status(checked_often) == health_pb2.HealthCheckResponse.NOT_SERVING:
            break
        await asyncio.sleep(0.02)

    assert await status(checked_often) == health_pb2.HealthCheckResponse.NOT_SERVING
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await checked_often.stub.EvaluatePayment(payment(), timeout=10)
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    # The alert's reading: which condition took the service out of traffic.
    text = await scrape(checked_often)
    assert 'achrisk_ready{condition="ledger"} 0.0' in text.splitlines()
    assert sample(text, 'achrisk_ready{condition="plaid_credentials"} ') == 1
