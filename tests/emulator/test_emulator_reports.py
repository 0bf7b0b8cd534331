"""Decision and return reports, /signal/prepare and /item/get, validated as Plaid does."""

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from plaid.model.item_get_request import ItemGetRequest
from plaid.model.signal_decision_outcome import SignalDecisionOutcome
from plaid.model.signal_decision_report_request import SignalDecisionReportRequest
from plaid.model.signal_payment_method import SignalPaymentMethod
from plaid.model.signal_prepare_request import SignalPrepareRequest
from plaid.model.signal_return_report_request import SignalReturnReportRequest

from tests.emulator.conftest import Admin
from tests.emulator.test_emulator_sdk import evaluate

DECISION = "/signal/decision/report"
RETURN = "/signal/return/report"
EVALUATE = "/signal/evaluate"


@pytest.fixture
def deprecated_fields() -> bool:
    """On: these tests read STS answers through plaid-python 46's type-checked models,
    which raise TypeError without each score's deprecated risk_tier."""
    return True


async def evaluated(admin: Admin, txn: str = "txn-1", **fields: object) -> None:
    body = {
        "access_token": "access-sandbox-checking-ok",
        "account_id": "checking-ok",
        "client_transaction_id": txn,
        "amount": 25.0,
        **fields,
    }
    status, answer = await admin.post(EVALUATE, body)
    assert status == 200, answer


async def error_of(
    admin: Admin, path: str, body: Mapping[str, object]
) -> tuple[int, str, str]:
    status, answer = await admin.post(path, body)
    return status, answer["error_type"], answer["error_code"]


class TestDecisionReport:
    async def test_plaid_python_reports_a_decision_and_the_log_keeps_it(
        self, plaid_client, admin
    ):
        await evaluate(plaid_client, txn="txn-1")
        request = SignalDecisionReportRequest(
            client_transaction_id="txn-1",
            initiated=True,
            days_funds_on_hold=2,
            decision_outcome=SignalDecisionOutcome("APPROVE"),
            payment_method=SignalPaymentMethod("SAME_DAY_ACH"),
            amount_instantly_available=10.5,
            submitted_at=datetime(2025, 3, 4, 12, 0, tzinfo=UTC),
        )
        response = await asyncio.to_thread(plaid_client.signal_decision_report, request)
        call = await admin.last_call()
        assert call["request_id"] == response.request_id
        assert (call["endpoint"], call["status"]) == (DECISION, 200)
        assert call["client_transaction_id"] == "txn-1"
        assert call["account_ids"] == ["checking-ok"]
        assert call["report"] == {
            "client_transaction_id": "txn-1",
            "initiated": True,
            "days_funds_on_hold": 2,
            "decision_outcome": "APPROVE",
            "payment_method": "SAME_DAY_ACH",
            "amount_instantly_available": 10.5,
            "submitted_at": "2025-03-04T12:00:00+00:00",
        }

    async def test_credentials_in_the_body_are_never_logged(self, admin):
        await evaluated(admin)
        body = {"client_transaction_id": "txn-1", "initiated": False}
        secrets = {"client_id": "c", "secret": "s"}
        assert (await admin.post(DECISION, body | secrets, headers={}))[0] == 200
        assert (await admin.last_call())["report"] == body

    async def test_an_id_never_evaluated_is_an_invalid_field(self, admin):
        body = {"client_transaction_id": "never", "initiated": True}
        assert await error_of(admin, DECISION, body) == (
            400,
            "INVALID_REQUEST",
            "INVALID_FIELD",
        )
        assert (await admin.last_call())["report"] == body

    @pytest.mark.parametrize(
        ("fields", "words"),
        [
            ({"initiated": "true"}, "initiated must be a boolean"),
            ({"initiated": 1}, "initiated must be a boolean"),
            ({"decision_outcome": "ACCEPT"}, "decision_outcome must be one of APPROVE"),
            ({"payment_method": "WIRE"}, "payment_method must be one of SAME_DAY_ACH"),
            ({"days_funds_on_hold": -1}, "days_funds_on_hold must be an integer"),
            ({"days_funds_on_hold": 1.5}, "days_funds_on_hold must be an integer"),
            ({"amount_instantly_available": "5"}, "must be a number"),
            ({"submitted_at": "yesterday"}, "submitted_at must be an ISO 8601"),
            ({"client_transaction_id": "x" * 37}, "1 to 36 characters"),
        ],
    )
    async def test_bad_fields_are_invalid_field(self, admin, fields, words):
        await evaluated(admin)
        body = {"client_transaction_id": "txn-1", "initiated": True} | fields
        status, answer = await admin.post(DECISION, body)
        assert (status, answer["error_code"]) == (400, "INVALID_FIELD")
        assert words in answer["error_message"]

    async def test_missing_and_unknown_fields(self, admin):
        assert (await error_of(admin, DECISION, {"client_transaction_id": "t"}))[
            2
        ] == "MISSING_FIELDS"
        body = {"client_transaction_id": "t", "initiated": True, "note": "x"}
        assert (await error_of(admin, DECISION, body))[2] == "UNKNOWN_FIELDS"

    @pytest.mark.parametrize(
        "outcome",
        ["APPROVE", "REVIEW", "REJECT", "TAKE_OTHER_RISK_MEASURES", "NOT_EVALUATED"],
    )
    async def test_every_plaid_decision_outcome_is_accepted(self, admin, outcome):
        await evaluated(admin)
        body = {
            "client_transaction_id": "txn-1",
            "initiated": True,
            "decision_outcome": outcome,
        }
        assert (await admin.post(DECISION, body))[0] == 200


