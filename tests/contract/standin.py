"""A stand-in for Plaid on loopback that answers only Plaid's documented bodies.

Unlike the emulator (written with the service, so it can share the service's mistakes),
every answer here is a body from tests/fixtures/plaid, changed only the way Plaid's
docs say it changes (e.g. a Balance-only ruleset returns no `scores`). A test scripts
which documented body each request gets.
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.contract.documented import error_bodies, response_examples

# What a handler returns: HTTP status, JSON body, and 0 to answer at once or HELD to
# answer only when the stand-in stops (Plaid still working when the caller gave up).
Answer = tuple[int, dict[str, Any], float]
HELD = math.inf
Handler = Callable[[dict[str, Any]], Answer]


def documented_answer(endpoint: str) -> dict[str, Any]:
    """The first documented 200 body of `endpoint` (a fresh copy)."""
    return copy.deepcopy(response_examples(endpoint)[0][1])


def documented_error(code: str) -> tuple[int, dict[str, Any]]:
    """The documented (HTTP status, body) of Plaid's error `code`."""
    for status, body in error_bodies():
        if body["error_code"] == code:
            return status, body
    raise KeyError(f"{code} is not among Plaid's documented errors")


def balance_only_answer(ruleset_key: str, result: str = "ACCEPT") -> dict[str, Any]:
    """The documented /signal/evaluate body as a Balance-only ruleset gives it: no
    `scores` ("not returned"), only the two balance attributes."""
    body = documented_answer("/signal/evaluate")
    del body["scores"]
    body["core_attributes"] = {
        k: body["core_attributes"][k] for k in ("available_balance", "current_balance")
    }
    body["ruleset"] = {"ruleset_key": ruleset_key, "result": result}
    return body


@dataclass
class StandIn:
    """Each endpoint answers through its handler; every request is recorded."""

    url: str = ""
    handlers: dict[str, Handler] = field(default_factory=dict)
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def bodies(self, endpoint: str) -> list[dict[str, Any]]:
        """The JSON bodies sent to `endpoint`, oldest first."""
        return [body for path, body in self.received if path == endpoint]

    async def _handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.received.append((request.path, body))
        handler = self.handlers.get(request.path)
        if handler is None:
            status, answer = documented_error("INVALID_FIELD")
            delay = 0.0
        else:
            status, answer, delay = handler(body)
        if delay == HELD:
            await self.stopping.wait()
        return web.Response(
            status=status, body=orjson.dumps(answer), content_type="application/json"
        )


@asynccontextmanager
async def standin() -> AsyncIterator[StandIn]:
    """A stand-in on 127.0.0.1 and a free port, stopped on exit."""
    plaid = StandIn()
    app = web.Application()
    app.router.add_post("/{tail:.*}", plaid._handle)
    # A held answer whose client hung up still completes, as Plaid's does.
    runner = web.AppRunner(app, access_log=None, handler_cancellation=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    plaid.url = f"http://{host}:{port}"
    try:
        yield plaid
    finally:
        plaid.stopping.set()
        await runner.cleanup()
