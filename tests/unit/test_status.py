"""to_status against the error contract docs/errors.md documents (its error table), and
the properties every status must have.

The expectations below are read from docs/errors.md, not from service/api/status.py: each
documented row is quoted, and a test checks the quote is still in that page, so the
documentation and these tests cannot drift apart unnoticed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2

from service.api.status import overloaded_status, to_status, unauthenticated_status
from service.app.errors import (
    DeadlineTooShort,
    FailureKind,
    FieldViolation,
    IdempotencyKeyReused,
    InvalidRequest,
    NotReportable,
    PlaidFailure,
    ReportingOff,
    RiskServiceError,
    TransactionNotFound,
)
from service.app.rate_budget import Budget, RateBudgetExhausted, Scope

ERRORS_PAGE = (Path(__file__).parents[2] / "docs" / "errors.md").read_text()
ENDPOINT = "/signal/evaluate"
UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class Documented:
    """One row of docs/errors.md's error table, as a caller reads it."""

    quote: str  # the row's opening, quoted from docs/errors.md
    code: str
    retry_info: bool
    kinds: frozenset[FailureKind]
    retry_delay_s: int | None = None  # when the page names the delay
    field: dict[FailureKind, str] | None = None  # BadRequest field, by kind
    reason: str | None = None  # when the page names our own reason


K = FailureKind
DOCUMENTED = (
    Documented(
        "| `INVALID_ARGUMENT` + `BadRequest` |",
        "INVALID_ARGUMENT",
        False,
        frozenset({K.INVALID_ACCESS_TOKEN, K.INVALID_ACCOUNT, K.RULESET_NOT_FOUND}),
        field={
            K.INVALID_ACCESS_TOKEN: "access_token",
            K.INVALID_ACCOUNT: "account_id",
            K.RULESET_NOT_FOUND: "ruleset_key",
        },
    ),
    Documented(
        "| `FAILED_PRECONDITION` | the Item needs re-linking",
        "FAILED_PRECONDITION",
        False,
        frozenset({K.RELINK_REQUIRED, K.NOT_SUPPORTED}),
    ),
    Documented(
        "| `ALREADY_EXISTS` |",
        "ALREADY_EXISTS",
        False,
        frozenset({K.IDEMPOTENCY_CONFLICT}),
    ),
    Documented(
        "| `RESOURCE_EXHAUSTED` + `RetryInfo` | Plaid's rate limit",
        "RESOURCE_EXHAUSTED",
        True,
        frozenset({K.RATE_LIMITED}),
        retry_delay_s=60,
    ),
    Documented(
        "| `RESOURCE_EXHAUSTED` (no `RetryInfo`) | Plaid's credit quota is spent",
        "RESOURCE_EXHAUSTED",
        False,
        frozenset({K.QUOTA_EXHAUSTED}),
    ),
    Documented(
        "| `UNAVAILABLE` + `RetryInfo` | Plaid 5xx or maintenance, connection refused "
        "or dropped, a body that is not Plaid's JSON",
        "UNAVAILABLE",
        True,
        frozenset({K.UNAVAILABLE, K.CONNECTION_FAILED, K.MALFORMED_RESPONSE}),
    ),
    Documented(
        "| `UNAVAILABLE`, reason `PLAID_OUTCOME_UNKNOWN` (no `RetryInfo`) |",
        "UNAVAILABLE",
        False,
        frozenset({K.OUTCOME_UNKNOWN}),
        reason="PLAID_OUTCOME_UNKNOWN",
    ),
    Documented(
        "| `UNAVAILABLE` + `RetryInfo` (900 s) | the institution is down",
        "UNAVAILABLE",
        True,
        frozenset({K.INSTITUTION_DOWN}),
        retry_delay_s=900,
    ),
    Documented(
        "| `DEADLINE_EXCEEDED` | your deadline",
        "DEADLINE_EXCEEDED",
        False,
        frozenset({K.TIMEOUT}),
    ),
    Documented(
        "| `INTERNAL` | our own fault; e.g. Plaid rejected the service's credentials",
        "INTERNAL",
        False,
        frozenset({K.CREDENTIALS_REJECTED}),
    ),
)
# Kinds docs/errors.md gives no row of their own: the properties below still hold for them.
UNDOCUMENTED = frozenset({K.REQUEST_REJECTED})
ROW = {kind: row for row in DOCUMENTED for kind in row.kinds}
RETRY_INFO = frozenset(kind for kind, row in ROW.items() if row.retry_info)


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


