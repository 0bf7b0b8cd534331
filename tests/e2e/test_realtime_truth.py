"""Every row of the basis table: the service's realtime_balance equals the emulator's
ground truth, attempted and fetched both."""

from __future__ import annotations

from typing import Any

import pytest

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from tests.conftest import EmulatorAdmin, Harness, default_scenario, payment

ACH = pb.PAYMENT_RAIL_ACH_STANDARD
RTP = pb.PAYMENT_RAIL_RTP
B = pb.RealtimeBalanceBasis


def basis_name(decision: pb.Decision) -> str:
    return B.Name(decision.realtime_balance.basis).removeprefix(
        "REALTIME_BALANCE_BASIS_"
    )


def warning_codes(decision: pb.Decision) -> list[str]:
    return [w.code for w in decision.realtime_balance.warnings]


ROWS = [
    # (case, token, account, rail, ruleset_key, basis, attempted, fetched)
    (
        "balance-only ruleset, declared",
        "access-sandbox-checking-ok",
        "checking-ok",
        ACH,
        "balance-only",
        "RULESET_BALANCE_ONLY",
        True,
        True,
    ),
    (
        "STS ruleset with a balance rule, declared: cached, never live",
        "access-sandbox-checking-ok",
        "checking-ok",
        ACH,
        "sts-with-balance",
        "RULESET_TRANSACTION_SCORES",
        False,
        False,
    ),
    (
        "STS ruleset without a balance rule, declared",
        "access-sandbox-checking-ok",
        "checking-ok",
        ACH,
        "sts-scores-only",
        "RULESET_TRANSACTION_SCORES",
        False,
        False,
    ),
    (
        "no ruleset (scores only)",
        "access-sandbox-checking-ok",
        "checking-ok",
        ACH,
        "",
        "NO_RULESET",
        False,
        False,
    ),
    (
        "undeclared Balance-only ruleset: inferred from the shape",
        "access-sandbox-checking-ok",
        "checking-ok",
        ACH,
        "unregistered-balance-only",
        "INFERRED_FROM_RESPONSE",
        True,
        True,
    ),
    (
        "undeclared STS ruleset: inferred from the shape",
        "access-sandbox-checking-ok",
        "checking-ok",
        ACH,
        "unregistered-sts",
        "INFERRED_FROM_RESPONSE",
        False,
        False,
    ),
    (
        "balance endpoint, live institution",
        "access-sandbox-checking-ok",
        "checking-ok",
        RTP,
        "",
        "BALANCE_ENDPOINT",
        True,
        True,
    ),
    (
        "balance endpoint, cached-only institution",
        "access-sandbox-cached-only",
        "checking-cached-fresh",
        RTP,
        "",
        "BALANCE_ENDPOINT",
        True,
        False,
    ),
    (
        "balance endpoint, cached-only and older than allowed: refused by Plaid",
        "access-sandbox-cached-only",
        "checking-cached-stale",
        RTP,
        "",
        "BALANCE_ENDPOINT",
        False,
        False,
    ),
    (
        "Balance-only ruleset, the bank does not answer: attempted, billed, not fetched",
        "access-sandbox-bank-not-responding",
        "checking-bank-not-responding",
        ACH,
        "balance-only",
        "RULESET_BALANCE_ONLY",
        True,
        False,
    ),
    (
        "Balance-only ruleset, but the Item needs re-linking (no balance)",
        "access-sandbox-relink",
        "checking-relink",
        ACH,
        "balance-only",
        "RULESET_BALANCE_ONLY",
        True,
        False,
    ),
]


