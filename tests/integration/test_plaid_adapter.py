"""PlaidSignalSource against a scripted Plaid-compatible server on loopback.

The emulator always answers the way plaid-python 46 requires; real Plaid may not (it may
omit `scores` or `warnings`), and proxies may answer with HTML. This stub can.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from aiohttp import web

from service.adapters.plaid.http import PlaidTransport
from service.adapters.plaid.retry import RetryingPoster, RetryPolicy
from service.adapters.plaid.signals import PlaidSignalSource
from service.app.errors import DeadlineTooShort, FailureKind, PlaidFailure
from service.app.ports import CallBudget, EndUser, PlaidAccount, SignalContext
from service.domain.model import PaymentAttempt, Rail
from service.domain.money import Money
from service.domain.secret import Secret
from tests.clock import START_MONOTONIC, JumpingClock

# A scripted delay of HELD: Plaid never answers (until the test ends), so the
# transport's own timeout, on real time, ends the attempt.
HELD = math.inf


class ScriptedPlaid:
    """Answers each POST with the next scripted (status, body bytes, delay) and records
    it. A delay is how long Plaid took on the service's clock, which moves on by it
    before the answer goes out at once; HELD never answers."""

    def __init__(self, clock: JumpingClock) -> None:
        self.clock = clock
        self.script: list[tuple[int, bytes, float]] = []
        self.received: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.stopping = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(
            (request.path, dict(request.headers), await request.json())
        )
        status, body, delay = self.script.pop(0)
        if delay == HELD:
            await self.stopping.wait()
        else:
            self.clock.advance(delay)
        return web.Response(status=status, body=body, content_type="application/json")


@pytest.fixture
def clock() -> JumpingClock:
    return JumpingClock()


@pytest.fixture
async def plaid(clock: JumpingClock) -> AsyncIterator[tuple[ScriptedPlaid, str]]:
    scripted = ScriptedPlaid(clock)
    app = web.Application()
    app.router.add_post("/{tail:.*}", scripted.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield scripted, f"http://{host}:{port}"
    scripted.stopping.set()
    await runner.cleanup()


@pytest.fixture
async def source(
    plaid: tuple[ScriptedPlaid, str], clock: JumpingClock
) -> AsyncIterator[PlaidSignalSource]:
    transport = PlaidTransport(
        plaid[1],
        Secret("client-abc"),
        Secret("secret-xyz"),
        clock=clock,
        pool_size=8,
        connect_timeout_s=1.0,
    )
    await transport.start()
    policy = RetryPolicy(
        max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05, min_attempt_s=0.05
    )
    yield PlaidSignalSource(RetryingPoster(transport, policy, clock), clock)
    await transport.close()


ATTEMPT = PaymentAttempt(
    "txn-adapter-1", Money(10205, "USD"), Rail.ACH_SAME_DAY, "rs-1"
)
ACCOUNT = PlaidAccount(Secret("access-sandbox-123"), "acc-1")


def soon(seconds: float = 5.0, attempt_s: float = 5.0) -> CallBudget:
    """A budget from the start of the test, when every test's clock reads the same."""
    return CallBudget(START_MONOTONIC + seconds, attempt_s)


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

    @pytest.mark.parametrize("body", [b"<html>bad gateway</html>", b"[]"])
    async def test_a_body_that_is_not_a_json_object_is_retried(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource, body: bytes
    ) -> None:
        good = orjson.dumps({"request_id": "r-ok", "scores": None, "warnings": []})
        plaid[0].script.extend([(200, body, 0), (200, good, 0)])
        answer, calls = await source.evaluate_signal(
            ATTEMPT, ACCOUNT, SignalContext(), soon()
        )
        assert answer.request_id == "r-ok"
        assert [c.attempt for c in calls] == [1, 2]

    @pytest.mark.parametrize(
        "body",
        [
            b'{"request_id": "r", "scores": 5, "warnings": []}',
            b'{"request_id": "r", "ruleset": {"ruleset_key": "x"},'
            b' "warnings": [], "scores": null}',
        ],
    )
    async def test_an_object_of_the_wrong_shape_fails_without_a_retry(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource, body: bytes
    ) -> None:
        """The same answer would come back; it is Plaid's, so it is UNAVAILABLE."""
        plaid[0].script.append((200, body, 0))
        with pytest.raises(PlaidFailure) as caught:
            await source.evaluate_signal(ATTEMPT, ACCOUNT, SignalContext(), soon())
        assert caught.value.kind is FailureKind.MALFORMED_RESPONSE
        assert len(plaid[0].received) == 1


