"""Bytes that do not decode: INVALID_ARGUMENT naming the field, after the key check.

Never UNKNOWN with the decoder's exception text; a bad stream item is answered in its
place and the stream goes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from plaid_emulator import RunningEmulator
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from tests.conftest import Harness, payment, start_harness, stop_harness

SERVICE = "/achrisk.v1.RiskDecisionService/"
FIXTURES = Path(__file__).parents[1] / "fixtures"
KEYS = {"ACH_RISK_API_KEYS_FILE": str(FIXTURES / "api-keys.toml")}
CHECKOUT_KEY = (("authorization", "Bearer test-api-key-checkout"),)

# (method, bytes, the field the answer names)
BAD_BYTES = [
    ("GetDecision", b"\x0a\x02\xff\xfe", "client_transaction_id"),
    ("EvaluatePayment", b"\x0a\x02\xc3\x28", "client_transaction_id"),
    ("EvaluatePayment", b"\x5a\x04\x12\x02\xff\xfe", "device.user_agent"),
    ("EvaluatePayment", b"\x52\x06\x0a\x04\x12\x02\xff\xfe", "user.name.given_name"),
    ("ReportDecision", b"\x0a\x01\x80", "client_transaction_id"),
    ("ReportReturn", b"\x12\x03R0\xff", "return_code"),
    ("ReportReturn", b"\x0a\x09ab", "(request)"),
    ("GetDecision", b"\x0b", "(request)"),
]


def violations(error: grpc.aio.AioRpcError) -> list[str]:
    raw = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
    status = status_pb2.Status.FromString(raw)
    found: list[str] = []
    for packed in status.details:
        if packed.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            packed.Unpack(bad)
            found.extend(v.field for v in bad.field_violations)
    return found


@pytest.fixture
async def keyed(emulator: RunningEmulator, database_url: str) -> AsyncIterator[Harness]:
    running = await start_harness(emulator.url, env=KEYS, database_url=database_url)
    yield running
    await stop_harness(running)


class TestUnary:
    @pytest.mark.parametrize(("method", "raw", "field"), BAD_BYTES)
    async def test_bad_bytes_are_invalid_argument_naming_the_field(
        self, keyed: Harness, method: str, raw: bytes, field: str
    ) -> None:
        call: Any = keyed.channel.unary_unary(SERVICE + method)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(raw, timeout=5, metadata=CHECKOUT_KEY)
        error = raised.value
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violations(error) == [field]
        assert "Error parsing message" not in (error.details() or "")

    @pytest.mark.parametrize(("method", "raw", "field"), BAD_BYTES)
    async def test_without_a_key_it_is_unauthenticated_first(
        self, keyed: Harness, method: str, raw: bytes, field: str
    ) -> None:
        call: Any = keyed.channel.unary_unary(SERVICE + method)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(raw, timeout=5)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert field not in (raised.value.details() or "")


OPS_KEY = (("authorization", "Bearer test-api-key-ops"),)


class TestIdsBelongToOneCaller:
    """Plaid keys client_transaction_id per Plaid client, so one caller owns each."""

    async def test_another_caller_reusing_an_id_learns_nothing_and_calls_nothing(
        self, keyed: Harness, admin: Any
    ) -> None:
        request = payment(client_transaction_id="owned-1")
        first = await keyed.stub.EvaluatePayment(
            request, timeout=10, metadata=CHECKOUT_KEY
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await keyed.stub.EvaluatePayment(request, timeout=10, metadata=OPS_KEY)
        error = raised.value
        assert error.code() == grpc.StatusCode.ALREADY_EXISTS
        assert first.decision.plaid_request_ids  # else the loop below checks nothing
        for secret in first.decision.plaid_request_ids:
            assert secret not in (error.details() or "")
        calls = [c for c in await admin.calls() if c["endpoint"] == "/signal/evaluate"]
        assert len(calls) == 1
        with pytest.raises(grpc.aio.AioRpcError) as report:
            await keyed.stub.ReportDecision(
                pb.ReportDecisionRequest(
                    client_transaction_id="owned-1", initiated=True
                ),
                timeout=10,
                metadata=OPS_KEY,
            )
        assert report.value.code() == grpc.StatusCode.NOT_FOUND


class TestStream:
    async def test_a_bad_item_is_answered_in_its_place_and_the_stream_goes_on(
        self, harness: Harness
    ) -> None:
        good = [
            pb.EvaluatePaymentsRequest(payment=payment(client_transaction_id=f"s-{i}"))
            for i in range(3)
        ]
        items = [
            good[0].SerializeToString(),
            b"\x0a\x04\x0a\x02\xff\xfe",  # payment.client_transaction_id: bad UTF-8
            good[1].SerializeToString(),
            b"\x0a\x09ab",  # corrupt
            good[2].SerializeToString(),
        ]

        async def send() -> AsyncIterator[bytes]:
            for item in items:
                yield item

        call: Any = harness.channel.stream_stream(
            SERVICE + "EvaluatePayments",
            response_deserializer=pb.EvaluatePaymentsResponse.FromString,
        )
        answers = [a async for a in call(send(), timeout=20)]
        assert [a.index for a in answers] == [0, 1, 2, 3, 4]
        assert [a.WhichOneof("outcome") for a in answers] == [
            "decision",
            "error",
            "decision",
            "error",
            "decision",
        ]
        assert [a.client_transaction_id for a in answers] == [
            "s-0",
            "",
            "s-1",
            "",
            "s-2",
        ]
        for bad in (answers[1], answers[3]):
            assert bad.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        (detail,) = [
            d
            for d in answers[1].error.details
            if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)
        ]
        request = error_details_pb2.BadRequest()
        assert detail.Unpack(request)
        assert [v.field for v in request.field_violations] == [
            "payment.client_transaction_id"
        ]
