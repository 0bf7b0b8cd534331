"""The floor (bench/forwarder.py) answers EvaluatePayment from one real Plaid call and
writes its row, in process and as the process `make bench` starts."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from bench import forwarder
from bench.forwarder import Forwarder, RowWriter
from plaid_emulator import RunningEmulator
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc
from service.adapters.store.ledger_rules import Steps
from service.adapters.store.sqlite import SqliteWriter
from service.config.plaid import PlaidSection
from service.main import MAX_PENDING_CALLS
from service.ops.runtime import GC_THRESHOLDS
from tests.conftest import EmulatorAdmin, payment
from tests.processes import free_port

FORWARDER = Path(__file__).resolve().parents[2] / "bench" / "forwarder.py"


def rows(database: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT client_transaction_id, result, plaid_request_id FROM decisions"
            " ORDER BY client_transaction_id"
        ).fetchall()


async def evaluate(address: str, request: pb.EvaluatePaymentRequest) -> pb.Decision:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.RiskDecisionServiceStub(channel)
        reply: pb.EvaluatePaymentResponse = await stub.EvaluatePayment(
            request, timeout=10
        )
        return reply.decision


@pytest.fixture
async def started(
    emulator: RunningEmulator, tmp_path: Path
) -> AsyncIterator[tuple[str, Path]]:
    database = tmp_path / "floor.db"
    floor = Forwarder(emulator.url, str(database))
    port = await floor.start("127.0.0.1:0")
    try:
        yield f"127.0.0.1:{port}", database
    finally:
        await floor.stop()


class TestForwarder:
    async def test_answers_the_rulesets_result_from_one_call_and_writes_one_row(
        self, started: tuple[str, Path], admin: EmulatorAdmin
    ) -> None:
        address, database = started
        accept = payment(amount="42.50", ruleset_key="balance-only")
        reroute = payment(amount="250.00", ruleset_key="balance-only")  # > available

        decisions = [await evaluate(address, r) for r in (accept, reroute)]

        assert [d.result for d in decisions] == [
            pb.DECISION_RESULT_ACCEPT,
            pb.DECISION_RESULT_REROUTE,
        ]
        assert decisions[0].client_transaction_id == accept.client_transaction_id
        assert decisions[0].applied_ruleset_key == "balance-only"
        assert decisions[0].amount == accept.amount
        calls = [
            await admin.call_for(r.client_transaction_id) for r in (accept, reroute)
        ]
        assert [c["endpoint"] for c in calls] == ["/signal/evaluate"] * 2
        assert [c["status"] for c in calls] == [200, 200]
        assert rows(database) == sorted(
            [
                (accept.client_transaction_id, "ACCEPT", calls[0]["request_id"]),
                (reroute.client_transaction_id, "REROUTE", calls[1]["request_id"]),
            ]
        )

    async def test_concurrent_calls_share_batches_and_every_row_is_written(
        self, started: tuple[str, Path]
    ) -> None:
        address, database = started
        requests = [payment(ruleset_key="balance-only") for _ in range(15)]

        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.RiskDecisionServiceStub(channel)
            await asyncio.gather(
                *(stub.EvaluatePayment(r, timeout=10) for r in requests)
            )

        assert {row[0] for row in rows(database)} == {
            r.client_transaction_id for r in requests
        }


PRAGMAS = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")


def read_pragmas() -> Steps[tuple[object, ...]]:
    values = []
    for name in PRAGMAS:
        row = yield f"PRAGMA {name}", ()
        assert row is not None
        values.append(row[0])
    return tuple(values)


class TestFairness:
    """The floor copies the service's settings rather than importing them (it shares
    no code with the service); if the service changes one, the floor must follow or
    the ratios stop comparing like with like."""

    async def test_its_sqlite_connection_is_as_durable_as_the_ledger_writers(
        self, tmp_path: Path
    ) -> None:
        ledger = SqliteWriter(str(tmp_path / "ledger.db"))
        await ledger.start()
        try:
            services = await ledger.run(read_pragmas)
        finally:
            await ledger.close()
        floor = RowWriter(str(tmp_path / "floor.db"))
        floor.start()
        try:
            assert floor._db is not None
            floors = tuple(
                floor._db.execute(f"PRAGMA {name}").fetchone()[0] for name in PRAGMAS
            )
        finally:
            floor.close()
        assert floors == services
        assert services[0] == "wal"

    def test_it_runs_with_the_services_server_plaid_pool_and_gc_settings(self):
        assert forwarder.MAX_PENDING_CALLS == MAX_PENDING_CALLS
        assert forwarder.GC_THRESHOLDS == GC_THRESHOLDS
        pool_size = PlaidSection.model_fields["pool_size"].default
        assert pool_size == forwarder.POOL_SIZE


async def test_the_process_serves_until_sigterm(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    address, database = f"127.0.0.1:{free_port()}", tmp_path / "floor.db"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(FORWARDER),
        "--listen",
        address,
        "--plaid-url",
        emulator.url,
        "--database",
        str(database),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line.decode().startswith("forwarder listening")
        request = payment(ruleset_key="balance-only")
        decision = await evaluate(address, request)
        assert decision.result == pb.DECISION_RESULT_ACCEPT
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 20)
    assert code == 0
    assert [row[:2] for row in rows(database)] == [
        (request.client_transaction_id, "ACCEPT")
    ]
