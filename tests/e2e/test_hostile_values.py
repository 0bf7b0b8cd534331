"""Values that decode but must not reach Plaid or a log line: INVALID_ARGUMENT, named."""

from __future__ import annotations

import grpc
import pytest
import structlog
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from tests.conftest import Harness, payment
from tests.e2e.test_undecodable import violations

CONTROL = ["\x00", "\n", "\x1b[31m", "\x7f", "\x85"]


class TestControlCharacters:
    @pytest.mark.parametrize("char", CONTROL, ids=repr)
    @pytest.mark.parametrize(
        "field", ["client_transaction_id", "access_token", "account_id", "ruleset_key"]
    )
    async def test_are_refused_in_ids_and_keys(
        self, harness: Harness, field: str, char: str
    ) -> None:
        request = payment(client_transaction_id="ctl-1")
        setattr(request, field, f"ab{char}cd")
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await harness.stub.EvaluatePayment(request, timeout=5)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violations(raised.value) == [field]

    @pytest.mark.parametrize("char", CONTROL, ids=repr)
    async def test_are_refused_in_the_ids_of_reads_and_reports(
        self, harness: Harness, char: str
    ) -> None:
        txid = f"id{char}1"
        calls = [
            harness.stub.GetDecision(pb.GetDecisionRequest(client_transaction_id=txid)),
            harness.stub.ReportDecision(
                pb.ReportDecisionRequest(client_transaction_id=txid, initiated=True)
            ),
            harness.stub.ReportReturn(
                pb.ReportReturnRequest(client_transaction_id=txid, return_code="R01")
            ),
        ]
        for call in calls:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert violations(raised.value) == ["client_transaction_id"]


TOO_EARLY = Timestamp(seconds=-62_135_596_801)
TOO_LATE = Timestamp(seconds=253_402_300_800)
BAD_NANOS = Timestamp(seconds=1_790_000_000, nanos=1_000_000_000)
NEGATIVE_NANOS = Timestamp(seconds=1_790_000_000, nanos=-1)


class TestDurations:
    @pytest.mark.parametrize(
        ("seconds", "nanos"),
        [(2**62, 0), (-(2**62), 0), (60, 2_000_000_000), (10, -999_999_999)],
        ids=["2**62 s", "-2**62 s", "nanos 2e9", "mixed signs"],
    )
    async def test_a_malformed_max_balance_age_is_invalid_argument_not_internal(
        self, harness: Harness, seconds: int, nanos: int
    ) -> None:
        request = payment(
            rail=pb.PAYMENT_RAIL_RTP,
            balance_freshness=pb.BALANCE_FRESHNESS_ACCEPT_RECENT,
            max_balance_age=Duration(seconds=seconds, nanos=nanos),
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await harness.stub.EvaluatePayment(request, timeout=5)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violations(raised.value) == ["max_balance_age"]


class TestTimestamps:
    @pytest.mark.parametrize(
        "stamp",
        [TOO_EARLY, TOO_LATE, BAD_NANOS, NEGATIVE_NANOS],
        ids=["before 0001", "after 9999", "nanos 1e9", "negative nanos"],
    )
    async def test_out_of_range_is_invalid_argument_not_internal(
        self, harness: Harness, stamp: Timestamp
    ) -> None:
        requests = [
            (
                harness.stub.ReportDecision,
                pb.ReportDecisionRequest(
                    client_transaction_id="ts-1", initiated=True, submit_time=stamp
                ),
                "submit_time",
            ),
            (
                harness.stub.ReportReturn,
                pb.ReportReturnRequest(
                    client_transaction_id="ts-1", return_code="R01", return_time=stamp
                ),
                "return_time",
            ),
        ]
        for method, request, field in requests:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await method(request, timeout=5)
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert violations(raised.value) == [field]

    async def test_the_edges_of_the_range_are_accepted(self, harness: Harness) -> None:
        await harness.stub.EvaluatePayment(
            payment(client_transaction_id="ts-edge"), timeout=10
        )
        for seconds in (-62_135_596_800, 253_402_300_799):
            reply = await harness.stub.ReportReturn(
                pb.ReportReturnRequest(
                    client_transaction_id="ts-edge",
                    return_code="R01",
                    return_time=Timestamp(seconds=seconds, nanos=999_999_999),
                ),
                timeout=5,
            )
            assert reply.delivery.status == pb.DELIVERY_STATUS_PENDING


class TestLogsBeforeChecks:
    async def test_an_oversized_id_is_not_written_to_the_log(
        self, harness: Harness
    ) -> None:
        huge = "x" * 10_000  # under the receive limit, far over the id limit
        merge = structlog.contextvars.merge_contextvars
        with (
            structlog.testing.capture_logs(processors=[merge]) as logs,
            pytest.raises(grpc.aio.AioRpcError),
        ):
            await harness.stub.GetDecision(
                pb.GetDecisionRequest(client_transaction_id=huge), timeout=5
            )
        (line,) = [entry for entry in logs if entry["event"] == "rpc.finished"]
        assert line["status"] == "INVALID_ARGUMENT"
        assert line["client_transaction_id"] == "<invalid: 10000 characters>"
        assert all(len(repr(entry)) < 2_000 for entry in logs)
