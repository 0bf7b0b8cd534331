"""The `ach-risk` command: `serve`, `emulator`, `health` and `protoset`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from importlib import resources
from pathlib import Path

import structlog

from service.config.server import DEFAULT_LISTEN, DEFAULT_METRICS_LISTEN, worker_count
from service.config.settings import ConfigError, Settings
from service.ops import tracing
from service.ops.logs import configure
from service.ops.readiness import LIVENESS_SERVICE

PROTOSET_NAME = "achrisk.protoset"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["emulator"]:
        # The emulator is a product of its own, with its own command-line handling.
        from plaid_emulator.command import main as emulator_main

        return emulator_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "health":
        from service.ops.healthcheck import check

        return check(args.address, args.timeout, args.service)
    if args.command == "protoset":
        return _protoset(args.output)
    return _serve(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ach-risk", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gRPC service")
    serve.add_argument(
        "--listen", help=f"host:port (default {DEFAULT_LISTEN}, or ACH_RISK_LISTEN)"
    )
    serve.add_argument(
        "--metrics-listen",
        help="host:port for Prometheus metrics at /metrics (default "
        f"{DEFAULT_METRICS_LISTEN}, or ACH_RISK_METRICS_LISTEN; empty to disable)",
    )
    serve.add_argument("--config", help="TOML file (or ACH_RISK_CONFIG)")
    serve.add_argument(
        "--workers",
        type=_workers,
        metavar="N|auto",
        help="serving processes sharing the address, under one supervisor that "
        "serves their metrics (default 1, or ACH_RISK_WORKERS; auto: one per core "
        "this process may run on, which is not a container's CPU limit)",
    )
    # The supervisor's own way to start a worker (service/workers/): not for people.
    serve.add_argument("--worker-link", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)
    commands.add_parser(
        "emulator",
        help="run the Plaid emulator (ach-risk emulator --help)",
        add_help=False,
    )
    health = commands.add_parser(
        "health",
        help="gRPC health check: exit 0 when SERVING (readiness, or liveness with "
        f"--service {LIVENESS_SERVICE} as the image's HEALTHCHECK asks)",
    )
    health.add_argument("--address", default=DEFAULT_LISTEN)
    health.add_argument("--timeout", type=float, default=2.0, help="seconds")
    health.add_argument(
        "--service",
        default="",
        help='"" (the default) or achrisk.v1.RiskDecisionService: readiness (ledger, '
        f"Plaid credentials, every worker); {LIVENESS_SERVICE}: liveness (this process "
        "answers; NOT_SERVING only at shutdown)",
    )
    protoset = commands.add_parser(
        "protoset",
        help="write the service's descriptor set (ghz or grpcurl --protoset, offline)",
    )
    protoset.add_argument(
        "--output",
        default=PROTOSET_NAME,
        help=f"file to write (default ./{PROTOSET_NAME}; - for standard output)",
    )
    return parser


def _protoset(output: str) -> int:
    """Copy the descriptor set `make protos` generated, shipped in the wheel, to `output`:
    the service's protos and every file they import, for clients with no reflection."""
    data = resources.files("service._proto").joinpath(PROTOSET_NAME).read_bytes()
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    try:
        Path(output).write_bytes(data)
    except OSError as exc:
        print(f"ach-risk: cannot write {output}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {output} ({len(data)} bytes)", file=sys.stderr)
    return 0


def _workers(text: str) -> int:
    try:
        return worker_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _serve(args: argparse.Namespace) -> int:
    worker = args.worker_link is not None
    try:
        settings = Settings.from_environ(
            os.environ,
            listen=args.listen,
            config_path=args.config,
            metrics_listen=args.metrics_listen,
            workers=1 if worker else args.workers,
        )
    except ConfigError as exc:
        print(f"ach-risk: {exc}", file=sys.stderr)
        return 2
    try:
        # Before any worker starts: a missing extra is one clear error, not N crashes.
        tracing.check(os.environ)
    except tracing.TracingUnavailable as exc:
        print(f"ach-risk: {exc}", file=sys.stderr)
        return 2
    configure(
        settings.log_format,
        settings.log_level,
        worker=args.worker_index,
        trace_ids=tracing.requested(os.environ),
    )
    if settings.server.workers > 1:
        # The supervisor never imports gRPC: it starts workers as new processes.
        from service.workers import supervise

        return asyncio.run(supervise(settings, args.config))
    from service.main import serve_forever

    # Each process its own provider: a worker is a new interpreter, not a fork.
    traced = tracing.start(os.environ)
    if traced is not None:
        structlog.get_logger().info("tracing.started", **tracing.describe(os.environ))
    if worker:
        from service.ops.worker_link import SupervisorLink

        link = SupervisorLink(args.worker_link)
        asyncio.run(serve_forever(settings, link, traced))
    else:
        asyncio.run(serve_forever(settings, tracing=traced))
    return 0
