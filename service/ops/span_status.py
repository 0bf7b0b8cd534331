"""The gRPC status of a call, on its SERVER span.

The gRPC instrumentation learns the status only from `abort()` and `set_code()`; the
servicer and the gate end a failed call with `abort_with_status()` (rich error details),
which it never sees, so its span would say OK. This interceptor runs inside the
instrumentation's span and reads the status the call actually ended with.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import trace

if TYPE_CHECKING:  # the stubs make it generic; grpc's runtime class is not
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    Handler = grpc.RpcMethodHandler

# What the semantic conventions count as a server's failure; the others (a bad argument,
# an unknown decision, a refused key) are the caller's, and leave the status unset.
SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


class RecordStatus(grpc.aio.ServerInterceptor):
    """Sets `rpc.grpc.status_code` (and ERROR for a server failure) on the current span."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(details)
        if handler is None:
            return None
        # grpc.aio calls these with async behaviours; the stubs type them as sync ones.
        unary: Any = handler.unary_unary
        if unary is not None:

            async def unary_behaviour(request: Any, context: Any) -> Any:
                try:
                    return await unary(request, context)
                finally:
                    _record(context)

            return grpc.unary_unary_rpc_method_handler(
                unary_behaviour,
                handler.request_deserializer,
                handler.response_serializer,
            )
        stream: Any = handler.stream_stream
        if stream is not None:

            async def stream_behaviour(requests: Any, context: Any) -> Any:
                try:
                    async for response in stream(requests, context):
                        yield response
                finally:
                    _record(context)

            return grpc.stream_stream_rpc_method_handler(
                stream_behaviour,
                handler.request_deserializer,
                handler.response_serializer,
            )
        return handler  # no other shape in our service: left as it is


def _record(context: grpc.aio.ServicerContext[Any, Any]) -> None:
    span = trace.get_current_span()
    if not span.is_recording():
        return
    code = context.code()
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.OK  # ended without a status set: OK
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code in SERVER_ERRORS:
        # The code's name only: the details may quote what the caller sent.
        span.set_status(trace.StatusCode.ERROR, code.name)
