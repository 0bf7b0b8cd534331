"""The callers in examples/ (Go, TypeScript, Python) against the real service.

`make examples` builds them (generated code, the Go binary, the compiled TypeScript); each
then evaluates one Balance-only ACH payment with an API key and reads it back. What they
print is checked against the service's own answer and the emulator's record of the call.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc
from tests import processes

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
API_KEY = (
    "test-api-key-checkout"  # the `checkout` caller of tests/fixtures/api-keys.toml
)
EXAMPLES = {
    "go": [str(ROOT / "examples" / "go" / "achrisk-example")],
    "typescript": [
        "node",
        str(ROOT / "examples" / "typescript" / "dist" / "src" / "main.js"),
    ],
    "python": [
        sys.executable,
        str(ROOT / "examples" / "python" / "achrisk_example.py"),
    ],
}


@pytest.fixture(scope="module")
def built() -> None:
    """`make examples` (nothing to do when up to date). Go and npm are needed; in CI
    (env CI set) their absence fails the tests instead of skipping them."""
    missing = [tool for tool in ("go", "npm", "node") if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed: `make examples` cannot build"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run(
        ["make", "-s", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[processes.Process, processes.Process]]:
    """`ach-risk emulator` and `ach-risk serve` (API keys on) as processes on loopback."""
    workdir = tmp_path_factory.mktemp("examples")
    emulator = processes.start_emulator(workdir)
    try:
        service = processes.start_service(
            workdir,
            "service",
            emulator,
            f"sqlite:///{workdir / 'ledger.db'}",
            extra_env={"ACH_RISK_API_KEYS_FILE": str(FIXTURES / "api-keys.toml")},
        )
        try:
            yield service, emulator
        finally:
            assert service.stop() == 0
    finally:
        emulator.stop()


def _run(
    example: str, address: str, api_key: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACH_RISK_")}
    env |= {"ACH_RISK_ADDR": address, "ACH_RISK_API_KEY": api_key}
    return subprocess.run(
        [*EXAMPLES[example], *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _printed(stdout: str) -> dict[str, str]:
    printed = {}
    for line in stdout.splitlines():
        key, _, value = line.partition(": ")
        printed[key] = value
    return printed


def _stored(address: str, txid: str) -> pb.Decision:
    with grpc.insecure_channel(address) as channel:
        reply = pb_grpc.RiskDecisionServiceStub(channel).GetDecision(
            pb.GetDecisionRequest(client_transaction_id=txid),
            metadata=(("authorization", f"Bearer {API_KEY}"),),
            timeout=10,
        )
    decision: pb.Decision = reply.decision
    return decision


def _emulator_calls(emulator: processes.Process, txid: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(
        f"http://{emulator.address}/_emulator/calls", timeout=10
    ) as r:
        calls: list[dict[str, object]] = json.load(r)["calls"]
    return [c for c in calls if c["client_transaction_id"] == txid]


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_evaluates_a_payment_and_reads_it_back(
    built: None,
    served: tuple[processes.Process, processes.Process],
    example: str,
) -> None:
    service, emulator = served
    txid = f"ex-{example[:2]}-{uuid.uuid4().hex[:24]}"
    done = _run(example, service.address, API_KEY, "--id", txid)
    assert done.returncode == 0, done.stdout + done.stderr
    printed = _printed(done.stdout)

    stored = _stored(service.address, txid)
    rt = stored.realtime_balance
    for prefix in ("evaluated", "read_back"):
        assert printed[f"{prefix}.client_transaction_id"] == txid
        assert printed[f"{prefix}.result"] == pb.DecisionResult.Name(stored.result)
        assert printed[f"{prefix}.source"] == pb.DecisionSource.Name(stored.source)
        assert printed[f"{prefix}.reasons"] == ",".join(r.code for r in stored.reasons)
        assert printed[f"{prefix}.realtime_balance.basis"] == (
            pb.RealtimeBalanceBasis.Name(rt.basis)
        )
        assert (
            printed[f"{prefix}.realtime_balance.attempted"] == str(rt.attempted).lower()
        )
        assert printed[f"{prefix}.realtime_balance.fetched"] == str(rt.fetched).lower()
    assert printed["evaluated.replayed"] == "false"
    assert printed["read_back.replayed"] == "true"

    # The emulator's record: one Balance-only evaluation, and the bank really answered.
    [call] = _emulator_calls(emulator, txid)
    assert (call["endpoint"], call["ruleset_key"]) == (
        "/signal/evaluate",
        "balance-only",
    )
    assert call["realtime_balance_attempted"] is True
    assert call["realtime_balance_fetched"] is True
    assert printed["evaluated.realtime_balance.attempted"] == "true"
    assert printed["evaluated.realtime_balance.fetched"] == "true"


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_a_refused_call_exits_non_zero_with_its_grpc_status(
    built: None,
    served: tuple[processes.Process, processes.Process],
    example: str,
) -> None:
    service, emulator = served
    txid = f"ex-{example[:2]}-{uuid.uuid4().hex[:24]}"
    done = _run(example, service.address, "not-a-key", "--id", txid)
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.startswith("error: UNAUTHENTICATED: "), done.stderr
    assert _emulator_calls(emulator, txid) == []
