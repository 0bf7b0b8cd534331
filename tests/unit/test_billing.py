"""What Plaid bills each call as (docs/plaid-behaviour.md, "What Plaid bills")."""

import pytest

from service.domain.billing import Billing, Product, billed_as, billed_calls, count
from service.domain.model import (
    BALANCE_GET,
    SIGNAL_EVALUATE,
    Basis,
    PlaidCall,
    RealtimeReport,
)

LIVE = Product.BALANCE_EXTRACTION
STS = Product.SIGNAL_TRANSACTION_SCORES
FREE = Product.FREE

BALANCE_ONLY_FETCHED = RealtimeReport(True, Basis.RULESET_BALANCE_ONLY, attempted=True)
BALANCE_ONLY_FAILED = RealtimeReport(False, Basis.RULESET_BALANCE_ONLY, attempted=True)
INFERRED_LIVE = RealtimeReport(True, Basis.INFERRED_FROM_RESPONSE, attempted=True)
INFERRED_CACHED = RealtimeReport(False, Basis.INFERRED_FROM_RESPONSE)
SCORES = RealtimeReport(False, Basis.RULESET_TRANSACTION_SCORES)
NO_RULESET = RealtimeReport(False, Basis.NO_RULESET)
ENDPOINT_FETCHED = RealtimeReport(True, Basis.BALANCE_ENDPOINT, attempted=True)
ENDPOINT_CACHED = RealtimeReport(False, Basis.BALANCE_ENDPOINT, attempted=True)
UNKNOWN_EXTRACTION = RealtimeReport(False, Basis.NO_PLAID_RESPONSE, attempted=True)
NO_RESPONSE = RealtimeReport(False, Basis.NO_PLAID_RESPONSE)


def call(
    endpoint: str = SIGNAL_EVALUATE,
    status: int = 200,
    code: str | None = None,
    live: bool | None = None,
) -> PlaidCall:
    return PlaidCall(endpoint, "req", status, code, 10, live_extraction=live)


@pytest.mark.parametrize(
    ("plaid_call", "realtime", "expected"),
    [
        # Answered Signal evaluations: the applied ruleset's type decides.
        (call(), BALANCE_ONLY_FETCHED, Billing(LIVE, succeeded=True)),
        (call(), BALANCE_ONLY_FAILED, Billing(LIVE)),  # the bank failed: still billed
        (call(), INFERRED_LIVE, Billing(LIVE, succeeded=True)),
        (call(), INFERRED_CACHED, Billing(STS, succeeded=True)),
        (call(), SCORES, Billing(STS, succeeded=True)),
        (call(), NO_RULESET, Billing(STS, succeeded=True)),
        # The answer overrides what was declared when the call was sent.
        (call(live=True), SCORES, Billing(STS, succeeded=True)),
        # /accounts/balance/get: always a live extraction.
        (call(BALANCE_GET), ENDPOINT_FETCHED, Billing(LIVE, succeeded=True)),
        (call(BALANCE_GET), ENDPOINT_CACHED, Billing(LIVE)),
        (call(BALANCE_GET, 400, "INSTITUTION_NOT_RESPONDING"), None, Billing(LIVE)),
        (call(BALANCE_GET, 0), None, Billing(LIVE)),  # no answer: may have run
        # Refused by Plaid before any work: free.
        (call(BALANCE_GET, 400, "ITEM_LOGIN_REQUIRED"), None, Billing(FREE)),
        (call(BALANCE_GET, 429, "BALANCE_LIMIT"), None, Billing(FREE)),
        (
            call(BALANCE_GET, 400, "LAST_UPDATED_DATETIME_OUT_OF_RANGE"),
            None,
            Billing(FREE),
        ),
        (call(status=429, code="RATE_LIMIT", live=True), None, Billing(FREE)),
        (
            call(status=500, code="INTERNAL_SERVER_ERROR", live=True),
            None,
            Billing(FREE),
        ),
        (call(status=400, code="RULESET_NOT_FOUND"), None, Billing(FREE)),
        (call(status=502, live=True), None, Billing(FREE)),
        # Unanswered Signal calls: the declared type says what may have been billed.
        (call(status=0, live=True), None, Billing(LIVE)),
        (call(status=0, live=False), None, Billing(STS)),
        (call(status=0), None, Billing(STS)),
        (call(status=0), UNKNOWN_EXTRACTION, Billing(LIVE)),
        # An unanswered attempt before the answered retry ran the same ruleset.
        (call(status=0), BALANCE_ONLY_FETCHED, Billing(LIVE)),
        (call(status=0), SCORES, Billing(STS)),
        (call(status=0), NO_RESPONSE, Billing(STS)),
        (call(status=0, live=True), ENDPOINT_FETCHED, Billing(LIVE)),  # then a fallback
        # An answer the service could not read was still answered (and billed).
        (call(live=True), None, Billing(LIVE)),
        (call(live=False), None, Billing(STS, succeeded=True)),
        # Reports and other endpoints are free; succeeded when Plaid said 2xx.
        (call("/signal/decision/report"), None, Billing(FREE, succeeded=True)),
        (call("/signal/return/report", 400, "INVALID_FIELD"), None, Billing(FREE)),
        (call("/item/get"), ENDPOINT_FETCHED, Billing(FREE, succeeded=True)),
    ],
)
def test_billed_as(
    plaid_call: PlaidCall, realtime: RealtimeReport | None, expected: Billing
) -> None:
    assert billed_as(plaid_call, realtime) == expected


def test_retries_are_calls_each_billed_on_its_own() -> None:
    calls = (
        call(status=0, live=True),  # timed out: may have been extracted
        call(status=503, code="PLANNED_MAINTENANCE"),
        call(),
    )
    billings = billed_calls(calls, BALANCE_ONLY_FETCHED)
    assert count(billings, LIVE) == 2
    assert count(billings, FREE) == 1
    assert [b.succeeded for b in billings] == [False, False, True]


def test_a_fallback_bills_both_the_signal_attempt_and_the_balance_get() -> None:
    calls = (call(status=0, live=True), call(BALANCE_GET))
    billings = billed_calls(calls, ENDPOINT_FETCHED)
    assert billings == (Billing(LIVE), Billing(LIVE, succeeded=True))


def test_free_is_not_billable() -> None:
    assert not Billing(FREE, succeeded=True).billable
    assert Billing(STS).billable
