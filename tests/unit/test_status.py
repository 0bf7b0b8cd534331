"""to_status: the one table from exceptions to google.rpc.Status with rich details."""

from typing import Any

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2

from service.api.status import to_status
from service.app.errors import (
    DeadlineTooShort,
    FailureKind,
    FieldViolation,
    InvalidRequest,
    PlaidFailure,
)

ENDPOINT = "/signal/evaluate"


def details(status: status_pb2.Status) -> dict[type, Any]:
    """Unpack every detail by type; each type appears at most once."""
    found: dict[type, Any] = {}
    for packed in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.RetryInfo,
        ):
            if packed.Is(kind.DESCRIPTOR):
                detail = kind()
                packed.Unpack(detail)
                assert kind not in found
                found[kind] = detail
                break
        else:
            pytest.fail(f"unexpected detail {packed.type_url}")
    return found


def error_info(status: status_pb2.Status) -> error_details_pb2.ErrorInfo:
    return details(status)[error_details_pb2.ErrorInfo]


def failure(kind: FailureKind, **kwargs: Any) -> PlaidFailure:
    fields: dict[str, Any] = {
        "endpoint": ENDPOINT,
        "http_status": 400,
        "error_type": "INVALID_INPUT",
        "error_code": "SOME_PLAID_CODE",
        "request_id": "req-abc123",
    }
    fields.update(kwargs)
    return PlaidFailure(kind, "Plaid said no", **fields)


def code(status: status_pb2.Status) -> str:
    return str(code_pb2.Code.Name(status.code))


# Kinds whose ErrorInfo reason is ours even when Plaid gave an error code.
OWN_REASON = {FailureKind.CREDENTIALS_REJECTED, FailureKind.OUTCOME_UNKNOWN}

# kind -> (gRPC code, retry delay in seconds or None, BadRequest field or None)
TABLE = {
    FailureKind.RELINK_REQUIRED: ("FAILED_PRECONDITION", None, None),
    FailureKind.INVALID_ACCESS_TOKEN: ("INVALID_ARGUMENT", None, "access_token"),
    FailureKind.INVALID_ACCOUNT: ("INVALID_ARGUMENT", None, "account_id"),
    FailureKind.RULESET_NOT_FOUND: ("INVALID_ARGUMENT", None, "ruleset_key"),
    FailureKind.IDEMPOTENCY_CONFLICT: ("ALREADY_EXISTS", None, None),
    # No RetryInfo: the same id meets the same refusal; a new id is the way on.
    FailureKind.OUTCOME_UNKNOWN: ("UNAVAILABLE", None, None),
    FailureKind.NOT_SUPPORTED: ("FAILED_PRECONDITION", None, None),
    FailureKind.REQUEST_REJECTED: ("INVALID_ARGUMENT", None, None),
    FailureKind.QUOTA_EXHAUSTED: ("RESOURCE_EXHAUSTED", None, None),
    FailureKind.CREDENTIALS_REJECTED: ("INTERNAL", None, None),
    FailureKind.RATE_LIMITED: ("RESOURCE_EXHAUSTED", 60, None),
    FailureKind.UNAVAILABLE: ("UNAVAILABLE", 1, None),
    FailureKind.INSTITUTION_DOWN: ("UNAVAILABLE", 900, None),
    FailureKind.TIMEOUT: ("DEADLINE_EXCEEDED", None, None),
    FailureKind.CONNECTION_FAILED: ("UNAVAILABLE", 1, None),
    FailureKind.MALFORMED_RESPONSE: ("UNAVAILABLE", 1, None),
}


