"""Scripted faults over real HTTP: Plaid errors, delays, dropped connections, bad bodies.

Each fault is queued per endpoint, first in first out, and shows in the call log.
"""

import asyncio
import json
from typing import Any

import aiohttp
import orjson
import plaid
import pytest
import urllib3
from plaid.api.plaid_api import PlaidApi

from plaid_emulator.errors import KNOWN_ERRORS
from plaid_emulator.server import Sleep
from tests.emulator.conftest import (
    PLAID_HEADERS,
    Admin,
    HeldSleep,
    RecordingSleep,
    StartEmulator,
    plaid_api,
)
from tests.emulator.test_emulator_sdk import balance_request, evaluate_request

EVALUATE = "/signal/evaluate"
BALANCE = "/accounts/balance/get"
BODY = {
    "access_token": "access-sandbox-checking-ok",
    "account_id": "checking-ok",
    "client_transaction_id": "txn-fault",
    "amount": 25.0,
}


@pytest.fixture
def deprecated_fields() -> bool:
    """On: these tests read STS answers through plaid-python 46's type-checked models,
    which raise TypeError without each score's deprecated risk_tier."""
    return True


async def sdk_evaluate(client: PlaidApi, txn: str = "txn-fault") -> Any:
    return await asyncio.to_thread(client.signal_evaluate, evaluate_request(txn=txn))


class TestScriptedSequence:
    async def test_429_429_200_is_what_the_client_and_the_call_log_see(
        self, admin, plaid_client
    ):
        await admin.fault(
            {"endpoint": EVALUATE, "times": 2, "error_code": "RATE_LIMIT_EXCEEDED"}
        )
        statuses = []
        for _ in range(3):
            try:
                await sdk_evaluate(plaid_client)
                statuses.append(200)
            except plaid.ApiException as exc:
                statuses.append(exc.status)
                body = json.loads(exc.body)
                assert (body["error_type"], body["error_code"]) == (
                    "RATE_LIMIT_EXCEEDED",
                    "RATE_LIMIT_EXCEEDED",
                )
        assert statuses == [429, 429, 200]
        calls = await admin.calls()
        assert [c["status"] for c in calls] == [429, 429, 200]
        assert [c["error_code"] for c in calls] == [
            "RATE_LIMIT_EXCEEDED",
            "RATE_LIMIT_EXCEEDED",
            None,
        ]
        injected = {
            "error_code": "RATE_LIMIT_EXCEEDED",
            "status": 429,
            "error_type": "RATE_LIMIT_EXCEEDED",
        }
        assert [c["fault"] for c in calls] == [injected, injected, None]
        # A faulted call still names its transaction, so retries can be matched up.
        assert {c["client_transaction_id"] for c in calls} == {"txn-fault"}
        assert all(c["request_id"] for c in calls)

    async def test_faults_fire_in_order_per_endpoint(self, admin):
        await admin.fault(
            {"endpoint": EVALUATE, "error_code": "INTERNAL_SERVER_ERROR"},
            {"endpoint": BALANCE, "error_code": "INSTITUTION_DOWN"},
            {"endpoint": EVALUATE, "error_code": "PLANNED_MAINTENANCE"},
        )
        balance = {"access_token": "access-sandbox-risky"}
        seen = [
            (await admin.post(EVALUATE, BODY | {"client_transaction_id": "a"}))[0],
            (await admin.post(BALANCE, balance))[0],
            (await admin.post(BALANCE, balance))[0],
            (await admin.post(EVALUATE, BODY | {"client_transaction_id": "b"}))[0],
            (await admin.post(EVALUATE, BODY | {"client_transaction_id": "c"}))[0],
        ]
        assert seen == [500, 400, 200, 503, 200]