class TestReturnReport:
    async def test_plaid_python_reports_a_return_for_an_accepted_debit(
        self, plaid_client, admin
    ):
        # ACCEPT means initiated unless reported otherwise (docs/plaid-behaviour.md).
        await evaluate(plaid_client, txn="txn-ok", ruleset="balance-only")
        request = SignalReturnReportRequest(
            client_transaction_id="txn-ok",
            return_code="R01",
            returned_at=datetime(2025, 3, 6, tzinfo=UTC),
        )
        await asyncio.to_thread(plaid_client.signal_return_report, request)
        call = await admin.last_call()
        assert (call["endpoint"], call["status"]) == (RETURN, 200)
        assert call["report"] == {
            "client_transaction_id": "txn-ok",
            "return_code": "R01",
            "returned_at": "2025-03-06T00:00:00+00:00",
        }

    async def test_reported_not_initiated_cannot_be_returned(self, admin):
        await evaluated(admin)
        await admin.post(
            DECISION, {"client_transaction_id": "txn-1", "initiated": False}
        )
        body = {"client_transaction_id": "txn-1", "return_code": "R01"}
        assert await error_of(admin, RETURN, body) == (
            400,
            "SIGNAL_ERROR",
            "SIGNAL_TRANSACTION_NOT_INITIATED",
        )

    async def test_a_rerouted_debit_needs_an_initiated_report_first(self, admin):
        # 150 against an available balance of 100: balance-only reroutes.
        await evaluated(admin, amount=150.0, ruleset_key="balance-only")
        body = {"client_transaction_id": "txn-1", "return_code": "R02"}
        assert (await error_of(admin, RETURN, body))[2] == (
            "SIGNAL_TRANSACTION_NOT_INITIATED"
        )
        # The latest report wins: initiated after all.
        await admin.post(
            DECISION, {"client_transaction_id": "txn-1", "initiated": True}
        )
        assert (await admin.post(RETURN, body))[0] == 200

    @pytest.mark.parametrize("code", ["R99", "R00", "r01", "X01", "R1", ""])
    async def test_a_bad_return_code_is_an_invalid_field(self, admin, code):
        await evaluated(admin)
        body = {"client_transaction_id": "txn-1", "return_code": code}
        status, answer = await admin.post(RETURN, body)
        assert (status, answer["error_code"]) == (400, "INVALID_FIELD")
        assert "return_code" in answer["error_message"]

    @pytest.mark.parametrize("code", ["R01", "R10", "R29", "R53", "R61", "R85"])
    async def test_nacha_return_codes_are_accepted(self, admin, code):
        await evaluated(admin)
        body = {"client_transaction_id": "txn-1", "return_code": code}
        assert (await admin.post(RETURN, body))[0] == 200

    async def test_an_unknown_id_is_an_invalid_field(self, admin):
        body = {"client_transaction_id": "never", "return_code": "R01"}
        assert (await error_of(admin, RETURN, body))[2] == "INVALID_FIELD"


