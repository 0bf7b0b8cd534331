"""What tracing costs one evaluation, in-process: the service, the emulator and the
client in one process, EvaluatePayment after EvaluatePayment, with tracing off, on
with every call sampled (spans batched to an exporter that keeps them in memory, as the
OTLP exporter's thread would take them), and on with no call sampled.

The figure is the process's CPU per evaluation (client and emulator included: the same
in every mode, so the difference is tracing's). Modes alternate round by round, and the
median round counts, so a neighbour's load does not favour one mode.
Usage: python bench/tracing_cost.py [--calls 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from plaid_emulator import start_emulator
from plaid_emulator.scenario import Scenario
from service.ops.tracing import Tracing
from tests.conftest import (
    packaged_config_plus,
    payment,
    start_harness,
    stop_harness,
    without_rate_limits,
)

MODES = ("off", "on", "on, unsampled")
TRACEPARENT = [
    ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
]


def _tracing(mode: str) -> Tracing | None:
    if mode == "off":
        return None
    if mode == "on":
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(InMemorySpanExporter()))
        return Tracing(provider)
    return Tracing(TracerProvider(sampler=ALWAYS_OFF))


async def _round(emulator_url: str, workdir: Path, mode: str, calls: int) -> float:
    """CPU seconds per evaluation over `calls` evaluations."""
    tracing = _tracing(mode)
    harness = await start_harness(
        emulator_url,
        packaged_config_plus(workdir, "[rate_budgets]\nenabled = false\n"),
        database_url=f"sqlite:///{workdir / f'{mode}-{time.monotonic_ns()}.db'}",
        tracing=tracing,
    )
    try:
        for _ in range(20):  # warm: connections, caches
            await harness.stub.EvaluatePayment(payment(), metadata=TRACEPARENT)
        started = time.process_time()
        for _ in range(calls):
            await harness.stub.EvaluatePayment(payment(), metadata=TRACEPARENT)
        return (time.process_time() - started) / calls
    finally:
        await stop_harness(harness)
        if tracing is not None:
            tracing.shutdown()


async def main(calls: int, rounds: int) -> dict[str, float]:
    # Plaid's rate limits off: the service's cost is measured, not Plaid's quota.
    emulator = await start_emulator(Scenario.model_validate(without_rate_limits()))
    per_mode: dict[str, list[float]] = {mode: [] for mode in MODES}
    try:
        with tempfile.TemporaryDirectory() as workdir:
            for _ in range(rounds):
                for mode in MODES:
                    per_mode[mode].append(
                        await _round(emulator.url, Path(workdir), mode, calls)
                    )
    finally:
        await emulator.close()
    return {mode: statistics.median(cpu) * 1e6 for mode, cpu in per_mode.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    # Warnings only: a line per evaluation would measure the terminal.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING)
    )
    result = asyncio.run(main(args.calls, args.rounds))
    off = result["off"]
    print(
        json.dumps(
            {
                "cpu_us_per_evaluation": {k: round(v) for k, v in result.items()},
                "added_us": {k: round(v - off) for k, v in result.items()},
            },
            indent=2,
        )
    )
