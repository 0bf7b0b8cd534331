"""Refused RPCs are counted on their own and kept out of the latency histogram, over a
real gRPC server: the Gatekeeper refuses calls without a valid key and sheds calls
beyond max_in_flight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from plaid_emulator import RunningEmulator
from service._proto.achrisk.v1 import risk_service_pb2 as pb
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

FIXTURES = Path(__file__).parents[1] / "fixtures"
API_KEYS = {"ACH_RISK_API_KEYS_FILE": str(FIXTURES / "api-keys.toml")}
CHECKOUT = (("authorization", "Bearer test-api-key-checkout"),)
MAX_IN_FLIGHT = 2


def refused(code: str) -> str:
    return f'achrisk_rpc_refused_total{{code="{code}",method="EvaluatePayment"}} '


def handled(code: str) -> str:
    return (
        f'achrisk_rpc_duration_seconds_count{{code="{code}",method="EvaluatePayment"}} '
    )


@pytest.fixture
async def gated(
    emulator: RunningEmulator, admin: EmulatorAdmin, database_url: str, tmp_path: Path
) -> AsyncIterator[Harness]:
    """API keys on, at most MAX_IN_FLIGHT calls, and Plaid slow enough to fill them."""
    scenario = default_scenario()
    scenario["latency_ms"] = {"/signal/evaluate": 800}
    await admin.put_scenario(scenario)
    config = packaged_config_plus(
        tmp_path, f"[server]\nmax_in_flight = {MAX_IN_FLIGHT}\n"
    )
    running = await start_harness(
        emulator.url, config, env=API_KEYS, database_url=database_url
    )
    yield running
    await stop_harness(running)


async def until_in_flight(harness: Harness, count: int) -> None:
    for _ in range(200):
        if sample(await scrape(harness), "achrisk_rpc_in_flight ") == count:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"never {count} calls in flight")


async def refused_with(harness: Harness, metadata: tuple[tuple[str, str], ...]) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await harness.stub.EvaluatePayment(payment(), metadata=metadata, timeout=5)
    return caught.value.code().name


async def test_calls_without_a_key_are_counted_as_refused_not_timed(
    gated: Harness,
) -> None:
    for _ in range(3):
        assert await refused_with(gated, ()) == "UNAUTHENTICATED"
    await gated.stub.EvaluatePayment(payment(), metadata=CHECKOUT, timeout=5)

    text = await scrape(gated)
    assert sample(text, refused("UNAUTHENTICATED")) == 3
    assert handled("UNAUTHENTICATED") not in text
    assert sample(text, handled("OK")) == 1
    assert sample(text, "achrisk_rpc_shed_total ") == 0
    # The gRPC ecosystem's series: every call started and handled with its code,
    # only the served one timed.
    assert sample(text, grpc_series("grpc_server_started_total")) == 4
    assert sample(text, grpc_series("grpc_server_handled_total", "OK")) == 1
    assert (
        sample(text, grpc_series("grpc_server_handled_total", "UNAUTHENTICATED")) == 3
    )
    assert sample(text, grpc_series("grpc_server_handling_seconds_count")) == 1


def grpc_series(
    name: str, code: str | None = None, method: str = "EvaluatePayment"
) -> str:
    """A grpc_server_* series of our service, as Prometheus writes its labels (sorted)."""
    kind = "bidi_stream" if method == "EvaluatePayments" else "unary"
    labels = f'grpc_code="{code}",' if code else ""
    labels += (
        f'grpc_method="{method}",grpc_service="achrisk.v1.RiskDecisionService",'
        f'grpc_type="{kind}"'
    )
    return f"{name}{{{labels}}} "


async def test_a_stream_is_one_started_and_handled_call_and_the_process_is_described(
    gated: Harness,
) -> None:
    async def two() -> AsyncIterator[pb.EvaluatePaymentsRequest]:
        for _ in range(2):
            yield pb.EvaluatePaymentsRequest(payment=payment())

    replies = [
        r
        async for r in gated.stub.EvaluatePayments(two(), metadata=CHECKOUT, timeout=10)
    ]
    assert len(replies) == 2

    text = await scrape(gated)
    stream = "EvaluatePayments"
    assert sample(text, grpc_series("grpc_server_started_total", method=stream)) == 1
    assert (
        sample(text, grpc_series("grpc_server_handled_total", "OK", method=stream)) == 1
    )
    assert (
        sample(text, grpc_series("grpc_server_handling_seconds_count", method=stream))
        == 1
    )
    # Process and collector series: CPU, memory, and the tuned collector's work.
    assert sample(text, "process_cpu_seconds_total ") > 0
    assert sample(text, "process_resident_memory_bytes ") > 0
    assert 'python_gc_collections_total{generation="0"}' in text


async def test_shed_calls_are_counted_as_refused_and_shed_not_timed(
    gated: Harness,
) -> None:
    served = [
        asyncio.ensure_future(
            gated.stub.EvaluatePayment(payment(), metadata=CHECKOUT, timeout=5)
        )
        for _ in range(MAX_IN_FLIGHT)
    ]
    await until_in_flight(gated, MAX_IN_FLIGHT)
    for _ in range(3):
        assert await refused_with(gated, CHECKOUT) == "RESOURCE_EXHAUSTED"
    await asyncio.gather(*served)

    text = await scrape(gated)
    assert sample(text, refused("RESOURCE_EXHAUSTED")) == 3
    assert sample(text, "achrisk_rpc_shed_total ") == 3
    assert handled("RESOURCE_EXHAUSTED") not in text
    # The histogram holds the served calls alone, each slower than Plaid's 0.8 s.
    assert sample(text, handled("OK")) == MAX_IN_FLIGHT
    assert sample(text, 'achrisk_rpc_duration_seconds_bucket{code="OK",le="0.5"') == 0
