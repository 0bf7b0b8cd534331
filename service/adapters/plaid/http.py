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

from service.adapters.plaid.errors import classify, retry_after_s
from service.app.clock import Clock
from service.app.errors import FailureKind, PlaidFailure
from service.domain.model import PlaidCall
from service.domain.secret import Secret

PLAID_VERSION = "2020-09-14"
USER_AGENT = "ach-risk (plaid-python 46 models)"


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
    ) -> None:
        self._base_url = base_url.rstrip("/")
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
        url = self._urls.get(endpoint)
        if url is None:
            url = self._urls[endpoint] = yarl.URL(self._base_url + endpoint)
        # aiohttp rounds a timeout of ceil_threshold (5 s) or more up to a whole second,
        # which overran callers' deadlines of 6 s and more: never round.
        timeout = aiohttp.ClientTimeout(
            total=timeout_s,
            sock_connect=min(self._connect_timeout_s, timeout_s),
            ceil_threshold=math.inf,
        )
        started = self._clock.monotonic()
        try:
            async with self._session.post(
                url,
                data=orjson.dumps(body),
                headers=self._headers,
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


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
