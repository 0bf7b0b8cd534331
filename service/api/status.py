"""The one table from the service's exceptions to gRPC status codes with google.rpc details.

Status messages are for developers: no secrets, no PII; dynamic values go in metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from service.app.errors import (
    DeadlineTooShort,
    FailureKind,
    FieldViolation,
    IdempotencyKeyReused,
    InvalidRequest,
    NotReportable,
    PlaidFailure,
    ReportingOff,
    TransactionNotFound,
)
from service.app.rate_budget import RateBudgetExhausted

DOMAIN = "achrisk"
PLAID_DOMAIN = "plaid.com"


@dataclass(frozen=True, slots=True)
class _Mapping:
    code: grpc.StatusCode
    retry_after_s: float | None = None
    field: str | None = None  # the request field Plaid's complaint is about
    ours: bool = False  # our own fault: generic message, our domain
    reason: str | None = None  # ours (domain achrisk), even when Plaid gave a code


_BY_KIND: dict[FailureKind, _Mapping] = {
    FailureKind.RELINK_REQUIRED: _Mapping(grpc.StatusCode.FAILED_PRECONDITION),
    FailureKind.INVALID_ACCESS_TOKEN: _Mapping(
        grpc.StatusCode.INVALID_ARGUMENT, field="access_token"
    ),
    FailureKind.INVALID_ACCOUNT: _Mapping(
        grpc.StatusCode.INVALID_ARGUMENT, field="account_id"
    ),
    FailureKind.RULESET_NOT_FOUND: _Mapping(
        grpc.StatusCode.INVALID_ARGUMENT, field="ruleset_key"
    ),
    FailureKind.IDEMPOTENCY_CONFLICT: _Mapping(grpc.StatusCode.ALREADY_EXISTS),
    # No RetryInfo: a retry with the same id meets the same refusal; use a new id.
    FailureKind.OUTCOME_UNKNOWN: _Mapping(
        grpc.StatusCode.UNAVAILABLE, reason="PLAID_OUTCOME_UNKNOWN"
    ),
    FailureKind.NOT_SUPPORTED: _Mapping(grpc.StatusCode.FAILED_PRECONDITION),
    FailureKind.REQUEST_REJECTED: _Mapping(grpc.StatusCode.INVALID_ARGUMENT),
    FailureKind.QUOTA_EXHAUSTED: _Mapping(grpc.StatusCode.RESOURCE_EXHAUSTED),
    FailureKind.CREDENTIALS_REJECTED: _Mapping(grpc.StatusCode.INTERNAL, ours=True),
    # The failure carries the limit's window (adapters/plaid/errors.py).
    FailureKind.RATE_LIMITED: _Mapping(
        grpc.StatusCode.RESOURCE_EXHAUSTED, retry_after_s=60.0
    ),
    FailureKind.UNAVAILABLE: _Mapping(grpc.StatusCode.UNAVAILABLE, retry_after_s=1.0),
    # Plaid: "the institution is temporarily unreachable; retry in hours".
    FailureKind.INSTITUTION_DOWN: _Mapping(
        grpc.StatusCode.UNAVAILABLE, retry_after_s=900.0
    ),
    FailureKind.CONNECTION_FAILED: _Mapping(
        grpc.StatusCode.UNAVAILABLE, retry_after_s=1.0
    ),
    FailureKind.MALFORMED_RESPONSE: _Mapping(
        grpc.StatusCode.UNAVAILABLE, retry_after_s=1.0
    ),
    FailureKind.TIMEOUT: _Mapping(grpc.StatusCode.DEADLINE_EXCEEDED),
}


# First match wins: a subclass comes before its base.
_OURS: dict[type[Exception], tuple[grpc.StatusCode, str]] = {
    IdempotencyKeyReused: (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED"),
    TransactionNotFound: (grpc.StatusCode.NOT_FOUND, "DECISION_NOT_FOUND"),
    ReportingOff: (
        grpc.StatusCode.FAILED_PRECONDITION,
        "REPORTING_OFF_FOR_BALANCE_ONLY",
    ),
    NotReportable: (grpc.StatusCode.FAILED_PRECONDITION, "NOT_REPORTABLE"),
}


def to_status(exc: BaseException) -> status_pb2.Status:
    """The google.rpc.Status for any exception; unknown ones are INTERNAL, never UNKNOWN."""
    if isinstance(exc, InvalidRequest):
        return _status(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"invalid request: {len(exc.violations)} bad field(s): "
            + ", ".join(v.field for v in exc.violations),
            _info("INVALID_REQUEST", DOMAIN, {}),
            _bad_request(exc.violations),
        )
    if isinstance(exc, DeadlineTooShort):
        return _status(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            str(exc),
            _info("DEADLINE_TOO_SHORT", DOMAIN, {}),
        )
    if isinstance(exc, RateBudgetExhausted):
        return _budget_status(exc)
    if isinstance(exc, PlaidFailure):
        return _plaid_status(exc)
    for kind, (code, reason) in _OURS.items():
        if isinstance(exc, kind):
            return _status(code, str(exc), _info(reason, DOMAIN, {}))
    return _status(
        grpc.StatusCode.INTERNAL,
        "internal error; see the service log",
        _info("INTERNAL", DOMAIN, {}),
    )


def unauthenticated_status() -> status_pb2.Status:
    """No valid API key: say so without saying what was wrong with it."""
    return _status(
        grpc.StatusCode.UNAUTHENTICATED,
        "missing or unknown API key: send `authorization: Bearer <key>`",
        _info("API_KEY_INVALID", DOMAIN, {}),
    )


def overloaded_status(max_in_flight: int) -> status_pb2.Status:
    """Shed at once, rather than queue past the caller's deadline."""
    return _status(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"the service is at its limit of {max_in_flight} calls in flight; retry shortly",
        _info("OVERLOADED", DOMAIN, {"maxInFlight": str(max_in_flight)}),
        error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(nanos=200_000_000)
        ),
    )


