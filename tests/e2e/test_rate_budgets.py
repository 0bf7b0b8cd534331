"""Three replicas on one PostgreSQL storm Plaid's documented limits with the
emulator enforcing them: the shared rate budgets keep Plaid from ever answering 429,
callers get RATE_BUDGET_EXHAUSTED or an answer that waited within their deadline."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc
from tests import processes
from tests.conftest import default_scenario, payment, start_harness, stop_harness
from tests.e2e.test_replicas import calls

EVALUATE = "/signal/evaluate"
BALANCE = "/accounts/balance/get"


def scenario_file(where: Path, items: int) -> Path:
    scenario: dict[str, Any] = default_scenario()
    first = scenario["items"][0]
    for n in range(items):
        extra = copy.deepcopy(first)
        extra["access_token"] = f"access-sandbox-storm-{n:03d}"
        scenario["items"].append(extra)
    scenario["rate_limits"] = {"enabled": True}
    path = where / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


async def outcome(call: Any) -> tuple[str, dict[str, str] | None, float | None]:
    """OK, or the status code with the ErrorInfo metadata and the RetryInfo delay."""
    try:
        await call
    except grpc.aio.AioRpcError as error:
        status = rpc_status.from_call(error)
        assert status is not None
        info, delay = None, None
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                unpacked = error_details_pb2.ErrorInfo()
                detail.Unpack(unpacked)
                assert unpacked.reason == "RATE_BUDGET_EXHAUSTED", unpacked
                info = dict(unpacked.metadata)
            if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                delay = retry.retry_delay.ToTimedelta().total_seconds()
        return error.code().name, info, delay
    return "OK", None, None


@pytest.mark.slow
async def test_three_replicas_never_make_plaid_answer_429(
    tmp_path: Path, postgres_url: str
) -> None:
    emulator = processes.start_emulator(tmp_path, scenario_file(tmp_path, 30))
    replicas = [
        processes.start_service(tmp_path, f"replica-{i}", emulator, postgres_url)
        for i in range(3)
    ]
    try:
        channels = [grpc.aio.insecure_channel(r.address) for r in replicas]
        stubs = [pb_grpc.RiskDecisionServiceStub(c) for c in channels]

        def send(n: int, request: pb.EvaluatePaymentRequest) -> Any:
            return outcome(stubs[n % 3].EvaluatePayment(request, timeout=10))

        # 20/s per client: 30 Items at once; ten wait for the next second.
        loop = asyncio.get_running_loop()
        started = loop.time()
        many_items = await asyncio.gather(
            *(
                send(n, payment(access_token=f"access-sandbox-storm-{n:03d}"))
                for n in range(30)
            )
        )
        many_items_s = loop.time() - started
        await asyncio.sleep(1.1)
        # 70/hour per Item: four waves of 20 on one Item, a second apart.
        one_item = []
        for _ in range(4):
            one_item += await asyncio.gather(*(send(n, payment()) for n in range(20)))
            await asyncio.sleep(1.1)
        # 5/min per Item on /accounts/balance/get.
        balances = await asyncio.gather(
            *(send(n, payment(rail=pb.PAYMENT_RAIL_RTP)) for n in range(8))
        )
        for channel in channels:
            await channel.close()
    finally:
        for replica in replicas:
            assert replica.stop() == 0
    seen = await calls(emulator)
    emulator.stop()
    statuses = Counter((c["endpoint"], c["status"]) for c in seen)
    assert not [key for key in statuses if key[1] == 429], statuses

    assert Counter(o[0] for o in many_items)["OK"] >= 20
    assert many_items_s < 10

    item_ok = [o for o in one_item if o[0] == "OK"]
    item_refused = [o for o in one_item if o[0] != "OK"]
    # Plaid saw at most 70 evaluations of this Item, and refused none.
    assert statuses[(EVALUATE, 200)] <= 70 + 30
    assert 60 <= len(item_ok) <= 70
    assert item_refused
    for code, info, delay in item_refused:
        assert code == "RESOURCE_EXHAUSTED"
        assert info is not None
        assert info["endpoint"] == EVALUATE
        assert info["scope"] in ("item", "client")
        assert delay is not None
        assert delay > 0
    assert any(info and info["scope"] == "item" for _, info, _ in item_refused)

    balance_ok = [o for o in balances if o[0] == "OK"]
    assert len(balance_ok) == 5
    assert statuses[(BALANCE, 200)] == 5
    for code, info, delay in (o for o in balances if o[0] != "OK"):
        assert code == "RESOURCE_EXHAUSTED"
        assert info == {
            "scope": "item",
            "endpoint": BALANCE,
            "limit": "5",
            "windowS": "60",
        }
        assert delay is not None
        # Plaid's minute and the margin for transit, measured from the refused
        # taker's clock reading: read before its turn at the ledger, so a spend that
        # another replica stamped a moment later can end the window a few ms past 61 s.
        assert 0 < delay <= 61.5


@pytest.mark.slow
async def test_the_balance_client_budget_holds_across_replicas(
    tmp_path: Path, postgres_url: str
) -> None:
    """1,200 balance calls a minute per client: 250 Items, five calls each (their own
    budget's worth), through three replicas; the 1,201st and on are refused here."""
    items = 250
    emulator = processes.start_emulator(tmp_path, scenario_file(tmp_path, items))
    replicas = [
        processes.start_service(tmp_path, f"replica-{i}", emulator, postgres_url)
        for i in range(3)
    ]
    try:
        channels = [grpc.aio.insecure_channel(r.address) for r in replicas]
        stubs = [pb_grpc.RiskDecisionServiceStub(c) for c in channels]
        requests = [
            payment(
                access_token=f"access-sandbox-storm-{n % items:03d}",
                rail=pb.PAYMENT_RAIL_RTP,
            )
            for n in range(5 * items)
        ]
        results = []
        for wave in range(0, len(requests), 100):  # bounded in flight, under a minute
            results += await asyncio.gather(
                *(
                    outcome(stubs[n % 3].EvaluatePayment(request, timeout=20))
                    for n, request in enumerate(requests[wave : wave + 100], wave)
                )
            )
        for channel in channels:
            await channel.close()
    finally:
        for replica in replicas:
            assert replica.stop() == 0
    seen = await calls(emulator)
    emulator.stop()
    statuses = Counter((c["endpoint"], c["status"]) for c in seen)
    assert not [key for key in statuses if key[1] == 429], statuses
    assert statuses[(BALANCE, 200)] == 1200
    refused = [info for code, info, _ in results if code != "OK"]
    assert len(refused) == 5 * items - 1200
    for info in refused:
        assert info is not None
        assert info["scope"] == "client"
        assert info["limit"] == "1200"


async def balance_payments(stub: pb_grpc.RiskDecisionServiceStub, count: int) -> None:
    """`count` RTP payments on the default Item, each answered."""
    for _ in range(count):
        await stub.EvaluatePayment(payment(rail=pb.PAYMENT_RAIL_RTP), timeout=10)


async def refused_by_the_item_budget(stub: pb_grpc.RiskDecisionServiceStub) -> None:
    """One more RTP payment is refused, naming the Item's budget."""
    code, info, _ = await outcome(
        stub.EvaluatePayment(payment(rail=pb.PAYMENT_RAIL_RTP), timeout=10)
    )
    assert code == "RESOURCE_EXHAUSTED"
    assert info is not None
    assert info["scope"] == "item"


class TestWhatSpends:
    """In one process: which calls spend the Item's 5-a-minute balance budget."""

    async def test_a_replay_spends_nothing(
        self, emulator: Any, admin: Any, database_url: str
    ) -> None:
        running = await start_harness(emulator.url, database_url=database_url)
        try:
            first = payment(rail=pb.PAYMENT_RAIL_RTP)
            await running.stub.EvaluatePayment(first, timeout=10)
            for _ in range(10):  # replays, answered from the ledger
                reply = await running.stub.EvaluatePayment(first, timeout=10)
                assert reply.decision.replayed
            # Four more payments fit in the budget of five: no replay was counted.
            await balance_payments(running.stub, 4)
            await refused_by_the_item_budget(running.stub)
        finally:
            await stop_harness(running)
        balance_calls = [c for c in await admin.calls() if c["endpoint"] == BALANCE]
        assert len(balance_calls) == 5

    async def test_a_retry_spends_again(
        self, emulator: Any, admin: Any, database_url: str
    ) -> None:
        running = await start_harness(emulator.url, database_url=database_url)
        try:
            await admin.fault(endpoint=BALANCE, error_code="INTERNAL_SERVER_ERROR")
            # The first attempt fails, the retry answers: two spends of five.
            await balance_payments(running.stub, 4)
            await refused_by_the_item_budget(running.stub)
        finally:
            await stop_harness(running)
        statuses = [
            c["status"] for c in await admin.calls() if c["endpoint"] == BALANCE
        ]
        assert statuses == [500, 200, 200, 200, 200]
