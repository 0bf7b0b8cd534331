"""RiskDecisionService over grpc.aio: convert, await the shell, convert back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, Protocol, TypeVar

import grpc
import structlog
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc
from service.api import convert, convert_reports
from service.api.batch import ordered
from service.api.callers import CURRENT_CALLER
from service.api.status import to_status
from service.api.wire import Undecodable
from service.app.clock import Clock
from service.app.errors import PlaidFailure, RiskServiceError
from service.app.evaluate import EvaluatePayment
from service.app.ports import StoredDecision
from service.app.rate_budget import WAITED, Waited
from service.app.reports import Reports
from service.domain.billing import Billing, Product, billed_calls, count
from service.domain.model import Decision
from service.ops.metrics import Metrics

log = structlog.get_logger("service.api")
Ctx = grpc.aio.ServicerContext
T = TypeVar("T")
R = TypeVar("R", bound="_Identified")
BATCH_CONCURRENCY = 16


class _Identified(Protocol):
    """A request that names its payment (every unary request of the service does)."""

    @property
    def client_transaction_id(self) -> str: ...


class RiskDecisionServicer(pb_grpc.RiskDecisionServiceServicer):  # type: ignore[misc]
    """The gRPC face of the service; no business rules live here."""

    def __init__(
        self,
        evaluator: EvaluatePayment,
        reports: Reports,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._evaluator = evaluator
        self._reports = reports
        self._metrics = metrics
        self._clock = clock

    async def EvaluatePayment(
        self,
        request: pb.EvaluatePaymentRequest,
        context: Ctx[pb.EvaluatePaymentRequest, pb.EvaluatePaymentResponse],
    ) -> pb.EvaluatePaymentResponse:
        decision = await self._unary(
            "EvaluatePayment",
            request,
            context,
            lambda valid: self._decide(valid, self._deadline(context)),
        )
        return pb.EvaluatePaymentResponse(decision=decision)

    async def EvaluatePayments(
        self,
        request_iterator: AsyncIterator[pb.EvaluatePaymentsRequest],
        context: Ctx[pb.EvaluatePaymentsRequest, pb.EvaluatePaymentsResponse],
    ) -> AsyncIterator[pb.EvaluatePaymentsResponse]:
        _bind("EvaluatePayments", "")
        deadline = self._deadline(context)

        async def answer(
            index: int, item: pb.EvaluatePaymentsRequest | Undecodable
        ) -> pb.EvaluatePaymentsResponse:
            started = self._clock.monotonic()
            if isinstance(
                item, Undecodable
            ):  # answered in its place; the stream goes on
                out = pb.EvaluatePaymentsResponse(index=index)
                out.error.CopyFrom(self._failed(item.error(), started))
                return out
            txid = item.payment.client_transaction_id
            out = pb.EvaluatePaymentsResponse(client_transaction_id=txid, index=index)
            try:
                decision = await self._decide(item.payment, deadline)
            except Exception as exc:
                out.error.CopyFrom(self._failed(exc, started))
            else:
                out.decision.CopyFrom(decision)
            return out

        async for response in ordered(request_iterator, answer, BATCH_CONCURRENCY):
            yield response

    async def GetDecision(
        self,
        request: pb.GetDecisionRequest,
        context: Ctx[pb.GetDecisionRequest, pb.GetDecisionResponse],
    ) -> pb.GetDecisionResponse:
        decision = await self._unary("GetDecision", request, context, self._get)
        return pb.GetDecisionResponse(decision=decision)

    async def ReportDecision(
        self,
        request: pb.ReportDecisionRequest,
        context: Ctx[pb.ReportDecisionRequest, pb.ReportDecisionResponse],
    ) -> pb.ReportDecisionResponse:
        delivery = await self._unary(
            "ReportDecision", request, context, self._report_decision
        )
        return pb.ReportDecisionResponse(delivery=delivery)

    async def ReportReturn(
        self,
        request: pb.ReportReturnRequest,
        context: Ctx[pb.ReportReturnRequest, pb.ReportReturnResponse],
    ) -> pb.ReportReturnResponse:
        delivery = await self._unary(
            "ReportReturn", request, context, self._report_return
        )
        return pb.ReportReturnResponse(delivery=delivery)

    async def _unary(
        self,
        method: str,
        request: R | Undecodable,
        context: Ctx[Any, Any],
        work: Callable[[R], Awaitable[T]],
    ) -> T:
        """The one path of every unary RPC: refuse bytes that did not decode, bind the
        log context, then do `work` inside the error mapping."""
        if isinstance(request, Undecodable):
            await self._refuse(method, context, request)
        _bind(method, request.client_transaction_id)
        return await self._guarded(method, context, work(request))

    async def _refuse(
        self, method: str, context: Ctx[Any, Any], request: Undecodable
    ) -> NoReturn:
        """A request whose bytes did not decode: INVALID_ARGUMENT naming the field."""
        _bind(method, "")

        async def refused() -> NoReturn:
            raise request.error()

        await self._guarded(method, context, refused())
        raise AssertionError("unreachable: _guarded aborts")

    async def _guarded(
        self, method: str, context: Ctx[Any, Any], work: Awaitable[T]
    ) -> T:
        """Await `work`; any exception becomes the mapped gRPC status, logged once."""
        started = self._clock.monotonic()
        try:
            result = await work
        except Exception as exc:
            status = self._failed(exc, started)
            code = code_pb2.Code.Name(status.code)
            self._metrics.rpc_finished(method, code, self._clock.monotonic() - started)
            await context.abort_with_status(rpc_status.to_status(status))
            raise  # abort_with_status always raises; this keeps type checkers honest
        self._metrics.rpc_finished(method, "OK", self._clock.monotonic() - started)
        return result

    def _failed(self, exc: Exception, started: float) -> status_pb2.Status:
        """The status for a failed call (mapped once), logged and counted."""
        status = to_status(exc)
        billed = billed_calls(exc.calls) if isinstance(exc, PlaidFailure) else ()
        code = code_pb2.Code.Name(status.code)
        _log_failure(exc, self._ms_since(started), code, billed)
        self._metrics.failed(exc, CURRENT_CALLER.get(), billed)
        return status

    async def _decide(
        self, request: pb.EvaluatePaymentRequest, deadline: float | None
    ) -> pb.Decision:
        """Convert, evaluate and convert back: every step inside the error mapping."""
        started = self._clock.monotonic()
        WAITED.set(Waited())  # the rate budgets' waits, for the log line
        payment = convert.payment_request(request)
        decision = await self._evaluator.evaluate(
            payment, deadline, CURRENT_CALLER.get()
        )
        # Classified once for the log line and the metrics. A replay made no call:
        # its stored calls were billed, and counted, when the decision was made.
        billed = (
            ()
            if decision.replayed
            else billed_calls(decision.plaid_calls, decision.realtime)
        )
        _log_decision(decision, self._ms_since(started), billed)
        self._metrics.decided(decision, CURRENT_CALLER.get(), billed)
        return convert.decision_pb(decision)

    def _deadline(self, context: Ctx[Any, Any]) -> float | None:
        """The caller's deadline as an absolute monotonic() value on our clock, if it
        set one."""
        remaining = context.time_remaining()
        return None if remaining is None else self._clock.monotonic() + remaining

    def _ms_since(self, started: float) -> int:
        return int((self._clock.monotonic() - started) * 1000)

    async def _get(self, request: pb.GetDecisionRequest) -> pb.Decision:
        txid = convert_reports.get_decision_id(request)
        return _stored_pb(await self._reports.get(CURRENT_CALLER.get(), txid))

    async def _report_decision(
        self, request: pb.ReportDecisionRequest
    ) -> pb.ReportDelivery:
        report = convert_reports.decision_report(request)
        record = await self._reports.report_decision(CURRENT_CALLER.get(), report)
        return convert_reports.delivery_pb(record)

    async def _report_return(
        self, request: pb.ReportReturnRequest
    ) -> pb.ReportDelivery:
        report = convert_reports.return_report(request)
        record = await self._reports.report_return(CURRENT_CALLER.get(), report)
        return convert_reports.delivery_pb(record)


def _bind(method: str, txid: str) -> None:
    """The per-RPC log context; bound before validation, so the id goes in only as
    it may be logged (convert.loggable_id)."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        rpc_method=method,
        caller=CURRENT_CALLER.get(),
        client_transaction_id=convert.loggable_id(txid),
    )


