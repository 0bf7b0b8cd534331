"""Fuzzing from outside: a real `ach-risk serve` gets garbage and never answers UNKNOWN
or INTERNAL, stays SERVING, and keeps its memory bounded.

`make test` runs a bounded number of examples; `make fuzz` runs many more
(ACH_RISK_FUZZ_EXAMPLES, default 3,000 per strategy there).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.procstat import peak_rss_mib
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from tests import processes
from tests.conftest import scenario_file, without_rate_limits

SERVICE = "/achrisk.v1.RiskDecisionService/"
UNARY = ["EvaluatePayment", "GetDecision", "ReportDecision", "ReportReturn"]
NEVER = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
EXAMPLES = int(os.environ.get("ACH_RISK_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Strings as a hostile caller sends them: any code point, control characters, long.
text = st.text(max_size=80) | st.sampled_from(
    ["", "\x00", "a\nb", "\x1b[2J", "x" * 40, "é" * 300, "access-sandbox-checking-ok"]
)
int32 = st.integers(-(2**31), 2**31 - 1)
int64 = st.integers(-(2**63), 2**63 - 1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    workdir = tmp_path_factory.mktemp("fuzz")
    # Hundreds of calls in quick succession, over Plaid's 20 evaluations a second per
    # client: a 429 would end each one before the paths being fuzzed. The subject is
    # hostile input, not Plaid's quota, so the limits are off.
    emulator = processes.start_emulator(
        workdir, scenario_file(workdir, without_rate_limits())
    )
    service = processes.start_service(
        workdir, "service", emulator, f"sqlite:///{workdir / 'ledger.db'}"
    )
    channel = grpc.insecure_channel(service.address)
    try:
        yield service, channel
    finally:
        channel.close()
        service.stop()
        emulator.stop()


def code_of(channel: grpc.Channel, method: str, raw: bytes) -> grpc.StatusCode:
    call: Any = channel.unary_unary(SERVICE + method)
    try:
        call(raw, timeout=10)
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        return code
    return grpc.StatusCode.OK


@st.composite
def payments(draw: st.DrawFn) -> pb.EvaluatePaymentRequest:
    request = pb.EvaluatePaymentRequest(
        client_transaction_id=draw(text),
        access_token=draw(text),
        account_id=draw(text),
        rail=draw(st.integers(-3, 12)),  # type: ignore[arg-type]  # out of range too
        ruleset_key=draw(text),
        client_user_id=draw(text),
    )
    if draw(st.booleans()):
        request.amount.currency_code = draw(text)
        request.amount.units = draw(int64)
        request.amount.nanos = draw(int32)
    if draw(st.booleans()):
        request.user.name.given_name = draw(text)
        request.user.email_address = draw(text)
        request.user.address.country = draw(text)
    if draw(st.booleans()):
        request.device.ip_address = draw(text)
        request.device.user_agent = draw(text)
    if draw(st.booleans()):
        request.user_present = draw(st.booleans())
    return request


@st.composite
def reports(draw: st.DrawFn) -> tuple[str, bytes]:
    stamp = {"seconds": draw(int64), "nanos": draw(int32)}
    if draw(st.booleans()):
        message: Any = pb.ReportReturnRequest(
            client_transaction_id=draw(text), return_code=draw(text), return_time=stamp
        )
        return "ReportReturn", message.SerializeToString()
    message = pb.ReportDecisionRequest(
        client_transaction_id=draw(text),
        days_funds_on_hold=draw(int32),
        decision_outcome=draw(st.integers(-2, 9)),  # type: ignore[arg-type]
        payment_method=draw(st.integers(-2, 9)),  # type: ignore[arg-type]
        submit_time=stamp,
    )
    if draw(st.booleans()):
        message.initiated = draw(st.booleans())
    if draw(st.booleans()):
        message.amount_instantly_available.currency_code = draw(text)
        message.amount_instantly_available.units = draw(int64)
        message.amount_instantly_available.nanos = draw(int32)
    return "ReportDecision", message.SerializeToString()


class TestFuzz:
    @FUZZ
    @given(method=st.sampled_from(UNARY), raw=st.binary(max_size=600))
    def test_raw_bytes(self, served: Any, method: str, raw: bytes) -> None:
        assert code_of(served[1], method, raw) not in NEVER

    @FUZZ
    @given(request=payments())
    def test_payments(self, served: Any, request: pb.EvaluatePaymentRequest) -> None:
        raw = request.SerializeToString()
        assert code_of(served[1], "EvaluatePayment", raw) not in NEVER

    @FUZZ
    @given(report=reports())
    def test_reports(self, served: Any, report: tuple[str, bytes]) -> None:
        assert code_of(served[1], *report) not in NEVER

    @FUZZ
    @given(
        items=st.lists(
            st.binary(max_size=200)
            | payments().map(
                lambda p: pb.EvaluatePaymentsRequest(payment=p).SerializeToString()
            ),
            max_size=6,
        )
    )
    def test_streams(self, served: Any, items: list[bytes]) -> None:
        call = served[1].stream_stream(
            SERVICE + "EvaluatePayments",
            response_deserializer=pb.EvaluatePaymentsResponse.FromString,
        )
        answers = list(call(iter(items), timeout=30))
        assert [a.index for a in answers] == list(range(len(items)))
        for answer in answers:
            if answer.WhichOneof("outcome") == "error":
                assert grpc.StatusCode.UNKNOWN.value[0] != answer.error.code
                assert grpc.StatusCode.INTERNAL.value[0] != answer.error.code

    def test_after_all_that_the_service_serves_in_bounded_memory(
        self, served: Any
    ) -> None:
        service, channel = served
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert service.popen.poll() is None
        peak = peak_rss_mib(service.popen.pid)
        print(
            f"fuzz: {EXAMPLES} examples per strategy, service peak RSS {peak:.0f} MiB"
        )
        assert peak < 512