class TestErrorTable:
    @pytest.mark.parametrize(
        ("code", "status", "error_type"),
        [
            ("RATE_LIMIT_EXCEEDED", 429, "RATE_LIMIT_EXCEEDED"),
            ("CREDITS_EXHAUSTED", 429, "RATE_LIMIT_EXCEEDED"),
            ("INTERNAL_SERVER_ERROR", 500, "API_ERROR"),
            ("PLANNED_MAINTENANCE", 503, "API_ERROR"),
            ("INSTITUTION_DOWN", 400, "INSTITUTION_ERROR"),
            ("INSTITUTION_NOT_RESPONDING", 400, "INSTITUTION_ERROR"),
            ("INSTITUTION_NOT_AVAILABLE", 400, "INSTITUTION_ERROR"),
            ("PRODUCT_NOT_READY", 400, "ITEM_ERROR"),
            ("ITEM_LOGIN_REQUIRED", 400, "ITEM_ERROR"),
            ("INVALID_API_KEYS", 400, "INVALID_INPUT"),
            ("ADDENDUM_NOT_SIGNED", 403, "SIGNAL_ERROR"),
        ],
    )
    async def test_status_and_type_are_filled_in_as_plaid_would(
        self, admin, code, status, error_type
    ):
        (queued,) = await admin.fault({"endpoint": EVALUATE, "error_code": code})
        assert (queued["status"], queued["error_type"]) == (status, error_type)
        answered, body = await admin.post(EVALUATE, BODY)
        assert (answered, body["error_type"], body["error_code"]) == (
            status,
            error_type,
            code,
        )
        assert body["display_message"] is None
        assert body["error_message"]

    async def test_a_custom_error_message_is_sent(self, admin):
        await admin.fault(
            {
                "endpoint": EVALUATE,
                "error_code": "INSTITUTION_DOWN",
                "error_message": "the bank is on fire",
            }
        )
        _, body = await admin.post(EVALUATE, BODY)
        assert body["error_message"] == "the bank is on fire"

    def test_every_code_has_a_plaid_error_type(self):
        assert {t for _, t in KNOWN_ERRORS.values()} <= {
            "RATE_LIMIT_EXCEEDED",
            "API_ERROR",
            "INSTITUTION_ERROR",
            "ITEM_ERROR",
            "INVALID_INPUT",
            "INVALID_REQUEST",
            "INVALID_RESULT",
            "SIGNAL_ERROR",
        }


class TestFaultRequests:
    @pytest.mark.parametrize(
        ("fault", "expected"),
        [
            (
                {"endpoint": EVALUATE, "error_code": "NOPE"},
                "faults: error_code: Value error, unknown error code 'NOPE'; known",
            ),
            (
                {"endpoint": "/transfer/create", "error_code": "RATE_LIMIT"},
                "faults: endpoint: Input should be '/signal/evaluate', ",
            ),
            ({"endpoint": EVALUATE}, "faults: (top level): Value error, a fault needs"),
            (
                {"endpoint": EVALUATE, "delay_ms": 1, "times": 0},
                "faults: times: Input should be greater than or equal to 1",
            ),
            (
                {"endpoint": EVALUATE, "drop_connection": True, "status": 502},
                "faults: (top level): Value error, choose one of drop_connection, "
                "status, not several",
            ),
            (
                {"endpoint": EVALUATE, "delay_ms": 5, "colour": "red"},
                "faults: colour: Extra inputs are not permitted",
            ),
            (
                [{"endpoint": EVALUATE, "delay_ms": 5}, {"endpoint": EVALUATE}],
                "faults: [1]: Value error, a fault needs",
            ),
            (
                {"endpoint": EVALUATE, "drop_connection": "yes"},
                "faults: drop_connection: Input should be a valid boolean",
            ),
            (
                {"endpoint": EVALUATE, "delay_ms": 5, "body": "<html>"},
                "faults: (top level): Value error, body goes with status",
            ),
        ],
    )
    async def test_bad_faults_are_refused_naming_the_field(
        self, admin, fault, expected
    ):
        status, body = await admin.request("POST", "/_emulator/faults", fault)
        assert status == 400
        assert body["error"].startswith(expected)
        assert await admin.request("GET", "/_emulator/faults") == (200, {"faults": []})

    async def test_a_body_that_is_not_json(self, admin):
        status, body = await admin.request("POST", "/_emulator/faults", data=b"{")
        assert (status, body) == (400, {"error": "faults: the body is not valid JSON"})

    async def test_get_lists_what_is_still_queued(self, admin):
        await admin.fault(
            {"endpoint": EVALUATE, "times": 2, "error_code": "RATE_LIMIT"},
            {"endpoint": BALANCE, "delay_ms": 10},
        )
        await admin.post(EVALUATE, BODY)
        status, body = await admin.request("GET", "/_emulator/faults")
        assert status == 200
        assert body["faults"] == [
            {
                "endpoint": EVALUATE,
                "remaining": 1,
                "error_code": "RATE_LIMIT",
                "status": 429,
                "error_type": "RATE_LIMIT_EXCEEDED",
            },
            {"endpoint": BALANCE, "remaining": 1, "delay_ms": 10},
        ]

    async def test_reset_and_delete_clear_queued_faults(self, admin):
        await admin.fault({"endpoint": EVALUATE, "error_code": "RATE_LIMIT"})
        assert await admin.request("POST", "/_emulator/reset") == (200, {})
        assert await admin.request("GET", "/_emulator/faults") == (200, {"faults": []})
        await admin.fault({"endpoint": EVALUATE, "error_code": "RATE_LIMIT"})
        assert await admin.request("DELETE", "/_emulator/faults") == (
            200,
            {"faults": []},
        )
        assert (await admin.post(EVALUATE, BODY))[0] == 200


