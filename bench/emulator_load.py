"""How many /signal/evaluate calls per second the Plaid emulator answers on one core.

Starts `python -m service emulator` pinned to one CPU, drives it from this process
(pinned to another) with aiohttp, and reports requests/s, p50/p99 and emulator CPU.
Usage: python bench/emulator_load.py [--duration 10] [--requests 20000]
       [--concurrency 64] [--ruleset sts-scores-only] [--payments 0] [--emulator-cpu 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from bench.procstat import cpu_seconds, free_port
from bench.scenario import LIMITS_OFF, write_bench_scenario

EMULATOR = (sys.executable, "-m", "service", "emulator")
HEADERS = {
    "Content-Type": "application/json",
    "PLAID-CLIENT-ID": "bench-client",
    "PLAID-SECRET": "bench-secret",
}
# Accounts of the default scenario; amounts vary per call so no answer repeats.
ACCOUNTS = (
    ("access-sandbox-checking-ok", "checking-ok"),
    ("access-sandbox-low-balance", "checking-low"),
    ("access-sandbox-null-available", "checking-null-available"),
    ("access-sandbox-risky", "checking-risky"),
)


def pin(pid: int, cpu: int) -> list[int]:
    """Pin `pid` to one CPU if this machine has it; returns the CPUs it may use."""
    if cpu in os.sched_getaffinity(0):
        os.sched_setaffinity(pid, {cpu})
    return sorted(os.sched_getaffinity(pid))


def start_emulator(workdir: Path, cpu: int) -> tuple[subprocess.Popen[str], str]:
    """The emulator with the default scenario, no latency and no rate limits (a load
    test of the emulator's own speed, not of the quota it enforces)."""
    path = write_bench_scenario(workdir / "scenario.yaml")
    listen = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [*EMULATOR, "--listen", listen, "--scenario", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    pin(process.pid, cpu)
    assert process.stdout is not None
    line = process.stdout.readline()  # "plaid-emulator listening on http://..."
    if "listening on" not in line:
        process.kill()
        raise RuntimeError(f"the emulator did not start: {line!r}")
    return process, f"http://{listen}"


def body(i: int, ruleset: str, payments: int) -> bytes:
    """Call i: a fresh id; the payment repeats every `payments` calls (0: never)."""
    n = i % payments if payments else i
    token, account = ACCOUNTS[n % len(ACCOUNTS)]
    request: dict[str, object] = {
        "access_token": token,
        "account_id": account,
        "client_transaction_id": f"load-{os.getpid()}-{i}",
        "amount": (n % 100_000 + 1) / 100,
    }
    if ruleset:
        request["ruleset_key"] = ruleset
    return orjson.dumps(request)


async def drive(
    url: str,
    requests: int,
    duration_s: float,
    concurrency: int,
    ruleset: str,
    payments: int = 0,
    first: int = 0,
) -> tuple[int, list[float], float]:
    """Send up to `requests` calls for at most `duration_s`; errors, latencies, wall."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    numbers = iter(range(first, first + requests))
    latencies: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        stop_at = started + duration_s

        async def worker() -> None:
            nonlocal errors
            for i in numbers:
                if time.perf_counter() >= stop_at:
                    return
                sent = time.perf_counter()
                async with session.post(
                    f"{url}/signal/evaluate",
                    data=body(i, ruleset, payments),
                    headers=HEADERS,
                ) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - sent)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return errors, sorted(latencies), wall


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0


async def run(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_emulator(Path(tmp), args.emulator_cpu)
        try:
            load_cpus = pin(0, args.load_cpu)
            # Warm-up ids start far beyond the measured ones, so none is a replay.
            await drive(url, 500, 30, args.concurrency, args.ruleset, 1, 10**9)
            emulator_cpu0, load_cpu0 = cpu_seconds(process.pid), time.process_time()
            errors, latencies, wall = await drive(
                url,
                args.requests,
                args.duration,
                args.concurrency,
                args.ruleset,
                args.payments,
            )
            emulator_cpu = cpu_seconds(process.pid) - emulator_cpu0
            load_cpu = time.process_time() - load_cpu0
            emulator_cpus = sorted(os.sched_getaffinity(process.pid))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    done = len(latencies)
    return {
        "emulator": LIMITS_OFF,
        "endpoint": "/signal/evaluate",
        "ruleset": args.ruleset or None,
        "distinct_payments": args.payments or "every call",
        "concurrency": args.concurrency,
        "requests": done,
        "errors": errors,
        "wall_s": round(wall, 2),
        "requests_per_s": round(done / wall),
        "p50_ms": round(pct(latencies, 0.5), 2),
        "p99_ms": round(pct(latencies, 0.99), 2),
        "emulator_cpus": emulator_cpus,
        "emulator_cpu_utilisation": round(emulator_cpu / wall, 2),
        "emulator_cpu_us_per_request": round(emulator_cpu * 1e6 / max(done, 1)),
        "load_generator_cpus": load_cpus,
        "load_generator_cpu_utilisation": round(load_cpu / wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds, at most")
    parser.add_argument("--requests", type=int, default=20_000, help="calls, at most")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--ruleset",
        default="sts-scores-only",
        help="ruleset_key to send ('' for none); the default answers with 81 attributes",
    )
    parser.add_argument(
        "--payments",
        type=int,
        default=0,
        help="cycle through this many (account, amount) pairs; 0: every call differs",
    )
    parser.add_argument("--emulator-cpu", type=int, default=0)
    parser.add_argument("--load-cpu", type=int, default=1)
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
