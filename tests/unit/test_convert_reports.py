"""ReportDecision / ReportReturn validation: every bad field named, amounts exact."""

from __future__ import annotations

from decimal import Decimal

import pytest
from google.type.money_pb2 import Money

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service.api.convert_reports import decision_report, return_report
from service.app.errors import InvalidRequest


def fields(error: pytest.ExceptionInfo[InvalidRequest]) -> list[str]:
    return [v.field for v in error.value.violations]


class TestDecisionReports:
    @pytest.mark.parametrize(
        ("money", "field"),
        [
            (
                Money(currency_code="USD", units=5, nanos=-500_000_000),
                "amount_instantly_available.nanos",
            ),
            (
                Money(currency_code="USD", units=1, nanos=1_500_000_000),
                "amount_instantly_available.nanos",
            ),
            (
                Money(currency_code="EUR", units=1),
                "amount_instantly_available.currency_code",
            ),
            (Money(currency_code="USD", units=-1), "amount_instantly_available"),
            (Money(currency_code="USD", nanos=1), "amount_instantly_available"),
        ],
    )
    def test_a_bad_amount_is_named(self, money: Money, field: str) -> None:
        msg = pb.ReportDecisionRequest(
            client_transaction_id="t", initiated=True, amount_instantly_available=money
        )
        with pytest.raises(InvalidRequest) as caught:
            decision_report(msg)
        assert fields(caught) == [field]

    def test_a_good_report_converts_exactly(self) -> None:
        msg = pb.ReportDecisionRequest(
            client_transaction_id="t",
            initiated=False,
            days_funds_on_hold=0,
            decision_outcome=pb.DECISION_OUTCOME_REJECT,
            amount_instantly_available=Money(
                currency_code="USD", units=12, nanos=340_000_000
            ),
        )
        report = decision_report(msg)
        assert report.initiated is False
        assert report.days_funds_on_hold == 0
        assert report.decision_outcome == "REJECT"
        assert report.payment_method is None
        assert report.amount_instantly_available == Decimal("12.34")

    def test_every_bad_field_is_named_at_once(self) -> None:
        msg = pb.ReportDecisionRequest(days_funds_on_hold=-1)
        msg.decision_outcome = 99  # type: ignore[assignment]  # an unknown enum number
        with pytest.raises(InvalidRequest) as caught:
            decision_report(msg)
        assert fields(caught) == [
            "client_transaction_id",
            "initiated",
            "days_funds_on_hold",
            "decision_outcome",
        ]


class TestReturnReports:
    @pytest.mark.parametrize("code", ["R01", "R10", "R29", "R85"])
    def test_nacha_codes_are_accepted(self, code: str) -> None:
        msg = pb.ReportReturnRequest(client_transaction_id="t", return_code=code)
        assert return_report(msg).return_code == code

    @pytest.mark.parametrize("code", ["R00", "R86", "R1", "r01", "R01 ", "X01"])
    def test_anything_else_is_refused(self, code: str) -> None:
        msg = pb.ReportReturnRequest(client_transaction_id="t", return_code=code)
        with pytest.raises(InvalidRequest) as caught:
            return_report(msg)
        assert fields(caught) == ["return_code"]
