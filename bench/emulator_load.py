"""The Plaid emulator as a load-test target: requests/s on one core, and connections held.

Starts `python -m plaid_emulator` pinned to one CPU and drives it from this process
(pinned to another). By default: /signal/evaluate with aiohttp at a fixed concurrency,
zero latency; reports requests/s, p50/p99 and emulator CPU. With --hold N: N connections
opened at once, each with one call in flight, against a scenario latency of
--latency-ms; reports errors, p50/p99, the emulator's RSS and CPU while it holds them,
and the tracebacks in its log. --give-up-s closes each connection that long after
sending (clients that time out).
Usage: python bench/emulator_load.py [--duration 10] [--requests 20000]
       [--concurrency 64] [--ruleset sts-scores-only] [--payments 0] [--emulator-cpu 0]
       python bench/emulator_load.py --hold 4000 [--latency-ms 10000] [--give-up-s 2]
       [--ramp-s 0]
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

from bench.held import Held, hold, pct_ms, raise_fd_limit
from bench.procstat import cpu_seconds, free_port, peak_rss_mib, rss_mib
from bench.scenario import LIMITS_OFF, write_bench_scenario

EMULATOR = (sys.executable, "-m", "plaid_emulator")
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


def start_emulator(
    workdir: Path, cpu: int, latency_ms: int = 0
) -> tuple[subprocess.Popen[str], str]:
    """The emulator with the default scenario, `latency_ms` and no rate limits (a load
    test of the emulator itself, not of the quota it enforces); its stderr goes to
    workdir/emulator.log."""
    path = write_bench_scenario(workdir / "scenario.yaml", latency_ms)
    listen = f"127.0.0.1:{free_port()}"
    with (workdir / "emulator.log").open("w") as log:
        process = subprocess.Popen(
            [*EMULATOR, "--listen", listen, "--scenario", str(path)],
            stdout=subprocess.PIPE,
            stderr=log,
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


async def run_hold(args: argparse.Namespace) -> dict[str, object]:
    """--hold: N connections at once, each with one call waiting out the latency."""
    fd_limit = raise_fd_limit(args.hold + 100)
    if fd_limit < args.hold + 100:
        raise SystemExit(f"{args.hold} connections need more than {fd_limit} files")
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_emulator(Path(tmp), args.emulator_cpu, args.latency_ms)
        try:
            load_cpus = pin(0, args.load_cpu)
            host, port = url.removeprefix("http://").rsplit(":", 1)
            idle_rss = rss_mib(process.pid)
            cpu0, started = cpu_seconds(process.pid), time.perf_counter()
            load_cpu0 = time.process_time()
            held = Held()
            run = asyncio.ensure_future(
                hold(
                    host,
                    int(port),
                    args.hold,
                    f"hold-{os.getpid()}",
                    args.give_up_s,
                    held=held,
                    ramp_s=args.ramp_s,
                )
            )
            at_peak = await _watch(process.pid, held, run)
            wall = time.perf_counter() - started
            cpu = cpu_seconds(process.pid) - cpu0
            load_cpu = time.process_time() - load_cpu0
            if args.give_up_s is not None:
                await asyncio.sleep(args.latency_ms / 1000)  # the abandoned calls end
            peak_rss = peak_rss_mib(process.pid)
            emulator_cpus = sorted(os.sched_getaffinity(process.pid))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        log = (Path(tmp) / "emulator.log").read_text()
    return {
        "emulator": LIMITS_OFF,
        "endpoint": "/signal/evaluate",
        "connections": args.hold,
        "latency_ms": args.latency_ms,
        "give_up_s": args.give_up_s,
        "opened_over_s": args.ramp_s,
        "peak_in_flight": held.peak_in_flight,
        "answered": len(held.answered),
        "statuses": held.statuses,
        "refused": held.refused,
        "reset": held.reset,
        "gave_up": held.gave_up,
        "p50_ms": round(pct_ms(held.answered, 0.5)),
        "p99_ms": round(pct_ms(held.answered, 0.99)),
        "max_ms": round(max(held.answered, default=0) * 1000),
        "wall_s": round(wall, 2),
        "emulator_cpus": emulator_cpus,
        "emulator_cpu_s": round(cpu, 2),
        "emulator_cpu_utilisation": round(cpu / wall, 2),
        "emulator_rss_idle_mib": round(idle_rss, 1),
        "emulator_rss_at_peak_mib": round(at_peak, 1),
        "emulator_rss_kib_per_connection": round(
            (at_peak - idle_rss) * 1024 / max(held.peak_in_flight, 1), 1
        ),
        "emulator_peak_rss_mib": round(peak_rss, 1),
        "emulator_log_tracebacks": log.count("Traceback"),
        "load_generator_cpus": load_cpus,
        "load_generator_cpu_s": round(load_cpu, 2),
    }


async def _watch(pid: int, held: Held, run: asyncio.Future[Held]) -> float:
    """Wait for `run`; the emulator's RSS when the most calls were in flight."""
    at_peak, most = rss_mib(pid), 0
    while not run.done():
        await asyncio.wait({run}, timeout=0.25)
        if held.in_flight > most:
            at_peak, most = rss_mib(pid), held.in_flight
    await run
    return at_peak


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
    parser.add_argument(
        "--hold", type=int, help="open this many connections at once, one call each"
    )
    parser.add_argument("--latency-ms", type=int, default=10_000, help="with --hold")
    parser.add_argument(
        "--give-up-s", type=float, help="with --hold: close each call after this long"
    )
    parser.add_argument(
        "--ramp-s",
        type=float,
        default=0.0,
        help="with --hold: open the connections evenly over this long (0: at once)",
    )
    args = parser.parse_args()
    result = asyncio.run(run_hold(args) if args.hold else run(args))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
