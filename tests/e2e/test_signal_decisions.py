"""ACH rails: the ruleset's result, or the score policy when Plaid applied no ruleset."""

from __future__ import annotations

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from tests.conftest import EmulatorAdmin, Harness, default_scenario, payment


async def decide(harness: Harness, request: pb.EvaluatePaymentRequest) -> pb.Decision:
    decision: pb.Decision = (
        await harness.stub.EvaluatePayment(request, timeout=10)
    ).decision
    return decision


class TestRulesetResults:
    async def test_a_triggered_rule_is_reported_with_its_action(
        self, harness: Harness
    ) -> None:
        request = payment(
            "access-sandbox-low-balance",
            "checking-low",
            amount="50.00",
            ruleset_key="balance-only",
        )
        decision = await decide(harness, request)
        assert decision.result == pb.DECISION_RESULT_REROUTE
        assert decision.source == pb.DECISION_SOURCE_SIGNAL_RULESET
        assert decision.triggered_rule.custom_action_key == "insufficient-funds"
        assert decision.triggered_rule.internal_note
        assert not decision.HasField("scores")

    async def test_an_sts_ruleset_reports_scores_and_the_rule(
        self, harness: Harness
    ) -> None:
        request = payment(
            "access-sandbox-risky", "checking-risky", ruleset_key="sts-scores-only"
        )
        decision = await decide(harness, request)
        assert decision.result == pb.DECISION_RESULT_REROUTE
        assert decision.triggered_rule.custom_action_key == "high-bank-return-risk"
        assert decision.scores.customer_initiated_return_risk.score == 85
        assert decision.scores.bank_initiated_return_risk.score == 92
        # Plaid's documented answer carries no (deprecated) tier: 0 says "none sent".
        assert decision.scores.bank_initiated_return_risk.risk_tier == 0

    async def test_the_deprecated_tiers_are_passed_on_when_plaid_sends_them(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        scenario = default_scenario()
        scenario["deprecated_fields"] = True
        await admin.put_scenario(scenario)
        request = payment(
            "access-sandbox-risky", "checking-risky", ruleset_key="sts-scores-only"
        )
        scores = (await decide(harness, request)).scores
        assert 1 <= scores.customer_initiated_return_risk.risk_tier <= 5
        assert 1 <= scores.bank_initiated_return_risk.risk_tier <= 8

    async def test_the_request_reaches_plaid_with_its_id_and_ruleset(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        request = payment(
            ruleset_key="sts-scores-only", client_transaction_id="order-77-a"
        )
        decision = await decide(harness, request)
        truth = await admin.call_for("order-77-a")
        assert truth["endpoint"] == "/signal/evaluate"
        assert truth["ruleset_key"] == "sts-scores-only"
        assert decision.client_transaction_id == "order-77-a"
        assert [c.endpoint for c in decision.plaid_calls] == ["/signal/evaluate"]
        assert decision.plaid_calls[0].http_status == 200


class TestScorePolicy:
    async def test_high_scores_reroute_without_a_ruleset(
        self, harness: Harness
    ) -> None:
        decision = await decide(
            harness, payment("access-sandbox-risky", "checking-risky")
        )
        assert decision.result == pb.DECISION_RESULT_REROUTE
        assert decision.source == pb.DECISION_SOURCE_SIGNAL_NO_RULESET
        assert {r.code for r in decision.reasons} == {"SCORE_AT_REROUTE_THRESHOLD"}
        assert decision.applied_ruleset_key == ""

    async def test_low_scores_accept_without_a_ruleset(self, harness: Harness) -> None:
        decision = await decide(harness, payment())
        assert decision.result == pb.DECISION_RESULT_ACCEPT
        assert [r.code for r in decision.reasons] == ["SCORES_BELOW_THRESHOLDS"]

    async def test_no_scores_and_no_ruleset_is_reviewed(self, harness: Harness) -> None:
        request = payment("access-sandbox-relink", "checking-relink")
        decision = await decide(harness, request)
        assert decision.result == pb.DECISION_RESULT_REVIEW
        assert [r.code for r in decision.reasons] == ["NO_SCORES"]
        assert "ITEM_LOGIN_REQUIRED" in decision.reasons[0].message


class TestAmounts:
    async def test_the_amount_reaches_plaid_exactly(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        """100.00 available: 100.00 passes balance-only's `available < amount`, 100.01 not."""
        ok = await decide(harness, payment(amount="100.00", ruleset_key="balance-only"))
        short = await decide(
            harness, payment(amount="100.01", ruleset_key="balance-only")
        )
        assert ok.result == pb.DECISION_RESULT_ACCEPT
        assert short.result == pb.DECISION_RESULT_REROUTE
        assert (short.amount.units, short.amount.nanos) == (100, 10_000_000)
