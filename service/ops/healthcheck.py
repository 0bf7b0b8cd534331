"""`ach-risk health`: ask a running server's grpc.health.v1 Check, as a process exit code.

For Docker's HEALTHCHECK and for Kubernetes exec probes where the native `grpc:` probe cannot
be used (it speaks plaintext only). One line goes to stdout; the exit code is 0 when the
server answers SERVING and 1 otherwise (NOT_SERVING, unknown service, unreachable, timeout).

Transport, from the same environment the server reads:

- no `ACH_RISK_TLS_CERT_FILE`: plaintext, as the server listens without TLS;
- `ACH_RISK_TLS_CERT_FILE` set: TLS, trusting `ACH_RISK_TLS_CA_FILE` when set, else the
  server certificate itself (enough for a self-signed certificate). The name checked against
  the certificate is `ACH_RISK_TLS_SERVER_NAME` when set, else the host of the address;
- `ACH_RISK_TLS_CLIENT_CA_FILE` also set (mutual TLS): the check presents the server's own
  certificate and key (`ACH_RISK_TLS_KEY_FILE`) as its client certificate, which works when
  that certificate is issued by the client CA and allows client authentication.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING


def check(
    address: str,
    timeout_s: float = 2.0,
    service: str = "",
    *,
    env: Mapping[str, str] | None = None,
) -> int:
    """Call Check once; print one line; return 0 if SERVING, else 1.

    `env` is where the ACH_RISK_TLS_* settings are read (default: os.environ).
    """
    label = f"{address} {service or '<server>'}"
    try:
        channel = _channel(address, os.environ if env is None else env)
    except OSError as exc:
        print(f"{label}: cannot read TLS file: {exc}")
        return 1
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.RpcError as exc:
            print(f"{label}: {_describe(exc)}")
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    print(f"{label}: {status}")
    return 0 if response.status == SERVING else 1


def _channel(address: str, env: Mapping[str, str]) -> grpc.Channel:
    cert_file = env.get("ACH_RISK_TLS_CERT_FILE")
    if not cert_file:
        return grpc.insecure_channel(address)
    roots = Path(env.get("ACH_RISK_TLS_CA_FILE") or cert_file).read_bytes()
    key_file = env.get("ACH_RISK_TLS_KEY_FILE")
    if env.get("ACH_RISK_TLS_CLIENT_CA_FILE") and key_file:
        credentials = grpc.ssl_channel_credentials(
            roots, Path(key_file).read_bytes(), Path(cert_file).read_bytes()
        )
    else:
        credentials = grpc.ssl_channel_credentials(roots)
    server_name = env.get("ACH_RISK_TLS_SERVER_NAME")
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    return grpc.secure_channel(address, credentials, options=options)


def _describe(exc: grpc.RpcError) -> str:
    if isinstance(exc, grpc.Call):
        details = " ".join(str(exc.details()).split())
        return f"{exc.code().name}: {details}"
    return type(exc).__name__
