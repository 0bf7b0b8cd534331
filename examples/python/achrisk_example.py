"""Evaluate one ACH payment with ach-risk, read the decision back by its
client_transaction_id and print both. See README.md.

Needs grpcio, protobuf and googleapis-common-protos, and the stubs `make examples-python`
generates into ./gen.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

import grpc
from google.type import money_pb2

# The generated stubs import `achrisk.v1...`: their root goes on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent / "gen"))
from achrisk.v1 import risk_service_pb2, risk_service_pb2_grpc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--addr",
        default=os.environ.get("ACH_RISK_ADDR") or "127.0.0.1:50051",
        help="the service's host:port (env ACH_RISK_ADDR)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("ACH_RISK_API_KEY", ""),
        help="bearer API key; empty sends none, as `make run` on loopback needs "
        "(env ACH_RISK_API_KEY)",
    )
    parser.add_argument(
        "--id",
        default="",
        help="client_transaction_id (the idempotency key); empty: a new random one",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=45.0,
        help="deadline of each call, in seconds: a live balance can take Plaid 30 s or more",
    )
    args = parser.parse_args()
    # 35 characters (Plaid allows 36), random so that reruns never meet an earlier id.
    tx_id = args.id or f"py-{secrets.token_hex(16)}"
    metadata = [("authorization", f"Bearer {args.api_key}")] if args.api_key else []
    try:
        # Plaintext, as `make run` serves; with ACH_RISK_TLS_* set on the service, use
        # grpc.secure_channel(addr, grpc.ssl_channel_credentials()).
        with grpc.insecure_channel(args.addr) as channel:
            client = risk_service_pb2_grpc.RiskDecisionServiceStub(channel)
            evaluated = client.EvaluatePayment(
                risk_service_pb2.EvaluatePaymentRequest(
                    client_transaction_id=tx_id,
                    # The embedded Plaid emulator's sandbox Item and account.
                    access_token="access-sandbox-checking-ok",  # noqa: S106 (the emulator's)
                    account_id="checking-ok",
                    amount=money_pb2.Money(
                        currency_code="USD", units=42, nanos=500_000_000
                    ),
                    rail=risk_service_pb2.PAYMENT_RAIL_ACH_STANDARD,
                    # A Balance-only ruleset: Plaid asks the bank for a live balance.
                    ruleset_key="balance-only",
                ),
                timeout=args.deadline,
                metadata=metadata,
            )
            print_decision("evaluated", evaluated.decision)
            stored = client.GetDecision(
                risk_service_pb2.GetDecisionRequest(client_transaction_id=tx_id),
                timeout=args.deadline,
                metadata=metadata,
            )
            print_decision("read_back", stored.decision)
    except grpc.RpcError as err:
        # The gRPC status: its canonical code name and message. grpc_status.rpc_status
        # .from_call(err) decodes the google.rpc details (ErrorInfo, RetryInfo, BadRequest).
        print(f"error: {err.code().name}: {err.details()}", file=sys.stderr)
        return 1
    return 0


def print_decision(prefix: str, d: risk_service_pb2.Decision) -> None:
    """One `prefix.field: value` line per field, the same lines as the Go and
    TypeScript examples."""
    rt = d.realtime_balance
    lines = {
        "client_transaction_id": d.client_transaction_id,
        "result": risk_service_pb2.DecisionResult.Name(d.result),
        "source": risk_service_pb2.DecisionSource.Name(d.source),
        "reasons": ",".join(r.code for r in d.reasons),
        "realtime_balance.basis": risk_service_pb2.RealtimeBalanceBasis.Name(rt.basis),
        "realtime_balance.attempted": str(rt.attempted).lower(),
        "realtime_balance.fetched": str(rt.fetched).lower(),
        "replayed": str(d.replayed).lower(),
    }
    for field, value in lines.items():
        print(f"{prefix}.{field}: {value}")


if __name__ == "__main__":
    sys.exit(main())
