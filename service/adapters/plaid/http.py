"""An asynchronous transport for Plaid: one pooled aiohttp session, JSON in and out.

plaid-python blocks a thread per call; Plaid can take seconds, so the service sends the
SDK's serialised request models over this transport instead (docs/plaid-behaviour.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import yarl
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from service.adapters.plaid.errors import classify, retry_after_s
from service.app.clock import Clock
from service.app.errors import FailureKind, PlaidFailure
from service.domain.model import PlaidCall
from service.domain.secret import Secret

PLAID_VERSION = "2020-09-14"
USER_AGENT = "ach-risk (plaid-python 46 models)"
_TRACEPARENT = TraceContextTextMapPropagator()


@dataclass(frozen=True, slots=True)
class PlaidReply:
    """A successful (2xx) Plaid answer, parsed, with its call record."""

    body: dict[str, Any]
    call: PlaidCall


class PlaidTransport:
    """POSTs JSON to Plaid with a bounded connection pool and per-call timeouts."""

    def __init__(
        self,
        base_url: str,
        client_id: Secret,
        secret: Secret,
        *,
        clock: Clock,
        pool_size: int,
        connect_timeout_s: float,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._tracer = tracer  # None: tracing is off (service/ops/tracing.py)
        self._clock = clock
        self._pool_size = pool_size
        self._connect_timeout_s = connect_timeout_s
        self._session: aiohttp.ClientSession | None = None
        # Built once, not per call (profiled under load).
        self._urls: dict[str, yarl.URL] = {}
        self._headers = {
            "Content-Type": "application/json",
            "PLAID-CLIENT-ID": client_id.reveal(),
            "PLAID-SECRET": secret.reveal(),
            "Plaid-Version": PLAID_VERSION,
            "User-Agent": USER_AGENT,
        }

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._pool_size, limit_per_host=0, keepalive_timeout=30
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            json_serialize=lambda o: orjson.dumps(o).decode(),
            skip_auto_headers=("User-Agent",),
            raise_for_status=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self, endpoint: str, body: dict[str, Any], timeout_s: float, attempt: int = 1
    ) -> PlaidReply:
        """One attempt; raises PlaidFailure for every non-2xx, network or parse failure."""
        if self._session is None:
            raise RuntimeError("PlaidTransport.start() was not awaited")
        session = self._session
        url = self._urls.get(endpoint)
        if url is None:
            url = self._urls[endpoint] = yarl.URL(self._base_url + endpoint)
        if self._tracer is None:
            return await self._post(
                session, url, endpoint, body, timeout_s, attempt, self._headers
            )
        return await self._traced_post(
            self._tracer, session, url, endpoint, body, timeout_s, attempt
        )

    async def _traced_post(
        self,
        tracer: trace.Tracer,
        session: aiohttp.ClientSession,
        url: yarl.URL,
        endpoint: str,
        body: dict[str, Any],
        timeout_s: float,
        attempt: int,
    ) -> PlaidReply:
        """The attempt as a CLIENT span, child of the current one (the RPC's). Only
        what identifies the call: never the body, the credentials or the headers."""
        span = tracer.start_span(
            f"POST {endpoint}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                "http.request.method": "POST",
                "url.path": endpoint,
                "server.address": url.host or "",
                "server.port": url.port or 0,
                "plaid.attempt": attempt,
            },
        )
        # W3C traceparent to Plaid: random ids, nothing about the payment; Plaid
        # ignores it, and an egress proxy that traces can join the trace. Only that:
        # not the configured propagators, whose `baggage` would forward whatever the
        # caller put in its own (an empty context carries this span alone).
        headers = dict(self._headers)
        _TRACEPARENT.inject(headers, context=trace.set_span_in_context(span, Context()))
        headers.pop("tracestate", None)  # the caller's vendors' entries, inherited
        try:
            reply = await self._post(
                session, url, endpoint, body, timeout_s, attempt, headers
            )
        except PlaidFailure as failure:
            _record_failure(span, failure)
            raise
        except BaseException as exc:  # cancelled, or a bug: still an ended span
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(trace.StatusCode.ERROR, type(exc).__qualname__)
            raise
        else:
            span.set_attribute("http.response.status_code", reply.call.http_status)
            if reply.call.request_id is not None:
                span.set_attribute("plaid.request_id", reply.call.request_id)
            return reply
        finally:
            span.end()

    async def _post(
        self,
        session: aiohttp.ClientSession,
        url: yarl.URL,
        endpoint: str,
        body: dict[str, Any],
        timeout_s: float,
        attempt: int,
        headers: dict[str, str],
    ) -> PlaidReply:
        # aiohttp rounds a timeout of ceil_threshold (5 s) or more up to a whole second,
        # which overran callers' deadlines of 6 s and more: never round.
        timeout = aiohttp.ClientTimeout(
            total=timeout_s,
            sock_connect=min(self._connect_timeout_s, timeout_s),
            ceil_threshold=math.inf,
        )
        started = self._clock.monotonic()
        try:
            async with session.post(
                url,
                data=orjson.dumps(body),
                headers=headers,
                timeout=timeout,
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError as exc:
            raise self._no_answer(
                FailureKind.TIMEOUT,
                endpoint,
                started,
                attempt,
                f"no answer from Plaid within {timeout_s:.3f} s",
            ) from exc
        except aiohttp.ClientError as exc:
            raise self._no_answer(
                FailureKind.CONNECTION_FAILED,
                endpoint,
                started,
                attempt,
                f"connection to Plaid failed: {type(exc).__name__}",
            ) from exc
        return self._reply(endpoint, status, raw, started, attempt)

    def _reply(
        self, endpoint: str, status: int, raw: bytes, started: float, attempt: int
    ) -> PlaidReply:
        elapsed = self._ms_since(started)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            call = PlaidCall(endpoint, None, status, None, elapsed, attempt)
            kind = (
                FailureKind.MALFORMED_RESPONSE
                if status < 400
                else classify(status, None, None)
            )
            raise PlaidFailure(
                kind,
                f"Plaid answered HTTP {status} with a body that is not a JSON object",
                endpoint=endpoint,
                http_status=status,
                calls=(call,),
            )
        request_id = _text(body.get("request_id"))
        if 200 <= status < 300:
            return PlaidReply(
                body, PlaidCall(endpoint, request_id, status, None, elapsed, attempt)
            )
        error_type, error_code = (
            _text(body.get("error_type")),
            _text(body.get("error_code")),
        )
        call = PlaidCall(endpoint, request_id, status, error_code, elapsed, attempt)
        # error_message is Plaid's text for developers; it holds no secrets (unlike the
        # raw body or str(ApiException), which are never kept).
        message = _text(body.get("error_message")) or f"Plaid answered HTTP {status}"
        kind = classify(status, error_type, error_code)
        raise PlaidFailure(
            kind,
            message,
            endpoint=endpoint,
            http_status=status,
            error_type=error_type,
            error_code=error_code,
            request_id=request_id,
            calls=(call,),
            retry_after_s=retry_after_s(kind, error_code),
        )

    def _no_answer(
        self,
        kind: FailureKind,
        endpoint: str,
        started: float,
        attempt: int,
        message: str,
    ) -> PlaidFailure:
        call = PlaidCall(endpoint, None, 0, None, self._ms_since(started), attempt)
        return PlaidFailure(kind, message, endpoint=endpoint, calls=(call,))

    def _ms_since(self, started: float) -> int:
        return int((self._clock.monotonic() - started) * 1000)


def _record_failure(span: trace.Span, failure: PlaidFailure) -> None:
    """What Plaid said, by its codes only: error_message and the body are not kept."""
    if failure.http_status:
        span.set_attribute("http.response.status_code", failure.http_status)
    if failure.request_id is not None:
        span.set_attribute("plaid.request_id", failure.request_id)
    if failure.error_type is not None:
        span.set_attribute("plaid.error_type", failure.error_type)
    if failure.error_code is not None:
        span.set_attribute("plaid.error_code", failure.error_code)
    span.set_attribute("error.type", failure.error_code or failure.kind.value)
    span.set_status(trace.StatusCode.ERROR, failure.kind.value)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
