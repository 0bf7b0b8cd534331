"""ReportDecision, ReportReturn and GetDecision: the ledger read back and the outbox fed."""

from __future__ import annotations

from collections.abc import Callable

from service.app.clock import Clock
from service.app.errors import NotReportable, ReportingOff, TransactionNotFound
from service.app.ports import (
    DecisionReport,
    ReportFormat,
    ReportInbox,
    ReportKind,
    ReportRecord,
    ReturnReport,
    StoredDecision,
    UnknownTransaction,
)
from service.domain.model import SIGNAL_EVALUATE, Basis, Decision


class Reports:
    """Reads decisions back and accepts reports about them for durable delivery."""

    def __init__(
        self,
        store: ReportInbox,
        formats: ReportFormat,
        clock: Clock,
        wake_outbox: Callable[[], None],
        *,
        report_balance_only: bool,
    ) -> None:
        self._report_balance_only = report_balance_only
        self._store = store
        self._formats = formats
        self._clock = clock
        self._wake = wake_outbox

    async def get(self, caller: str, txid: str) -> StoredDecision:
        """The caller's stored decision; another caller's is as good as missing."""
        stored = await self._store.get(caller, txid)
        if stored is None:
            raise TransactionNotFound(f"no decision is stored for {txid!r}")
        return stored

    async def report_decision(
        self, caller: str, report: DecisionReport
    ) -> ReportRecord:
        txid = report.client_transaction_id
        await self._reportable(caller, txid)
        body = self._formats.decision_report(report)
        return await self._accept(caller, txid, ReportKind.DECISION, body)

    async def report_return(self, caller: str, report: ReturnReport) -> ReportRecord:
        txid = report.client_transaction_id
        await self._reportable(caller, txid)
        body = self._formats.return_report(report)
        return await self._accept(caller, txid, ReportKind.RETURN, body)

    async def _reportable(self, caller: str, txid: str) -> None:
        """Plaid takes reports only about transactions its /signal/evaluate answered."""
        decision = (await self.get(caller, txid)).decision
        if not any(
            c.endpoint == SIGNAL_EVALUATE and 200 <= c.http_status < 300
            for c in decision.plaid_calls
        ):
            raise NotReportable(
                f"{txid!r} was never evaluated by Plaid Signal (a non-ACH rail, or a "
                "degraded decision), so Plaid cannot take reports about it"
            )
        if not self._report_balance_only and _balance_only(decision):
            raise ReportingOff(
                f"{txid!r} was decided by a Balance-only ruleset and reports about "
                "Balance-only decisions are turned off ([outbox] report_balance_only "
                "= false): nothing is sent to Plaid"
            )

    async def _accept(
        self, caller: str, txid: str, kind: ReportKind, body: dict[str, object]
    ) -> ReportRecord:
        try:
            record = await self._store.add_report(
                caller, txid, kind, body, self._clock.now()
            )
        except UnknownTransaction as exc:
            raise TransactionNotFound(f"no decision is stored for {txid!r}") from exc
        self._wake()
        return record


def _balance_only(decision: Decision) -> bool:
    """Plaid applied a Balance-only ruleset: declared so, or inferred from the answer."""
    basis = decision.realtime.basis
    return basis is Basis.RULESET_BALANCE_ONLY or (
        basis is Basis.INFERRED_FROM_RESPONSE and decision.realtime.was_attempted
    )
