"""The service over gRPC against a stand-in that answers only Plaid's documented bodies.

One test per way the service once broke or told an untruth against real Plaid: the
documented answer without risk_tier, a Transaction Scores ruleset with balance rules,
user/device under a Balance-only ruleset, and Plaid refusing our own retry's id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from tests.conftest import Harness, packaged_config_plus, payment, start_harness
from tests.conftest import stop_harness as stop
from tests.contract.standin import (
    HELD,
    StandIn,
    balance_only_answer,
    documented_answer,
    documented_error,
    standin,
)

EVALUATE = "/signal/evaluate"
REGISTRY = """
[rulesets.onboarding_flow]
type = "transaction_scores"
balance_rule = true

[rulesets.balance-live]
type = "balance_only"
"""


@pytest.fixture
async def plaid() -> AsyncIterator[StandIn]:
    async with standin() as running:
        yield running


async def serve(plaid: StandIn, tmp_path: Path, extra: str = "") -> Harness:
    config = packaged_config_plus(tmp_path, REGISTRY + extra)
    return await start_harness(
        plaid.url, config, database_url=f"sqlite:///{tmp_path / 'ledger.db'}"
    )


@pytest.fixture
async def harness(plaid: StandIn, tmp_path: Path) -> AsyncIterator[Harness]:
    running = await serve(plaid, tmp_path)
    yield running
    await stop(running)


def codes(decision: pb.Decision) -> list[str]:
    return [w.code for w in decision.realtime_balance.warnings]


def error_details(error: grpc.aio.AioRpcError) -> dict[type, Any]:
    raw = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
    status = status_pb2.Status.FromString(raw)
    found: dict[type, Any] = {}
    for packed in status.details:
        for cls in (error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo):
            if packed.Is(cls.DESCRIPTOR):
                found[cls] = cls()
                packed.Unpack(found[cls])
    return found


class TestTheDocumentedAnswer:
    async def test_scores_without_risk_tier_make_a_decision(
        self, plaid: StandIn, harness: Harness
    ) -> None:
        """Plaid's example: score only, ruleset onboarding_flow, REROUTE."""
        plaid.handlers[EVALUATE] = lambda _: (200, documented_answer(EVALUATE), 0)
        request = payment(ruleset_key="onboarding_flow")
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        assert decision.result == pb.DECISION_RESULT_REROUTE
        assert decision.applied_ruleset_key == "onboarding_flow"
        risk = decision.scores
        assert (
            risk.customer_initiated_return_risk.score,
            risk.bank_initiated_return_risk.score,
        ) == (9, 82)
        assert risk.customer_initiated_return_risk.risk_tier == 0  # Plaid sent none
        assert dict(decision.core_attributes) == {
            "available_balance": 2200,
            "current_balance": 2000,
        }
        assert list(decision.plaid_request_ids) == ["mdqfuVxeoza6mhu"]
        stored = await harness.stub.GetDecision(
            pb.GetDecisionRequest(client_transaction_id=request.client_transaction_id),
            timeout=10,
        )
        assert stored.decision.core_attributes == decision.core_attributes
        assert stored.decision.scores == decision.scores


class TestTransactionScoresWithBalanceRules:
    async def test_is_never_a_live_extraction_and_says_the_rules_ran_on_a_cache(
        self, plaid: StandIn, harness: Harness
    ) -> None:
        plaid.handlers[EVALUATE] = lambda _: (200, documented_answer(EVALUATE), 0)
        request = payment(ruleset_key="onboarding_flow")
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        realtime = decision.realtime_balance
        assert realtime.basis == pb.REALTIME_BALANCE_BASIS_RULESET_TRANSACTION_SCORES
        assert (realtime.attempted, realtime.fetched) == (False, False)
        assert codes(decision) == ["BALANCE_RULES_RAN_ON_CACHED_BALANCE"]
        assert "of unknown age" in realtime.warnings[0].message


def without_addendum(ruleset_key: str) -> Any:
    """A Balance-only Plaid customer without the Signal Addendum."""

    def answer(body: dict[str, Any]) -> tuple[int, Any, float]:
        if "user" in body or "device" in body:
            status, error = documented_error("ADDENDUM_NOT_SIGNED")
            return status, error, 0
        return 200, balance_only_answer(ruleset_key), 0

    return answer