class TestTheDocumentation:
    def test_every_failure_kind_is_documented_or_named_as_not(self) -> None:
        """A new FailureKind fails here until docs/errors.md (and this file) place it."""
        assert set(ROW) | UNDOCUMENTED == set(FailureKind)
        assert not set(ROW) & UNDOCUMENTED

    @pytest.mark.parametrize("row", DOCUMENTED, ids=lambda r: r.quote[:40])
    def test_each_row_quoted_here_is_in_the_errors_page(self, row: Documented) -> None:
        assert row.quote in ERRORS_PAGE


class TestPlaidFailures:
    @pytest.mark.parametrize("kind", list(FailureKind))
    def test_every_kind_has_a_status_that_is_never_unknown(
        self, kind: FailureKind
    ) -> None:
        """to_status must not raise for any kind: a kind added without a mapping fails."""
        assert code(to_status(failure(kind))) not in ("UNKNOWN", "OK")

    @pytest.mark.parametrize("kind", list(FailureKind))
    def test_only_our_own_fault_is_internal(self, kind: FailureKind) -> None:
        status = to_status(failure(kind))
        assert (code(status) == "INTERNAL") == (kind is K.CREDENTIALS_REJECTED)

    @pytest.mark.parametrize("kind", [k for k in FailureKind if k in ROW])
    def test_the_documented_code(self, kind: FailureKind) -> None:
        assert code(to_status(failure(kind))) == ROW[kind].code

    @pytest.mark.parametrize("kind", list(FailureKind))
    def test_retry_info_exactly_where_documented(self, kind: FailureKind) -> None:
        found = details(to_status(failure(kind)))
        if kind in RETRY_INFO:
            delay = found[error_details_pb2.RetryInfo].retry_delay
            assert delay.seconds > 0
            expected = ROW[kind].retry_delay_s
            if expected is not None:
                assert delay.seconds == expected
        else:
            assert error_details_pb2.RetryInfo not in found

    def test_retry_info_goes_with_the_failures_worth_retrying(self) -> None:
        """Those the service itself retries, a rate limit (after its window) and an
        institution outage (in hours) carry a delay; a timeout, whose retry needs a
        longer deadline rather than a wait, does not."""
        worth_a_wait = {k for k in FailureKind if k.transient} - {K.TIMEOUT}
        assert worth_a_wait | {K.INSTITUTION_DOWN} == RETRY_INFO

    def test_a_rate_limit_without_a_stated_window_waits_a_minute(self) -> None:
        status = to_status(failure(K.RATE_LIMITED, retry_after_s=None))
        assert details(status)[error_details_pb2.RetryInfo].retry_delay.seconds == 60

    @pytest.mark.parametrize("kind", list(FailureKind))
    def test_bad_request_names_the_field_plaid_complained_about(
        self, kind: FailureKind
    ) -> None:
        found = details(to_status(failure(kind)))
        row = ROW.get(kind)
        field = row.field.get(kind) if row and row.field else None
        if field is None:
            assert error_details_pb2.BadRequest not in found
        else:
            bad = found[error_details_pb2.BadRequest]
            assert [v.field for v in bad.field_violations] == [field]
            assert bad.field_violations[0].description == "Plaid said no"

    @pytest.mark.parametrize(
        "kind", [k for k in FailureKind if k not in (K.CREDENTIALS_REJECTED,)]
    )
    def test_plaid_error_codes_are_reasons_in_plaids_domain(
        self, kind: FailureKind
    ) -> None:
        """docs/errors.md: the domain is plaid.com when Plaid raised the error, and
        the reason is Plaid's error_code; unless the page names our own reason."""
        info = error_info(to_status(failure(kind, error_code="ITEM_LOGIN_REQUIRED")))
        own = ROW[kind].reason if kind in ROW else None
        if own:
            assert (info.domain, info.reason) == ("achrisk", own)
        else:
            assert (info.domain, info.reason) == ("plaid.com", "ITEM_LOGIN_REQUIRED")

    @pytest.mark.parametrize("kind", list(FailureKind))
    def test_without_a_plaid_code_the_reason_is_ours(self, kind: FailureKind) -> None:
        info = error_info(to_status(failure(kind, error_code=None, error_type=None)))
        assert info.domain == "achrisk"
        assert UPPER_SNAKE.match(info.reason)

    def test_plaid_refusing_an_id_used_elsewhere_is_already_exists_in_its_domain(
        self,
    ) -> None:
        status = to_status(
            failure(
                K.IDEMPOTENCY_CONFLICT,
                error_type="SIGNAL_ERROR",
                error_code="CLIENT_TRANSACTION_ID_ALREADY_IN_USE",
            )
        )
        info = error_info(status)
        assert code(status) == "ALREADY_EXISTS"
        assert (info.domain, info.reason) == (
            "plaid.com",
            "CLIENT_TRANSACTION_ID_ALREADY_IN_USE",
        )

    def test_an_unknown_outcome_keeps_plaids_code_in_the_metadata(self) -> None:
        """Plaid refused our own retry's id: no conflict of the caller's making."""
        status = to_status(
            failure(
                K.OUTCOME_UNKNOWN, error_code="CLIENT_TRANSACTION_ID_ALREADY_IN_USE"
            )
        )
        info = error_info(status)
        assert (info.domain, info.reason) == ("achrisk", "PLAID_OUTCOME_UNKNOWN")
        assert info.metadata["plaidErrorCode"] == "CLIENT_TRANSACTION_ID_ALREADY_IN_USE"

    def test_metadata_keeps_plaids_type_code_and_request_id(self) -> None:
        info = error_info(
            to_status(
                failure(
                    K.RELINK_REQUIRED,
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

    def test_metadata_leaves_out_what_plaid_did_not_say(self) -> None:
        status = to_status(
            failure(K.TIMEOUT, error_type=None, error_code=None, request_id=None)
        )
        assert dict(error_info(status).metadata) == {
            "plaidEndpoint": ENDPOINT,
            "failureKind": "TIMEOUT",
        }

    @pytest.mark.parametrize("kind", list(FailureKind))
    def test_metadata_keys_are_lower_camel_case(self, kind: FailureKind) -> None:
        for key in error_info(to_status(failure(kind))).metadata:
            assert key[0].islower()
            assert "_" not in key

    def test_the_message_names_the_endpoint(self) -> None:
        status = to_status(failure(K.UNAVAILABLE))
        assert status.message == f"Plaid {ENDPOINT}: Plaid said no"

    def test_rejected_credentials_are_our_fault_with_a_generic_message(self) -> None:
        status = to_status(
            failure(
                K.CREDENTIALS_REJECTED, http_status=400, error_code="INVALID_API_KEYS"
            )
        )
        info = error_info(status)
        assert info.domain == "achrisk"
        assert info.metadata["plaidErrorCode"] == "INVALID_API_KEYS"
        assert "Plaid said no" not in status.message
        assert "credentials were rejected" in status.message


# One instance of every exception the service raises on purpose, with docs/errors.md's
# code for it and the reason where the page names one.
OWN_ERRORS: dict[type[RiskServiceError], tuple[RiskServiceError, str, str | None]] = {
    InvalidRequest: (
        InvalidRequest([FieldViolation("account_id", "is required")]),
        "INVALID_ARGUMENT",
        None,
    ),
    DeadlineTooShort: (DeadlineTooShort("12 ms left"), "DEADLINE_EXCEEDED", None),
    IdempotencyKeyReused: (
        IdempotencyKeyReused("tx-1"),
        "ALREADY_EXISTS",
        "IDEMPOTENCY_KEY_REUSED",
    ),
    TransactionNotFound: (TransactionNotFound("none"), "NOT_FOUND", None),
    NotReportable: (NotReportable("not ACH"), "FAILED_PRECONDITION", None),
    ReportingOff: (
        ReportingOff("off"),
        "FAILED_PRECONDITION",
        "REPORTING_OFF_FOR_BALANCE_ONLY",
    ),
    PlaidFailure: (failure(K.TIMEOUT), "DEADLINE_EXCEEDED", None),
    RateBudgetExhausted: (
        RateBudgetExhausted(ENDPOINT, Scope.ITEM, Budget(70, 3600.0), 12.5),
        "RESOURCE_EXHAUSTED",
        "RATE_BUDGET_EXHAUSTED",
    ),
}
# docs/errors.md's row for our own rate budgets (reason, RetryInfo and metadata).
BUDGET_ROW = (
    "| `RESOURCE_EXHAUSTED` + `RetryInfo`, reason `RATE_BUDGET_EXHAUSTED` |"
    " our own rate budget"
)


def subclasses(base: type) -> set[type]:
    found: set[type] = set()
    sub: type
    for sub in base.__subclasses__():
        found |= {sub} | subclasses(sub)
    return found


class TestOwnErrors:
    def test_every_exception_of_ours_is_covered_here(self) -> None:
        """A new exception class fails here until it is given a documented status."""
        assert subclasses(RiskServiceError) == set(OWN_ERRORS)

    @pytest.mark.parametrize("cls", list(OWN_ERRORS), ids=lambda c: c.__name__)
    def test_the_documented_code_never_unknown_nor_internal(self, cls: type) -> None:
        exc, documented, reason = OWN_ERRORS[cls]
        status = to_status(exc)
        assert code(status) == documented
        info = error_info(status)
        assert UPPER_SNAKE.match(info.reason)
        if reason is not None:
            assert (info.domain, info.reason) == ("achrisk", reason)
        if cls not in (PlaidFailure, RateBudgetExhausted):
            assert error_details_pb2.RetryInfo not in details(status)

    def test_a_spent_rate_budget_says_which_and_when_it_refills(self) -> None:
        assert BUDGET_ROW in ERRORS_PAGE
        exc = RateBudgetExhausted(ENDPOINT, Scope.CLIENT, Budget(20, 1.0), 0.2504)
        found = details(to_status(exc))
        info = found[error_details_pb2.ErrorInfo]
        assert (info.domain, info.reason) == ("achrisk", "RATE_BUDGET_EXHAUSTED")
        assert dict(info.metadata) == {
            "scope": "client",
            "endpoint": ENDPOINT,
            "limit": "20",
            "windowS": "1",
        }
        delay = found[error_details_pb2.RetryInfo].retry_delay
        assert delay.ToTimedelta().total_seconds() == pytest.approx(0.251)

    def test_a_spent_rate_budget_keeps_its_details_when_calls_are_added(self) -> None:
        exc = RateBudgetExhausted(ENDPOINT, Scope.ITEM, Budget(5, 60.0), 30.0)
        again = exc.with_calls(())
        assert isinstance(again, RateBudgetExhausted)
        assert (again.scope, again.budget, again.retry_after_s) == (
            Scope.ITEM,
            Budget(5, 60.0),
            30.0,
        )

    def test_invalid_request_names_every_field(self) -> None:
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
        assert "client_transaction_id, amount.nanos" in status.message
        assert [
            (v.field, v.description)
            for v in found[error_details_pb2.BadRequest].field_violations
        ] == [
            ("client_transaction_id", "is required"),
            ("amount.nanos", "must have the same sign"),
        ]


class TestGatekeeperRefusals:
    def test_no_valid_key_is_unauthenticated_with_the_documented_reason(self) -> None:
        status = unauthenticated_status()
        assert code(status) == "UNAUTHENTICATED"
        assert error_info(status).reason == "API_KEY_INVALID"

    def test_overload_is_resource_exhausted_with_a_fifth_of_a_second_retry(
        self,
    ) -> None:
        status = overloaded_status(4096)
        found = details(status)
        assert code(status) == "RESOURCE_EXHAUSTED"
        assert found[error_details_pb2.ErrorInfo].reason == "OVERLOADED"
        delay = found[error_details_pb2.RetryInfo].retry_delay
        assert delay.ToTimedelta().total_seconds() == pytest.approx(0.2)


class TestUnexpected:
    @pytest.mark.parametrize(
        "exc",
        [
            RuntimeError("token access-production-123 leaked"),
            KeyError("access-production-123"),
            ValueError("access-production-123"),
        ],
    )
    def test_is_internal_never_unknown_with_a_generic_message(
        self, exc: Exception
    ) -> None:
        status = to_status(exc)
        assert code(status) == "INTERNAL"
        assert status.code == grpc.StatusCode.INTERNAL.value[0]
        assert "access-production-123" not in status.message
        assert "leaked" not in status.message
        info = error_info(status)
        assert info.domain == "achrisk"
        assert dict(info.metadata) == {}