BALANCE_ONLY = {
    "access_token": "access-sandbox-checking-ok",
    "account_id": "checking-ok",
    "client_transaction_id": "txn-1",
    "amount": 25.0,
    "ruleset_key": "balance-only",
}
USER_DATA = {
    "user": {"email_address": "ada@example.com"},
    "device": {"ip_address": "192.0.2.1"},
}


class TestAddendum:
    @pytest.fixture
    async def unsigned(self, start, default_scenario_data, http):
        default_scenario_data["signal_addendum_signed"] = False
        running = await start(default_scenario_data)
        return Admin(http, running.url)

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            (DECISION, {"client_transaction_id": "txn-1", "initiated": True}),
            (RETURN, {"client_transaction_id": "txn-1", "return_code": "R01"}),
        ],
    )
    async def test_reports_need_the_signal_addendum(self, unsigned, path, body):
        await evaluated(unsigned, ruleset_key="balance-only")
        assert await error_of(unsigned, path, body) == (
            403,
            "SIGNAL_ERROR",
            "ADDENDUM_NOT_SIGNED",
        )

    @pytest.mark.parametrize("field", ["user", "device"])
    async def test_user_or_device_alone_under_balance_only_needs_the_addendum(
        self, unsigned, field
    ):
        body = BALANCE_ONLY | {field: USER_DATA[field]}
        assert await error_of(unsigned, EVALUATE, body) == (
            403,
            "SIGNAL_ERROR",
            "ADDENDUM_NOT_SIGNED",
        )
        call = await unsigned.last_call()
        assert (call["status"], call["realtime_balance_attempted"]) == (403, False)
        del body[field]
        assert (await unsigned.post(EVALUATE, body))[0] == 200

    async def test_the_default_ruleset_counts_as_the_one_applied(
        self, start, default_scenario_data, http
    ):
        default_scenario_data |= {
            "signal_addendum_signed": False,
            "default_ruleset": "balance-only",
        }
        admin = Admin(http, (await start(default_scenario_data)).url)
        body = {k: v for k, v in BALANCE_ONLY.items() if k != "ruleset_key"}
        body["device"] = USER_DATA["device"]
        assert (await error_of(admin, EVALUATE, body))[2] == "ADDENDUM_NOT_SIGNED"

    @pytest.mark.parametrize("fields", [["user"], ["device"], ["user", "device"]])
    async def test_with_the_addendum_user_and_device_are_ignored(self, admin, fields):
        plain_status, plain = await admin.post(EVALUATE, BALANCE_ONLY)
        body = BALANCE_ONLY | {f: USER_DATA[f] for f in fields}
        body["client_transaction_id"] = "txn-2"
        status, answer = await admin.post(EVALUATE, body)
        assert (plain_status, status) == (200, 200)
        del plain["request_id"], answer["request_id"]
        assert answer == plain


class TestPrepare:
    async def test_prepare_answers_a_request_id(self, plaid_client, admin):
        request = SignalPrepareRequest(access_token="access-sandbox-relink")
        response = await asyncio.to_thread(plaid_client.signal_prepare, request)
        call = await admin.last_call()
        assert (call["endpoint"], call["status"]) == ("/signal/prepare", 200)
        assert call["request_id"] == response.request_id

    async def test_an_unknown_token(self, admin):
        body = {"access_token": "access-sandbox-nope"}
        assert await error_of(admin, "/signal/prepare", body) == (
            400,
            "INVALID_INPUT",
            "INVALID_ACCESS_TOKEN",
        )


class TestItemGet:
    async def test_a_healthy_item(self, plaid_client):
        request = ItemGetRequest(access_token="access-sandbox-checking-ok")
        response = await asyncio.to_thread(plaid_client.item_get, request)
        assert response.item.institution_id == "ins_109508"
        assert response.item.error is None
        assert response.status.transactions.last_successful_update.tzinfo is not None

    async def test_an_item_in_error_answers_200_with_the_error_inside(
        self, plaid_client
    ):
        request = ItemGetRequest(access_token="access-sandbox-relink")
        response = await asyncio.to_thread(plaid_client.item_get, request)
        error = response.item.error
        assert (error.error_type.value, error.error_code) == (
            "ITEM_ERROR",
            "ITEM_LOGIN_REQUIRED",
        )

    async def test_an_unknown_token(self, admin):
        body = {"access_token": "access-sandbox-nope"}
        assert (await error_of(admin, "/item/get", body))[2] == "INVALID_ACCESS_TOKEN"
