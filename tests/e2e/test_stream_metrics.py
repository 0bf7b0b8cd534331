"""A stream's grpc_server_handled_total code is the status it ended with, over a real
gRPC server behind the Gatekeeper: OK when it ends cleanly, the code it set or aborted
with, CANCELLED when the caller cancels, INTERNAL when its handler fails. The service's
own EvaluatePayments answers each item's errors in its place, so a stand-in handler of
the same name makes the call end each way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from service.api.interceptors import PROTECTED_PREFIX, Gatekeeper
from service.app.clock import SystemClock
from service.ops.metrics import SERVICE, Metrics

Behaviour = Callable[[AsyncIterator[bytes], Any], AsyncIterator[bytes]]


async def clean(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request


async def aborted(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a bad item")


async def set_code(
    requests: AsyncIterator[bytes], context: Any
) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request
    context.set_code(grpc.StatusCode.FAILED_PRECONDITION)


async def failing(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request
        raise RuntimeError("a bug")


async def handled_codes(
    behaviour: Behaviour,
) -> tuple[grpc.StatusCode, dict[str, float]]:
    """What the caller saw, and grpc_server_handled_total by code after one call."""
    metrics = Metrics(CollectorRegistry())
    server = grpc.aio.server(
        interceptors=[Gatekeeper(None, 10, metrics, SystemClock())]
    )
    method = grpc.stream_stream_rpc_method_handler(
        behaviour, request_deserializer=bytes, response_serializer=bytes
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {"EvaluatePayments": method}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    seen = grpc.StatusCode.OK
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.stream_stream(
                PROTECTED_PREFIX + "EvaluatePayments",
                request_serializer=bytes,
                response_deserializer=bytes,
            )(iter([b"one", b"two"]), timeout=10)
            try:
                async for _ in call:
                    pass
            except grpc.aio.AioRpcError as error:
                seen = error.code()
            else:
                seen = await call.code()
    finally:
        await server.stop(None)
    codes = {
        sample.labels["grpc_code"]: sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == "grpc_server_handled_total"
        and sample.labels["grpc_method"] == "EvaluatePayments"
    }
    return seen, codes


@pytest.mark.parametrize(
    ("behaviour", "caller_sees", "counted"),
    [
        (clean, grpc.StatusCode.OK, "OK"),
        (aborted, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        (set_code, grpc.StatusCode.FAILED_PRECONDITION, "FAILED_PRECONDITION"),
        (failing, grpc.StatusCode.UNKNOWN, "INTERNAL"),
    ],
    ids=["clean", "aborted", "set_code", "failing"],
)
async def test_a_stream_is_counted_with_the_status_it_ended_with(
    behaviour: Behaviour, caller_sees: grpc.StatusCode, counted: str
) -> None:
    seen, codes = await asyncio.wait_for(handled_codes(behaviour), 30)
    assert seen == caller_sees
    assert codes == {counted: 1.0}
