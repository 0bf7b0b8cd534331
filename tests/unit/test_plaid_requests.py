"""Request bodies built without the SDK's run-time type checks equal the checked ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def both_ways(monkeypatch: pytest.MonkeyPatch, build: object) -> tuple[object, object]:
    assert callable(build)
    fast = build()
    with monkeypatch.context() as checked:
        checked.setattr(plaid_requests, "CHECK_TYPES", True)
        slow = build()
    return fast, slow


@given(attempt=attempts, context=contexts)
def test_signal_evaluate_bodies_are_equal_with_and_without_type_checks(
    attempt: PaymentAttempt, context: SignalContext
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        fast, slow = both_ways(
            patch,
            lambda: plaid_requests.signal_evaluate_body(attempt, ACCOUNT, context),
        )
    assert fast == slow


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_balance_bodies_are_equal_with_and_without_type_checks(
    moment: datetime,
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        fast, slow = both_ways(
            patch, lambda: plaid_requests.balance_get_body(ACCOUNT, moment)
        )
    assert fast == slow


def test_the_amount_is_a_json_number_of_the_exact_dollars() -> None:
    attempt = PaymentAttempt("tx-1", Money(10205, "USD"), Rail.ACH_STANDARD)
    body = plaid_requests.signal_evaluate_body(attempt, ACCOUNT, SignalContext())
    assert isinstance(body["amount"], float)
    assert repr(body["amount"]) == "102.05"
