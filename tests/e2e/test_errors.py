"""Bad requests and Plaid errors become specific gRPC statuses with google.rpc details."""

from __future__ import annotations

import time

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from tests.conftest import EmulatorAdmin, Harness, default_scenario, payment


async def failure(
    harness: Harness, request: pb.EvaluatePaymentRequest, deadline_s: float = 10
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await harness.stub.EvaluatePayment(request, timeout=deadline_s)
    return caught.value


def details(error: grpc.aio.AioRpcError) -> dict[str, object]:
    status = rpc_status.from_call(error)
    assert status is not None
    found: dict[str, object] = {}
    for any_detail in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.RetryInfo,
        ):
            if any_detail.Is(kind.DESCRIPTOR):
                message = kind()
                any_detail.Unpack(message)
                found[kind.__name__] = message
    return found


def bad_fields(error: grpc.aio.AioRpcError) -> list[str]:
    bad = details(error)["BadRequest"]
    assert isinstance(bad, error_details_pb2.BadRequest)
    return [v.field for v in bad.field_violations]


class TestInvalidRequests:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"client_transaction_id": ""}, "client_transaction_id"),
            ({"client_transaction_id": "x" * 37}, "client_transaction_id"),
            ({"amount": "0.00"}, "amount"),
            ({"amount": "-5.00"}, "amount"),
            ({"rail": pb.PAYMENT_RAIL_UNSPECIFIED}, "rail"),
            ({"access_token": ""}, "access_token"),
            ({"account_id": ""}, "account_id"),
            (
                {"rail": pb.PAYMENT_RAIL_RTP, "ruleset_key": "balance-only"},
                "ruleset_key",
            ),
        ],
        ids=[
            "empty id",
            "37-char id",
            "zero amount",
            "negative amount",
            "unspecified rail",
            "missing token",
            "missing account",
            "ruleset on a non-ACH rail",
        ],
    )
    async def test_each_bad_field_is_named(
        self,
        harness: Harness,
        admin: EmulatorAdmin,
        change: dict[str, object],
        field: str,
    ) -> None:
        error = await failure(harness, payment(**change))  # type: ignore[arg-type]
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert bad_fields(error) == [field]
        assert await admin.calls() == []  # rejected before any Plaid call

    async def test_every_bad_field_is_named_at_once(self, harness: Harness) -> None:
        request = pb.EvaluatePaymentRequest(client_transaction_id="y" * 40)
        error = await failure(harness, request)
        assert bad_fields(error) == [
            "client_transaction_id",
            "access_token",
            "account_id",
            "rail",
            "amount",
        ]
        info = details(error)["ErrorInfo"]
        assert isinstance(info, error_details_pb2.ErrorInfo)
        assert (info.reason, info.domain) == ("INVALID_REQUEST", "achrisk")

    async def test_fractions_of_a_cent_are_refused(self, harness: Harness) -> None:
        request = payment()
        request.amount.nanos = 5_000_001
        assert bad_fields(await failure(harness, request)) == ["amount"]

    async def test_ach_must_be_in_usd(self, harness: Harness) -> None:
        request = payment()
        request.amount.currency_code = "EUR"
        assert bad_fields(await failure(harness, request)) == ["amount.currency_code"]


class TestPlaidErrors:
    async def test_an_item_needing_relink_is_a_failed_precondition(
        self, harness: Harness
    ) -> None:
        request = payment(
            "access-sandbox-relink", "checking-relink", rail=pb.PAYMENT_RAIL_RTP
        )
        error = await failure(harness, request)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        info = details(error)["ErrorInfo"]
        assert isinstance(info, error_details_pb2.ErrorInfo)
        assert (info.reason, info.domain) == ("ITEM_LOGIN_REQUIRED", "plaid.com")
        assert info.metadata["plaidErrorType"] == "ITEM_ERROR"
        assert info.metadata["plaidRequestId"]

    @pytest.mark.parametrize(
        ("change", "field", "code"),
        [
            (
                {"access_token": "access-sandbox-nope"},
                "access_token",
                "INVALID_ACCESS_TOKEN",
            ),
            ({"account_id": "no-such-account"}, "account_id", "INVALID_ACCOUNT_ID"),
            ({"ruleset_key": "no-such-ruleset"}, "ruleset_key", "RULESET_NOT_FOUND"),
        ],
    )
    async def test_plaid_rejecting_an_input_names_the_field(
        self, harness: Harness, change: dict[str, str], field: str, code: str
    ) -> None:
        error = await failure(harness, payment(**change))  # type: ignore[arg-type]
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert bad_fields(error) == [field]
        info = details(error)["ErrorInfo"]
        assert isinstance(info, error_details_pb2.ErrorInfo)
        assert info.reason == code
        assert "access-sandbox" not in (error.details() or "")

    async def test_a_reused_id_with_another_payment_is_already_exists(
        self, harness: Harness
    ) -> None:
        await harness.stub.EvaluatePayment(
            payment(client_transaction_id="dup-1"), timeout=10
        )
        error = await failure(
            harness, payment(client_transaction_id="dup-1", amount="51.00")
        )
        assert error.code() == grpc.StatusCode.ALREADY_EXISTS

    async def test_our_rejected_credentials_are_internal(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        scenario = {
            "credentials": {"client_id": "someone-else", "secret": "other"},
            "items": [],
            "rulesets": [],
        }
        await admin.put_scenario(scenario)
        error = await failure(harness, payment())
        assert error.code() == grpc.StatusCode.INTERNAL
        info = details(error)["ErrorInfo"]
        assert isinstance(info, error_details_pb2.ErrorInfo)
        assert info.reason == "PLAID_CREDENTIALS_REJECTED"
        assert "emulator-secret" not in (error.details() or "")

    async def test_plaid_unreachable_is_unavailable_with_retry_info(
        self, harness: Harness, emulator: object
    ) -> None:
        await emulator.close()  # type: ignore[attr-defined]
        error = await failure(harness, payment())
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert "RetryInfo" in details(error)


class TestDeadlines:
    async def test_the_callers_deadline_bounds_the_plaid_call(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        scenario_latency = {"latency_ms": {"/signal/evaluate": 3000}}
        await admin.put_scenario({**default_scenario(), **scenario_latency})
        started = time.monotonic()
        error = await failure(harness, payment(), deadline_s=0.3)
        elapsed = time.monotonic() - started
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert elapsed < 0.6
