"""Failure semantics over the real stack: each Plaid failure class, scripted through the
emulator's faults, reaches the caller as the right status, after the right retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

import service.adapters.plaid.http
import service.adapters.plaid.retry
import service.api.servicer
import service.app.decide
import service.app.evaluate
from plaid_emulator import RunningEmulator
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from tests.conftest import (
    EmulatorAdmin,
    Harness,
    packaged_config_plus,
    payment,
    start_harness,
    stop_harness,
)
from tests.e2e.test_errors import details

EVALUATE = "/signal/evaluate"
# Fast backoff keeps the table quick; three attempts as in production.
FAST_RETRIES = """
[plaid.retry]
max_attempts = 3
initial_backoff_s = 0.01
max_backoff_s = 0.05
min_attempt_s = 0.05
"""


async def harness_with(
    emulator: RunningEmulator, tmp_path: Path, extra: str
) -> Harness:
    config = packaged_config_plus(tmp_path, FAST_RETRIES + extra)
    return await start_harness(
        emulator.url, config, database_url=f"sqlite:///{tmp_path / 'ledger.db'}"
    )


@pytest.fixture
async def fast(emulator: RunningEmulator, tmp_path: Path) -> AsyncIterator[Harness]:
    running = await harness_with(emulator, tmp_path, "")
    yield running
    await stop_harness(running)


# Modules an evaluation runs through; the emulator's own (still sleeping) task is not
# ours. Taken from the modules themselves, so a rename cannot silently empty the list.
_EVALUATION_CODE = tuple(
    str(module.__file__)
    for module in (
        service.api.servicer,
        service.app.evaluate,
        service.app.decide,
        service.adapters.plaid.retry,
        service.adapters.plaid.http,
    )
)


def evaluation_tasks() -> list[asyncio.Task[Any]]:
    """Tasks currently inside the service's evaluation code."""
    return [
        task
        for task in asyncio.all_tasks()
        if any(
            frame.f_code.co_filename in _EVALUATION_CODE for frame in task.get_stack()
        )
    ]


async def plaid_calls(
    admin: EmulatorAdmin, endpoint: str = EVALUATE
) -> list[dict[str, Any]]:
    return [c for c in await admin.calls() if c["endpoint"] == endpoint]


# (case, fault, gRPC code, Plaid calls seen, RetryInfo expected)
ROWS = [
    (
        "rate limited: not retried within the call (a minute or hour window)",
        {"error_code": "RATE_LIMIT_EXCEEDED", "times": 3},
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        1,
        True,
    ),
    (
        "Plaid 500, every attempt",
        {"error_code": "INTERNAL_SERVER_ERROR", "times": 3},
        grpc.StatusCode.UNAVAILABLE,
        3,
        True,
    ),
    (
        "planned maintenance",
        {"error_code": "PLANNED_MAINTENANCE", "times": 3},
        grpc.StatusCode.UNAVAILABLE,
        3,
        True,
    ),
    (
        "institution down: degrade now, no retry",
        {"error_code": "INSTITUTION_DOWN"},
        grpc.StatusCode.UNAVAILABLE,
        1,
        True,
    ),
    (
        "credits exhausted: permanent",
        {"error_code": "CREDITS_EXHAUSTED"},
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        1,
        False,
    ),
    (
        "addendum not signed: permanent",
        {"error_code": "ADDENDUM_NOT_SIGNED"},
        grpc.StatusCode.FAILED_PRECONDITION,
        1,
        False,
    ),
    (
        "item needs re-linking",
        {"error_code": "ITEM_LOGIN_REQUIRED"},
        grpc.StatusCode.FAILED_PRECONDITION,
        1,
        False,
    ),
    (
        "our credentials rejected",
        {"error_code": "INVALID_API_KEYS"},
        grpc.StatusCode.INTERNAL,
        1,
        False,
    ),
    (
        "connection dropped, every attempt",
        {"drop_connection": True, "times": 3},
        grpc.StatusCode.UNAVAILABLE,
        3,
        True,
    ),
    (
        "malformed body, every attempt",
        {"malformed_body": True, "times": 3},
        grpc.StatusCode.UNAVAILABLE,
        3,
        True,
    ),
    (
        "gateway HTML, every attempt",
        {"status": 502, "body": "<html>bad</html>", "times": 3},
        grpc.StatusCode.UNAVAILABLE,
        3,
        True,
    ),
]