class TestRealtimeBalanceMatchesGroundTruth:
    @pytest.mark.parametrize(
        (
            "case",
            "token",
            "account",
            "rail",
            "ruleset",
            "basis",
            "attempted",
            "fetched",
        ),
        ROWS,
        ids=[r[0] for r in ROWS],
    )
    async def test_the_report_equals_what_the_emulator_did(
        self,
        harness: Harness,
        admin: EmulatorAdmin,
        case: str,
        token: str,
        account: str,
        rail: pb.PaymentRail,
        ruleset: str,
        basis: str,
        attempted: bool,
        fetched: bool,
    ) -> None:
        request = payment(token, account, rail=rail, ruleset_key=ruleset)
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        truth = (await admin.calls())[-1]
        assert basis_name(decision) == basis
        assert decision.realtime_balance.attempted is attempted
        assert decision.realtime_balance.fetched is fetched
        assert truth["realtime_balance_attempted"] is attempted
        assert truth["realtime_balance_fetched"] is fetched
        assert list(decision.plaid_request_ids) == [truth["request_id"]]

    async def test_the_applied_ruleset_not_the_requested_one_decides(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        """The scenario's default ruleset is Balance-only; the request names none."""
        scenario = default_scenario()
        scenario["default_ruleset"] = "balance-only"
        await admin.put_scenario(scenario)
        decision = (await harness.stub.EvaluatePayment(payment(), timeout=10)).decision
        assert decision.requested_ruleset_key == ""
        assert decision.applied_ruleset_key == "balance-only"
        assert basis_name(decision) == "RULESET_BALANCE_ONLY"
        assert decision.realtime_balance.fetched is True
        assert (await admin.calls())[-1]["realtime_balance_fetched"] is True


class TestDisagreementsAreReported:
    async def test_balance_rules_of_a_transaction_scores_ruleset_ran_on_a_cache(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        """Plaid: an STS ruleset does not extract live, whatever its rules test."""
        request = payment(ruleset_key="sts-with-balance")
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        assert basis_name(decision) == "RULESET_TRANSACTION_SCORES"
        assert not decision.realtime_balance.attempted
        assert not decision.realtime_balance.fetched
        assert warning_codes(decision) == ["BALANCE_RULES_RAN_ON_CACHED_BALANCE"]
        message = decision.realtime_balance.warnings[0].message
        age = decision.balance.age_seconds
        assert f"ran on a cached balance {age} s old" in message or (
            f"ran on a cached balance {age - 1} s old" in message
        )
        truth = (await admin.calls())[-1]
        assert truth["realtime_balance_fetched"] is False

    async def test_a_declared_transaction_scores_ruleset_answering_balance_only(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        """The registry says Transaction Scores; Plaid's answer has the Balance-only
        shape: flagged, and not claimed as a fetch."""
        scenario = default_scenario()
        _ruleset(scenario, "sts-scores-only")["kind"] = "balance_only"
        _ruleset(scenario, "sts-scores-only")["rules"] = [{"result": "ACCEPT"}]
        await admin.put_scenario(scenario)
        request = payment(ruleset_key="sts-scores-only")
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        assert basis_name(decision) == "RULESET_TRANSACTION_SCORES"
        assert not decision.realtime_balance.fetched
        assert "DECLARED_TRANSACTION_SCORES_BUT_BALANCE_ONLY_SHAPE" in warning_codes(
            decision
        )

    async def test_agreeing_evidence_produces_no_warnings(
        self, harness: Harness
    ) -> None:
        for ruleset in ("balance-only", "sts-scores-only"):
            request = payment(ruleset_key=ruleset)
            decision = (
                await harness.stub.EvaluatePayment(request, timeout=10)
            ).decision
            assert warning_codes(decision) == [], ruleset


class TestEvidenceTravelsWithTheDecision:
    async def test_a_live_fetch_reports_values_time_and_age(
        self, harness: Harness
    ) -> None:
        request = payment(ruleset_key="balance-only")
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        balance = decision.balance
        assert (balance.available.units, balance.available.nanos) == (100, 0)
        assert (balance.current.units, balance.current.nanos) == (110, 0)
        assert balance.currency_code == "USD"
        assert balance.as_of_source == pb.BALANCE_TIME_SOURCE_RESPONSE_TIME
        assert 0 <= balance.age_seconds <= 5

    async def test_every_core_attribute_travels_and_is_stored(
        self, harness: Harness
    ) -> None:
        """All of Plaid's core_attributes, on the decision and read back from the ledger."""
        request = payment(ruleset_key="sts-scores-only")
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        attributes = dict(decision.core_attributes)
        assert len(attributes) >= 80
        assert attributes["available_balance"] == 100
        assert attributes["current_balance"] == 110
        assert isinstance(attributes["balance_last_updated"], str)
        stored = await harness.stub.GetDecision(
            pb.GetDecisionRequest(client_transaction_id=request.client_transaction_id),
            timeout=10,
        )
        assert stored.decision.core_attributes == decision.core_attributes

    async def test_a_cached_balance_reports_its_true_age(
        self, harness: Harness
    ) -> None:
        """sts-scores-only answers from Plaid's cache, 21,600 s old in the scenario."""
        request = payment(ruleset_key="sts-scores-only")
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        assert 21_590 <= decision.balance.age_seconds <= 21_610

    async def test_balance_only_without_a_timestamp_is_as_of_the_answer(
        self, harness: Harness
    ) -> None:
        request = payment(ruleset_key="balance-only")
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        assert decision.balance.as_of_source == pb.BALANCE_TIME_SOURCE_RESPONSE_TIME
        assert decision.balance.age_seconds == 0


def _ruleset(scenario: dict[str, Any], key: str) -> dict[str, Any]:
    return next(r for r in scenario["rulesets"] if r["key"] == key)


class TestAttemptedButNotFetched:
    async def test_a_failed_extraction_carries_plaids_warning_and_says_why(
        self, harness: Harness
    ) -> None:
        request = payment(
            "access-sandbox-bank-not-responding",
            "checking-bank-not-responding",
            ruleset_key="balance-only",
        )
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        assert [w.warning_code for w in decision.plaid_warnings] == [
            "INSTITUTION_NOT_RESPONDING"
        ]
        assert warning_codes(decision) == ["LIVE_BALANCE_NOT_RETURNED"]
        assert not decision.balance.HasField("available")


class TestNoSilentPass:
    async def test_an_accept_from_a_ruleset_that_saw_no_data_is_held_for_review(
        self, harness: Harness
    ) -> None:
        """The Item needs re-linking: Plaid answers 200 with a warning and no data."""
        request = payment(
            "access-sandbox-relink", "checking-relink", ruleset_key="balance-only"
        )
        decision = (await harness.stub.EvaluatePayment(request, timeout=10)).decision
        assert decision.result == pb.DECISION_RESULT_REVIEW
        assert [r.code for r in decision.reasons] == [
            "RULESET_RESULT",
            "ACCEPT_WITHOUT_EVIDENCE",
        ]
        assert [w.warning_code for w in decision.plaid_warnings] == [
            "ITEM_LOGIN_REQUIRED"
        ]
        assert "LIVE_BALANCE_NOT_RETURNED" in warning_codes(decision)
        assert decision.realtime_balance.attempted
        assert not decision.realtime_balance.fetched
