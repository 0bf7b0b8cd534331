"""The emulator over HTTP: Plaid's routes with their faults and latency, and the admin API.

start_emulator() serves on loopback for tests and `make run`; run_emulator() is the CLI.
"""

import asyncio
import contextlib
import gc
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson
from aiohttp import web

from plaid_emulator.admin import ENGINE, add_admin_routes, json_response
from plaid_emulator.calls import Call
from plaid_emulator.draining import IN_FLIGHT, stop_serving, track_in_flight
from plaid_emulator.endpoints import ENDPOINTS
from plaid_emulator.engine import Clock, Engine, Reply, utc_now
from plaid_emulator.errors import invalid_request, not_found
from plaid_emulator.faults import Fault
from plaid_emulator.scenario import (
    Scenario,
    default_scenario_path,
    load_scenario,
)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# How the emulator waits out a delay, given in seconds: asyncio.sleep when serving, or a
# test's stand-in that notes the delay asked for without letting real time pass.
Sleep = Callable[[float], Awaitable[None]]
SLEEP: Final = web.AppKey[Sleep]("sleep")
# A client opening hundreds of connections a second (a service holding thousands of
# slow calls) overflowed aiohttp's default accept queue of 128: each dropped connection
# waited a 1 s SYN retransmit, which was the whole p99 excess of an earlier load test's waiting run.
# The kernel caps this at net.core.somaxconn.
LISTEN_BACKLOG = 4096
_HEADER_CREDENTIALS = (("client_id", "PLAID-CLIENT-ID"), ("secret", "PLAID-SECRET"))
# How long close() lets calls in flight finish before cancelling them: long enough for
# short ones, short enough for a test's teardown.
_SHUTDOWN_TIMEOUT_S = 2.0
# What a malformed_body fault sends: JSON cut off mid-object, as a broken proxy might.
TRUNCATED_BODY: Final = b'{"request_id": "malformed000000", "warnings": [{"warning_'
# A request body that is not JSON (JSON's own null decodes to None).
NOT_JSON: Final = object()


def _reply(reply: Reply) -> web.Response:
    return json_response(reply.status, reply.body)


def _with_header_credentials(body: object, headers: Mapping[str, str]) -> object:
    # Body credentials win; plaid-python sends them as headers only.
    if isinstance(body, dict):
        for field, header in _HEADER_CREDENTIALS:
            if field not in body and header in headers:
                body[field] = headers[header]
    return body


def _plaid_route(endpoint: str) -> _Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        engine = request.app[ENGINE]
        raw = await request.read()
        # Logged on arrival, so a call held by a delay is already in the call log.
        call = engine.calls.open(endpoint, engine.clock())
        try:
            return await _answer(request, engine, endpoint, call, raw)
        except Exception:
            call.status = 500  # what aiohttp answers for an unexpected exception
            raise

    return handle


async def _answer(
    request: web.Request, engine: Engine, endpoint: str, call: Call, raw: bytes
) -> web.StreamResponse:
    fault = engine.faults.take(endpoint)
    # Decoded once, before any wait: the latency may depend on the ruleset it names.
    body = _decoded(raw)
    try:
        if fault is not None:
            call.fault = fault.describe()
            await _wait(request.app[SLEEP], call, fault.delay_ms)
            if fault.answers:
                return _inject(request, engine, call, fault, body)
        await _wait(request.app[SLEEP], call, engine.delay_ms(endpoint, body))
    except asyncio.CancelledError:
        # aiohttp cancels the handler when the client hangs up. Plaid finishes (and
        # bills) work its client abandoned, and a retry with the same id meets it
        # (replayed, or refused under repeated_transaction_id: refuse), so the
        # emulator finishes it too before letting the cancellation through.
        call.abandoned = True
        if fault is not None and fault.answers:
            engine.inject(call, fault, body)
        else:
            _process(request, engine, endpoint, call, body)
        raise
    return _reply(_process(request, engine, endpoint, call, body))


async def _wait(sleep: Sleep, call: Call, delay_ms: float) -> None:
    if delay_ms:
        call.latency_ms += delay_ms
        await sleep(delay_ms / 1000)


