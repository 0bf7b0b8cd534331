"""Server reflection resolves method symbols: ghz and grpcurl work with no proto files.

grpcio-reflection alone answers NOT_FOUND for `achrisk.v1.RiskDecisionService.EvaluatePayment`
(service/api/reflection.py says why); ghz's `--call` and `grpcurl describe` ask for it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from bench.run import find_ghz, find_grpcurl
from tests import processes
from tests.conftest import Harness

FILE = "achrisk/v1/risk_service.proto"
SERVICE = "achrisk.v1.RiskDecisionService"
METHOD = f"{SERVICE}.EvaluatePayment"


async def _ask(
    channel: grpc.aio.Channel, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def one() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield request

    [response] = [r async for r in stub.ServerReflectionInfo(one(), timeout=10)]
    return response


def _files(
    response: reflection_pb2.ServerReflectionResponse,
) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    assert response.HasField("file_descriptor_response"), response
    files = {}
    for blob in response.file_descriptor_response.file_descriptor_proto:
        proto = descriptor_pb2.FileDescriptorProto.FromString(blob)
        files[proto.name] = proto
    return files


class TestFileContainingSymbol:
    @pytest.mark.parametrize(
        ("symbol", "file"),
        [
            (METHOD, FILE),
            (f"{SERVICE}.ReportReturn", FILE),
            (SERVICE, FILE),
            ("achrisk.v1.EvaluatePaymentRequest", FILE),
            ("achrisk.v1.PaymentRail", FILE),
            ("grpc.health.v1.Health.Check", "grpc_health/v1/health.proto"),
            (
                "grpc.reflection.v1alpha.ServerReflection.ServerReflectionInfo",
                "grpc_reflection/v1alpha/reflection.proto",
            ),
        ],
    )
    async def test_names_the_file_and_its_dependencies(
        self, harness: Harness, symbol: str, file: str
    ) -> None:
        request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
        response = await _ask(harness.channel, request)
        assert response.original_request == request
        files = _files(response)
        assert file in files
        if file == FILE:
            [service] = files[FILE].service
            assert "EvaluatePayment" in [m.name for m in service.method]
            assert "google/type/money.proto" in files  # a dependency, sent along

    @pytest.mark.parametrize(
        "symbol",
        [f"{SERVICE}.NoSuchMethod", "achrisk.v1.NoSuchService.EvaluatePayment", "x"],
    )
    async def test_an_unknown_symbol_is_not_found(
        self, harness: Harness, symbol: str
    ) -> None:
        request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
        response = await _ask(harness.channel, request)
        assert response.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]

    async def test_grpcio_reflections_own_client_finds_the_method(
        self, harness: Harness
    ) -> None:
        address = f"127.0.0.1:{harness.service.port}"

        def find() -> tuple[str, str]:
            # A blocking client: in a thread, so the server on this loop answers it.
            with grpc.insecure_channel(address) as channel:
                database = ProtoReflectionDescriptorDatabase(channel)
                proto = database.FindFileContainingSymbol(METHOD)
                method = descriptor_pool.DescriptorPool(database).FindMethodByName(
                    METHOD
                )
                return proto.name, method.input_type.full_name

        assert await asyncio.to_thread(find) == (
            FILE,
            "achrisk.v1.EvaluatePaymentRequest",
        )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Process]:
    """`ach-risk serve` and `ach-risk emulator` as processes on loopback (auth off)."""
    workdir = tmp_path_factory.mktemp("reflection")
    emulator = processes.start_emulator(workdir)
    try:
        served = processes.start_service(
            workdir, "service", emulator, f"sqlite:///{workdir / 'ledger.db'}"
        )
        try:
            yield served
        finally:
            assert served.stop() == 0
    finally:
        emulator.stop()


def _tool(find: Callable[[], str]) -> str:
    """The tool's path (installed with Go if need be), or a skip when it is missing
    and Go is not installed."""
    try:
        return find()
    except SystemExit as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="module")
def ghz() -> str:
    return _tool(find_ghz)


@pytest.fixture(scope="module")
def grpcurl() -> str:
    return _tool(find_grpcurl)


def _run(argv: list[str]) -> str:
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class TestByReflectionAlone:
    """Real ghz and grpcurl (the pinned versions, installed with Go), no protos given."""

    def test_ghz_calls_evaluate_payment(
        self, ghz: str, service: processes.Process
    ) -> None:
        request = {
            "client_transaction_id": "ghz-refl-{{.RequestNumber}}",
            "access_token": "access-sandbox-checking-ok",
            "account_id": "checking-ok",
            "amount": {"currency_code": "USD", "units": 42, "nanos": 500000000},
            "rail": "PAYMENT_RAIL_ACH_STANDARD",
            "ruleset_key": "balance-only",
        }
        call = ["--insecure", "--call", METHOD, "-d", json.dumps(request)]
        out = _run(
            [ghz, *call, "-n", "5", "-c", "1", "--format", "json", service.address]
        )
        report = json.loads(out)
        assert report["count"] == 5
        assert report["statusCodeDistribution"] == {"OK": 5}, report

    def test_grpcurl_describes_the_method(
        self, grpcurl: str, service: processes.Process
    ) -> None:
        out = _run([grpcurl, "-plaintext", service.address, "describe", METHOD])
        assert out.startswith(f"{METHOD} is a method:"), out
        assert "rpc EvaluatePayment ( .achrisk.v1.EvaluatePaymentRequest )" in out
