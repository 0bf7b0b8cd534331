"""Plaid request bodies: the evaluation's two as plain dicts (hot), the reports' through
plaid-python's models; the SDK stays the schema of both (see the tests named below)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from plaid.api_client import ApiClient
from plaid.model.signal_decision_outcome import SignalDecisionOutcome
from plaid.model.signal_decision_report_request import SignalDecisionReportRequest
from plaid.model.signal_payment_method import SignalPaymentMethod
from plaid.model.signal_return_report_request import SignalReturnReportRequest

from service.app.ports import (
    DecisionReport,
    EndUser,
    PlaidAccount,
    ReturnReport,
    SignalContext,
)
from service.domain.model import PaymentAttempt, Rail

_PAYMENT_METHOD = {Rail.ACH_STANDARD: "STANDARD_ACH", Rail.ACH_SAME_DAY: "SAME_DAY_ACH"}

# The two per-evaluation bodies are plain dicts: through plaid-python's models they cost
# ~45 us of CPU each (model construction and serialisation), the largest single item
# of the service's own work per call. Their inputs are our typed, validated domain
# values. plaid-python stays the schema: tests/unit/test_plaid_requests.py builds every
# body through the SDK's type-checked models too and requires them equal, and
# tests/contract checks them against Plaid's OpenAPI schema.


def signal_evaluate_body(
    attempt: PaymentAttempt, account: PlaidAccount, context: SignalContext
) -> dict[str, Any]:
    """The JSON body of `/signal/evaluate`; amount is the exact USD value as a double."""
    body: dict[str, Any] = {
        "access_token": account.access_token.reveal(),
        "account_id": account.account_id,
        "client_transaction_id": attempt.client_transaction_id,
        # float(Decimal) is the double nearest the exact amount; JSON writes it back as
        # the shortest decimal that round-trips, i.e. exactly "102.05".
        "amount": float(attempt.amount.to_decimal()),
    }
    if attempt.ruleset_key is not None:
        body["ruleset_key"] = attempt.ruleset_key
    if context.sts_inputs and (method := _PAYMENT_METHOD.get(attempt.rail)):
        body["default_payment_method"] = method
    if context.user_present is not None:
        body["user_present"] = context.user_present
    if context.is_recurring is not None:
        body["is_recurring"] = context.is_recurring
    if context.client_user_id is not None:
        body["client_user_id"] = context.client_user_id
    if context.user is not None:
        body["user"] = _user(context.user)
    device = _present(ip_address=context.ip_address, user_agent=context.user_agent)
    if device:
        body["device"] = device
    return body


def balance_get_body(
    account: PlaidAccount, min_last_updated: datetime
) -> dict[str, Any]:
    """The JSON body of `/accounts/balance/get` for one account.

    min_last_updated_datetime is required by cached-only institutions (Capital One) and
    ignored elsewhere, so it is always sent: it is the policy's maximum balance age.
    """
    return {
        "access_token": account.access_token.reveal(),
        "options": {
            "account_ids": [account.account_id],
            "min_last_updated_datetime": min_last_updated.isoformat(),
        },
    }


class PlaidReportFormat:
    """Report bodies built with plaid-python's models (the ReportFormat port)."""

    def decision_report(self, report: DecisionReport) -> dict[str, Any]:
        amount = report.amount_instantly_available
        request = SignalDecisionReportRequest(
            client_transaction_id=report.client_transaction_id,
            initiated=report.initiated,
            **_present(
                days_funds_on_hold=report.days_funds_on_hold,
                decision_outcome=SignalDecisionOutcome(report.decision_outcome)
                if report.decision_outcome
                else None,
                payment_method=SignalPaymentMethod(report.payment_method)
                if report.payment_method
                else None,
                amount_instantly_available=float(amount)
                if amount is not None
                else None,
                submitted_at=report.submitted_at,
            ),
        )
        body: dict[str, Any] = ApiClient.sanitize_for_serialization(request)
        return body

    def return_report(self, report: ReturnReport) -> dict[str, Any]:
        request = SignalReturnReportRequest(
            client_transaction_id=report.client_transaction_id,
            return_code=report.return_code,
            **_present(returned_at=report.returned_at),
        )
        body: dict[str, Any] = ApiClient.sanitize_for_serialization(request)
        return body


def _present(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _user(user: EndUser) -> dict[str, Any]:
    name = _present(
        prefix=user.prefix,
        given_name=user.given_name,
        middle_name=user.middle_name,
        family_name=user.family_name,
        suffix=user.suffix,
    )
    address = _present(
        street=user.street,
        city=user.city,
        region=user.region,
        postal_code=user.postal_code,
        country=user.country,
    )
    return _present(
        name=name or None,
        phone_number=user.phone_number,
        email_address=user.email_address,
        address=address or None,
    )
