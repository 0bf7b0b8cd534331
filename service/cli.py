"""The `ach-risk` command: `serve`, `emulator` and `health`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from service.config.server import DEFAULT_LISTEN, DEFAULT_METRICS_LISTEN
from service.config.settings import ConfigError, Settings
from service.ops.logs import configure


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
    commands.add_parser(
        "emulator",
        help="run the Plaid emulator (ach-risk emulator --help)",
        add_help=False,
    )
    health = commands.add_parser(
        "health", help="gRPC health check: exit 0 when SERVING (for HEALTHCHECK)"
    )
    health.add_argument("--address", default=DEFAULT_LISTEN)
    health.add_argument("--timeout", type=float, default=2.0, help="seconds")
    health.add_argument(
        "--service", default="", help='service name ("" = whole server)'
    )
    return parser


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_environ(
            os.environ,
            listen=args.listen,
            config_path=args.config,
            metrics_listen=args.metrics_listen,
        )
    except ConfigError as exc:
        print(f"ach-risk: {exc}", file=sys.stderr)
        return 2
    configure(settings.log_format, settings.log_level)
    from service.main import serve_forever

    asyncio.run(serve_forever(settings))
    return 0
