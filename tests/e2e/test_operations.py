"""Operating the service: API keys, mutual TLS, metrics, load shedding, SIGTERM drain."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import yaml
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from plaid_emulator import RunningEmulator
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc
from tests import processes
from tests.conftest import (
    EmulatorAdmin,
    Harness,
    default_scenario,
    packaged_config_plus,
    payment,
    sample,
    scrape,
    start_harness,
    stop_harness,
    without_rate_limits,
)
from tests.e2e.test_errors import details

FIXTURES = Path(__file__).parents[1] / "fixtures"
API_KEYS = {"ACH_RISK_API_KEYS_FILE": str(FIXTURES / "api-keys.toml")}
CHECKOUT = (("authorization", "Bearer test-api-key-checkout"),)
OPS = (("authorization", "Bearer test-api-key-ops"),)


@pytest.fixture
async def secured(
    emulator: RunningEmulator, database_url: str
) -> AsyncIterator[Harness]:
    running = await start_harness(emulator.url, env=API_KEYS, database_url=database_url)
    yield running
    await stop_harness(running)


class TestApiKeys:
    @pytest.mark.parametrize(
        "metadata",
        [
            (),
            (("authorization", "Bearer wrong"),),
            (("authorization", "test-api-key-checkout"),),
        ],
    )
    async def test_a_call_without_a_valid_key_is_unauthenticated(
        self,
        secured: Harness,
        admin: EmulatorAdmin,
        metadata: tuple[tuple[str, str], ...],
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await secured.stub.EvaluatePayment(payment(), metadata=metadata, timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        info = details(caught.value)["ErrorInfo"]
        assert isinstance(info, error_details_pb2.ErrorInfo)
        assert info.reason == "API_KEY_INVALID"
        assert await admin.calls() == []

    async def test_a_valid_key_is_served_and_health_needs_none(
        self, secured: Harness
    ) -> None:
        await secured.stub.EvaluatePayment(payment(), metadata=CHECKOUT, timeout=5)
        reply = await health_pb2_grpc.HealthStub(secured.channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING

    async def test_another_callers_decision_is_not_found(
        self, secured: Harness
    ) -> None:
        request = payment(client_transaction_id="mine-1")
        await secured.stub.EvaluatePayment(request, metadata=CHECKOUT, timeout=5)
        get = pb.GetDecisionRequest(client_transaction_id="mine-1")
        await secured.stub.GetDecision(get, metadata=CHECKOUT, timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await secured.stub.GetDecision(get, metadata=OPS, timeout=5)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        # Plaid keeps one id space for the service's Plaid client, and so does the
        # ledger: another caller's payment under the same id is refused before Plaid.
        other = payment(client_transaction_id="mine-1", amount="1.00")
        with pytest.raises(grpc.aio.AioRpcError) as reused:
            await secured.stub.EvaluatePayment(other, metadata=OPS, timeout=5)
        assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS
        info = details(reused.value)["ErrorInfo"]
        assert isinstance(info, error_details_pb2.ErrorInfo)
        assert (info.domain, info.reason) == ("achrisk", "IDEMPOTENCY_KEY_REUSED")

    async def test_the_streaming_rpc_is_guarded_too(self, secured: Harness) -> None:
        async def one() -> AsyncIterator[pb.EvaluatePaymentsRequest]:
            yield pb.EvaluatePaymentsRequest(payment=payment())

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            _ = [r async for r in secured.stub.EvaluatePayments(one(), timeout=5)]
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


def make_pki(where: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed."""
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        str(where / "ca.key"),
        "-out",
        str(where / "ca.pem"),
    )
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(where / f"{name}.key"),
            "-out",
            str(where / f"{name}.csr"),
        )
        (where / f"{name}.ext").write_text(extension + "\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            str(where / f"{name}.csr"),
            "-CA",
            str(where / "ca.pem"),
            "-CAkey",
            str(where / "ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            str(where / f"{name}.ext"),
            "-out",
            str(where / f"{name}.pem"),
        )


class TestMutualTls:
    async def test_only_clients_with_a_certificate_from_the_ca_get_in(
        self, emulator: RunningEmulator, database_url: str, tmp_path: Path
    ) -> None:
        make_pki(tmp_path)
        env = {
            **API_KEYS,
            "ACH_RISK_TLS_CERT_FILE": str(tmp_path / "server.pem"),
            "ACH_RISK_TLS_KEY_FILE": str(tmp_path / "server.key"),
            "ACH_RISK_TLS_CLIENT_CA_FILE": str(tmp_path / "ca.pem"),
        }
        running = await start_harness(emulator.url, env=env, database_url=database_url)
        address = f"127.0.0.1:{running.service.port}"
        ca = (tmp_path / "ca.pem").read_bytes()
        with_cert = grpc.ssl_channel_credentials(
            ca,
            (tmp_path / "client.key").read_bytes(),
            (tmp_path / "client.pem").read_bytes(),
        )
        try:
            async with grpc.aio.secure_channel(address, with_cert) as channel:
                stub = pb_grpc.RiskDecisionServiceStub(channel)
                await stub.EvaluatePayment(payment(), metadata=CHECKOUT, timeout=5)
            async with grpc.aio.secure_channel(
                address, grpc.ssl_channel_credentials(ca)
            ) as channel:
                stub = pb_grpc.RiskDecisionServiceStub(channel)
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.EvaluatePayment(payment(), metadata=CHECKOUT, timeout=5)
                assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            await stop_harness(running)


class TestMetrics:
    async def test_the_named_series_move_when_calls_are_made(
        self, harness: Harness, admin: EmulatorAdmin
    ) -> None:
        decisions = (
            'achrisk_decisions_total{degraded="false",rail="ACH_STANDARD",'
            'result="ACCEPT",source="SIGNAL_RULESET"}'
        )
        realtime = (
            'achrisk_realtime_balance_total{attempted="true",'
            'basis="RULESET_BALANCE_ONLY",fetched="true"}'
        )
        rpc = 'achrisk_rpc_duration_seconds_count{code="OK",method="EvaluatePayment"}'
        plaid = (
            'achrisk_plaid_request_duration_seconds_count{endpoint="/signal/evaluate",'
            'outcome="ok"}'
        )
        retries = 'achrisk_plaid_retries_total{endpoint="/signal/evaluate"}'
        before = await scrape(harness)
        await admin.fault(
            endpoint="/signal/evaluate", error_code="INTERNAL_SERVER_ERROR"
        )
        request = payment(ruleset_key="balance-only", client_transaction_id="m-1")
        await harness.stub.EvaluatePayment(request, timeout=10)
        await harness.stub.EvaluatePayment(request, timeout=10)  # a replay
        after = await scrape(harness)
        for series in (decisions, realtime, plaid, retries):
            assert sample(after, series) - sample(before, series) == 1, series
        assert sample(after, rpc) - sample(before, rpc) == 2
        assert sample(after, "achrisk_decision_replays_total ") == 1
        assert "achrisk_outbox_pending_reports" in after
        assert "achrisk_rpc_in_flight" in after


class TestShedding:
    async def test_a_burst_beyond_the_limit_is_refused_fast(
        self,
        emulator: RunningEmulator,
        admin: EmulatorAdmin,
        database_url: str,
        tmp_path: Path,
    ) -> None:
        config = packaged_config_plus(tmp_path, "[server]\nmax_in_flight = 5\n")
        scenario = default_scenario()
        # Long enough that no served call ends (freeing a slot) before all 20 have
        # arrived, even on a loaded machine (at 500 ms one run served 6).
        scenario["latency_ms"] = {"/signal/evaluate": 2000}
        await admin.put_scenario(scenario)
        running = await start_harness(emulator.url, config, database_url=database_url)
        try:
            started = time.monotonic()
            results = await asyncio.gather(
                *(_timed(running, i) for i in range(20)), return_exceptions=False
            )
            refused = [
                (code, t)
                for code, t in results
                if code == grpc.StatusCode.RESOURCE_EXHAUSTED
            ]
            served = [code for code, _ in results if code == grpc.StatusCode.OK]
            assert len(served) == 5
            assert len(refused) == 15
            assert all(t - started < 0.3 for _, t in refused)  # fast, not queued
            text = await scrape(running)
            assert sample(text, "achrisk_rpc_shed_total ") == 15
        finally:
            await stop_harness(running)


async def _timed(harness: Harness, i: int) -> tuple[grpc.StatusCode, float]:
    try:
        await harness.stub.EvaluatePayment(
            payment(client_transaction_id=f"burst-{i}"), timeout=5
        )
        return grpc.StatusCode.OK, time.monotonic()
    except grpc.aio.AioRpcError as exc:
        return exc.code(), time.monotonic()


class TestShutdown:
    async def test_sigterm_under_load_drains_every_call_and_exits_0(
        self, tmp_path: Path
    ) -> None:
        # Thirty evaluations at once (over Plaid's 20 a second per client): a test of
        # draining, not of Plaid's quota, so the limits are off.
        scenario = without_rate_limits()
        scenario["latency_ms"] = {"/signal/evaluate": 1000}
        (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(scenario))
        emulator = processes.start_emulator(tmp_path, tmp_path / "scenario.yaml")
        service = processes.start_service(
            tmp_path, "service", emulator, f"sqlite:///{tmp_path / 'ledger.db'}"
        )
        try:
            async with grpc.aio.insecure_channel(service.address) as channel:
                stub = pb_grpc.RiskDecisionServiceStub(channel)
                calls = [
                    asyncio.ensure_future(
                        stub.EvaluatePayment(
                            payment(client_transaction_id=f"drain-{i}"), timeout=10
                        )
                    )
                    for i in range(30)
                ]
                await asyncio.sleep(0.4)
                service.popen.send_signal(signal.SIGTERM)
                stopped = time.monotonic()
                replies = await asyncio.gather(*calls)
            code = await asyncio.to_thread(service.popen.wait, 15)
            assert code == 0
            assert time.monotonic() - stopped < 10
            assert all(r.decision.client_transaction_id for r in replies)
        finally:
            service.stop()
            emulator.stop()
