"""The emulator over HTTP: Plaid's routes and JSON, plus the /_emulator admin API.

start_emulator() serves on loopback for tests and `make run`; run_emulator() is the CLI.
"""

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiohttp import web

from service.emulator.engine import Clock, Engine, Reply, utc_now
from service.emulator.errors import invalid_request, not_found
from service.emulator.scenario import (
    ACCOUNTS_BALANCE_GET,
    SIGNAL_EVALUATE,
    Endpoint,
    Scenario,
    ScenarioError,
    default_scenario_path,
    load_scenario,
    parse_scenario,
)

ENGINE = web.AppKey("engine", Engine)
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HEADER_CREDENTIALS = (("client_id", "PLAID-CLIENT-ID"), ("secret", "PLAID-SECRET"))
# Long enough for in-flight calls to finish, short enough for a test's teardown.
_SHUTDOWN_TIMEOUT_S = 2.0


def _json(status: int, body: Mapping[str, object]) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json"
    )


def _reply(reply: Reply) -> web.Response:
    return _json(reply.status, reply.body)


def _with_header_credentials(body: object, headers: Mapping[str, str]) -> object:
    # Body credentials win; plaid-python sends them as headers only.
    if isinstance(body, dict):
        for field, header in _HEADER_CREDENTIALS:
            if field not in body and header in headers:
                body[field] = headers[header]
    return body


def _plaid_route(endpoint: Endpoint) -> _Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        engine = request.app[ENGINE]
        delay_ms = engine.scenario.latency_ms.get(endpoint, 0)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            error = invalid_request(
                "INVALID_BODY", "the request body is not valid JSON"
            )
            return _reply(engine.reject(endpoint, error))
        body = _with_header_credentials(body, request.headers)
        if endpoint == SIGNAL_EVALUATE:
            return _reply(engine.signal_evaluate(body))
        return _reply(engine.accounts_balance_get(body))

    return handle


async def _calls(request: web.Request) -> web.StreamResponse:
    since = request.query.get("since", "0")
    if not since.isdigit():
        return _json(400, {"error": "since must be a call number (seq)"})
    calls = request.app[ENGINE].calls.since(int(since))
    return _json(200, {"calls": [call.to_json() for call in calls]})


async def _reset(request: web.Request) -> web.StreamResponse:
    request.app[ENGINE].reset()
    return _json(200, {})


async def _replace_scenario(request: web.Request) -> web.StreamResponse:
    try:
        data = orjson.loads(await request.read())
        scenario = parse_scenario(data, "scenario")
    except orjson.JSONDecodeError:
        return _json(400, {"error": "scenario: the body is not valid JSON"})
    except ScenarioError as exc:
        return _json(400, {"error": str(exc)})
    request.app[ENGINE].replace_scenario(scenario)
    return _json(200, {})


@web.middleware
async def _plaid_not_found(
    request: web.Request, handler: _Handler
) -> web.StreamResponse:
    """Unknown paths and methods get Plaid's error JSON, and a line in the call log."""
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        return _reply(request.app[ENGINE].reject(request.path, not_found(request.path)))


def build_app(engine: Engine) -> web.Application:
    """The aiohttp application serving `engine`."""
    app = web.Application(middlewares=[_plaid_not_found])
    app[ENGINE] = engine
    app.router.add_post(SIGNAL_EVALUATE, _plaid_route(SIGNAL_EVALUATE))
    app.router.add_post(ACCOUNTS_BALANCE_GET, _plaid_route(ACCOUNTS_BALANCE_GET))
    app.router.add_get("/_emulator/calls", _calls)
    app.router.add_post("/_emulator/reset", _reset)
    app.router.add_put("/_emulator/scenario", _replace_scenario)
    return app


@dataclass(slots=True)
class RunningEmulator:
    """A listening emulator: its base URL (no trailing slash) and its engine."""

    url: str
    engine: Engine
    _runner: web.AppRunner

    async def close(self) -> None:
        """Stop listening and close open connections."""
        await self._runner.cleanup()


async def start_emulator(
    scenario: Scenario | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Clock = utc_now,
) -> RunningEmulator:
    """Serve `scenario` (default: the packaged one) on host:port; port 0 picks one."""
    if scenario is None:
        scenario = load_scenario(default_scenario_path())
    engine = Engine(scenario, clock)
    # No access log: it costs more than the emulator's own work per call.
    runner = web.AppRunner(
        build_app(engine), access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
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
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"ach-risk emulator listening on {running.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await running.close()
