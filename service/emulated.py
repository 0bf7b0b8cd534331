"""The Plaid emulator inside this process, for PLAID_ENV=emulator without PLAID_BASE_URL
(`make run`): in the one serving process, or in the supervisor of `--workers N`, which
points every worker at it. Imported when called, never at load: a production process
never loads the emulator."""

from __future__ import annotations

import contextlib


async def embedded_emulator(stack: contextlib.AsyncExitStack) -> str:
    """Start the emulator on a free loopback port, closed with `stack`; its base URL."""
    from plaid_emulator import default_scenario_path, load_scenario, start_emulator

    emulator = await start_emulator(load_scenario(default_scenario_path()))
    stack.push_async_callback(emulator.close)
    return emulator.url