class TestRetries:
    async def test_500_500_200_succeeds_on_the_third_attempt_with_the_same_body(
        self,
        plaid: tuple[ScriptedPlaid, str],
        source: PlaidSignalSource,
        clock: JumpingClock,
    ) -> None:
        failed = orjson.dumps(_error("API_ERROR", "INTERNAL_SERVER_ERROR"))
        good = orjson.dumps({"request_id": "r-ok", "scores": None, "warnings": []})
        plaid[0].script.extend([(500, failed, 0), (500, failed, 0), (200, good, 0)])
        _, calls = await source.evaluate_signal(
            ATTEMPT, ACCOUNT, SignalContext(), soon()
        )
        assert [(c.attempt, c.http_status) for c in calls] == [
            (1, 500),
            (2, 500),
            (3, 200),
        ]
        # Two backoffs were waited, on the service's clock, each within max_backoff_s.
        assert 0 < clock.monotonic() - START_MONOTONIC <= 2 * 0.05
        bodies = [body for _, _, body in plaid[0].received]
        assert all(b == bodies[0] for b in bodies)
        assert bodies[0]["client_transaction_id"] == "txn-adapter-1"

    async def test_a_gateway_error_is_retried_then_reported_with_every_attempt(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource
    ) -> None:
        plaid[0].script.extend([(502, b"<html>502</html>", 0)] * 3)
        with pytest.raises(PlaidFailure) as caught:
            await source.evaluate_signal(ATTEMPT, ACCOUNT, SignalContext(), soon())
        assert caught.value.kind is FailureKind.UNAVAILABLE
        assert [c.http_status for c in caught.value.calls] == [502, 502, 502]

    @pytest.mark.parametrize(
        ("error_type", "error_code", "status"),
        [
            ("ITEM_ERROR", "ITEM_LOGIN_REQUIRED", 400),
            ("RATE_LIMIT_EXCEEDED", "CREDITS_EXHAUSTED", 429),
            ("SIGNAL_ERROR", "ADDENDUM_NOT_SIGNED", 403),
            ("INSTITUTION_ERROR", "INSTITUTION_DOWN", 400),
            ("INVALID_INPUT", "INVALID_API_KEYS", 400),
        ],
    )
    async def test_permanent_errors_are_not_retried(
        self,
        plaid: tuple[ScriptedPlaid, str],
        source: PlaidSignalSource,
        error_type: str,
        error_code: str,
        status: int,
    ) -> None:
        plaid[0].script.extend(
            [(status, orjson.dumps(_error(error_type, error_code)), 0)]
        )
        with pytest.raises(PlaidFailure) as caught:
            await source.evaluate_signal(ATTEMPT, ACCOUNT, SignalContext(), soon())
        assert caught.value.error_code == error_code
        assert len(plaid[0].received) == 1

    async def test_a_slow_attempt_times_out_and_the_retry_answers(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource
    ) -> None:
        good = orjson.dumps({"request_id": "r-ok", "scores": None, "warnings": []})
        plaid[0].script.extend([(200, good, HELD), (200, good, 0)])
        _, calls = await source.evaluate_signal(
            ATTEMPT, ACCOUNT, SignalContext(), soon(2.0, attempt_s=0.1)
        )
        assert [(c.attempt, c.http_status) for c in calls] == [(1, 0), (2, 200)]

    async def test_no_retry_starts_that_could_not_finish_before_the_deadline(
        self,
        plaid: tuple[ScriptedPlaid, str],
        source: PlaidSignalSource,
        clock: JumpingClock,
    ) -> None:
        """min_attempt_s is 0.05 s: after a 0.21 s attempt, 0.04 s is not enough."""
        plaid[0].script.extend([(500, b"{}", 0.21)] * 3)
        with pytest.raises(PlaidFailure):
            await source.evaluate_signal(ATTEMPT, ACCOUNT, SignalContext(), soon(0.25))
        assert len(plaid[0].received) == 1
        assert clock.monotonic() == START_MONOTONIC + 0.21  # no backoff was waited


class TestFailures:
    async def test_plaid_error_fields_are_kept_and_the_body_is_not(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource
    ) -> None:
        error = _error("INVALID_INPUT", "INVALID_ACCESS_TOKEN") | {"request_id": "r400"}
        plaid[0].script.append((400, orjson.dumps(error), 0))
        with pytest.raises(PlaidFailure) as caught:
            await source.evaluate_signal(ATTEMPT, ACCOUNT, SignalContext(), soon())
        failure = caught.value
        assert (failure.kind, failure.error_code, failure.request_id) == (
            FailureKind.INVALID_ACCESS_TOKEN,
            "INVALID_ACCESS_TOKEN",
            "r400",
        )
        assert "access-sandbox-123" not in str(failure)

    async def test_the_deadline_bounds_the_call(
        self, plaid: tuple[ScriptedPlaid, str], source: PlaidSignalSource
    ) -> None:
        """Each attempt waits only what the deadline leaves, not its 5 s allowance."""
        plaid[0].script.extend([(200, b"{}", HELD)] * 3)
        with pytest.raises(PlaidFailure) as caught:
            await source.evaluate_signal(ATTEMPT, ACCOUNT, SignalContext(), soon(0.2))
        assert caught.value.kind is FailureKind.TIMEOUT
        waited = re.search(r"within ([0-9.]+) s", str(caught.value))
        assert waited is not None
        assert float(waited[1]) <= 0.19  # 0.2 s less the margin kept for our own work

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


def _error(error_type: str, error_code: str) -> dict[str, Any]:
    return {
        "error_type": error_type,
        "error_code": error_code,
        "error_message": "scripted",
        "display_message": None,
        "request_id": "r-err",
    }


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
