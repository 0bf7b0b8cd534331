"""`ach-risk serve --workers N` as real processes on loopback: a supervisor, its workers on
one port, the Plaid emulator and a SQLite ledger (docs/workers.md)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc
from service.cli import main
from service.config.server import worker_count
from service.ops.readiness import LIVENESS_SERVICE
from tests import processes
from tests.conftest import packaged_config_plus, payment, without_rate_limits

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# Many evaluations at once for one Item: a test of workers, not of Plaid's quota.
NO_BUDGETS = "[rate_budgets]\nenabled = false\n"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[processes.Process]:
    scenario = without_rate_limits()
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(scenario))
    running = processes.start_emulator(tmp_path, tmp_path / "scenario.yaml")
    yield running
    running.stop()


def ledger(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


async def evaluate_over_connections(
    address: str, prefix: str, connections: int, per_connection: int = 1
) -> list[pb.EvaluatePaymentResponse]:
    """Evaluations on `connections` channels of their own: the kernel spreads
    connections, not calls, across the workers."""
    channels = [
        grpc.aio.insecure_channel(
            address, options=[("grpc.use_local_subchannel_pool", 1)]
        )
        for _ in range(connections)
    ]
    try:
        calls = [
            pb_grpc.RiskDecisionServiceStub(channel).EvaluatePayment(
                payment(client_transaction_id=f"{prefix}-{c}-{i}"), timeout=20
            )
            for c, channel in enumerate(channels)
            for i in range(per_connection)
        ]
        return list(await asyncio.gather(*calls))
    finally:
        for channel in channels:
            await channel.close()


async def metric_total(metrics: str, name: str) -> float:
    """The sum of every series of `name` on the supervisor's one endpoint."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://{metrics}/metrics") as response,
    ):
        assert response.status == 200
        text = await response.text()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name}{{", f"{name} "))
    )


def health(address: str, service: str = "") -> int | None:
    """One Check on a connection of its own (it reaches one worker); None: no answer."""
    with grpc.insecure_channel(
        address, options=[("grpc.use_local_subchannel_pool", 1)]
    ) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=1
            )
        except grpc.RpcError:
            return None
        return int(reply.status)


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        await asyncio.sleep(0.05)


def worker_pids(supervisor: processes.Process) -> dict[int, int]:
    """Each worker's current pid, from the supervisor's log."""
    pids: dict[int, int] = {}
    for event in ("worker.started", "worker.restarted"):
        for line in processes.events(supervisor.log, event):
            pids[int(str(line["worker"]))] = int(str(line["pid"]))
    return pids


def exited(pid: int) -> bool:
    """Gone, or a zombie no one reaped yet."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


class TestServing:
    async def test_every_worker_serves_and_one_endpoint_counts_them_all(
        self, tmp_path: Path, emulator: processes.Process
    ) -> None:
        config = packaged_config_plus(tmp_path, NO_BUDGETS)
        supervisor, metrics = processes.start_workers(
            tmp_path, emulator, ledger(tmp_path), config=config
        )
        try:
            replies = await evaluate_over_connections(supervisor.address, "m", 40)
            assert len({r.decision.client_transaction_id for r in replies}) == 40
            served_by = {
                line["worker"]
                for line in processes.events(supervisor.log, "rpc.finished")
                if line.get("rpc_method") == "EvaluatePayment"
            }
            assert served_by == {0, 1}
            assert await metric_total(metrics, "achrisk_decisions_total") == 40
            assert await metric_total(metrics, "achrisk_workers") == 2
            assert await metric_total(metrics, "achrisk_rpc_in_flight") == 0
            await self._process_series_cover_the_tree(supervisor, metrics)
        finally:
            assert supervisor.stop() == 0
        # One migration, by the supervisor, before any worker opened the ledger.
        assert len(processes.events(supervisor.log, "workers.starting")) == 1

    @staticmethod
    async def _process_series_cover_the_tree(
        supervisor: processes.Process, metrics: str
    ) -> None:
        """process_* add up the supervisor and every worker; python_gc_* by generation
        come from the workers (prometheus_client's collectors reach neither)."""
        tree = [supervisor.popen.pid, *worker_pids(supervisor).values()]
        ticks, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")

        def cpu_s(pid: int) -> float:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

        def rss(pid: int) -> int:
            return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page

        # CPU only grows: the sum read now is a floor for the scrape's.
        used_before = sum(cpu_s(pid) for pid in tree)
        workers_rss = sum(rss(pid) for pid in tree[1:])
        cpu = await metric_total(metrics, "process_cpu_seconds_total")
        resident = await metric_total(metrics, "process_resident_memory_bytes")
        tree_rss = sum(rss(pid) for pid in tree)
        assert cpu >= used_before - 0.02  # ProcessCollector rounds to ticks
        # More than the workers alone hold; near what /proc says of the whole tree.
        assert resident > workers_rss
        assert abs(resident - tree_rss) < 0.2 * tree_rss
        assert await metric_total(metrics, "process_open_fds") > 3 * len(tree)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://{metrics}/metrics") as response,
        ):
            text = await response.text()
        for generation in ("0", "1", "2"):
            assert f'python_gc_collections_total{{generation="{generation}"}}' in text
        assert "python_info{" in text

    async def test_without_a_plaid_url_every_worker_uses_the_supervisors_emulator(
        self, tmp_path: Path
    ) -> None:
        supervisor, _ = processes.start_workers(tmp_path, None, ledger(tmp_path))
        try:
            replies = await evaluate_over_connections(supervisor.address, "e", 8)
            assert len(replies) == 8
        finally:
            assert supervisor.stop() == 0
        (embedded,) = processes.events(supervisor.log, "plaid.emulator_embedded")
        assert "worker" not in embedded  # the supervisor's: one emulator for all