class TestFailureTable:
    @pytest.mark.parametrize(
        ("case", "fault", "code", "calls", "retry_info"), ROWS, ids=[r[0] for r in ROWS]
    )
    async def test_each_failure_class_maps_to_its_status(
        self,
        fast: Harness,
        admin: EmulatorAdmin,
        case: str,
        fault: dict[str, Any],
        code: grpc.StatusCode,
        calls: int,
        retry_info: bool,
    ) -> None:
        await admin.fault(endpoint=EVALUATE, **fault)
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await fast.stub.EvaluatePayment(payment(), timeout=10)
        assert time.monotonic() - started < 2
        error = caught.value
        assert error.code() == code
        assert error.code() != grpc.StatusCode.UNKNOWN
        found = details(error)
        assert "ErrorInfo" in found
        assert ("RetryInfo" in found) is retry_info
        seen = await plaid_calls(admin)
        assert len(seen) == calls
        ids = {c["client_transaction_id"] for c in seen}
        assert len(ids) == 1  # every retry kept the idempotency key

    async def test_plaid_error_details_reach_the_caller(
        self, fast: Harness, admin: EmulatorAdmin
    ) -> None:
        await admin.fault(
            endpoint=EVALUATE, error_code="INTERNAL_SERVER_ERROR", times=3
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await fast.stub.EvaluatePayment(payment(), timeout=10)
        info = details(caught.value)["ErrorInfo"]
        assert isinstance(info, error_details_pb2.ErrorInfo)
        assert (info.domain, info.reason) == ("plaid.com", "INTERNAL_SERVER_ERROR")
        assert info.metadata["plaidErrorType"] == "API_ERROR"
        assert (
            info.metadata["plaidRequestId"]
            == (await plaid_calls(admin))[-1]["request_id"]
        )


class TestRetries:
    async def test_500_then_200_succeeds_with_two_plaid_calls(
        self, fast: Harness, admin: EmulatorAdmin
    ) -> None:
        await admin.fault(
            endpoint=EVALUATE, error_code="INTERNAL_SERVER_ERROR", times=1
        )
        reply = await fast.stub.EvaluatePayment(payment(), timeout=10)
        decision = reply.decision
        assert [(c.attempt, c.http_status) for c in decision.plaid_calls] == [
            (1, 500),
            (2, 200),
        ]
        assert decision.plaid_calls[0].error_code == "INTERNAL_SERVER_ERROR"
        seen = await plaid_calls(admin)
        assert [c["status"] for c in seen] == [500, 200]
        assert list(decision.plaid_request_ids) == [c["request_id"] for c in seen]

    async def test_a_deadline_shorter_than_plaid_returns_in_time_and_leaves_no_task(
        self, fast: Harness, admin: EmulatorAdmin
    ) -> None:
        await admin.fault(endpoint=EVALUATE, delay_ms=5000)
        started = time.monotonic()
        call = asyncio.ensure_future(fast.stub.EvaluatePayment(payment(), timeout=0.3))
        for _ in range(40):  # the check below must see the evaluation while it runs
            if evaluation_tasks():
                break
            await asyncio.sleep(0.005)
        assert evaluation_tasks(), "the evaluation's own tasks were not recognised"
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        elapsed = time.monotonic() - started
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert 0.25 <= elapsed < 0.45
        # No retry could have finished in time.
        assert len(await plaid_calls(admin)) == 1
        # The handler and its Plaid call wind down with the deadline.
        for _ in range(20):
            if not evaluation_tasks():
                break
            await asyncio.sleep(0.05)
        assert evaluation_tasks() == []

    async def test_a_deadline_of_six_seconds_is_answered_before_it_passes(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        """Production retry settings, a Plaid that never answers in time: the service
        answers itself (with details), not the caller's own clock (bare)."""
        await admin.fault(endpoint=EVALUATE, delay_ms=30_000, times=3)
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            # No ruleset: the live-balance budget, one attempt of up to 35 s, which
            # the deadline cuts to about 6 s (aiohttp once rounded that up).
            await harness.stub.EvaluatePayment(payment(), timeout=6.0)
        elapsed = time.monotonic() - started
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert elapsed < 6.0
        info = details(caught.value)["ErrorInfo"]
        assert isinstance(info, error_details_pb2.ErrorInfo)
        assert info.reason in ("TIMEOUT", "DEADLINE_TOO_SHORT")


DEGRADED = """
[[degraded.default.rules]]
failures = ["TIMEOUT", "PLAID_UNAVAILABLE"]
max_amount = "50.00"
result = "ACCEPT"

[[degraded.default.rules]]
result = "REVIEW"
"""
FALLBACK = """
[degraded.default]
try_balance_endpoint = true
"""


class TestDegradedMode:
    @pytest.fixture
    async def degraded(
        self, emulator: RunningEmulator, tmp_path: Path
    ) -> AsyncIterator[Harness]:
        running = await harness_with(emulator, tmp_path, DEGRADED)
        yield running
        await stop_harness(running)

    @pytest.fixture
    async def fallback(
        self, emulator: RunningEmulator, tmp_path: Path
    ) -> AsyncIterator[Harness]:
        running = await harness_with(emulator, tmp_path, FALLBACK)
        yield running
        await stop_harness(running)

    @pytest.mark.parametrize(
        ("amount", "result"),
        [("50.00", pb.DECISION_RESULT_ACCEPT), ("50.01", pb.DECISION_RESULT_REVIEW)],
    )
    async def test_plaid_down_gives_the_policys_decision_by_amount_band(
        self, degraded: Harness, admin: EmulatorAdmin, amount: str, result: int
    ) -> None:
        await admin.fault(
            endpoint=EVALUATE, error_code="INTERNAL_SERVER_ERROR", times=3
        )
        decision = (
            await degraded.stub.EvaluatePayment(payment(amount=amount), timeout=10)
        ).decision
        assert decision.degraded
        assert decision.result == result
        assert decision.source == pb.DECISION_SOURCE_DEGRADED_POLICY
        assert decision.degraded_cause.failure_class == "PLAID_UNAVAILABLE"
        assert decision.degraded_cause.error_code == "INTERNAL_SERVER_ERROR"
        assert (
            decision.realtime_balance.basis
            == pb.REALTIME_BALANCE_BASIS_NO_PLAID_RESPONSE
        )
        assert decision.realtime_balance.fetched is False
        assert len(decision.plaid_calls) == 3

    async def test_a_permanent_error_is_never_degraded(
        self, degraded: Harness, admin: EmulatorAdmin
    ) -> None:
        await admin.fault(endpoint=EVALUATE, error_code="ITEM_LOGIN_REQUIRED")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await degraded.stub.EvaluatePayment(payment(amount="1.00"), timeout=10)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    async def test_ach_falls_back_to_the_balance_endpoint(
        self, fallback: Harness, admin: EmulatorAdmin
    ) -> None:
        await admin.fault(endpoint=EVALUATE, error_code="INSTITUTION_NOT_RESPONDING")
        decision = (
            await fallback.stub.EvaluatePayment(payment(amount="20.00"), timeout=10)
        ).decision
        assert decision.degraded
        assert decision.source == pb.DECISION_SOURCE_BALANCE_POLICY
        assert decision.result == pb.DECISION_RESULT_ACCEPT
        assert decision.reasons[0].code == "DEGRADED_BALANCE_FALLBACK"
        assert (
            decision.realtime_balance.basis
            == pb.REALTIME_BALANCE_BASIS_BALANCE_ENDPOINT
        )
        assert [c.endpoint for c in decision.plaid_calls] == [
            "/signal/evaluate",
            "/accounts/balance/get",
        ]
