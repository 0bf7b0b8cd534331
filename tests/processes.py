"""`ach-risk emulator` and `ach-risk serve` as real processes on loopback, for tests that
need several replicas, several workers or a crash (kill -9)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
import orjson
from grpc_health.v1 import health_pb2, health_pb2_grpc

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Process:
    """One started process, its address and its log file."""

    popen: subprocess.Popen[bytes]
    address: str
    log: Path
    _out: IO[bytes] = field(repr=False)

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        code = self.popen.wait(timeout=timeout_s)
        self._out.close()
        return code

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        self.stop(signal.SIGKILL)


def start(args: list[str], address: str, log: Path, env: dict[str, str]) -> Process:
    out = log.open("ab")
    popen = subprocess.Popen(
        [str(BIN / "ach-risk"), *args], stdout=out, stderr=subprocess.STDOUT, env=env
    )
    return Process(popen, address, log, out)


def start_emulator(workdir: Path, scenario: Path | None = None) -> Process:
    address = f"127.0.0.1:{free_port()}"
    args = ["emulator", "--listen", address]
    if scenario is not None:
        args += ["--scenario", str(scenario)]
    process = start(args, address, workdir / "emulator.log", dict(os.environ))
    _wait(lambda: _http_up(address), process, "emulator")
    return process


def start_service(
    workdir: Path,
    name: str,
    emulator: Process,
    database_url: str,
    config: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> Process:
    address = f"127.0.0.1:{free_port()}"
    env = service_env(database_url, f"http://{emulator.address}") | (extra_env or {})
    args = ["serve", "--listen", address] + (
        ["--config", str(config)] if config else []
    )
    process = start(args, address, workdir / f"{name}.log", env)
    _wait(lambda: _serving(address), process, name)
    return process


def start_like_make_run(workdir: Path) -> tuple[Process, str]:
    """`ach-risk serve` as `make run` starts it (the embedded emulator, auth off), on
    free loopback ports, and its metrics address."""
    address = f"127.0.0.1:{free_port()}"
    metrics = f"127.0.0.1:{free_port()}"
    env = service_env(f"sqlite:///{workdir / 'ledger.db'}", None)
    env["ACH_RISK_METRICS_LISTEN"] = metrics
    process = start(
        ["serve", "--listen", address], address, workdir / "service.log", env
    )
    _wait(lambda: _serving(address), process, "service")
    return process, metrics


def start_workers(
    workdir: Path,
    emulator: Process | None,
    database_url: str,
    workers: str = "2",
    config: Path | None = None,
    listen: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> tuple[Process, str]:
    """`ach-risk serve --workers N` and its metrics address, once every worker is ready
    (without `emulator`: the supervisor's embedded one). The Process is the supervisor."""
    address = listen or f"127.0.0.1:{free_port()}"
    metrics = f"127.0.0.1:{free_port()}"
    env = service_env(database_url, f"http://{emulator.address}" if emulator else None)
    env |= extra_env or {}
    env["TMPDIR"] = str(
        workdir
    )  # the metrics directory, even if the supervisor is killed
    args = ["serve", "--workers", workers, "--listen", address]
    args += ["--metrics-listen", metrics] + (
        ["--config", str(config)] if config else []
    )
    log = workdir / "workers.log"
    process = start(args, address, log, env)
    _wait(lambda: bool(events(log, "workers.started")), process, "workers", 60)
    return process, metrics


def events(log: Path, event: str) -> list[dict[str, object]]:
    """The JSON log lines of `event` in a process's log (a supervisor's has its
    workers' lines too)."""
    marker = f'"event":"{event}"'.encode()
    return [
        orjson.loads(line)
        for line in log.read_bytes().splitlines()
        if line.startswith(b"{") and marker in line
    ]


def service_env(database_url: str, plaid_url: str | None) -> dict[str, str]:
    """`ach-risk serve`'s environment: ours without PLAID_*, ACH_RISK_* and OTEL_* (no
    tracing unless a test asks), plus these."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PLAID_", "ACH_RISK_", "OTEL_"))
    }
    env |= {
        "PLAID_ENV": "emulator",
        "ACH_RISK_DATABASE_URL": database_url,
        "ACH_RISK_LOG_FORMAT": "json",
        "ACH_RISK_METRICS_LISTEN": "127.0.0.1:0",
    }
    if plaid_url is not None:
        env["PLAID_BASE_URL"] = plaid_url
    return env


def _wait(ready: object, process: Process, name: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise AssertionError(f"{name} exited: {process.log.read_text()[-2000:]}")
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} did not start within {timeout_s} s")


def _http_up(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def _serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
