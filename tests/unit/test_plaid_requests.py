"""The evaluation's request bodies, built as plain dicts, equal what plaid-python's
type-checked models build from the same values: the SDK stays the schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from plaid.api_client import ApiClient
from plaid.model.accounts_balance_get_request import AccountsBalanceGetRequest
from plaid.model.accounts_balance_get_request_options import (
    AccountsBalanceGetRequestOptions,
)
from plaid.model.signal_address_data import SignalAddressData
from plaid.model.signal_device import SignalDevice
from plaid.model.signal_evaluate_request import SignalEvaluateRequest
from plaid.model.signal_person_name import SignalPersonName
from plaid.model.signal_user import SignalUser

from service.adapters.plaid import requests as plaid_requests
from service.app.ports import EndUser, PlaidAccount, SignalContext
from service.domain.model import PaymentAttempt, Rail
from service.domain.money import Money
from service.domain.secret import Secret

ACCOUNT = PlaidAccount(Secret("access-sandbox-checking-ok"), "checking-ok")
texts = st.text(alphabet="abcdefghijklmnopqrstuvwxyz -", min_size=1, max_size=20)
attempts = st.builds(
    PaymentAttempt,
    client_transaction_id=st.text(
        alphabet="0123456789abcdef-", min_size=1, max_size=36
    ),
    amount=st.builds(Money, st.integers(min_value=1, max_value=10**13), st.just("USD")),
    rail=st.sampled_from([Rail.ACH_STANDARD, Rail.ACH_SAME_DAY]),
    ruleset_key=st.none() | texts,
)
contexts = st.builds(
    SignalContext,
    user_present=st.none() | st.booleans(),
    is_recurring=st.none() | st.booleans(),
    client_user_id=st.none() | texts,
    user=st.none()
    | st.builds(
        EndUser,
        given_name=st.none() | texts,
        family_name=st.none() | texts,
        email_address=st.none() | st.just("someone@example.org"),
        city=st.none() | texts,
    ),
    ip_address=st.none() | st.just("203.0.113.7"),
    user_agent=st.none() | texts,
)


def sdk_signal_body(
    attempt: PaymentAttempt, account: PlaidAccount, context: SignalContext
) -> dict[str, Any]:
    """The body through the SDK's models, every type checked: the oracle."""
    method = {Rail.ACH_STANDARD: "STANDARD_ACH", Rail.ACH_SAME_DAY: "SAME_DAY_ACH"}
    optional = present(
        ruleset_key=attempt.ruleset_key,
        default_payment_method=method.get(attempt.rail) if context.sts_inputs else None,
        user_present=context.user_present,
        is_recurring=context.is_recurring,
        client_user_id=context.client_user_id,
        user=sdk_user(context.user) if context.user else None,
        device=SignalDevice(**device)
        if (
            device := present(
                ip_address=context.ip_address, user_agent=context.user_agent
            )
        )
        else None,
    )
    request = SignalEvaluateRequest(
        access_token=account.access_token.reveal(),
        account_id=account.account_id,
        client_transaction_id=attempt.client_transaction_id,
        amount=float(attempt.amount.to_decimal()),
        **optional,
    )
    body: dict[str, Any] = ApiClient.sanitize_for_serialization(request)
    return body


def sdk_user(user: EndUser) -> SignalUser:
    name = present(
        prefix=user.prefix,
        given_name=user.given_name,
        middle_name=user.middle_name,
        family_name=user.family_name,
        suffix=user.suffix,
    )
    address = present(
        street=user.street,
        city=user.city,
        region=user.region,
        postal_code=user.postal_code,
        country=user.country,
    )
    return SignalUser(
        **present(
            name=SignalPersonName(**name) if name else None,
            phone_number=user.phone_number,
            email_address=user.email_address,
            address=SignalAddressData(**address) if address else None,
        )
    )


def present(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


@given(attempt=attempts, context=contexts)
def test_signal_evaluate_bodies_equal_the_sdks(
    attempt: PaymentAttempt, context: SignalContext
) -> None:
    body = plaid_requests.signal_evaluate_body(attempt, ACCOUNT, context)
    assert body == sdk_signal_body(attempt, ACCOUNT, context)
    # and a Balance-only ruleset's narrower inputs (no user, device or payment method)
    narrow = context.for_balance_only()
    body = plaid_requests.signal_evaluate_body(attempt, ACCOUNT, narrow)
    assert body == sdk_signal_body(attempt, ACCOUNT, narrow)


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_balance_bodies_equal_the_sdks(moment: datetime) -> None:
    request = AccountsBalanceGetRequest(
        access_token=ACCOUNT.access_token.reveal(),
        options=AccountsBalanceGetRequestOptions(
            account_ids=[ACCOUNT.account_id], min_last_updated_datetime=moment
        ),
    )
    oracle = ApiClient.sanitize_for_serialization(request)
    assert plaid_requests.balance_get_body(ACCOUNT, moment) == oracle


def test_the_amount_is_a_json_number_of_the_exact_dollars() -> None:
    attempt = PaymentAttempt("tx-1", Money(10205, "USD"), Rail.ACH_STANDARD)
    body = plaid_requests.signal_evaluate_body(attempt, ACCOUNT, SignalContext())
    assert isinstance(body["amount"], float)
    assert repr(body["amount"]) == "102.05"