def _stored_pb(stored: StoredDecision) -> pb.Decision:
    out = convert.decision_pb(stored.decision)
    out.replayed = True
    out.reports.extend(convert_reports.delivery_pb(r) for r in stored.reports)
    return out


def _log_decision(
    decision: Decision, duration_ms: int, billed: tuple[Billing, ...]
) -> None:
    log.info(
        "rpc.finished",
        status="OK",
        duration_ms=duration_ms,
        rail=decision.attempt.rail.value,
        result=decision.verdict.result.value,
        source=decision.verdict.source.value,
        realtime_attempted=decision.realtime.was_attempted,
        realtime_fetched=decision.realtime.fetched,
        realtime_basis=decision.realtime.basis.value,
        realtime_warnings=[w.code for w in decision.realtime.warnings],
        plaid_request_ids=[c.request_id for c in decision.plaid_calls if c.request_id],
        attempts=len(decision.plaid_calls),
        billable_balance_extractions=count(billed, Product.BALANCE_EXTRACTION),
        billable_signal_evaluations=count(billed, Product.SIGNAL_TRANSACTION_SCORES),
        replayed=decision.replayed,
        degraded=decision.degraded,
        rate_wait_ms=_rate_wait_ms(),
    )


def _rate_wait_ms() -> int:
    """Time this request waited for Plaid rate budgets (app/rate_budget.py)."""
    waited = WAITED.get()
    return 0 if waited is None else int(waited.seconds * 1000)


def _log_failure(
    exc: Exception, duration_ms: int, code: str, billed: tuple[Billing, ...]
) -> None:
    fields: dict[str, Any] = {
        "duration_ms": duration_ms,
        "error": type(exc).__name__,
        "rate_wait_ms": _rate_wait_ms(),
    }
    if isinstance(exc, PlaidFailure):
        fields |= {
            "failure_kind": exc.kind.value,
            "plaid_error_code": exc.error_code,
            "plaid_request_ids": [c.request_id for c in exc.calls if c.request_id],
            "billable_balance_extractions": count(billed, Product.BALANCE_EXTRACTION),
            "billable_signal_evaluations": count(
                billed, Product.SIGNAL_TRANSACTION_SCORES
            ),
        }
    if isinstance(exc, RiskServiceError):
        log.info("rpc.finished", status=code, **fields)
    else:
        # Our own fault: the traceback is logged once, here; the caller sees INTERNAL.
        log.error("rpc.finished", status="INTERNAL", exc_info=exc, **fields)
