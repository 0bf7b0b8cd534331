"""The server interceptor: authentication, then load shedding, for our own service.

Health checking and reflection stay open: probes and grpcurl need them, and they carry
no payment data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from grpc_status import rpc_status

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service.api.callers import CURRENT_CALLER, ApiKeys
from service.api.status import overloaded_status, unauthenticated_status
from service.api.wire import tolerant
from service.app.clock import Clock
from service.ops.metrics import Metrics

PROTECTED_PREFIX = (
    f"/{pb.DESCRIPTOR.services_by_name['RiskDecisionService'].full_name}/"
)
if TYPE_CHECKING:  # the stubs make it generic; grpc's runtime class is not
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    Handler = grpc.RpcMethodHandler


class Gatekeeper(grpc.aio.ServerInterceptor):
    """Rejects unauthenticated calls and sheds load beyond `max_in_flight`."""

    def __init__(
        self,
        keys: ApiKeys | None,
        max_in_flight: int,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._keys = keys  # None: authentication is off (loopback emulator mode only)
        self._clock = clock
        self._max_in_flight = max_in_flight
        self._metrics = metrics
        self.in_flight = 0
        # One wrapped handler per (method, caller), built once: building them per call
        # was measurable CPU on the hot path (profiled under load). Methods and API keys are few.
        self._tracked_handlers: dict[tuple[str, str], Handler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or not method.startswith(PROTECTED_PREFIX):
            return handler
        name = method.removeprefix(PROTECTED_PREFIX)
        self._metrics.rpc_started(name)
        caller = "anonymous"
        if self._keys is not None:
            found = self._keys.caller_for(details.invocation_metadata)
            if found is None:
                self._metrics.rpc_refused(name, "UNAUTHENTICATED")
                return _refusal(handler, unauthenticated_status())
            caller = found
        if self.in_flight >= self._max_in_flight:
            self._metrics.rpc_refused(name, "RESOURCE_EXHAUSTED")
            self._metrics.shed.inc()
            return _refusal(handler, overloaded_status(self._max_in_flight))
        tracked = self._tracked_handlers.get((method, caller))
        if tracked is None:
            tracked = self._tracked_handlers[method, caller] = self._tracked(
                handler, caller, name
            )
        return tracked

    def _tracked(self, handler: Handler, caller: str, name: str) -> Handler:
        """The handler, run as `caller` and counted in flight until it finishes."""
        serving = _Serving(self, caller)
        # grpc.aio calls these with async behaviours; the stubs type them as sync ones.
        unary_behaviour: Any = handler.unary_unary
        stream_behaviour: Any = handler.stream_stream

        async def unary(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> Any:
            with serving:
                return await unary_behaviour(request, context)

        metrics, clock = self._metrics, self._clock.monotonic

        async def stream(
            requests: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> Any:
            # A stream answers each item's errors in its place: the call itself is OK
            # unless it ends early: cancelled by the caller, aborted with a status
            # (counted with that status), or our fault (INTERNAL).
            started, code = clock(), "OK"
            try:
                with serving:
                    async for response in stream_behaviour(requests, context):
                        yield response
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            except Exception:
                code = _status_set(context) or "INTERNAL"
                raise
            else:
                code = _status_set(context) or "OK"
            finally:
                metrics.grpc_finished(name, code, clock() - started)

        return _shaped_like(handler, unary, stream)

    def _enter(self) -> None:
        self.in_flight += 1
        self._metrics.in_flight.set(self.in_flight)

    def _leave(self) -> None:
        self.in_flight -= 1
        self._metrics.in_flight.set(self.in_flight)


def _status_set(context: grpc.aio.ServicerContext[Any, Any]) -> str | None:
    """The status the handler set or aborted with, by name (None: none, or OK)."""
    code = context.code()
    if isinstance(code, grpc.StatusCode) and code is not grpc.StatusCode.OK:
        return code.name
    return None


class _Serving:
    """One call of `caller` being handled: the caller is set for the call's context
    and the call is counted in flight until it ends, however it ends. A plain class,
    not contextlib.contextmanager: it runs on every call, and a generator costs more."""

    __slots__ = ("_caller", "_gate")

    def __init__(self, gate: Gatekeeper, caller: str) -> None:
        self._gate = gate
        self._caller = caller

    def __enter__(self) -> None:
        CURRENT_CALLER.set(self._caller)
        self._gate._enter()

    def __exit__(self, *exc_info: object) -> None:
        self._gate._leave()


def _refusal(handler: Handler, status: Any) -> Handler:
    """A handler of the same shape that only aborts with `status`."""

    async def abort(context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort_with_status(rpc_status.to_status(status))

    async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await abort(context)

    async def stream(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await abort(context)
        yield  # an async generator, as a streaming handler must be

    return _shaped_like(handler, unary, stream)


def _shaped_like(handler: Handler, unary: Any, stream: Any) -> Handler:
    """A handler of `handler`'s shape whose deserializer never raises (api/wire.py):
    bytes that do not decode reach the behaviour as Undecodable, after the key check."""
    deserialize = tolerant(handler.request_deserializer)
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            unary, deserialize, handler.response_serializer
        )
    return grpc.stream_stream_rpc_method_handler(
        stream, deserialize, handler.response_serializer
    )