class TestBalanceOnlyRequests:
    async def test_user_and_device_are_never_sent_under_a_balance_only_ruleset(
        self, plaid: StandIn, harness: Harness
    ) -> None:
        """Without the Signal Addendum, Plaid answers them 403 ADDENDUM_NOT_SIGNED."""

        plaid.handlers[EVALUATE] = without_addendum("balance-live")
        request = payment(
            ruleset_key="balance-live",
            is_recurring=True,
            user_present=True,
            client_user_id="user-77",
            user=pb.PaymentUser(email_address="ada@example.com"),
            device=pb.PaymentDevice(ip_address="203.0.113.9", user_agent="Mozilla/5.0"),
        )
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        assert decision.result == pb.DECISION_RESULT_ACCEPT
        realtime = decision.realtime_balance
        assert realtime.basis == pb.REALTIME_BALANCE_BASIS_RULESET_BALANCE_ONLY
        assert (realtime.attempted, realtime.fetched) == (True, True)
        (sent,) = plaid.bodies(EVALUATE)
        for sts_only in ("user", "device", "is_recurring", "user_present"):
            assert sts_only not in sent
        assert "default_payment_method" not in sent
        assert sent["client_user_id"] == "user-77"
        assert sent["ruleset_key"] == "balance-live"

    async def test_with_no_key_the_declared_default_ruleset_decides(
        self, plaid: StandIn, tmp_path: Path
    ) -> None:
        """Plaid applies the ruleset named `default` when a request names none."""
        plaid.handlers[EVALUATE] = without_addendum("default")
        extra = '[rulesets.default]\ntype = "balance_only"\n'
        harness = await serve(plaid, tmp_path, extra)
        try:
            request = payment(user=pb.PaymentUser(email_address="ada@example.com"))
            reply = await harness.stub.EvaluatePayment(request, timeout=10)
        finally:
            await stop(harness)
        assert reply.decision.applied_ruleset_key == "default"
        assert reply.decision.realtime_balance.attempted
        (sent,) = plaid.bodies(EVALUATE)
        assert "user" not in sent
        assert "ruleset_key" not in sent

    async def test_a_transaction_scores_ruleset_still_gets_them(
        self, plaid: StandIn, harness: Harness
    ) -> None:
        plaid.handlers[EVALUATE] = lambda _: (200, documented_answer(EVALUATE), 0)
        request = payment(
            ruleset_key="onboarding_flow",
            is_recurring=True,
            user=pb.PaymentUser(email_address="ada@example.com"),
            device=pb.PaymentDevice(ip_address="203.0.113.9"),
        )
        await harness.stub.EvaluatePayment(request, timeout=10)
        (sent,) = plaid.bodies(EVALUATE)
        assert sent["user"] == {"email_address": "ada@example.com"}
        assert sent["device"] == {"ip_address": "203.0.113.9"}
        assert sent["is_recurring"] is True
        assert sent["default_payment_method"] == "STANDARD_ACH"


FAST_ATTEMPTS = """
[plaid]
scores_attempt_timeout_s = 0.3
"""
DEGRADE_TO_REVIEW = """
[[degraded.default.rules]]
result = "REVIEW"
"""


def refused_retry(plaid: StandIn) -> None:
    """The first attempt is held past the client's timeout (and completes when the
    stand-in stops, as Plaid's does); the retry with the same id is answered
    CLIENT_TRANSACTION_ID_ALREADY_IN_USE."""
    answers = iter(
        [
            (200, documented_answer(EVALUATE), HELD),
            (*documented_error("CLIENT_TRANSACTION_ID_ALREADY_IN_USE"), 0),
        ]
    )
    plaid.handlers[EVALUATE] = lambda _: next(answers)