class TestPlaidFailures:
    def test_the_table_covers_every_failure_kind(self):
        assert set(TABLE) == set(FailureKind)

    @pytest.mark.parametrize("kind", list(FailureKind))
    def test_maps_to_its_grpc_code(self, kind):
        assert code(to_status(failure(kind))) == TABLE[kind][0]

    @pytest.mark.parametrize("kind", list(FailureKind))
    def test_retry_info_only_where_mapped(self, kind):
        found = details(to_status(failure(kind)))
        delay = TABLE[kind][1]
        if delay is None:
            assert error_details_pb2.RetryInfo not in found
        else:
            retry = found[error_details_pb2.RetryInfo]
            assert retry.retry_delay.seconds == delay

    @pytest.mark.parametrize("kind", list(FailureKind))
    def test_bad_request_names_the_field_plaid_complained_about(self, kind):
        found = details(to_status(failure(kind)))
        field = TABLE[kind][2]
        if field is None:
            assert error_details_pb2.BadRequest not in found
        else:
            bad = found[error_details_pb2.BadRequest]
            assert [v.field for v in bad.field_violations] == [field]
            assert bad.field_violations[0].description == "Plaid said no"

    @pytest.mark.parametrize("kind", [k for k in FailureKind if k not in OWN_REASON])
    def test_plaid_error_codes_are_reasons_in_plaids_domain(self, kind):
        info = error_info(to_status(failure(kind, error_code="ITEM_LOGIN_REQUIRED")))
        assert (info.domain, info.reason) == ("plaid.com", "ITEM_LOGIN_REQUIRED")

    @pytest.mark.parametrize("kind", [k for k in FailureKind if k not in OWN_REASON])
    def test_without_a_plaid_code_the_failure_kind_is_our_reason(self, kind):
        info = error_info(to_status(failure(kind, error_code=None, error_type=None)))
        assert (info.domain, info.reason) == ("achrisk", kind.value)

    def test_an_unknown_outcome_has_its_own_reason_and_keeps_plaids_code(self):
        """Plaid refused our own retry's id: no conflict of the caller's making."""
        status = to_status(
            failure(
                FailureKind.OUTCOME_UNKNOWN,
                error_code="CLIENT_TRANSACTION_ID_ALREADY_IN_USE",
            )
        )
        info = error_info(status)
        assert (info.domain, info.reason) == ("achrisk", "PLAID_OUTCOME_UNKNOWN")
        assert info.metadata["plaidErrorCode"] == "CLIENT_TRANSACTION_ID_ALREADY_IN_USE"
        assert code(status) == "UNAVAILABLE"

    def test_a_rate_limit_carries_its_windows_retry_delay(self):
        status = to_status(failure(FailureKind.RATE_LIMITED, retry_after_s=60.0))
        retry = details(status)[error_details_pb2.RetryInfo]
        assert retry.retry_delay.seconds == 60

    def test_metadata_keeps_plaids_type_code_and_request_id(self):
        info = error_info(
            to_status(
                failure(
                    FailureKind.RELINK_REQUIRED,
                    error_type="ITEM_ERROR",
                    error_code="ITEM_LOGIN_REQUIRED",
                    request_id="req-xyz",
                )
            )
        )
        assert dict(info.metadata) == {
            "plaidErrorType": "ITEM_ERROR",
            "plaidErrorCode": "ITEM_LOGIN_REQUIRED",
            "plaidRequestId": "req-xyz",
            "plaidEndpoint": ENDPOINT,
            "failureKind": "RELINK_REQUIRED",
        }

    def test_metadata_leaves_out_what_plaid_did_not_say(self):
        status = to_status(
            failure(
                FailureKind.TIMEOUT, error_type=None, error_code=None, request_id=None
            )
        )
        assert dict(error_info(status).metadata) == {
            "plaidEndpoint": ENDPOINT,
            "failureKind": "TIMEOUT",
        }

    @pytest.mark.parametrize("kind", list(FailureKind))
    def test_metadata_keys_are_lower_camel_case(self, kind):
        for key in error_info(to_status(failure(kind))).metadata:
            assert key[0].islower()
            assert "_" not in key

    def test_the_message_names_the_endpoint(self):
        status = to_status(failure(FailureKind.UNAVAILABLE))
        assert status.message == f"Plaid {ENDPOINT}: Plaid said no"

    def test_rejected_credentials_are_our_fault_with_a_generic_message(self):
        status = to_status(
            failure(
                FailureKind.CREDENTIALS_REJECTED,
                http_status=400,
                error_code="INVALID_API_KEYS",
            )
        )
        info = error_info(status)
        assert code(status) == "INTERNAL"
        assert (info.domain, info.reason) == ("achrisk", "PLAID_CREDENTIALS_REJECTED")
        assert info.metadata["plaidErrorCode"] == "INVALID_API_KEYS"
        assert "Plaid said no" not in status.message
        assert "credentials were rejected" in status.message

    @pytest.mark.parametrize("kind", list(FailureKind))
    def test_never_unknown_or_ok(self, kind):
        assert code(to_status(failure(kind))) not in ("UNKNOWN", "OK")


class TestInvalidRequest:
    def test_is_invalid_argument_naming_every_field(self):
        status = to_status(
            InvalidRequest(
                [
                    FieldViolation("client_transaction_id", "is required"),
                    FieldViolation("amount.nanos", "must have the same sign"),
                ]
            )
        )
        found = details(status)
        assert code(status) == "INVALID_ARGUMENT"
        assert status.message == (
            "invalid request: 2 bad field(s): client_transaction_id, amount.nanos"
        )
        info = found[error_details_pb2.ErrorInfo]
        assert (info.domain, info.reason) == ("achrisk", "INVALID_REQUEST")
        assert [
            (v.field, v.description)
            for v in found[error_details_pb2.BadRequest].field_violations
        ] == [
            ("client_transaction_id", "is required"),
            ("amount.nanos", "must have the same sign"),
        ]
        assert error_details_pb2.RetryInfo not in found


class TestDeadlineTooShort:
    def test_is_deadline_exceeded(self):
        status = to_status(DeadlineTooShort("12 ms left: not enough"))
        assert code(status) == "DEADLINE_EXCEEDED"
        assert status.message == "12 ms left: not enough"
        info = error_info(status)
        assert (info.domain, info.reason) == ("achrisk", "DEADLINE_TOO_SHORT")


class TestUnexpected:
    @pytest.mark.parametrize(
        "exc",
        [
            RuntimeError("token access-production-123 leaked"),
            KeyError("access-production-123"),
            ValueError("access-production-123"),
        ],
    )
    def test_is_internal_with_a_generic_message(self, exc):
        status = to_status(exc)
        assert code(status) == "INTERNAL"
        assert "access-production-123" not in status.message
        assert "leaked" not in status.message
        assert status.message == "internal error; see the service log"
        info = error_info(status)
        assert (info.domain, info.reason) == ("achrisk", "INTERNAL")
        assert dict(info.metadata) == {}

    def test_codes_agree_with_grpc_status_codes(self):
        status = to_status(RuntimeError("boom"))
        assert status.code == grpc.StatusCode.INTERNAL.value[0]
