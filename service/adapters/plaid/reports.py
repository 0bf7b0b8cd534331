"""PlaidReportSender: one delivery attempt of an outbox report (the outbox retries)."""

from __future__ import annotations

from typing import Any

from service.adapters.plaid.http import PlaidTransport
from service.app.clock import Clock
from service.app.errors import DeadlineTooShort
from service.app.ports import CallBudget, ReportKind
from service.domain.model import PlaidCall

ENDPOINTS = {
    ReportKind.DECISION: "/signal/decision/report",
    ReportKind.RETURN: "/signal/return/report",
}


class PlaidReportSender:
    """POSTs stored report bodies to Plaid's report endpoints."""

    def __init__(self, transport: PlaidTransport, clock: Clock) -> None:
        self._transport = transport
        self._clock = clock

    async def send_report(
        self, kind: ReportKind, body: dict[str, Any], budget: CallBudget
    ) -> PlaidCall:
        timeout_s = min(budget.left_s(self._clock), budget.attempt_timeout_s)
        if timeout_s <= 0:
            raise DeadlineTooShort("no time left to deliver the report")
        reply = await self._transport.post(ENDPOINTS[kind], body, timeout_s)
        return reply.call
