"""Liveness does not follow the ledger or Plaid: an outage of either makes the service
unready (the orchestrator stops routing to it) but never unlive (it is not restarted);
both turn NOT_SERVING at shutdown. A real server on loopback, asked over gRPC."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service.adapters.store.sql import SqlDecisionStore
from service.ops.readiness import LIVENESS_SERVICE
from tests.conftest import EmulatorAdmin, Harness, payment
from tests.e2e.test_credentials import reject_our_keys
from tests.e2e.test_readiness import checked_often

__all__ = ["checked_often"]  # the fixture: the service, its ledger checked every 50 ms

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
READINESS = ("", "achrisk.v1.RiskDecisionService")


async def status(harness: Harness, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(harness.channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    found: int = reply.status
    return found


async def statuses(harness: Harness) -> dict[str, int]:
    return {s: await status(harness, s) for s in (*READINESS, LIVENESS_SERVICE)}


async def until_unready(harness: Harness) -> None:
    for _ in range(250):
        if await status(harness, "") == NOT_SERVING:
            return
        await asyncio.sleep(0.02)
    pytest.fail("readiness never turned NOT_SERVING")


async def test_a_failing_ledger_makes_the_service_unready_but_not_unlive(
    checked_often: Harness,
) -> None:
    await checked_often.stub.EvaluatePayment(payment(), timeout=10)
    assert await statuses(checked_often) == dict.fromkeys(
        (*READINESS, LIVENESS_SERVICE), SERVING
    )
    store = checked_often.service.store
    assert isinstance(store, SqlDecisionStore)

    await store._writer.close()  # as if the writer thread had died
    await until_unready(checked_often)
    await asyncio.sleep(0.2)  # several more ledger checks, all failing

    assert await statuses(checked_often) == {
        "": NOT_SERVING,
        "achrisk.v1.RiskDecisionService": NOT_SERVING,
        LIVENESS_SERVICE: SERVING,
    }


async def test_rejected_plaid_credentials_make_the_service_unready_but_not_unlive(
    harness: Harness, admin: EmulatorAdmin
) -> None:
    await reject_our_keys(admin, True)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await harness.stub.EvaluatePayment(payment(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INTERNAL

    assert await statuses(harness) == {
        "": NOT_SERVING,
        "achrisk.v1.RiskDecisionService": NOT_SERVING,
        LIVENESS_SERVICE: SERVING,
    }


async def test_at_shutdown_readiness_and_liveness_both_turn_not_serving(
    checked_often: Harness,
) -> None:
    """Once stopping, the server takes no new calls: what each name turns to is seen
    on Watch streams opened before, as a client that watches health sees it."""
    stub = health_pb2_grpc.HealthStub(checked_often.channel)
    names = (*READINESS, LIVENESS_SERVICE)
    watches = [stub.Watch(health_pb2.HealthCheckRequest(service=n)) for n in names]
    stopping: asyncio.Task[None] | None = None
    try:
        for watch in watches:  # each stream first says where it stands
            assert (await watch.read()).status == SERVING

        stopping = asyncio.create_task(checked_often.service.stop(grace_s=5.0))
        async with asyncio.timeout(5):
            after = [(await watch.read()).status for watch in watches]
        assert dict(zip(names, after, strict=True)) == dict.fromkeys(names, NOT_SERVING)
    finally:
        for watch in watches:
            watch.cancel()
        if stopping is not None:
            await stopping  # the watches were its only calls in flight
