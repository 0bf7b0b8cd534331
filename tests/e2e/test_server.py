"""The server itself: health, reflection, the five RPCs, and the `ach-risk` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service.ops.readiness import LIVENESS_SERVICE
from tests import processes
from tests.conftest import Harness

BIN = Path(sys.executable).parent
# What `make protos` generates and the wheel ships.
PROTOSET = (
    Path(__file__).resolve().parents[2] / "service" / "_proto" / "achrisk.protoset"
)
METHODS = [
    "EvaluatePayment",
    "EvaluatePayments",
    "GetDecision",
    "ReportDecision",
    "ReportReturn",
]


class TestHealthAndRpcs:
    async def test_health_is_serving(self, harness: Harness) -> None:
        stub = health_pb2_grpc.HealthStub(harness.channel)
        for service in ("", "achrisk.v1.RiskDecisionService", LIVENESS_SERVICE):
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING

    async def test_health_is_not_serving_once_stopping(self, harness: Harness) -> None:
        stub = health_pb2_grpc.HealthStub(harness.channel)
        await harness.service.health.enter_graceful_shutdown()
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=""))
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Served:
    address: str
    log: Path


@pytest.fixture(scope="module")
def served_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`ach-risk serve` as a user runs it: embedded emulator, default config."""
    address = f"127.0.0.1:{processes.free_port()}"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PLAID_", "ACH_RISK_"))
    }
    workdir = tmp_path_factory.mktemp("serve")
    log = workdir / "serve.log"
    with log.open("w") as out:
        # In a fresh directory: the default ledger is ./var/ach-risk.db, and one left
        # by an earlier run would answer this module's ids as replays.
        process = subprocess.Popen(
            [str(BIN / "ach-risk"), "serve", "--listen", address],
            env={
                **env,
                "ACH_RISK_LOG_FORMAT": "json",
                "ACH_RISK_METRICS_LISTEN": "127.0.0.1:0",
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        try:
            _wait_serving(address, process, log)
            yield Served(address, log)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0, log.read_text()


@pytest.fixture
def served(served_process: Served) -> str:
    return served_process.address


def _wait_serving(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                return
            except grpc.RpcError:
                time.sleep(0.1)
    raise AssertionError("ach-risk serve did not become healthy within 30 s")


def grpcurl(*args: str) -> str:
    done = subprocess.run(
        [str(BIN / "grpcurl"), "-plaintext", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class TestTheCommand:
    def test_reflection_lists_the_service_and_its_five_methods(
        self, served: str
    ) -> None:
        assert "achrisk.v1.RiskDecisionService" in grpcurl(served, "list").split()
        listed = grpcurl(served, "list", "achrisk.v1.RiskDecisionService").split()
        assert listed == [f"achrisk.v1.RiskDecisionService.{m}" for m in METHODS]

    def test_grpcurl_health_check_answers_serving(self, served: str) -> None:
        reply = json.loads(grpcurl(served, "grpc.health.v1.Health/Check"))
        assert reply == {"status": "SERVING"}

    @pytest.mark.parametrize(
        ("args", "name"),
        [([], "<server>"), (["--service", LIVENESS_SERVICE], LIVENESS_SERVICE)],
        ids=["readiness", "liveness"],
    )
    def test_ach_risk_health_exits_0_for_readiness_and_liveness(
        self, served: str, args: list[str], name: str
    ) -> None:
        done = subprocess.run(
            [str(BIN / "ach-risk"), "health", "--address", served, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert (done.returncode, done.stdout) == (0, f"{served} {name}: SERVING\n")

    def test_a_grpcurl_evaluation_against_the_embedded_emulator(
        self, served: str
    ) -> None:
        request = {
            "client_transaction_id": "cli-1",
            "access_token": "access-sandbox-checking-ok",
            "account_id": "checking-ok",
            "amount": {"currency_code": "USD", "units": "25"},
            "rail": "PAYMENT_RAIL_ACH_SAME_DAY",
            "ruleset_key": "balance-only",
        }
        reply = json.loads(
            grpcurl(
                "-d",
                json.dumps(request),
                served,
                "achrisk.v1.RiskDecisionService/EvaluatePayment",
            )
        )
        decision = reply["decision"]
        assert decision["result"] == "DECISION_RESULT_ACCEPT"
        # This grpcurl prints proto field names (snake_case).
        assert decision["realtime_balance"]["fetched"] is True
        assert decision["realtime_balance"]["attempted"] is True
        assert decision["realtime_balance"]["basis"] == (
            "REALTIME_BALANCE_BASIS_RULESET_BALANCE_ONLY"
        )
        assert "replayed" not in decision  # proto3 JSON leaves out false

    def test_the_log_has_a_line_per_rpc_and_no_secrets(
        self, served_process: Served
    ) -> None:
        request = {
            "client_transaction_id": "cli-log-1",
            "access_token": "access-sandbox-risky",
            "account_id": "checking-risky",
            "amount": {"currency_code": "USD", "units": "7"},
            "rail": "PAYMENT_RAIL_ACH_STANDARD",
            "user": {
                "email_address": "ada@example.com",
                "name": {"given_name": "Ada", "family_name": "Lovelace"},
            },
        }
        grpcurl(
            "-d",
            json.dumps(request),
            served_process.address,
            "achrisk.v1.RiskDecisionService/EvaluatePayment",
        )
        text = served_process.log.read_text()
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        finished = [
            e
            for e in lines
            if e.get("event") == "rpc.finished"
            and e.get("client_transaction_id") == "cli-log-1"
        ]
        assert len(finished) == 1
        assert finished[0]["realtime_basis"] == "NO_RULESET"
        assert finished[0]["caller"] == "anonymous"  # auth is off on loopback here
        # No ruleset: one Signal evaluation billed as such, no live extraction.
        assert finished[0]["billable_signal_evaluations"] == 1
        assert finished[0]["billable_balance_extractions"] == 0
        assert finished[0]["plaid_request_ids"]
        for secret in (
            "access-sandbox",
            "emulator-secret",
            "ada@example.com",
            "Lovelace",
        ):
            assert secret not in text


class TestProtosetCommand:
    """`ach-risk protoset`: the descriptor set, for ghz or grpcurl with no reflection."""

    def _files(self, data: bytes) -> dict[str, descriptor_pb2.FileDescriptorProto]:
        files = descriptor_pb2.FileDescriptorSet.FromString(data).file
        return {f.name: f for f in files}

    def test_writes_achrisk_protoset_in_the_current_directory(
        self, tmp_path: Path
    ) -> None:
        done = subprocess.run(
            [str(BIN / "ach-risk"), "protoset"], cwd=tmp_path, capture_output=True
        )
        assert done.returncode == 0, done.stderr
        files = self._files((tmp_path / "achrisk.protoset").read_bytes())
        [service] = files["achrisk/v1/risk_service.proto"].service
        assert [m.name for m in service.method] == METHODS
        assert "google/type/money.proto" in files  # imports included: self-contained

    def test_output_dash_is_standard_output_and_a_path_is_that_file(
        self, tmp_path: Path
    ) -> None:
        stdout = subprocess.run(
            [str(BIN / "ach-risk"), "protoset", "--output", "-"],
            capture_output=True,
            check=True,
        ).stdout
        target = tmp_path / "out" / "x.protoset"
        target.parent.mkdir()
        subprocess.run(
            [str(BIN / "ach-risk"), "protoset", "--output", str(target)], check=True
        )
        assert stdout == target.read_bytes() == PROTOSET.read_bytes()
