"""Measure the service's CPU per evaluation and how many evaluations it holds in flight.

Starts `ach-risk emulator` and `ach-risk serve` as separate processes on loopback, drives
EvaluatePayment from a grpc.aio client, and reads each process's CPU time from /proc.
Usage: python bench/inflight.py [--calls 2000] [--concurrency 50] [--inflight 2000]
       [--latency-ms 5000] [--rail ach|rtp]
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

import grpc
from google.type.money_pb2 import Money
from grpc_health.v1 import health_pb2, health_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from bench.procstat import cpu_seconds, free_port, peak_rss_mib
from bench.scenario import LIMITS_OFF, write_bench_scenario
from bench.service_config import load_test_config
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc

BIN = Path(sys.executable).parent


class Processes:
    """The emulator and the service, each in its own process."""

    def __init__(self, latency_ms: int, workdir: Path) -> None:
        write_bench_scenario(workdir / "scenario.yaml", latency_ms)
        self.emulator_addr = f"127.0.0.1:{free_port()}"
        self.service_addr = f"127.0.0.1:{free_port()}"
        self._logs = logs = (
            (workdir / "emulator.log").open("w"),
            (workdir / "service.log").open("w"),
        )
        self.emulator = subprocess.Popen(
            [
                str(BIN / "ach-risk"),
                "emulator",
                "--listen",
                self.emulator_addr,
                "--scenario",
                str(workdir / "scenario.yaml"),
            ],
            stdout=logs[0],
            stderr=logs[0],
        )
        env = {
            **os.environ,
            "PLAID_ENV": "emulator",
            "ACH_RISK_LOG_LEVEL": "warning",
            "PLAID_BASE_URL": f"http://{self.emulator_addr}",
            "ACH_RISK_LOG_FORMAT": "json",
        }
        self.service = subprocess.Popen(
            [
                str(BIN / "ach-risk"),
                "serve",
                "--listen",
                self.service_addr,
                "--config",
                str(load_test_config(workdir)),
            ],
            env=env,
            stdout=logs[1],
            stderr=logs[1],
        )

    def stop(self) -> None:
        for process in (self.service, self.emulator):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        for log in self._logs:
            log.close()


def request(
    i: int, rail: str, ruleset: str = "sts-scores-only"
) -> pb.EvaluatePaymentRequest:
    """ACH requests use `ruleset`; the in-flight phase uses a live-balance ruleset, whose
    default budget (40 s) covers a slow bank, while scores-only answers get 10 s."""
    ach = rail == "ach"
    return pb.EvaluatePaymentRequest(
        client_transaction_id=f"bench-{os.getpid()}-{i}",
        access_token="access-sandbox-checking-ok",
        account_id="checking-ok",
        amount=Money(currency_code="USD", units=10, nanos=250_000_000),
        rail=pb.PAYMENT_RAIL_ACH_STANDARD if ach else pb.PAYMENT_RAIL_RTP,
        ruleset_key=ruleset if ach else "",
    )


async def wait_ready(channel: grpc.aio.Channel) -> None:
    """Poll gRPC health until SERVING (the emulator is up before the service starts)."""
    stub = health_pb2_grpc.HealthStub(channel)
    for _ in range(300):
        try:
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
            return
        except grpc.aio.AioRpcError:
            await asyncio.sleep(0.1)
    raise RuntimeError("service did not become healthy")


async def drive(
    stub: pb_grpc.RiskDecisionServiceStub,
    calls: int,
    concurrency: int,
    offset: int,
    rail: str,
    deadline_s: float,
    ruleset: str = "sts-scores-only",
) -> tuple[int, list[float]]:
    queue = iter(range(offset, offset + calls))
    errors, latencies = 0, []

    async def worker() -> None:
        nonlocal errors
        for i in queue:
            started = time.perf_counter()
            try:
                await stub.EvaluatePayment(
                    request(i, rail, ruleset), timeout=deadline_s
                )
                latencies.append(time.perf_counter() - started)
            except grpc.aio.AioRpcError:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return errors, sorted(latencies)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0


async def main(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        procs = Processes(0, Path(tmp))
        try:
            cpu = await cpu_phase(procs, args)
        finally:
            procs.stop()
        procs = Processes(args.latency_ms, Path(tmp))
        try:
            held = await inflight_phase(procs, args)
        finally:
            procs.stop()
    return {"emulator": LIMITS_OFF, "cpu_per_evaluation": cpu, "in_flight": held}


async def cpu_phase(procs: Processes, args: argparse.Namespace) -> dict[str, object]:
    async with grpc.aio.insecure_channel(procs.service_addr) as channel:
        stub = pb_grpc.RiskDecisionServiceStub(channel)
        await wait_ready(channel)
        await drive(stub, 200, args.concurrency, 10_000_000, args.rail, 10)  # warm up
        cpu0 = cpu_seconds(procs.service.pid), cpu_seconds(procs.emulator.pid)
        started = time.perf_counter()
        errors, latencies = await drive(
            stub, args.calls, args.concurrency, 0, args.rail, 10
        )
        wall = time.perf_counter() - started
        cpu1 = cpu_seconds(procs.service.pid), cpu_seconds(procs.emulator.pid)
    return {
        "rail": args.rail,
        "calls": args.calls,
        "concurrency": args.concurrency,
        "errors": errors,
        "requests_per_s": round(args.calls / wall),
        "service_cpu_ms_per_call": round((cpu1[0] - cpu0[0]) * 1000 / args.calls, 3),
        "emulator_cpu_ms_per_call": round((cpu1[1] - cpu0[1]) * 1000 / args.calls, 3),
        "p50_ms": round(pct(latencies, 0.5), 2),
        "p99_ms": round(pct(latencies, 0.99), 2),
    }


async def inflight_phase(
    procs: Processes, args: argparse.Namespace
) -> dict[str, object]:
    async with grpc.aio.insecure_channel(procs.service_addr) as channel:
        stub = pb_grpc.RiskDecisionServiceStub(channel)
        await wait_ready(channel)
        started = time.perf_counter()
        deadline_s = args.latency_ms / 1000 + 20
        errors, latencies = await drive(
            stub,
            args.inflight,
            args.inflight,
            20_000_000,
            args.rail,
            deadline_s,
            "balance-only",
        )
        wall = time.perf_counter() - started
    return {
        "concurrent_calls": args.inflight,
        "plaid_latency_ms": args.latency_ms,
        "errors": errors,
        "completed": len(latencies),
        "wall_s": round(wall, 2),
        "p50_ms": round(pct(latencies, 0.5)),
        "p99_ms": round(pct(latencies, 0.99)),
        "service_peak_rss_mib": round(peak_rss_mib(procs.service.pid), 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--inflight", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=5000)
    parser.add_argument("--rail", choices=("ach", "rtp"), default="ach")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
