"""Non-ACH rails: /accounts/balance/get and the configured balance policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google.type.money_pb2 import Money

from plaid_emulator import RunningEmulator
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from tests.conftest import EmulatorAdmin, Harness, payment, start_harness, stop_harness

RTP, WIRE = pb.PAYMENT_RAIL_RTP, pb.PAYMENT_RAIL_WIRE


def reason_codes(decision: pb.Decision) -> list[str]:
    return [r.code for r in decision.reasons]


async def decide(harness: Harness, request: pb.EvaluatePaymentRequest) -> pb.Decision:
    decision: pb.Decision = (
        await harness.stub.EvaluatePayment(request, timeout=10)
    ).decision
    return decision


class TestBalancePolicy:
    @pytest.mark.parametrize(
        ("amount", "result", "reason"),
        [
            ("100.00", pb.DECISION_RESULT_ACCEPT, "BALANCE_COVERS_AMOUNT"),
            ("100.01", pb.DECISION_RESULT_REROUTE, "BALANCE_BELOW_REQUIRED"),
            ("0.01", pb.DECISION_RESULT_ACCEPT, "BALANCE_COVERS_AMOUNT"),
        ],
    )
    async def test_available_is_compared_with_the_amount_to_the_cent(
        self, harness: Harness, amount: str, result: int, reason: str
    ) -> None:
        """checking-ok has 100.00 available; RTP has no margin by default."""
        decision = await decide(harness, payment(amount=amount, rail=RTP))
        assert decision.result == result
        assert decision.source == pb.DECISION_SOURCE_BALANCE_POLICY
        assert reason_codes(decision) == [reason]
        assert (
            decision.realtime_balance.basis
            == pb.REALTIME_BALANCE_BASIS_BALANCE_ENDPOINT
        )

    @pytest.mark.parametrize(
        ("amount", "result"),
        [("95.23", pb.DECISION_RESULT_ACCEPT), ("95.24", pb.DECISION_RESULT_REROUTE)],
    )
    async def test_the_wire_margin_is_applied(
        self, harness: Harness, amount: str, result: int
    ) -> None:
        """Wire needs available >= amount x 1.05: 95.23 x 1.05 = 99.9915, 95.24 -> 100.002."""
        decision = await decide(harness, payment(amount=amount, rail=WIRE))
        assert decision.result == result

    async def test_a_null_available_balance_is_reviewed(self, harness: Harness) -> None:
        request = payment(
            "access-sandbox-null-available", "checking-null-available", rail=RTP
        )
        decision = await decide(harness, request)
        assert decision.result == pb.DECISION_RESULT_REVIEW
        assert reason_codes(decision) == ["AVAILABLE_BALANCE_MISSING"]
        assert not decision.balance.HasField("available")
        assert decision.balance.current.units == 1000

    async def test_a_balance_older_than_allowed_is_reviewed(
        self, harness: Harness
    ) -> None:
        request = payment(
            "access-sandbox-cached-only", "checking-cached-stale", rail=RTP
        )
        decision = await decide(harness, request)
        assert decision.result == pb.DECISION_RESULT_REVIEW
        assert reason_codes(decision) == ["BALANCE_TOO_OLD"]
        assert decision.realtime_balance.fetched is False

    async def test_a_cached_but_recent_balance_decides_and_says_it_was_cached(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        request = payment(
            "access-sandbox-cached-only", "checking-cached-fresh", rail=RTP
        )
        decision = await decide(harness, request)
        assert decision.result == pb.DECISION_RESULT_ACCEPT
        assert decision.realtime_balance.fetched is False
        assert [w.code for w in decision.realtime_balance.warnings] == [
            "BALANCE_TIMESTAMP_PREDATES_CALL"
        ]
        assert 590 <= decision.balance.age_seconds <= 610
        assert (await admin.calls())[-1]["realtime_balance_fetched"] is False

    async def test_a_payment_in_another_currency_is_reviewed(
        self, harness: Harness
    ) -> None:
        request = payment(rail=RTP)
        request.amount.CopyFrom(Money(currency_code="EUR", units=10))
        decision = await decide(harness, request)
        assert decision.result == pb.DECISION_RESULT_REVIEW
        assert reason_codes(decision) == ["CURRENCY_MISMATCH"]


class TestConfiguredPolicy:
    @pytest.fixture
    async def lenient(
        self, emulator: RunningEmulator, tmp_path: Path, database_url: str
    ) -> AsyncIterator[Harness]:
        config = tmp_path / "config.toml"
        config.write_text(
            "[balance_policy.default]\nallow_current_fallback = true\n"
            '[balance_policy.rails.rtp]\nmargin = "0.10"\n'
        )
        running = await start_harness(emulator.url, config, database_url=database_url)
        yield running
        await stop_harness(running)

    async def test_current_is_used_when_the_policy_allows(
        self, lenient: Harness
    ) -> None:
        request = payment(
            "access-sandbox-null-available",
            "checking-null-available",
            amount="999.99",
            rail=WIRE,
        )
        decision = await decide(lenient, request)
        assert decision.result == pb.DECISION_RESULT_ACCEPT
        assert reason_codes(decision) == [
            "USED_CURRENT_BALANCE",
            "BALANCE_COVERS_AMOUNT",
        ]

    async def test_a_rail_override_changes_only_that_rail(
        self, lenient: Harness
    ) -> None:
        """RTP needs 10 % headroom: 91.00 x 1.1 = 100.1 > 100.00 available."""
        assert (await decide(lenient, payment(amount="91.00", rail=RTP))).result == (
            pb.DECISION_RESULT_REROUTE
        )
        assert (
            await decide(lenient, payment(amount="91.00", rail=pb.PAYMENT_RAIL_FEDNOW))
        ).result == pb.DECISION_RESULT_ACCEPT
