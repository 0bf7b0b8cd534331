"""A local Plaid emulator for the Signal and Balance endpoints ach-risk uses.

It keeps state, scripts faults, and logs which calls asked the bank for a balance.
"""

from plaid_emulator.engine import Engine, Reply
from plaid_emulator.scenario import (
    Scenario,
    ScenarioError,
    default_scenario_path,
    load_scenario,
    parse_scenario,
)
from plaid_emulator.server import RunningEmulator, run_emulator, start_emulator

# The name callers hold: a started emulator.
Emulator = RunningEmulator

__all__ = [
    "Emulator",
    "Engine",
    "Reply",
    "RunningEmulator",
    "Scenario",
    "ScenarioError",
    "default_scenario_path",
    "load_scenario",
    "parse_scenario",
    "run_emulator",
    "start_emulator",
]
