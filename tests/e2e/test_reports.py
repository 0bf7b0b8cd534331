"""ReportDecision and ReportReturn: validated, stored, acknowledged, then delivered."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from plaid_emulator import RunningEmulator
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from tests.conftest import (
    EmulatorAdmin,
    Harness,
    packaged_config_plus,
    payment,
    sample,
    scrape,
    start_harness,
    stop_harness,
    usd,
)

DECISION_REPORT = "/signal/decision/report"


@pytest.fixture
def database_url(both_stores_url: str) -> str:
    """Every test here runs on both stores."""
    return both_stores_url


RETURN_REPORT = "/signal/return/report"


async def delivered(
    admin: EmulatorAdmin, endpoint: str, count: int = 1
) -> list[dict[str, Any]]:
    for _ in range(100):
        found = [
            c
            for c in await admin.calls()
            if c["endpoint"] == endpoint and c["status"] == 200
        ]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{endpoint} not delivered: {await admin.calls()}")


async def evaluated(harness: Harness, txid: str) -> None:
    await harness.stub.EvaluatePayment(payment(client_transaction_id=txid), timeout=10)


class TestDecisionReports:
    async def test_a_report_is_acknowledged_then_delivered_as_sent(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        await evaluated(harness, "rep-1")
        submitted = Timestamp(seconds=1_790_000_000)
        reply = await harness.stub.ReportDecision(
            pb.ReportDecisionRequest(
                client_transaction_id="rep-1",
                initiated=True,
                days_funds_on_hold=2,
                decision_outcome=pb.DECISION_OUTCOME_APPROVE,
                payment_method=pb.PAYMENT_METHOD_SAME_DAY_ACH,
                amount_instantly_available=usd("12.34"),
                submit_time=submitted,
            ),
            timeout=10,
        )
        assert reply.delivery.status == pb.DELIVERY_STATUS_PENDING
        call = (await delivered(admin, DECISION_REPORT))[0]
        assert call["client_transaction_id"] == "rep-1"
        report = call["report"]
        assert report["initiated"] is True
        assert report["days_funds_on_hold"] == 2
        assert report["decision_outcome"] == "APPROVE"
        assert report["payment_method"] == "SAME_DAY_ACH"
        assert report["amount_instantly_available"] == 12.34
        stored = (
            await harness.stub.GetDecision(
                pb.GetDecisionRequest(client_transaction_id="rep-1"), timeout=10
            )
        ).decision
        for _ in range(50):
            if stored.reports[0].status == pb.DELIVERY_STATUS_DELIVERED:
                break
            await asyncio.sleep(0.05)
            stored = (
                await harness.stub.GetDecision(
                    pb.GetDecisionRequest(client_transaction_id="rep-1"), timeout=10
                )
            ).decision
        assert stored.reports[0].status == pb.DELIVERY_STATUS_DELIVERED
        assert stored.reports[0].kind == pb.REPORT_KIND_DECISION

    async def test_a_report_about_an_unknown_transaction_is_not_found(
        self, harness: Harness
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await harness.stub.ReportDecision(
                pb.ReportDecisionRequest(client_transaction_id="nope", initiated=True),
                timeout=10,
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_initiated_is_required(self, harness: Harness) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await harness.stub.ReportDecision(
                pb.ReportDecisionRequest(client_transaction_id="rep-x"), timeout=10
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_a_non_ach_decision_cannot_be_reported_to_signal(
        self, harness: Harness
    ) -> None:
        await harness.stub.EvaluatePayment(
            payment(client_transaction_id="rtp-1", rail=pb.PAYMENT_RAIL_RTP), timeout=10
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await harness.stub.ReportDecision(
                pb.ReportDecisionRequest(client_transaction_id="rtp-1", initiated=True),
                timeout=10,
            )
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


class TestReturnReports:
    async def test_a_return_is_delivered_after_its_decision_report(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        await evaluated(harness, "ret-1")
        await harness.stub.ReportDecision(
            pb.ReportDecisionRequest(client_transaction_id="ret-1", initiated=True),
            timeout=10,
        )
        await harness.stub.ReportReturn(
            pb.ReportReturnRequest(client_transaction_id="ret-1", return_code="R01"),
            timeout=10,
        )
        call = (await delivered(admin, RETURN_REPORT))[0]
        assert call["report"]["return_code"] == "R01"

    @pytest.mark.parametrize("code", ["R00", "R86", "X01", "r01", ""])
    async def test_a_bad_return_code_is_refused(
        self, harness: Harness, code: str
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await harness.stub.ReportReturn(
                pb.ReportReturnRequest(client_transaction_id="ret-x", return_code=code),
                timeout=10,
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_a_report_plaid_refuses_for_good_is_dead_lettered(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        await evaluated(harness, "dead-1")
        await admin.fault(endpoint=DECISION_REPORT, error_code="ADDENDUM_NOT_SIGNED")
        await harness.stub.ReportDecision(
            pb.ReportDecisionRequest(client_transaction_id="dead-1", initiated=True),
            timeout=10,
        )
        for _ in range(100):
            stored = (
                await harness.stub.GetDecision(
                    pb.GetDecisionRequest(client_transaction_id="dead-1"), timeout=10
                )
            ).decision
            if stored.reports[0].status != pb.DELIVERY_STATUS_PENDING:
                break
            await asyncio.sleep(0.05)
        assert stored.reports[0].status == pb.DELIVERY_STATUS_DEAD_LETTERED
        assert stored.reports[0].last_error_code == "ADDENDUM_NOT_SIGNED"
        # At once: one attempt, not retried until some limit.
        assert stored.reports[0].attempt_count == 1
        metrics = await scrape(harness)
        series = (
            'achrisk_outbox_dead_letters_total{kind="DECISION",'
            'reason="ADDENDUM_NOT_SIGNED"}'
        )
        assert sample(metrics, series) == 1

    async def test_reports_about_balance_only_decisions_can_be_turned_off(
        self,
        emulator: RunningEmulator,
        admin: EmulatorAdmin,
        database_url: str,
        tmp_path: Path,
    ) -> None:
        """A Plaid client without the Signal Addendum: nothing would ever be accepted."""
        config = packaged_config_plus(
            tmp_path, "[outbox]\nreport_balance_only = false\n"
        )
        harness = await start_harness(emulator.url, config, database_url=database_url)
        try:
            for txid, ruleset in (
                ("off-bal", "balance-only"),
                ("on-sts", "sts-scores-only"),
            ):
                await harness.stub.EvaluatePayment(
                    payment(client_transaction_id=txid, ruleset_key=ruleset), timeout=10
                )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await harness.stub.ReportDecision(
                    pb.ReportDecisionRequest(
                        client_transaction_id="off-bal", initiated=True
                    ),
                    timeout=10,
                )
            reply = await harness.stub.ReportDecision(
                pb.ReportDecisionRequest(
                    client_transaction_id="on-sts", initiated=True
                ),
                timeout=10,
            )
        finally:
            await stop_harness(harness)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "report_balance_only" in (caught.value.details() or "")
        assert reply.delivery.status == pb.DELIVERY_STATUS_PENDING
