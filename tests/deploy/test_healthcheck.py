"""`service.ops.healthcheck.check` against a real grpc.aio server with the health servicer."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from service.ops.healthcheck import check

SERVICE = "achrisk.v1.RiskDecisionService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
NO_TLS: dict[str, str] = {}


@dataclass
class HealthServer:
    health: health_aio.HealthServicer
    address: str


Start = Callable[[grpc.ServerCredentials | None], Awaitable[HealthServer]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Starts health-only servers on 127.0.0.1 (TLS with credentials); stops them after."""
    started: list[grpc.aio.Server] = []

    async def start_server(credentials: grpc.ServerCredentials | None) -> HealthServer:
        server = grpc.aio.server()
        health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        if credentials is None:
            port = server.add_insecure_port("127.0.0.1:0")
        else:
            port = server.add_secure_port("127.0.0.1:0", credentials)
        await server.start()
        started.append(server)
        return HealthServer(health, f"127.0.0.1:{port}")

    yield start_server
    for server in started:
        await server.stop(None)


@pytest.fixture
async def plain(start: Start) -> HealthServer:
    return await start(None)


async def _check(
    address: str,
    *,
    timeout_s: float = 2.0,
    service: str = "",
    env: Mapping[str, str],
) -> int:
    # check() blocks, and the server runs on this event loop: call it from a thread.
    return await asyncio.to_thread(check, address, timeout_s, service, env=env)


async def test_serving_is_exit_code_0(
    plain: HealthServer, capsys: pytest.CaptureFixture[str]
) -> None:
    await plain.health.set("", SERVING)
    assert await _check(plain.address, env=NO_TLS) == 0
    out = capsys.readouterr().out
    assert out == f"{plain.address} <server>: SERVING\n"


async def test_not_serving_is_exit_code_1(
    plain: HealthServer, capsys: pytest.CaptureFixture[str]
) -> None:
    await plain.health.set("", NOT_SERVING)
    assert await _check(plain.address, env=NO_TLS) == 1
    assert capsys.readouterr().out == f"{plain.address} <server>: NOT_SERVING\n"


async def test_asks_for_the_named_service(
    plain: HealthServer, capsys: pytest.CaptureFixture[str]
) -> None:
    await plain.health.set("", NOT_SERVING)
    await plain.health.set(SERVICE, SERVING)
    assert await _check(plain.address, service=SERVICE, env=NO_TLS) == 0
    assert await _check(plain.address, service="unknown.Service", env=NO_TLS) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{plain.address} {SERVICE}: SERVING"
    assert lines[1].startswith(f"{plain.address} unknown.Service: NOT_FOUND")


async def test_a_draining_server_is_not_serving(plain: HealthServer) -> None:
    await plain.health.set("", SERVING)
    await plain.health.enter_graceful_shutdown()
    assert await _check(plain.address, env=NO_TLS) == 1


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_nothing_listening_is_exit_code_1_at_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    address = f"127.0.0.1:{_unused_port()}"
    assert await _check(address, timeout_s=30.0, env=NO_TLS) == 1
    out = capsys.readouterr().out
    # UNAVAILABLE, not DEADLINE_EXCEEDED: it gave up at the refused connection rather
    # than waiting out its 30 s for a server to appear.
    assert out.startswith(f"{address} <server>: UNAVAILABLE")
    assert out.count("\n") == 1


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """A socket that accepts connections and never speaks HTTP/2."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield f"127.0.0.1:{s.getsockname()[1]}"


async def test_a_silent_peer_times_out(
    silent_listener: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without its own deadline the check would wait forever; the guard turns that
    # into a failure, and DEADLINE_EXCEEDED says the check's timeout ended it.
    async with asyncio.timeout(30):
        assert await _check(silent_listener, timeout_s=0.3, env=NO_TLS) == 1
    assert "DEADLINE_EXCEEDED" in capsys.readouterr().out


# TLS: a self-signed certificate for 127.0.0.1, good for serving and for client auth.


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the TLS tests need the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", "/CN=ach-risk.test", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=DNS:ach-risk.test,IP:127.0.0.1",
         "-addext", "extendedKeyUsage=serverAuth,clientAuth"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _server_credentials(cert: Path, key: Path, mutual: bool) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [(key.read_bytes(), cert.read_bytes())],
        root_certificates=cert.read_bytes() if mutual else None,
        require_client_auth=mutual,
    )


async def test_tls_trusts_the_server_certificate(
    start: Start, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server = await start(_server_credentials(cert, key, mutual=False))
    await server.health.set("", SERVING)
    env = {"ACH_RISK_TLS_CERT_FILE": str(cert), "ACH_RISK_TLS_KEY_FILE": str(key)}
    assert await _check(server.address, env=env) == 0
    assert await _check(server.address, env=NO_TLS) == 1  # plaintext to a TLS port
    port = server.address.rpartition(":")[2]
    by_name = {**env, "ACH_RISK_TLS_SERVER_NAME": "ach-risk.test"}
    assert await _check(f"localhost:{port}", env=by_name) == 0


async def test_mutual_tls_presents_the_server_certificate(
    start: Start, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server = await start(_server_credentials(cert, key, mutual=True))
    await server.health.set("", SERVING)
    env = {"ACH_RISK_TLS_CERT_FILE": str(cert), "ACH_RISK_TLS_KEY_FILE": str(key)}
    assert await _check(server.address, env=env) == 1  # no client certificate
    mutual = {**env, "ACH_RISK_TLS_CLIENT_CA_FILE": str(cert)}
    assert await _check(server.address, env=mutual) == 0


async def test_an_unreadable_tls_file_is_exit_code_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"ACH_RISK_TLS_CERT_FILE": str(tmp_path / "missing.pem")}
    assert await _check("127.0.0.1:1", env=env) == 1
    assert "cannot read TLS file" in capsys.readouterr().out