class TestDroppedConnections:
    async def test_plaid_python_sees_a_protocol_error(self, admin, emulator):
        await admin.fault({"endpoint": EVALUATE, "drop_connection": True})
        # Default retries: urllib3 never re-sends a POST after a read error.
        with plaid_api(emulator.url) as client:
            with pytest.raises(urllib3.exceptions.ProtocolError):
                await sdk_evaluate(client)
            # The next call gets a fresh connection and a normal answer.
            assert (await sdk_evaluate(client)).request_id
        dropped, answered = await admin.calls()
        assert (dropped["status"], dropped["request_id"]) == (None, None)
        assert dropped["fault"] == {"drop_connection": True}
        assert dropped["client_transaction_id"] == "txn-fault"
        assert answered["status"] == 200

    async def test_aiohttp_sees_the_server_disconnect(self, admin, http, emulator):
        await admin.fault({"endpoint": BALANCE, "drop_connection": True})
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await http.post(
                f"{emulator.url}{BALANCE}",
                json={"access_token": "access-sandbox-risky"},
                headers=PLAID_HEADERS,
            )


async def admin_with(
    start: StartEmulator, http: aiohttp.ClientSession, sleep: Sleep
) -> Admin:
    """The admin API of a fresh emulator on the packaged scenario that waits with `sleep`."""
    return Admin(http, (await start(sleep=sleep)).url)


