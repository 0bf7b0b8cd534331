"""Tracing end to end: a real server on loopback, the emulator over HTTP, a SQLite ledger,
and the SDK's in-memory exporter (docs/tracing.md)."""

from __future__ import annotations

import asyncio
import io
import secrets
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from plaid_emulator import RunningEmulator
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service.config.plaid import EMULATOR_CREDENTIALS
from service.ops import tracing
from service.ops.logs import processors
from tests.conftest import (
    EmulatorAdmin,
    Harness,
    packaged_config_plus,
    payment,
    start_harness,
    stop_harness,
)
from tests.e2e.test_failures import (
    FAST_RETRIES,  # a retried error stays inside the deadline
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
EVALUATE = "/signal/evaluate"
RPC = "/achrisk.v1.RiskDecisionService/EvaluatePayment"
TOKEN, ACCOUNT, AMOUNT = "access-sandbox-checking-ok", "checking-ok", "1234.56"
# What no span may carry, anywhere: credentials, the token, the account, the amount.
NEVER_IN_SPANS = (*EMULATOR_CREDENTIALS, TOKEN, ACCOUNT, AMOUNT, "123456")


class Logs:
    """The service's JSON log lines, through the production processor chain."""

    def __init__(self) -> None:
        self.out = io.BytesIO()

    def lines(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.out.getvalue().splitlines()]


def json_logs(trace_ids: bool) -> Logs:
    logs = Logs()
    structlog.configure(
        processors=processors(console=False, trace_ids=trace_ids),
        logger_factory=structlog.BytesLoggerFactory(logs.out),
        cache_logger_on_first_use=False,
    )
    return logs


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def logs() -> Iterator[Logs]:
    yield json_logs(trace_ids=True)
    structlog.reset_defaults()


@pytest.fixture
async def traced(
    emulator: RunningEmulator, tmp_path: Path, exporter: InMemorySpanExporter
) -> AsyncIterator[Harness]:
    running = await start_harness(
        emulator.url,
        packaged_config_plus(tmp_path, FAST_RETRIES),
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        tracing=tracing.to_exporter(exporter),
    )
    yield running
    await stop_harness(running)


def remote_parent() -> tuple[str, str, list[tuple[str, str]]]:
    """A made-up caller's trace: its trace id, span id and the W3C metadata."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, [("traceparent", f"00-{trace_id}-{span_id}-01")]


async def in_trace(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    """The trace's spans once its server span has ended: the caller has the status
    before the server's interceptor ends the span, so reading at once can miss it."""
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        spans = [
            s
            for s in exporter.get_finished_spans()
            if trace.format_trace_id(s.context.trace_id) == trace_id
        ]
        ended = any(s.kind is trace.SpanKind.SERVER for s in spans)
        if ended or asyncio.get_running_loop().time() > deadline:
            return spans
        await asyncio.sleep(0.01)


def the_server_span(spans: list[ReadableSpan]) -> ReadableSpan:
    servers = [s for s in spans if s.kind is trace.SpanKind.SERVER]
    assert [s.name for s in servers] == [RPC]
    return servers[0]


def children(spans: list[ReadableSpan], parent: ReadableSpan, name: str) -> list[Any]:
    found = [s for s in spans if s.name == name]
    for span in found:
        assert span.parent is not None
        assert span.parent.span_id == parent.context.span_id
        assert span.kind is trace.SpanKind.CLIENT
    return found


def assert_nothing_secret(spans: Sequence[ReadableSpan]) -> None:
    """Every name, attribute value, event and status of every span, scanned."""
    for span in spans:
        texts = [span.name, str(span.status.description)]
        texts += [f"{k}={v!r}" for k, v in (span.attributes or {}).items()]
        for event in span.events:
            texts.append(event.name)
            texts += [f"{k}={v!r}" for k, v in (event.attributes or {}).items()]
        texts += [f"{k}={v!r}" for k, v in span.resource.attributes.items()]
        for text in texts:
            leaked = [s for s in NEVER_IN_SPANS if s in text]
            assert not leaked, f"{span.name}: {text}"


class TestOneEvaluation:
    async def test_the_span_tree_continues_the_callers_trace(
        self,
        traced: Harness,
        admin: EmulatorAdmin,
        exporter: InMemorySpanExporter,
        logs: Logs,
    ) -> None:
        trace_id, parent_id, metadata = remote_parent()
        request = payment(TOKEN, ACCOUNT, AMOUNT)
        reply = await traced.stub.EvaluatePayment(
            request, metadata=metadata, timeout=10
        )
        assert reply.decision.plaid_request_ids
        spans = await in_trace(exporter, trace_id)
        server = the_server_span(spans)
        assert server.parent is not None
        assert server.parent.is_remote
        assert trace.format_span_id(server.parent.span_id) == parent_id
        assert server.status.status_code is not trace.StatusCode.ERROR
        assert server.resource.attributes["service.name"] == "ach-risk"

        (attempt,) = children(spans, server, f"POST {EVALUATE}")
        (call,) = [c for c in await admin.calls() if c["endpoint"] == EVALUATE]
        attributes = attempt.attributes or {}
        assert attributes["plaid.request_id"] == call["request_id"]
        assert attributes["http.request.method"] == "POST"
        assert attributes["url.path"] == EVALUATE
        assert attributes["http.response.status_code"] == 200
        assert attributes["server.address"] == "127.0.0.1"
        assert attempt.status.status_code is not trace.StatusCode.ERROR

        claim, complete = (
            children(spans, server, f"ledger {op}")[0] for op in ("claim", "complete")
        )
        for write in (claim, complete):
            assert (write.attributes or {})["db.system.name"] == "sqlite"
        assert (claim.attributes or {})["db.operation.name"] == "claim"
        assert claim.end_time is not None
        assert attempt.start_time is not None
        assert claim.end_time <= attempt.start_time  # durable before Plaid is called

        assert_nothing_secret(exporter.get_finished_spans())
        finished = [
            line for line in logs.lines() if line.get("event") == "rpc.finished"
        ]
        assert len(finished) == 1
        assert finished[0]["trace_id"] == trace_id
        assert finished[0]["span_id"] == trace.format_span_id(server.context.span_id)

    async def test_a_retried_plaid_error_is_two_attempt_spans(
        self,
        traced: Harness,
        admin: EmulatorAdmin,
        exporter: InMemorySpanExporter,
    ) -> None:
        await admin.fault(
            endpoint=EVALUATE, error_code="INTERNAL_SERVER_ERROR", times=1
        )
        trace_id, _, metadata = remote_parent()
        await traced.stub.EvaluatePayment(
            payment(TOKEN, ACCOUNT, AMOUNT), metadata=metadata, timeout=10
        )
        spans = await in_trace(exporter, trace_id)
        server = the_server_span(spans)
        attempts = sorted(
            children(spans, server, f"POST {EVALUATE}"),
            key=lambda s: s.attributes["plaid.attempt"],
        )
        calls = [c for c in await admin.calls() if c["endpoint"] == EVALUATE]
        assert [c["status"] for c in calls] == [500, 200]
        failed, succeeded = attempts
        assert {
            "plaid.attempt": 1,
            "http.response.status_code": 500,
            "plaid.error_type": "API_ERROR",
            "plaid.error_code": "INTERNAL_SERVER_ERROR",
            "plaid.request_id": calls[0]["request_id"],
        }.items() <= dict(failed.attributes or {}).items()
        assert failed.status.status_code is trace.StatusCode.ERROR
        assert (succeeded.attributes or {})["plaid.request_id"] == calls[1][
            "request_id"
        ]
        assert succeeded.status.status_code is not trace.StatusCode.ERROR
        assert_nothing_secret(exporter.get_finished_spans())

    @pytest.mark.parametrize(
        ("error_code", "times", "code", "server_error"),
        [
            # The caller's to fix (relink): the server span's status stays unset.
            ("ITEM_LOGIN_REQUIRED", 1, grpc.StatusCode.FAILED_PRECONDITION, False),
            # Plaid down through every attempt: a server failure, ERROR.
            ("INTERNAL_SERVER_ERROR", 3, grpc.StatusCode.UNAVAILABLE, True),
        ],
    )
    async def test_a_plaid_error_that_ends_the_call_marks_the_spans(
        self,
        traced: Harness,
        admin: EmulatorAdmin,
        exporter: InMemorySpanExporter,
        error_code: str,
        times: int,
        code: grpc.StatusCode,
        server_error: bool,
    ) -> None:
        await admin.fault(endpoint=EVALUATE, error_code=error_code, times=times)
        trace_id, _, metadata = remote_parent()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await traced.stub.EvaluatePayment(
                payment(TOKEN, ACCOUNT, AMOUNT), metadata=metadata, timeout=10
            )
        assert caught.value.code() == code
        spans = await in_trace(exporter, trace_id)
        server = the_server_span(spans)
        assert (server.attributes or {})["rpc.grpc.status_code"] == code.value[0]
        assert (server.status.status_code is trace.StatusCode.ERROR) is server_error
        attempts = children(spans, server, f"POST {EVALUATE}")
        assert len(attempts) == times
        for attempt in attempts:
            assert (attempt.attributes or {})["plaid.error_code"] == error_code
            assert attempt.status.status_code is trace.StatusCode.ERROR
        assert_nothing_secret(exporter.get_finished_spans())

    async def test_a_batch_is_one_server_span_over_every_items_spans(
        self,
        traced: Harness,
        admin: EmulatorAdmin,
        exporter: InMemorySpanExporter,
    ) -> None:
        trace_id, _, metadata = remote_parent()

        async def two() -> AsyncIterator[pb.EvaluatePaymentsRequest]:
            for _ in range(2):
                yield pb.EvaluatePaymentsRequest(
                    payment=payment(TOKEN, ACCOUNT, AMOUNT)
                )

        replies = [
            r
            async for r in traced.stub.EvaluatePayments(
                two(), metadata=metadata, timeout=10
            )
        ]
        assert len(replies) == 2
        spans = await in_trace(exporter, trace_id)
        servers = [s for s in spans if s.kind is trace.SpanKind.SERVER]
        assert [s.name for s in servers] == [
            "/achrisk.v1.RiskDecisionService/EvaluatePayments"
        ]
        attempts = children(spans, servers[0], f"POST {EVALUATE}")
        sent = {
            c["request_id"] for c in await admin.calls() if c["endpoint"] == EVALUATE
        }
        assert {(a.attributes or {})["plaid.request_id"] for a in attempts} == sent
        assert len(sent) == 2
        assert len(children(spans, servers[0], "ledger complete")) == 2
        assert_nothing_secret(exporter.get_finished_spans())

    async def test_a_refused_call_is_traced_with_its_status(
        self,
        emulator: RunningEmulator,
        tmp_path: Path,
        exporter: InMemorySpanExporter,
    ) -> None:
        gated = await start_harness(
            emulator.url,
            env={"ACH_RISK_API_KEYS_FILE": str(FIXTURES / "api-keys.toml")},
            database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
            tracing=tracing.to_exporter(exporter),
        )
        try:
            trace_id, _, metadata = remote_parent()
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await gated.stub.EvaluatePayment(
                    payment(TOKEN, ACCOUNT, AMOUNT), metadata=metadata, timeout=10
                )
        finally:
            await stop_harness(gated)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        spans = await in_trace(exporter, trace_id)
        server = the_server_span(spans)
        assert (server.attributes or {})["rpc.grpc.status_code"] == (
            grpc.StatusCode.UNAUTHENTICATED.value[0]
        )
        assert [s.name for s in spans] == [RPC]  # no ledger, no Plaid

    async def test_health_checks_are_not_traced(
        self, traced: Harness, exporter: InMemorySpanExporter
    ) -> None:
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        health = health_pb2_grpc.HealthStub(traced.channel)
        _, _, metadata = remote_parent()
        reply = await health.Check(health_pb2.HealthCheckRequest(), metadata=metadata)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert not [
            s for s in exporter.get_finished_spans() if s.kind is trace.SpanKind.SERVER
        ]


_GLOBAL: InMemorySpanExporter | None = None


def global_sdk_exporter() -> InMemorySpanExporter:
    """An SDK provider installed as the process's global one (once: OpenTelemetry
    allows no second), recording into memory."""
    global _GLOBAL
    if _GLOBAL is None:
        _GLOBAL = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_GLOBAL))
        trace.set_tracer_provider(provider)
    return _GLOBAL


class TestOff:
    async def test_without_otel_variables_nothing_is_traced_or_logged(
        self,
        emulator: RunningEmulator,
        tmp_path: Path,
    ) -> None:
        """No OTEL_* variables: no provider, no interceptor, no trace keys in logs, and
        no span even if some SDK provider is installed globally (nothing in the
        service reaches for the global one)."""
        assert tracing.start({}) is None
        assert not tracing.requested({})
        spans = global_sdk_exporter()
        spans.clear()
        logs = json_logs(trace_ids=tracing.requested({}))
        try:
            harness = await start_harness(
                emulator.url, database_url=f"sqlite:///{tmp_path / 'ledger.db'}"
            )
            try:
                _, _, metadata = remote_parent()
                reply = await harness.stub.EvaluatePayment(
                    payment(TOKEN, ACCOUNT, AMOUNT), metadata=metadata, timeout=10
                )
                assert reply.decision.plaid_request_ids
            finally:
                await stop_harness(harness)
        finally:
            structlog.reset_defaults()
        assert spans.get_finished_spans() == ()
        lines = logs.lines()
        assert any(line.get("event") == "rpc.finished" for line in lines)
        assert not [line for line in lines if "trace_id" in line or "span_id" in line]
