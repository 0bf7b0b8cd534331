"""The service's exception tree; api/status.py maps each to a gRPC status.

RiskServiceError
 ├── InvalidRequest(violations)    the caller's request is malformed: INVALID_ARGUMENT
 ├── DeadlineTooShort              the caller's deadline cannot cover one Plaid call
 ├── IdempotencyKeyReused          a client_transaction_id reused for another payment
 ├── TransactionNotFound           no stored decision for this caller and id
 ├── NotReportable                 Plaid never evaluated the transaction (not ACH, degraded)
 │    └── ReportingOff             reports about Balance-only decisions are turned off
 └── PlaidFailure(kind, ...)       Plaid gave no usable answer; `kind` picks the status
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from service.domain.model import PlaidCall


class RiskServiceError(Exception):
    """Base of every error the service raises on purpose."""


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad request field (proto field path) and what is wrong with it."""

    field: str
    description: str


class InvalidRequest(RiskServiceError):
    """The request is malformed; every bad field is named."""

    def __init__(self, violations: list[FieldViolation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))
        self.violations = violations


class DeadlineTooShort(RiskServiceError):
    """The time left cannot cover a Plaid call."""


class IdempotencyKeyReused(RiskServiceError):
    """The client_transaction_id is stored for a different payment."""

    def __init__(self, client_transaction_id: str) -> None:
        super().__init__(
            "client_transaction_id was already used for a different payment"
        )
        self.client_transaction_id = client_transaction_id


class TransactionNotFound(RiskServiceError):
    """No decision is stored for this caller and client_transaction_id."""


class NotReportable(RiskServiceError):
    """Plaid never evaluated this transaction, so it cannot take reports about it."""


class ReportingOff(NotReportable):
    """Reports about Balance-only decisions are turned off by configuration."""


class FailureKind(enum.Enum):
    """Why Plaid gave no usable answer; `transient` ones may succeed when retried soon.

    INSTITUTION_DOWN is not transient: Plaid says to retry in hours, so it degrades now.
    RATE_LIMITED is transient but not retried within a call: Plaid's windows are a
    minute or an hour long, far beyond a caller's deadline.
    """

    RELINK_REQUIRED = "RELINK_REQUIRED"
    INVALID_ACCESS_TOKEN = "INVALID_ACCESS_TOKEN"  # noqa: S105 (a name, not a secret)
    INVALID_ACCOUNT = "INVALID_ACCOUNT"
    RULESET_NOT_FOUND = "RULESET_NOT_FOUND"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    # Our own attempt went unanswered and Plaid refused the retry's id as in use: the
    # first attempt may have been evaluated (and billed), with an unknown result.
    OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REQUEST_REJECTED = "REQUEST_REJECTED"
    QUOTA_EXHAUSTED = "QUOTA_EXHAUSTED"
    CREDENTIALS_REJECTED = "CREDENTIALS_REJECTED"
    RATE_LIMITED = "RATE_LIMITED"
    INSTITUTION_DOWN = "INSTITUTION_DOWN"
    UNAVAILABLE = "UNAVAILABLE"
    TIMEOUT = "TIMEOUT"
    CONNECTION_FAILED = "CONNECTION_FAILED"
    MALFORMED_RESPONSE = "MALFORMED_RESPONSE"

    @property
    def transient(self) -> bool:
        """May succeed when tried again later (the outbox keeps such reports)."""
        return self in _TRANSIENT

    @property
    def retried_within_call(self) -> bool:
        """May succeed when retried within the same call's deadline."""
        return self in _TRANSIENT and self is not FailureKind.RATE_LIMITED


_TRANSIENT = frozenset(
    {
        FailureKind.RATE_LIMITED,
        FailureKind.UNAVAILABLE,
        FailureKind.TIMEOUT,
        FailureKind.CONNECTION_FAILED,
        FailureKind.MALFORMED_RESPONSE,
    }
)


class PlaidFailure(RiskServiceError):
    """Plaid answered with an error, or not at all. Never carries Plaid's raw body.

    Never changed once raised: whoever learns of more calls (the retries, a fallback)
    raises `with_calls(...)`, a copy, so a failure seen twice says the same thing twice.
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        endpoint: str,
        http_status: int = 0,
        error_type: str | None = None,
        error_code: str | None = None,
        request_id: str | None = None,
        calls: tuple[PlaidCall, ...] = (),
        answer_field: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after_s: Final = retry_after_s  # when a retry can succeed, if known
        self.answer_field: Final = answer_field  # the malformed field of Plaid's answer
        self.kind: Final = kind
        self.endpoint: Final = endpoint
        self.http_status: Final = http_status
        self.error_type: Final = error_type
        self.error_code: Final = error_code
        self.request_id: Final = request_id
        self.calls: Final = calls

    def with_calls(self, calls: tuple[PlaidCall, ...]) -> PlaidFailure:
        """The same failure, carrying `calls` as its record of attempts."""
        return PlaidFailure(
            self.kind,
            str(self),
            endpoint=self.endpoint,
            http_status=self.http_status,
            error_type=self.error_type,
            error_code=self.error_code,
            request_id=self.request_id,
            calls=calls,
            answer_field=self.answer_field,
            retry_after_s=self.retry_after_s,
        )

    def reached(self, endpoint: str) -> bool:
        """Whether any attempt was made at `endpoint` (answered or not)."""
        return any(call.endpoint == endpoint for call in self.calls)