class TestRestarts:
    async def test_a_killed_worker_is_restarted_and_health_answers_for_all(
        self, tmp_path: Path, emulator: processes.Process
    ) -> None:
        config = packaged_config_plus(tmp_path, NO_BUDGETS)
        supervisor, metrics = processes.start_workers(
            tmp_path, emulator, ledger(tmp_path), config=config
        )
        address = supervisor.address
        try:
            await evaluate_over_connections(address, "before", 10)
            assert health(address) == SERVING
            victim = worker_pids(supervisor)[0]
            os.kill(victim, signal.SIGKILL)
            # Whichever worker answers, it speaks for both: one is down.
            await until(lambda: health(address) == NOT_SERVING, 10, "NOT_SERVING")
            # Liveness is each worker's own: the one left answers SERVING for itself.
            assert health(address, LIVENESS_SERVICE) == SERVING
            await until(lambda: worker_pids(supervisor)[0] != victim, 10, "restart")
            await until(lambda: health(address) == SERVING, 30, "SERVING again")
            (gone,) = processes.events(supervisor.log, "worker.exited")
            assert (gone["worker"], gone["pid"]) == (0, victim)
            assert gone["signal"] == "SIGKILL"
            replies = await evaluate_over_connections(address, "after", 10)
            assert len(replies) == 10
            # Counters survive a worker's death: its decisions still count.
            assert await metric_total(metrics, "achrisk_decisions_total") == 20
            assert await metric_total(metrics, "achrisk_worker_restarts_total") == 1
            assert await metric_total(metrics, "achrisk_workers") == 2
        finally:
            assert supervisor.stop() == 0

    async def test_a_stalled_worker_makes_health_not_serving_until_it_resumes(
        self, tmp_path: Path, emulator: processes.Process
    ) -> None:
        supervisor, _ = processes.start_workers(tmp_path, emulator, ledger(tmp_path))
        address = supervisor.address
        stalled = worker_pids(supervisor)[1]
        try:
            os.kill(stalled, signal.SIGSTOP)  # its heartbeat stops: it goes stale
            await until(lambda: health(address) == NOT_SERVING, 15, "NOT_SERVING")
            os.kill(stalled, signal.SIGCONT)
            await until(lambda: health(address) == SERVING, 15, "SERVING again")
            assert processes.events(supervisor.log, "worker.exited") == []
        finally:
            os.kill(stalled, signal.SIGCONT)
            assert supervisor.stop() == 0

    async def test_a_worker_silent_past_worker_silence_s_is_killed_and_restarted(
        self, tmp_path: Path, emulator: processes.Process
    ) -> None:
        # A probe reaches one worker at random: a stuck one must not wait for it.
        config = packaged_config_plus(tmp_path, "[server]\nworker_silence_s = 2\n")
        supervisor, _ = processes.start_workers(
            tmp_path, emulator, ledger(tmp_path), config=config
        )
        address = supervisor.address
        stuck = worker_pids(supervisor)[1]
        try:
            os.kill(stuck, signal.SIGSTOP)  # silent on its link from now on
            await until(
                lambda: bool(processes.events(supervisor.log, "worker.restarted")),
                20,
                "the stuck worker restarted",
            )
            [unresponsive] = processes.events(supervisor.log, "worker.unresponsive")
            assert (unresponsive["worker"], unresponsive["pid"]) == (1, stuck)
            [gone] = processes.events(supervisor.log, "worker.exited")
            assert gone["signal"] == "SIGKILL"
            await until(lambda: health(address) == SERVING, 20, "SERVING again")
            assert stuck not in worker_pids(supervisor).values()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(stuck, signal.SIGCONT)
            assert supervisor.stop() == 0


