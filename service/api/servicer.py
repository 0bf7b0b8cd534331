"""RiskDecisionService over grpc.aio: convert, await the shell, convert back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import structlog
from google.rpc import code_pb2
from grpc_status import rpc_status

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc
from service.api import convert
from service.api.status import to_status
from service.errors import PlaidFailure, RiskServiceError
from service.evaluate import Evaluator
from service.risk.model import Decision

log = structlog.get_logger("service.api")
Ctx = grpc.aio.ServicerContext


class RiskDecisionServicer(pb_grpc.RiskDecisionServiceServicer):  # type: ignore[misc]
    """The gRPC face of the service; no business rules live here."""

    def __init__(self, evaluator: Evaluator) -> None:
        self._evaluator = evaluator

    async def EvaluatePayment(
        self,
        request: pb.EvaluatePaymentRequest,
        context: Ctx[pb.EvaluatePaymentRequest, pb.EvaluatePaymentResponse],
    ) -> pb.EvaluatePaymentResponse:
        started = time.monotonic()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            rpc_method="EvaluatePayment",
            client_transaction_id=request.client_transaction_id,
        )
        try:
            payment = convert.payment_request(request)
            decision = await self._evaluator.evaluate(payment, _deadline(context))
        except Exception as exc:
            _log_failure(exc, started)
            await context.abort_with_status(rpc_status.to_status(to_status(exc)))
            raise  # abort_with_status always raises; this keeps type checkers honest
        _log_decision(decision, started)
        return pb.EvaluatePaymentResponse(decision=convert.decision_pb(decision))

    async def EvaluatePayments(
        self,
        request_iterator: AsyncIterator[pb.EvaluatePaymentsRequest],
        context: Ctx[pb.EvaluatePaymentsRequest, pb.EvaluatePaymentsResponse],
    ) -> AsyncIterator[pb.EvaluatePaymentsResponse]:
        await _not_yet(context, "EvaluatePayments")
        yield pb.EvaluatePaymentsResponse()  # unreachable; makes this an async generator

    async def GetDecision(
        self,
        request: pb.GetDecisionRequest,
        context: Ctx[pb.GetDecisionRequest, pb.GetDecisionResponse],
    ) -> pb.GetDecisionResponse:
        await _not_yet(context, "GetDecision")
        raise AssertionError("unreachable")

    async def ReportDecision(
        self,
        request: pb.ReportDecisionRequest,
        context: Ctx[pb.ReportDecisionRequest, pb.ReportDecisionResponse],
    ) -> pb.ReportDecisionResponse:
        await _not_yet(context, "ReportDecision")
        raise AssertionError("unreachable")

    async def ReportReturn(
        self,
        request: pb.ReportReturnRequest,
        context: Ctx[pb.ReportReturnRequest, pb.ReportReturnResponse],
    ) -> pb.ReportReturnResponse:
        await _not_yet(context, "ReportReturn")
        raise AssertionError("unreachable")


async def _not_yet(context: Ctx[Any, Any], method: str) -> None:
    await context.abort(
        grpc.StatusCode.UNIMPLEMENTED,
        f"{method} is not available yet: it needs the decision ledger",
    )


def _deadline(context: Ctx[Any, Any]) -> float | None:
    """The caller's deadline as an absolute time.monotonic() value, if it set one."""
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


def _log_decision(decision: Decision, started: float) -> None:
    log.info(
        "rpc.finished",
        status="OK",
        duration_ms=_ms(started),
        rail=decision.attempt.rail.value,
        result=decision.verdict.result.value,
        source=decision.verdict.source.value,
        realtime_fetched=decision.realtime.fetched,
        realtime_basis=decision.realtime.basis.value,
        realtime_warnings=[w.code for w in decision.realtime.warnings],
        plaid_request_ids=[c.request_id for c in decision.plaid_calls if c.request_id],
    )


def _log_failure(exc: Exception, started: float) -> None:
    fields = {"duration_ms": _ms(started), "error": type(exc).__name__}
    if isinstance(exc, PlaidFailure):
        fields |= {
            "failure_kind": exc.kind.value,
            "plaid_error_code": exc.error_code,
            "plaid_request_ids": [c.request_id for c in exc.calls if c.request_id],
        }
    if isinstance(exc, RiskServiceError):
        log.info("rpc.finished", status=_code_name(exc), **fields)
    else:
        # Our own fault: the traceback is logged once, here; the caller sees a generic INTERNAL.
        log.error("rpc.finished", status="INTERNAL", exc_info=exc, **fields)


def _code_name(exc: Exception) -> str:
    name: str = code_pb2.Code.Name(to_status(exc).code)
    return name


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