def _budget_status(exc: RateBudgetExhausted) -> status_pb2.Status:
    """Our own rate budget refused the call before Plaid saw it; RetryInfo says when
    the budget has room again (rounded up to the millisecond)."""
    retry_ms = max(1, math.ceil((exc.retry_after_s or 0.0) * 1000))
    metadata = {
        "scope": exc.scope.value,
        "endpoint": exc.endpoint,
        "limit": str(exc.budget.limit),
        "windowS": f"{exc.budget.window_s:g}",
    }
    return _status(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"rate budget for Plaid {exc.endpoint}: {exc}",
        _info("RATE_BUDGET_EXHAUSTED", DOMAIN, metadata),
        error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(
                seconds=retry_ms // 1000, nanos=(retry_ms % 1000) * 1_000_000
            )
        ),
    )


def _plaid_status(exc: PlaidFailure) -> status_pb2.Status:
    mapping = _BY_KIND[exc.kind]
    metadata = {
        k: v
        for k, v in (
            ("plaidErrorType", exc.error_type),
            ("plaidErrorCode", exc.error_code),
            ("plaidRequestId", exc.request_id),
            ("plaidEndpoint", exc.endpoint),
            ("failureKind", exc.kind.value),
            ("plaidAnswerField", exc.answer_field),
        )
        if v
    }
    if mapping.ours:
        details = [_info("PLAID_" + exc.kind.value, DOMAIN, metadata)]
        return _status(
            mapping.code,
            "the service's Plaid credentials were rejected; "
            "the operator has been alerted",
            *details,
        )
    if mapping.reason:
        reason, domain = mapping.reason, DOMAIN
    elif exc.error_code:
        reason, domain = exc.error_code, PLAID_DOMAIN
    else:
        reason, domain = exc.kind.value, DOMAIN
    details = [_info(reason, domain, metadata)]
    if mapping.field:
        details.append(_bad_request([FieldViolation(mapping.field, str(exc))]))
    retry_after = exc.retry_after_s or mapping.retry_after_s
    if retry_after is not None:
        details.append(
            error_details_pb2.RetryInfo(
                retry_delay=duration_pb2.Duration(seconds=int(retry_after))
            )
        )
    return _status(mapping.code, f"Plaid {exc.endpoint}: {exc}", *details)


def _info(
    reason: str, domain: str, metadata: dict[str, str]
) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(reason=reason, domain=domain, metadata=metadata)


def _bad_request(violations: list[FieldViolation]) -> error_details_pb2.BadRequest:
    return error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(
                field=v.field, description=v.description
            )
            for v in violations
        ]
    )


def _status(code: grpc.StatusCode, message: str, *details: object) -> status_pb2.Status:
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)  # type: ignore[arg-type]
        packed.append(holder)
    # grpc.StatusCode values are (int, name) pairs; google.rpc.Code uses the same ints.
    number: int = code.value[0]
    assert code_pb2.Code.Name(number) == code.name
    return status_pb2.Status(code=number, message=message, details=packed)