class TestShutdown:
    async def test_sigterm_drains_every_worker_and_exits_0(
        self, tmp_path: Path, emulator: processes.Process
    ) -> None:
        config = packaged_config_plus(tmp_path, NO_BUDGETS)
        supervisor, _ = processes.start_workers(
            tmp_path, emulator, ledger(tmp_path), config=config
        )
        pids = worker_pids(supervisor)
        try:
            await _put_latency(emulator, 1000)
            calls = asyncio.ensure_future(
                evaluate_over_connections(supervisor.address, "drain", 20)
            )
            await asyncio.sleep(0.5)  # every call reached a worker and waits on Plaid
            supervisor.popen.send_signal(signal.SIGTERM)
            replies = await calls
            code = await asyncio.to_thread(supervisor.popen.wait, 20)
        finally:
            supervisor.stop()
        assert code == 0
        assert len(replies) == 20
        served_by = {
            line["worker"]
            for line in processes.events(supervisor.log, "rpc.finished")
            if str(line.get("client_transaction_id", "")).startswith("drain-")
        }
        assert served_by == {0, 1}  # both workers had calls in flight, and drained them
        stopped = processes.events(supervisor.log, "worker.stopped")
        assert {(e["worker"], e["exit_code"]) for e in stopped} == {(0, 0), (1, 0)}
        assert all(exited(pid) for pid in pids.values())

    async def test_workers_drain_when_their_supervisor_is_killed(
        self, tmp_path: Path, emulator: processes.Process
    ) -> None:
        supervisor, _ = processes.start_workers(tmp_path, emulator, ledger(tmp_path))
        pids = worker_pids(supervisor).values()
        supervisor.kill()
        try:
            await until(lambda: all(exited(pid) for pid in pids), 20, "workers exit")
        finally:
            for pid in pids:
                if not exited(pid):
                    os.kill(pid, signal.SIGKILL)
        assert len(processes.events(supervisor.log, "worker.supervisor_lost")) == 2

    def test_a_worker_that_cannot_start_stops_the_supervisor(
        self, tmp_path: Path, emulator: processes.Process
    ) -> None:
        with socket.socket() as taken:  # bound without SO_REUSEPORT: nobody shares it
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            address = f"127.0.0.1:{taken.getsockname()[1]}"
            env = processes.service_env(ledger(tmp_path), f"http://{emulator.address}")
            args = ["serve", "--workers", "2", "--listen", address]
            supervisor = processes.start(args, address, tmp_path / "w.log", env)
            try:
                code = supervisor.popen.wait(timeout=60)
            finally:
                supervisor.stop()
        assert code == 1
        (failed,) = processes.events(supervisor.log, "workers.failed_to_start")
        assert "exited before serving" in str(failed["reason"])


class TestCommandLine:
    def test_auto_is_the_cores_this_process_may_use(self) -> None:
        assert worker_count("auto") == len(os.sched_getaffinity(0))
        assert worker_count("3") == 3

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("0", "0 workers: expected 1 or more"),
            ("-2", "-2 workers: expected 1 or more"),
            ("abc", "'abc' is not a number of workers"),
            ("", "'' is not a number of workers"),
        ],
    )
    def test_a_bad_count_is_a_usage_error(
        self, value: str, message: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as exited:
            main(["serve", "--workers", value])
        assert exited.value.code == 2
        stderr = capsys.readouterr().err
        assert "argument --workers" in stderr
        assert message in stderr

    def test_a_bad_count_in_the_environment_is_a_config_error(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("ACH_RISK_WORKERS", "many")
        assert main(["serve"]) == 2
        assert "ACH_RISK_WORKERS: 'many' is not a number" in capsys.readouterr().err

    def test_workers_need_a_fixed_port(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["serve", "--workers", "2", "--listen", "127.0.0.1:0"]) == 2
        assert "need a fixed port" in capsys.readouterr().err


async def _put_latency(emulator: processes.Process, ms: int) -> None:
    scenario = without_rate_limits()
    scenario["latency_ms"] = {"/signal/evaluate": ms}
    async with (
        aiohttp.ClientSession() as http,
        http.put(
            f"http://{emulator.address}/_emulator/scenario", json=scenario
        ) as response,
    ):
        assert response.status == 200, await response.text()