def _decoded(raw: bytes) -> object:
    """The JSON body, or NOT_JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return NOT_JSON


def _process(
    request: web.Request, engine: Engine, endpoint: str, call: Call, body: object
) -> Reply:
    if body is NOT_JSON:
        error = invalid_request("INVALID_BODY", "the request body is not valid JSON")
        return engine.reject(endpoint, error, call=call)
    body = _with_header_credentials(body, request.headers)
    return engine.handle(endpoint, body, call=call)


def _inject(
    request: web.Request, engine: Engine, call: Call, fault: Fault, body: object
) -> web.StreamResponse:
    """Answer as the fault says, after logging it."""
    reply = engine.inject(call, fault, body)
    if reply is not None:
        return _reply(reply)
    if fault.drop_connection:
        # Closing the socket first means aiohttp's write of this empty answer goes
        # nowhere: the client sees the connection end without any HTTP response.
        if request.transport is not None:
            request.transport.close()
        return web.Response()
    if fault.malformed_body:
        return web.Response(body=TRUNCATED_BODY, content_type="application/json")
    return web.Response(
        status=fault.status or 200,
        body=fault.body.encode(),
        headers={"Content-Type": fault.content_type},
    )


@web.middleware
async def _plaid_not_found(
    request: web.Request, handler: _Handler
) -> web.StreamResponse:
    """Unknown paths and methods get Plaid's error JSON, and a line in the call log."""
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        return _reply(request.app[ENGINE].reject(request.path, not_found(request.path)))


def build_app(engine: Engine, sleep: Sleep = asyncio.sleep) -> web.Application:
    """The aiohttp application serving `engine`, waiting out delays with `sleep`."""
    app = web.Application(middlewares=[track_in_flight, _plaid_not_found])
    app[ENGINE] = engine
    app[IN_FLIGHT] = set()
    app[SLEEP] = sleep
    for endpoint in ENDPOINTS:
        app.router.add_post(endpoint, _plaid_route(endpoint))
    add_admin_routes(app)
    return app


@dataclass(slots=True)
class RunningEmulator:
    """A listening emulator: its base URL (no trailing slash) and its engine."""

    url: str
    engine: Engine
    _runner: web.AppRunner

    async def close(self) -> None:
        """Stop listening, end the calls in flight and close open connections."""
        await stop_serving(self._runner, _SHUTDOWN_TIMEOUT_S)
        await self._runner.cleanup()


async def start_emulator(
    scenario: Scenario | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Clock = utc_now,
    sleep: Sleep = asyncio.sleep,
) -> RunningEmulator:
    """Serve `scenario` (default: the packaged one) on host:port; port 0 picks one.

    `clock` dates calls and drives rate-limit windows; `sleep` waits out latency and
    fault delays. Tests pass stand-ins for both so that no real time has to pass.
    """
    if scenario is None:
        scenario = load_scenario(default_scenario_path())
    engine = Engine(scenario, clock)
    # No access log: it costs more than the emulator's own work per call.
    runner = web.AppRunner(
        build_app(engine, sleep),
        access_log=None,
        shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
        # A hung-up client ends its handler at once (see _answer) rather than
        # leaving it asleep in a delay.
        handler_cancellation=True,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG).start()
    except OSError:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return RunningEmulator(f"http://{shown}:{bound_port}", engine, runner)


def parse_listen(listen: str) -> tuple[str, int]:
    """Split "HOST:PORT" (or "[V6]:PORT"); raises ValueError on anything else."""
    host, _, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT, got {listen!r}")
    return host, int(port)


def run_emulator(
    listen: str = "127.0.0.1:8089", scenario_path: str | Path | None = None
) -> None:
    """Serve until SIGINT or SIGTERM; raises ScenarioError or ValueError if unusable."""
    host, port = parse_listen(listen)
    scenario = load_scenario(scenario_path or default_scenario_path())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(scenario, host, port))


async def _serve_forever(scenario: Scenario, host: str, port: int) -> None:
    running = await start_emulator(scenario, host, port)
    _tune_garbage_collector()  # load tests hold thousands of slow answers open
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"plaid-emulator listening on {running.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await running.close()


def _tune_garbage_collector() -> None:
    """Thousands of slow answers held open keep a large live heap: collect rarely, and
    never walk again what start-up built (the scenario, compiled schemas)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
