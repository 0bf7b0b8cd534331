"""PlaidSignalSource against a scripted Plaid-compatible server on loopback.

The emulator always answers the way plaid-python 46 requires; real Plaid may not (it may
omit `scores` or `warnings`), and proxies may answer with HTML. This stub can.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from aiohttp import web

from service.adapters.plaid_http import PlaidTransport
from service.adapters.plaid_signals import PlaidSignalSource
from service.errors import DeadlineTooShort, FailureKind, PlaidFailure
from service.ports import EndUser, PlaidAccount, SignalContext
from service.risk.model import PaymentAttempt, Rail
from service.risk.money import Money
from service.secret import Secret


class ScriptedPlaid:
    """Answers each POST with the next scripted (status, body bytes, delay) and records it."""

    def __init__(self) -> None:
        self.script: list[tuple[int, bytes, float]] = []
        self.received: list[tuple[str, dict[str, str], dict[str, Any]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(
            (request.path, dict(request.headers), await request.json())
        )
        status, body, delay = self.script.pop(0)
        await asyncio.sleep(delay)
        return web.Response(status=status, body=body, content_type="application/json")


@pytest.fixture
async def plaid() -> AsyncIterator[tuple[ScriptedPlaid, str]]:
    scripted = ScriptedPlaid()
    app = web.Application()
    app.router.add_post("/{tail:.*}", scripted.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield scripted, f"http://{host}:{port}"
    await runner.cleanup()


@pytest.fixture
async def source(plaid: tuple[ScriptedPlaid, str]) -> AsyncIterator[PlaidSignalSource]:
    transport = PlaidTransport(
        plaid[1],
        Secret("client-abc"),
        Secret("secret-xyz"),
        pool_size=8,
        connect_timeout_s=1.0,
    )
    await transport.start()
    yield PlaidSignalSource(transport, lambda: datetime.now(UTC))
    await transport.close()


ATTEMPT = PaymentAttempt(
    "txn-adapter-1", Money(10205, "USD"), Rail.ACH_SAME_DAY, "rs-1"
)
ACCOUNT = PlaidAccount(Secret("access-sandbox-123"), "acc-1")


def soon(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


class TestRequests:
    async def test_the_request_is_plaid_shaped_with_credentials_in_headers(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource
    ) -> None:
        scripted, _ = plaid
        scripted.script.append(
            (200, orjson.dumps({"request_id": "r1", "scores": None, "warnings": []}), 0)
        )
        user = EndUser(
            given_name="Ada",
            family_name="Lovelace",
            email_address="a@x.io",
            city="London",
            street="1 Main St",
        )
        context = SignalContext(is_recurring=True, user=user, ip_address="203.0.113.9")
        await source.evaluate_signal(ATTEMPT, ACCOUNT, context, soon())
        path, headers, body = scripted.received[0]
        assert path == "/signal/evaluate"
        assert headers["PLAID-CLIENT-ID"] == "client-abc"
        assert headers["PLAID-SECRET"] == "secret-xyz"
        assert headers["Plaid-Version"] == "2020-09-14"
        assert body["amount"] == 102.05  # the JSON text is exactly 102.05
        assert body["default_payment_method"] == "SAME_DAY_ACH"
        assert body["ruleset_key"] == "rs-1"
        assert body["user"] == {
            "name": {"given_name": "Ada", "family_name": "Lovelace"},
            "email_address": "a@x.io",
            "address": {"street": "1 Main St", "city": "London"},
        }
        assert body["device"] == {"ip_address": "203.0.113.9"}
        assert "user_present" not in body
        assert "secret" not in body
        assert "client_id" not in body

    async def test_balance_get_asks_for_one_account_and_a_freshness_floor(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource
    ) -> None:
        scripted, _ = plaid
        scripted.script.append((200, orjson.dumps(_accounts(available=12.3)), 0))
        floor = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        answer, calls = await source.get_balance(ACCOUNT, floor, soon())
        options = scripted.received[0][2]["options"]
        assert options["account_ids"] == ["acc-1"]
        assert datetime.fromisoformat(options["min_last_updated_datetime"]) == floor
        assert answer.balance.available == Decimal("12.3")
        assert calls[0].request_id == "rb"


class TestTolerantParsing:
    async def test_an_answer_without_scores_or_warnings_is_accepted(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource
    ) -> None:
        """plaid-python 46 raises TypeError on this body; the service must cope."""
        scripted, _ = plaid
        body = {
            "request_id": "r2",
            "core_attributes": {"available_balance": 100.1, "current_balance": 110},
            "ruleset": {"ruleset_key": "rs-1", "result": "ACCEPT"},
        }
        scripted.script.append((200, orjson.dumps(body), 0))
        answer, _ = await source.evaluate_signal(
            ATTEMPT, ACCOUNT, SignalContext(), soon()
        )
        assert answer.scores is None
        assert answer.warnings == ()
        assert answer.balance.available == Decimal("100.1")
        assert answer.balance.current == Decimal(110)
        assert answer.attribute_keys == {"available_balance", "current_balance"}

    @pytest.mark.parametrize(
        "body",
        [
            b"<html>bad gateway</html>",
            b"[]",
            b'{"request_id": "r", "scores": 5, "warnings": []}',
            b'{"request_id": "r", "ruleset": {"ruleset_key": "x"},'
            b' "warnings": [], "scores": null}',
        ],
    )
    async def test_a_malformed_success_is_a_transient_failure(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource, body: bytes
    ) -> None:
        plaid[0].script.append((200, body, 0))
        with pytest.raises(PlaidFailure) as caught:
            await source.evaluate_signal(ATTEMPT, ACCOUNT, SignalContext(), soon())
        assert caught.value.kind is FailureKind.MALFORMED_RESPONSE
        assert caught.value.kind.transient


class TestFailures:
    async def test_a_non_json_gateway_error_is_unavailable(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource
    ) -> None:
        plaid[0].script.append((502, b"<html>502</html>", 0))
        with pytest.raises(PlaidFailure) as caught:
            await source.evaluate_signal(ATTEMPT, ACCOUNT, SignalContext(), soon())
        assert caught.value.kind is FailureKind.UNAVAILABLE
        assert caught.value.calls[0].http_status == 502

    async def test_plaid_error_fields_are_kept_and_the_body_is_not(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource
    ) -> None:
        error = {
            "error_type": "RATE_LIMIT_EXCEEDED",
            "error_code": "RATE_LIMIT_EXCEEDED",
            "error_message": "too many requests",
            "request_id": "r429",
            "display_message": None,
        }
        plaid[0].script.append((429, orjson.dumps(error), 0))
        with pytest.raises(PlaidFailure) as caught:
            await source.evaluate_signal(ATTEMPT, ACCOUNT, SignalContext(), soon())
        failure = caught.value
        assert (failure.kind, failure.error_code, failure.request_id) == (
            FailureKind.RATE_LIMITED,
            "RATE_LIMIT_EXCEEDED",
            "r429",
        )
        assert "access-sandbox-123" not in str(failure)

    async def test_the_deadline_bounds_the_call(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource
    ) -> None:
        plaid[0].script.append((200, b"{}", 2.0))
        started = time.monotonic()
        with pytest.raises(PlaidFailure) as caught:
            await source.evaluate_signal(ATTEMPT, ACCOUNT, SignalContext(), soon(0.2))
        assert caught.value.kind is FailureKind.TIMEOUT
        assert time.monotonic() - started < 0.5

    async def test_no_call_starts_when_the_deadline_has_passed(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource
    ) -> None:
        with pytest.raises(DeadlineTooShort):
            await source.evaluate_signal(ATTEMPT, ACCOUNT, SignalContext(), soon(0.001))
        assert plaid[0].received == []

    async def test_an_out_of_range_balance_is_an_answer_not_an_error(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource
    ) -> None:
        newest = datetime.now(UTC) - timedelta(days=2)
        error = {
            "error_type": "INVALID_RESULT",
            "error_code": "LAST_UPDATED_DATETIME_OUT_OF_RANGE",
            "error_message": f"newest balance is from {newest.isoformat()}",
            "request_id": "rold",
        }
        plaid[0].script.append((400, orjson.dumps(error), 0))
        answer, calls = await source.get_balance(ACCOUNT, datetime.now(UTC), soon())
        assert answer.too_old
        assert answer.balance.as_of == newest
        assert calls[0].error_code == "LAST_UPDATED_DATETIME_OUT_OF_RANGE"


def _accounts(available: float) -> dict[str, Any]:
    balances = {
        "available": available,
        "current": 20.0,
        "limit": None,
        "iso_currency_code": "USD",
        "unofficial_currency_code": None,
        "last_updated_datetime": None,
    }
    return {
        "request_id": "rb",
        "item": {},
        "accounts": [
            {"account_id": "other", "balances": {**balances, "available": 1.0}},
            {"account_id": "acc-1", "balances": balances},
        ],
    }