class TestOwnRetriesRefused:
    async def test_fail_closed_is_unavailable_with_an_unknown_outcome(
        self, plaid: StandIn, tmp_path: Path
    ) -> None:
        refused_retry(plaid)
        harness = await serve(plaid, tmp_path, FAST_ATTEMPTS)
        try:
            request = payment(ruleset_key="onboarding_flow")
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await harness.stub.EvaluatePayment(request, timeout=10)
        finally:
            await stop(harness)
        error = raised.value
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        details = error_details(error)
        info = details[error_details_pb2.ErrorInfo]
        assert (info.domain, info.reason) == ("achrisk", "PLAID_OUTCOME_UNKNOWN")
        assert info.metadata["plaidErrorCode"] == "CLIENT_TRANSACTION_ID_ALREADY_IN_USE"
        assert error_details_pb2.RetryInfo not in details  # the same id cannot help
        assert "its result is unknown" in (error.details() or "")
        sent = plaid.bodies(EVALUATE)
        assert len(sent) == 2
        assert sent[0]["client_transaction_id"] == sent[1]["client_transaction_id"]

    async def test_a_degraded_policy_answers_and_the_decision_is_stored(
        self, plaid: StandIn, tmp_path: Path
    ) -> None:
        refused_retry(plaid)
        harness = await serve(plaid, tmp_path, FAST_ATTEMPTS + DEGRADE_TO_REVIEW)
        try:
            request = payment(ruleset_key="onboarding_flow")
            decision = (
                await harness.stub.EvaluatePayment(request, timeout=10)
            ).decision
            stored = await harness.stub.GetDecision(
                pb.GetDecisionRequest(
                    client_transaction_id=request.client_transaction_id
                ),
                timeout=10,
            )
        finally:
            await stop(harness)
        assert decision.degraded
        assert decision.result == pb.DECISION_RESULT_REVIEW
        cause = decision.degraded_cause
        assert cause.failure_class == "TIMEOUT"
        assert cause.error_code == "CLIENT_TRANSACTION_ID_ALREADY_IN_USE"
        assert "its result is unknown" in cause.message
        assert [c.http_status for c in decision.plaid_calls] == [0, 400]
        assert stored.decision.degraded_cause == cause

    async def test_in_use_on_our_first_attempt_is_already_exists(
        self, plaid: StandIn, harness: Harness
    ) -> None:
        plaid.handlers[EVALUATE] = lambda _: (
            *documented_error("CLIENT_TRANSACTION_ID_ALREADY_IN_USE"),
            0,
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await harness.stub.EvaluatePayment(payment(), timeout=10)
        assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
        info = error_details(raised.value)[error_details_pb2.ErrorInfo]
        assert (info.domain, info.reason) == (
            "plaid.com",
            "CLIENT_TRANSACTION_ID_ALREADY_IN_USE",
        )


class TestAskingAgainAfterAnUnknownOutcome:
    async def test_the_same_id_later_is_still_an_unknown_outcome_not_a_conflict(
        self, plaid: StandIn, tmp_path: Path
    ) -> None:
        """The caller retries the id after our call failed: Plaid refuses it, and the
        ledger remembers that the id went out from here."""
        refused_retry(plaid)
        harness = await serve(plaid, tmp_path, FAST_ATTEMPTS)
        try:
            request = payment(ruleset_key="onboarding_flow")
            with pytest.raises(grpc.aio.AioRpcError):
                await harness.stub.EvaluatePayment(request, timeout=10)
            plaid.handlers[EVALUATE] = lambda _: (
                *documented_error("CLIENT_TRANSACTION_ID_ALREADY_IN_USE"),
                0,
            )
            with pytest.raises(grpc.aio.AioRpcError) as again:
                await harness.stub.EvaluatePayment(request, timeout=10)
        finally:
            await stop(harness)
        assert again.value.code() == grpc.StatusCode.UNAVAILABLE
        info = error_details(again.value)[error_details_pb2.ErrorInfo]
        assert info.reason == "PLAID_OUTCOME_UNKNOWN"
        assert len(plaid.bodies(EVALUATE)) == 3

    async def test_a_server_error_then_in_use_is_an_unknown_outcome(
        self, plaid: StandIn, harness: Harness
    ) -> None:
        """A 500 may still have evaluated the id: any earlier attempt counts."""
        answers = iter(
            [
                (*documented_error("INTERNAL_SERVER_ERROR"), 0),
                (*documented_error("CLIENT_TRANSACTION_ID_ALREADY_IN_USE"), 0),
            ]
        )
        plaid.handlers[EVALUATE] = lambda _: next(answers)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await harness.stub.EvaluatePayment(payment(), timeout=10)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        info = error_details(raised.value)[error_details_pb2.ErrorInfo]
        assert info.reason == "PLAID_OUTCOME_UNKNOWN"

    async def test_a_timed_out_balance_only_call_may_have_extracted(
        self, plaid: StandIn, tmp_path: Path
    ) -> None:
        """Degraded after a timeout: attempted (Plaid may have billed it), not fetched."""
        plaid.handlers[EVALUATE] = lambda _: (
            200,
            balance_only_answer("balance-live"),
            HELD,
        )
        extra = "[plaid]\nlive_balance_attempt_timeout_s = 0.3\nlive_balance_budget_s = 0.5\n"
        harness = await serve(plaid, tmp_path, extra + DEGRADE_TO_REVIEW)
        try:
            request = payment(ruleset_key="balance-live")
            decision = (
                await harness.stub.EvaluatePayment(request, timeout=10)
            ).decision
        finally:
            await stop(harness)
        realtime = decision.realtime_balance
        assert decision.degraded
        assert realtime.basis == pb.REALTIME_BALANCE_BASIS_NO_PLAID_RESPONSE
        assert (realtime.attempted, realtime.fetched) == (True, False)
        assert codes(decision) == ["LIVE_EXTRACTION_OUTCOME_UNKNOWN"]


class TestRateLimits:
    async def test_a_rate_limit_is_resource_exhausted_after_one_call(
        self, plaid: StandIn, harness: Harness
    ) -> None:
        plaid.handlers[EVALUATE] = lambda _: (*documented_error("RATE_LIMIT"), 0)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await harness.stub.EvaluatePayment(payment(), timeout=10)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        retry = error_details(raised.value)[error_details_pb2.RetryInfo]
        assert retry.retry_delay.seconds == 60
        assert len(plaid.bodies(EVALUATE)) == 1
