"""Proto <-> domain for GetDecision, ReportDecision and ReportReturn, with validation."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service.api.convert import (
    MAX_TRANSACTION_ID,
    _money_problems,
    money_decimal,
    text_problem,
    timestamp,
)
from service.app.errors import FieldViolation, InvalidRequest
from service.app.ports import DecisionReport, ReportRecord, ReturnReport
from service.domain.money import Money

# NACHA return codes R01-R85 (Plaid answers anything else INVALID_FIELD).
RETURN_CODE = re.compile(r"R(0[1-9]|[1-7][0-9]|8[0-5])")
# google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799
_OUTCOMES = {
    getattr(pb, f"DECISION_OUTCOME_{v}"): v
    for v in (
        "APPROVE",
        "REVIEW",
        "REJECT",
        "TAKE_OTHER_RISK_MEASURES",
        "NOT_EVALUATED",
    )
}
_METHODS = {
    getattr(pb, f"PAYMENT_METHOD_{v}"): v
    for v in (
        "SAME_DAY_ACH",
        "NEXT_DAY_ACH",
        "STANDARD_ACH",
        "MULTIPLE_PAYMENT_METHODS",
    )
}


def transaction_id(value: str, bad: list[FieldViolation]) -> str:
    if not value:
        bad.append(FieldViolation("client_transaction_id", "is required"))
    elif problem := text_problem(value, MAX_TRANSACTION_ID):
        bad.append(FieldViolation("client_transaction_id", problem))
    return value


def get_decision_id(msg: pb.GetDecisionRequest) -> str:
    bad: list[FieldViolation] = []
    txid = transaction_id(msg.client_transaction_id, bad)
    if bad:
        raise InvalidRequest(bad)
    return txid


def decision_report(msg: pb.ReportDecisionRequest) -> DecisionReport:
    """Validate and convert; raises InvalidRequest naming every bad field."""
    bad: list[FieldViolation] = []
    txid = transaction_id(msg.client_transaction_id, bad)
    if not msg.HasField("initiated"):
        bad.append(
            FieldViolation("initiated", "is required: whether the debit was sent")
        )
    if msg.HasField("days_funds_on_hold") and msg.days_funds_on_hold < 0:
        bad.append(FieldViolation("days_funds_on_hold", "must not be negative"))
    outcome = _enum(msg.decision_outcome, _OUTCOMES, "decision_outcome", bad)
    method = _enum(msg.payment_method, _METHODS, "payment_method", bad)
    amount = None
    if msg.HasField("amount_instantly_available"):
        amount = _usd(msg, bad)
    submitted_at = _time(msg, "submit_time", bad)
    if bad:
        raise InvalidRequest(bad)
    return DecisionReport(
        client_transaction_id=txid,
        initiated=msg.initiated,
        days_funds_on_hold=msg.days_funds_on_hold
        if msg.HasField("days_funds_on_hold")
        else None,
        decision_outcome=outcome,
        payment_method=method,
        amount_instantly_available=amount.to_decimal() if amount else None,
        submitted_at=submitted_at,
    )


def return_report(msg: pb.ReportReturnRequest) -> ReturnReport:
    bad: list[FieldViolation] = []
    txid = transaction_id(msg.client_transaction_id, bad)
    if not RETURN_CODE.fullmatch(msg.return_code):
        bad.append(
            FieldViolation("return_code", "must be an ACH return code R01 to R85")
        )
    returned_at = _time(msg, "return_time", bad)
    if bad:
        raise InvalidRequest(bad)
    return ReturnReport(txid, msg.return_code, returned_at)


def _enum(
    value: int, known: dict[int, str], field: str, bad: list[FieldViolation]
) -> str | None:
    if value == 0:
        return None  # UNSPECIFIED: not reported
    if value not in known:
        bad.append(FieldViolation(field, f"unknown value {value}"))
        return None
    return known[value]


def _usd(msg: pb.ReportDecisionRequest, bad: list[FieldViolation]) -> Money | None:
    money = msg.amount_instantly_available
    field = "amount_instantly_available"
    problems = _money_problems(money)
    if problems:
        bad.extend(
            FieldViolation(f.replace("amount", field, 1), d) for f, d in problems
        )
        return None
    if money.currency_code != "USD":
        bad.append(FieldViolation(f"{field}.currency_code", "must be USD"))
        return None
    try:
        amount = Money.from_decimal(money_decimal(money), "USD")
    except ValueError as exc:
        bad.append(FieldViolation(field, str(exc)))
        return None
    if amount.minor_units < 0:
        bad.append(FieldViolation(field, "must not be negative"))
        return None
    return amount


def _time(
    msg: pb.ReportDecisionRequest | pb.ReportReturnRequest,
    field: str,
    bad: list[FieldViolation],
) -> datetime | None:
    """An optional Timestamp within what it can hold: 0001-01-01 to 9999-12-31."""
    if not msg.HasField(field):
        return None
    value: Timestamp = getattr(msg, field)
    if not (_MIN_SECONDS <= value.seconds <= _MAX_SECONDS) or not (
        0 <= value.nanos <= 999_999_999
    ):
        bad.append(
            FieldViolation(
                field,
                "must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, "
                "with nanos from 0 to 999,999,999",
            )
        )
        return None
    return value.ToDatetime(tzinfo=UTC)


def delivery_pb(record: ReportRecord) -> pb.ReportDelivery:
    out = pb.ReportDelivery(
        kind=getattr(pb, f"REPORT_KIND_{record.kind.value}"),
        status=getattr(pb, f"DELIVERY_STATUS_{record.status.value}"),
        attempt_count=record.attempts,
        last_error_code=record.last_error_code or "",
        accept_time=timestamp(record.accepted_at),
    )
    if record.delivered_at is not None:
        out.deliver_time.CopyFrom(timestamp(record.delivered_at))
    return out
