"""The `ach-risk` command: `serve` and `emulator`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from service.config import ConfigError, Settings
from service.logs import configure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ach-risk", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gRPC service")
    serve.add_argument(
        "--listen", help="host:port (default 127.0.0.1:50051, or ACH_RISK_LISTEN)"
    )
    serve.add_argument(
        "--metrics-listen",
        help="host:port for Prometheus metrics at /metrics (default 127.0.0.1:9464, "
        "or ACH_RISK_METRICS_LISTEN; empty to disable)",
    )
    serve.add_argument("--config", help="TOML file (or ACH_RISK_CONFIG)")
    emulator = commands.add_parser("emulator", help="run the Plaid emulator")
    emulator.add_argument("--listen", default="127.0.0.1:8089")
    emulator.add_argument(
        "--scenario", help="YAML or JSON scenario (default: packaged)"
    )
    args = parser.parse_args(argv)
    if args.command == "emulator":
        from service.emulator import run_emulator

        configure("auto", "info")
        run_emulator(args.listen, args.scenario)
        return 0
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
    from service.app import serve_forever

    asyncio.run(serve_forever(settings))
    return 0
