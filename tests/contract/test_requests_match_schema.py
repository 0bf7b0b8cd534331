"""Every body the service sends Plaid conforms to Plaid's published request schema.

Plaid documents no request examples for Signal, so the schema is the documented body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from service.adapters.plaid.requests import (
    PlaidReportFormat,
    balance_get_body,
    signal_evaluate_body,
)
from service.app.ports import (
    DecisionReport,
    EndUser,
    PlaidAccount,
    ReturnReport,
    SignalContext,
)
from service.domain.model import PaymentAttempt, Rail
from service.domain.money import Money
from service.domain.secret import Secret
from tests.plaid_schema import plaid_schema

ACCOUNT = PlaidAccount(Secret("access-sandbox-doc"), "acc-doc")
FULL_CONTEXT = SignalContext(
    user_present=True,
    is_recurring=False,
    client_user_id="user-1",
    user=EndUser(
        prefix="Dr.",
        given_name="Ada",
        middle_name="K",
        family_name="Lovelace",
        suffix="Jr.",
        phone_number="+14155550015",
        email_address="ada@example.com",
        street="1 Main St",
        city="London",
        region="CA",
        postal_code="94103",
        country="US",
    ),
    ip_address="203.0.113.9",
    user_agent="Mozilla/5.0",
)
WHEN = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)


def conforms(endpoint: str, body: object) -> list[str]:
    schema = plaid_schema()
    return schema.errors(schema.request_pointer(endpoint), body)


class TestSignalEvaluate:
    @pytest.mark.parametrize("rail", [Rail.ACH_STANDARD, Rail.ACH_SAME_DAY])
    @pytest.mark.parametrize(
        "context",
        [SignalContext(), FULL_CONTEXT, FULL_CONTEXT.for_balance_only()],
        ids=["bare", "every optional input", "balance-only"],
    )
    @pytest.mark.parametrize("ruleset", [None, "onboarding_flow"])
    def test_conforms(
        self, rail: Rail, context: SignalContext, ruleset: str | None
    ) -> None:
        attempt = PaymentAttempt("t" * 36, Money(10205, "USD"), rail, ruleset)
        body = signal_evaluate_body(attempt, ACCOUNT, context)
        assert conforms("/signal/evaluate", body) == []
        assert body["amount"] == 102.05


class TestBalanceGet:
    def test_conforms(self) -> None:
        body = balance_get_body(ACCOUNT, WHEN)
        assert conforms("/accounts/balance/get", body) == []


class TestReports:
    @pytest.mark.parametrize(
        "report",
        [
            DecisionReport("txn-1", True),
            DecisionReport(
                "txn-1",
                False,
                days_funds_on_hold=3,
                decision_outcome="TAKE_OTHER_RISK_MEASURES",
                payment_method="SAME_DAY_ACH",
                amount_instantly_available=Decimal("12.34"),
                submitted_at=WHEN,
            ),
        ],
        ids=["required only", "every field"],
    )
    def test_decision_report_conforms(self, report: DecisionReport) -> None:
        body = PlaidReportFormat().decision_report(report)
        assert conforms("/signal/decision/report", body) == []

    @pytest.mark.parametrize("returned_at", [None, WHEN])
    def test_return_report_conforms(self, returned_at: datetime | None) -> None:
        body = PlaidReportFormat().return_report(
            ReturnReport("txn-1", "R01", returned_at=returned_at)
        )
        assert conforms("/signal/return/report", body) == []

    def test_a_nonconforming_body_is_caught(self) -> None:
        """The check can fail: a string amount is not Plaid's double."""
        body = PlaidReportFormat().return_report(ReturnReport("txn-1", "R01"))
        body["returned_at"] = "not a time"
        body["return_code"] = 1
        assert conforms("/signal/return/report", body) != []
