"""The emulator on the real clock and a real socket.

The emulator tests wait with a stand-in sleep, so they never show that a served
emulator really takes its time; these two tests do, and are the only ones that
measure elapsed time.
"""

import asyncio
import time

import aiohttp
from plaid.model.signal_prepare_request import SignalPrepareRequest

from plaid_emulator import default_scenario_path, load_scenario, start_emulator
from plaid_emulator.endpoints import SIGNAL_EVALUATE
from tests.emulator.conftest import PLAID_HEADERS, plaid_api

EVALUATE_BODY = {
    "access_token": "access-sandbox-checking-ok",
    "account_id": "checking-ok",
    "client_transaction_id": "txn-real-time",
    "amount": 25.0,
}


async def test_a_call_takes_at_least_its_scripted_latency() -> None:
    # Started without a sleep of the test's own: asyncio.sleep is the default.
    scenario = load_scenario(default_scenario_path())
    slow = scenario.model_copy(update={"latency_ms": {SIGNAL_EVALUATE: 150}})
    running = await start_emulator(slow)
    try:
        async with aiohttp.ClientSession() as http:
            started = time.perf_counter()
            url = f"{running.url}{SIGNAL_EVALUATE}"
            async with http.post(url, json=EVALUATE_BODY, headers=PLAID_HEADERS) as r:
                assert r.status == 200
            assert time.perf_counter() - started >= 0.15
    finally:
        await running.close()


async def test_sequential_calls_do_not_wait_for_delayed_acks() -> None:
    # Nagle's algorithm against a delayed ACK costs ~40 ms a call when headers
    # and body go out in separate writes (docs/plaid-behaviour.md).
    running = await start_emulator()
    try:
        with plaid_api(running.url) as client:
            request = SignalPrepareRequest(access_token="access-sandbox-checking-ok")
            await asyncio.to_thread(client.signal_prepare, request)  # connect

            def twenty_calls() -> float:
                started = time.perf_counter()
                for _ in range(20):
                    client.signal_prepare(request)
                return time.perf_counter() - started

            assert await asyncio.to_thread(twenty_calls) < 0.4
    finally:
        await running.close()
