"""Tracing in `ach-risk serve` processes: turned on by the OTEL_* variables, exported over
OTLP to a receiver on loopback, flushed at SIGTERM, one provider per worker; refused at
start when the extra is missing (docs/tracing.md)."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import (
    trace_service_pb2,
    trace_service_pb2_grpc,
)
from opentelemetry.proto.trace.v1 import trace_pb2

from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc
from service.config.plaid import EMULATOR_CREDENTIALS
from tests import processes
from tests.conftest import payment, scenario_file, without_rate_limits

TOKEN, ACCOUNT, AMOUNT = "access-sandbox-checking-ok", "checking-ok", "1234.56"
NEVER_EXPORTED = [
    s.encode() for s in (*EMULATOR_CREDENTIALS, TOKEN, ACCOUNT, AMOUNT, "123456")
]
# `ach-risk` where `opentelemetry.sdk` cannot be imported, as when the extra is not
# installed (a None in sys.modules is Python's own way to block an import).
WITHOUT_THE_SDK = (
    "import sys; sys.modules['opentelemetry.sdk'] = None; "
    "from service.cli import main; sys.exit(main(sys.argv[1:]))"
)
CALLS = 12  # over a connection each: the kernel spreads connections across workers


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace receiver, as a collector's: it keeps what it is sent."""

    def __init__(self) -> None:
        self.exports: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self._lock = threading.Lock()

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        with self._lock:
            self.exports.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self) -> list[tuple[dict[str, str], trace_pb2.Span]]:
        """Every span received, with its resource's string attributes."""
        found = []
        with self._lock:
            for export in self.exports:
                for resource_spans in export.resource_spans:
                    resource = {
                        a.key: a.value.string_value
                        for a in resource_spans.resource.attributes
                    }
                    for scope in resource_spans.scope_spans:
                        found += [(resource, span) for span in scope.spans]
        return found


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    receiving = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    add = trace_service_pb2_grpc.add_TraceServiceServicer_to_server
    add(receiving, server)  # type: ignore[no-untyped-call]  # generated without hints
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield receiving, f"http://127.0.0.1:{port}"
    server.stop(grace=None)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[processes.Process]:
    process = processes.start_emulator(
        tmp_path, scenario_file(tmp_path, without_rate_limits())
    )
    yield process
    process.stop()


def evaluate_traced(address: str) -> set[str]:
    """CALLS evaluations, each over its own connection under a made-up caller's trace;
    the trace ids."""
    trace_ids = set()
    for _ in range(CALLS):
        trace_id = secrets.token_hex(16)
        parent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
        with grpc.insecure_channel(
            address, options=[("grpc.use_local_subchannel_pool", 1)]
        ) as channel:
            reply = pb_grpc.RiskDecisionServiceStub(channel).EvaluatePayment(
                payment(TOKEN, ACCOUNT, AMOUNT),
                metadata=[("traceparent", parent)],
                timeout=20,
            )
        assert reply.decision.plaid_request_ids
        trace_ids.add(trace_id)
    return trace_ids


@pytest.mark.parametrize("workers", [None, "2"], ids=["one process", "two workers"])
def test_spans_reach_the_collector_when_sigterm_drains(
    tmp_path: Path,
    emulator: processes.Process,
    receiver: tuple[Receiver, str],
    workers: str | None,
) -> None:
    received, endpoint = receiver
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_SERVICE_NAME": "ach-risk-under-test",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
        # Ten minutes: nothing is exported on the schedule, only at shutdown.
        "OTEL_BSP_SCHEDULE_DELAY": "600000",
    }
    database_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    if workers is None:
        service = processes.start_service(
            tmp_path, "service", emulator, database_url, extra_env=env
        )
    else:
        service, _ = processes.start_workers(
            tmp_path, emulator, database_url, workers, extra_env=env
        )
    try:
        trace_ids = evaluate_traced(service.address)
        assert received.spans() == []  # still batched in the service
    finally:
        code = service.stop()
    assert code == 0

    spans = received.spans()
    servers = [
        (resource, span)
        for resource, span in spans
        if span.kind == trace_pb2.Span.SPAN_KIND_SERVER
    ]
    assert {span.trace_id.hex() for _, span in servers} == trace_ids
    for resource, _ in servers:
        assert resource["service.name"] == "ach-risk-under-test"
        assert resource["deployment.environment"] == "test"
    names = {span.name for _, span in spans if span.trace_id.hex() in trace_ids}
    assert {"POST /signal/evaluate", "ledger claim", "ledger complete"} <= names
    for export in received.exports:
        wire = export.SerializeToString()
        assert not [s for s in NEVER_EXPORTED if s in wire]

    finished = processes.events(service.log, "rpc.finished")
    assert {str(line["trace_id"]) for line in finished} == trace_ids
    # Each serving process says where its spans go.
    started = processes.events(service.log, "tracing.started")
    assert len(started) == (1 if workers is None else 2)
    for line in started:
        assert line["exporters"] == ["otlp"]
        assert line["endpoint"] == endpoint
        assert line["sampler"] == "parentbased_always_on"
    if workers is not None:
        # Each worker traced its own calls (a provider per process), and both served.
        assert {line["worker"] for line in finished} == {0, 1}


def serve_without_the_sdk(
    tmp_path: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`ach-risk serve` without the SDK, to its exit."""
    environ = processes.service_env(f"sqlite:///{tmp_path / 'ledger.db'}", None)
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_SDK, "serve", *args],
        env=environ | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_tracing_asked_for_without_the_extra_refuses_to_start(tmp_path: Path) -> None:
    """Before any worker starts: the supervisor checks too, one error instead of N."""
    listen = f"127.0.0.1:{processes.free_port()}"
    done = serve_without_the_sdk(
        tmp_path,
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"},
        "--listen",
        listen,
        "--workers",
        "2",
    )
    assert done.returncode == 2
    assert "ach-risk[otel]" in done.stderr
    assert "OTEL_" in done.stderr


def test_without_the_extra_and_without_otel_variables_the_service_serves(
    tmp_path: Path,
) -> None:
    """The base install serves as before: only asking for tracing needs the extra."""
    address = f"127.0.0.1:{processes.free_port()}"
    environ = processes.service_env(f"sqlite:///{tmp_path / 'ledger.db'}", None)
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-c", WITHOUT_THE_SDK, "serve", "--listen", address],
            env=environ | {"OTEL_TRACES_EXPORTER": "none"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            # Serving (health): past the start, its SIGTERM handler installed.
            while not processes._serving(address):
                assert popen.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        finally:
            popen.send_signal(signal.SIGTERM)
            code = popen.wait(timeout=20)
    assert code == 0
    assert processes.events(log, "service.stopped")
