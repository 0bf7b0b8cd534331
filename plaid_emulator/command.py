"""The `emulator` command line: flags in, a running emulator or one line on stderr out.

`plaid-emulator` and `python -m plaid_emulator` run it; `ach-risk emulator` is an alias.
"""

import argparse
import sys

from plaid_emulator.scenario import ScenarioError
from plaid_emulator.server import run_emulator


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; 2, with the reason on stderr, if unusable."""
    parser = argparse.ArgumentParser(
        prog="plaid-emulator", description="Run the Plaid emulator."
    )
    parser.add_argument("--listen", default="127.0.0.1:8089", help="HOST:PORT")
    parser.add_argument("--scenario", help="YAML or JSON scenario (default: packaged)")
    args = parser.parse_args(argv)
    try:
        run_emulator(args.listen, args.scenario)
    except (ScenarioError, ValueError, OSError) as exc:
        # The message names the file, path and field; a traceback would bury it.
        print(f"plaid-emulator: {exc}", file=sys.stderr)
        return 2
    return 0