class TestDelays:
    async def test_a_delay_is_waited_out_and_the_call_still_succeeds(self, start, http):
        sleep = RecordingSleep()
        admin = await admin_with(start, http, sleep)
        await admin.fault({"endpoint": EVALUATE, "delay_ms": 300})
        status, _ = await admin.post(EVALUATE, BODY)
        assert status == 200
        assert sleep.waits == [0.3]
        call = await admin.last_call()
        assert (call["status"], call["fault"], call["latency_ms"]) == (
            200,
            {"delay_ms": 300},
            300,
        )

    async def test_a_delayed_call_is_in_the_log_while_it_waits(self, start, http):
        sleep = HeldSleep()
        admin = await admin_with(start, http, sleep)
        await admin.fault({"endpoint": EVALUATE, "delay_ms": 400})
        pending = asyncio.create_task(admin.post(EVALUATE, BODY))
        await sleep.until_holding(1)
        (waiting,) = await admin.calls()
        assert (waiting["status"], waiting["fault"]) == (None, {"delay_ms": 400})
        sleep.release()
        assert (await pending)[0] == 200
        assert (await admin.last_call())["status"] == 200

    async def test_a_delay_can_precede_an_error(self, start, http):
        sleep = HeldSleep()
        admin = await admin_with(start, http, sleep)
        await admin.fault(
            {
                "endpoint": EVALUATE,
                "delay_ms": 100,
                "error_code": "INTERNAL_SERVER_ERROR",
            }
        )
        pending = asyncio.create_task(admin.post(EVALUATE, BODY))
        await sleep.until_holding(1)
        # The error waits for the delay: not yet answered while the delay lasts.
        assert (await admin.last_call())["status"] is None
        sleep.release()
        assert (await pending)[0] == 500
        assert sleep.waits == [0.1]

    @pytest.mark.parametrize(
        ("repeated_transaction_id", "retry_status", "retry_code", "replayed"),
        [
            ("replay", 200, None, True),
            ("refuse", 400, "CLIENT_TRANSACTION_ID_ALREADY_IN_USE", False),
        ],
    )
    async def test_held_until_the_client_gives_up_then_the_retry_meets_the_first(
        self,
        start,
        http,
        default_scenario_data,
        repeated_transaction_id,
        retry_status,
        retry_code,
        replayed,
    ):
        default_scenario_data["repeated_transaction_id"] = repeated_transaction_id
        sleep = HeldSleep()
        running = await start(default_scenario_data, sleep=sleep)
        admin = Admin(http, running.url)
        await admin.fault({"endpoint": EVALUATE, "delay_ms": 2000})
        body = BODY | {"ruleset_key": "balance-only"}
        first_try = asyncio.create_task(admin.post(EVALUATE, body))
        await sleep.until_holding(1)
        # The client gives up while the call is held, as its timeout would.
        first_try.cancel()
        # The delay never ends: only the hang-up can have finished the call.
        await sleep.until_holding(0)
        assert sleep.cancelled == 1
        sleep.release()
        (first,) = await admin.calls()
        assert (first["status"], first["abandoned"]) == (200, True)
        assert first["realtime_balance_attempted"] is True
        assert first["realtime_balance_fetched"] is True
        # The retry: the same id and payment, as a client retrying a timeout sends.
        status, answer = await admin.post(EVALUATE, body)
        retry = await admin.last_call()
        assert (status, retry["error_code"]) == (retry_status, retry_code)
        if replayed:
            assert answer["request_id"] == first["request_id"]
        else:
            assert (answer["error_type"], answer["error_code"]) == (
                "SIGNAL_ERROR",
                "CLIENT_TRANSACTION_ID_ALREADY_IN_USE",
            )
        # Either way, no second bank call.
        assert retry["replayed"] is replayed
        assert retry["realtime_balance_attempted"] is False
        assert retry["abandoned"] is False


class TestBadBodies:
    async def test_malformed_body_is_200_and_not_json(self, admin):
        await admin.fault({"endpoint": EVALUATE, "malformed_body": True})
        status, content_type, raw = await admin.raw(EVALUATE, BODY)
        assert (status, content_type) == (200, "application/json")
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(raw)
        assert (await admin.last_call())["fault"] == {"malformed_body": True}

    async def test_plaid_python_cannot_read_a_malformed_body(self, admin, plaid_client):
        await admin.fault({"endpoint": EVALUATE, "malformed_body": True})
        with pytest.raises(plaid.ApiTypeError):
            await sdk_evaluate(plaid_client)

    async def test_a_raw_answer_is_sent_as_given(self, admin):
        await admin.fault(
            {"endpoint": BALANCE, "status": 502, "body": "<html>Bad Gateway</html>"}
        )
        answer = await admin.raw(BALANCE, {"access_token": "access-sandbox-risky"})
        assert answer == (502, "text/html", b"<html>Bad Gateway</html>")
        call = await admin.last_call()
        assert (call["status"], call["error_code"]) == (502, None)
        assert call["fault"] == {
            "status": 502,
            "body": "<html>Bad Gateway</html>",
            "content_type": "text/html",
        }

    async def test_plaid_python_raises_service_exception_for_a_gateway_page(
        self, admin, plaid_client
    ):
        await admin.fault(
            {
                "endpoint": BALANCE,
                "status": 503,
                "body": "upstream connect error",
                "content_type": "text/plain",
            }
        )
        with pytest.raises(plaid.ApiException) as caught:
            await asyncio.to_thread(
                plaid_client.accounts_balance_get, balance_request()
            )
        assert (caught.value.status, caught.value.body) == (
            503,
            "upstream connect error",
        )
