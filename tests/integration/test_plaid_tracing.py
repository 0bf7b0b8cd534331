"""What a traced Plaid attempt sends: its own traceparent, nothing else of the trace."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from service.adapters.plaid.http import PlaidTransport
from service.domain.secret import Secret
from service.ops import tracing
from tests.clock import JumpingClock
from tests.integration.test_plaid_adapter import ScriptedPlaid, clock, plaid

__all__ = ["clock", "plaid"]  # the scripted Plaid's fixtures
OK = orjson.dumps({"request_id": "req-traced-1"})


async def transport_to(
    url: str, clock: JumpingClock, exporter: InMemorySpanExporter | None
) -> PlaidTransport:
    """A started transport, traced into `exporter` (None: tracing off)."""
    transport = PlaidTransport(
        url,
        Secret("client-abc"),
        Secret("secret-xyz"),
        clock=clock,
        pool_size=2,
        connect_timeout_s=1.0,
        tracer=tracing.to_exporter(exporter).tracer("test") if exporter else None,
    )
    await transport.start()
    return transport


@pytest.fixture
def callers_context() -> Iterator[None]:
    """A caller's remote span with vendor tracestate, and baggage naming a user."""
    parent = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "user-ada")]),
    )
    ctx = trace.set_span_in_context(NonRecordingSpan(parent))
    ctx = baggage.set_baggage("user.email", "ada@example.com", ctx)
    token = context.attach(ctx)
    yield None
    context.detach(token)


async def test_an_attempt_sends_its_traceparent_only(
    plaid: tuple[ScriptedPlaid, str], clock: JumpingClock, callers_context: None
) -> None:
    scripted, url = plaid
    scripted.script.append((200, OK, 0.0))
    exporter = InMemorySpanExporter()
    transport = await transport_to(url, clock, exporter)
    try:
        reply = await transport.post("/signal/evaluate", {"a": 1}, 5.0)
    finally:
        await transport.close()
    assert reply.call.request_id == "req-traced-1"
    (span,) = exporter.get_finished_spans()
    (_, headers, _) = scripted.received[0]
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["traceparent"] == (
        f"00-0af7651916cd43dd8448eb211c80319c-{span.context.span_id:016x}-01"
    )
    assert "tracestate" not in lowered
    assert "baggage" not in lowered
    assert "ada@example.com" not in str(headers)


async def test_untraced_attempts_send_no_trace_header(
    plaid: tuple[ScriptedPlaid, str], clock: JumpingClock, callers_context: None
) -> None:
    scripted, url = plaid
    scripted.script.append((200, OK, 0.0))
    transport = await transport_to(url, clock, None)
    try:
        await transport.post("/signal/evaluate", {"a": 1}, 5.0)
    finally:
        await transport.close()
    (_, headers, _) = scripted.received[0]
    assert not {"traceparent", "tracestate", "baggage"} & {k.lower() for k in headers}
