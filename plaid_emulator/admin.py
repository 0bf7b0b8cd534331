"""The /_emulator admin API: the call log, reset, scenario replacement and faults.

Answers are JSON; a refused request gets 400 with {"error": "<path>: <problem>"}.
"""

from collections.abc import Mapping

import orjson
from aiohttp import web

from plaid_emulator.engine import Engine
from plaid_emulator.faults import FaultError, parse_faults
from plaid_emulator.scenario import ScenarioError, parse_scenario

ENGINE = web.AppKey("engine", Engine)


def json_response(status: int, body: Mapping[str, object]) -> web.Response:
    """A JSON answer; aiohttp sends headers and this small body in one write."""
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json"
    )


async def _calls(request: web.Request) -> web.StreamResponse:
    since = request.query.get("since", "0")
    if not since.isdigit():
        return json_response(400, {"error": "since must be a call number (seq)"})
    calls = request.app[ENGINE].calls.since(int(since))
    return json_response(200, {"calls": [call.to_json() for call in calls]})


async def _reset(request: web.Request) -> web.StreamResponse:
    request.app[ENGINE].reset()
    return json_response(200, {})


async def _replace_scenario(request: web.Request) -> web.StreamResponse:
    try:
        data = orjson.loads(await request.read())
        scenario = parse_scenario(data, "scenario")
    except orjson.JSONDecodeError:
        return json_response(400, {"error": "scenario: the body is not valid JSON"})
    except ScenarioError as exc:
        return json_response(400, {"error": str(exc)})
    request.app[ENGINE].replace_scenario(scenario)
    return json_response(200, {})


async def _queue_faults(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE]
    try:
        faults = parse_faults(orjson.loads(await request.read()))
    except orjson.JSONDecodeError:
        return json_response(400, {"error": "faults: the body is not valid JSON"})
    except FaultError as exc:
        return json_response(400, {"error": f"faults: {exc}"})
    engine.faults.add(faults)
    return _pending_faults(engine)


async def _list_faults(request: web.Request) -> web.StreamResponse:
    return _pending_faults(request.app[ENGINE])


async def _clear_faults(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE]
    engine.faults.clear()
    return _pending_faults(engine)


def _pending_faults(engine: Engine) -> web.Response:
    return json_response(200, {"faults": list(engine.faults.pending())})


def add_admin_routes(app: web.Application) -> None:
    """Serve the admin API under /_emulator on `app`."""
    app.router.add_get("/_emulator/calls", _calls)
    app.router.add_post("/_emulator/reset", _reset)
    app.router.add_put("/_emulator/scenario", _replace_scenario)
    app.router.add_post("/_emulator/faults", _queue_faults)
    app.router.add_get("/_emulator/faults", _list_faults)
    app.router.add_delete("/_emulator/faults", _clear_faults)
