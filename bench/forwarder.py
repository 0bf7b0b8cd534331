"""The floor of the stack: grpc.aio in, one Plaid call, one SQLite row, a reply.

`achrisk.v1.RiskDecisionService/EvaluatePayment` (the real method and messages, so the
bench's ghz configs work against it unchanged) does only what any Python service of this
kind must: parse the request, POST one `/signal/evaluate` with a persistent aiohttp
session, write one row through a single writer thread that group-commits whatever is
queued in one transaction, and answer a minimal Decision carrying the ruleset's result.
No validation, logging, metrics, idempotency, retries or policy: `make bench` divides the
service's figures by this process's, so what the service adds is what it costs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import queue
import signal
import sqlite3
import threading
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
import grpc
import orjson

from service._proto.achrisk.v1 import risk_service_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["RiskDecisionService"].full_name
# The service's own settings, copied rather than imported (the floor must not share its
# code): the same SQLite durability, server limits, Plaid pool and collector tuning, so
# the comparison measures the service's code and not a configuration difference.
PRAGMAS = ("journal_mode=WAL", "busy_timeout=5000", "foreign_keys=ON")
MAX_BATCH = 512
MAX_PENDING_CALLS = 10_000
POOL_SIZE = 4096
GC_THRESHOLDS = (50_000, 20, 20)
PLAID_TIMEOUT_S = 60.0
# The emulator accepts any non-empty pair; Plaid's documented place for them is the body.
CLIENT_ID, SECRET = "bench-forwarder", "bench-secret"
RESULTS = {
    "ACCEPT": pb.DECISION_RESULT_ACCEPT,
    "REVIEW": pb.DECISION_RESULT_REVIEW,
    "REROUTE": pb.DECISION_RESULT_REROUTE,
}
CREATE = (
    "CREATE TABLE IF NOT EXISTS decisions (client_transaction_id TEXT PRIMARY KEY,"
    " result TEXT NOT NULL, plaid_request_id TEXT, decided_at REAL NOT NULL)"
)
# A repeated id (the 10%-duplicate mix) keeps its first row rather than failing a batch.
INSERT = "INSERT INTO decisions VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"

Row = tuple[str, str, str, float]
_Job = tuple["asyncio.Future[None]", Row]


class RowWriter:
    """One thread, one connection: every queued row in one transaction, one fsync."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="row-writer")
        self._db: sqlite3.Connection | None = None

    def start(self) -> None:
        # Opened here, used only by the writer thread from then on.
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        for pragma in PRAGMAS:
            db.execute(f"PRAGMA {pragma}")
        db.execute(CREATE)
        self._db = db
        self._thread.start()

    def close(self) -> None:
        """Write what is queued, then stop."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    async def insert(self, row: Row) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._jobs.put((future, row))
        await future

    def _run(self) -> None:
        db = self._db
        assert db is not None
        try:
            while True:
                first = self._jobs.get()
                if first is None:
                    return
                batch, stop = [first], False
                while len(batch) < MAX_BATCH:
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    batch.append(job)
                error: BaseException | None = None
                try:
                    db.execute("BEGIN IMMEDIATE")
                    db.executemany(INSERT, [row for _, row in batch])
                    db.execute("COMMIT")
                except sqlite3.Error as exc:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    error = exc
                # One wake-up of the event loop for the whole batch.
                loop = batch[0][0].get_loop()
                with contextlib.suppress(RuntimeError):  # the loop is gone
                    loop.call_soon_threadsafe(_settle, batch, error)
                if stop:
                    return
        finally:
            db.close()


def _settle(batch: Sequence[_Job], error: BaseException | None) -> None:
    for future, _ in batch:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class Forwarder:
    """The floor's one RPC, served on `listen` until stop()."""

    def __init__(self, plaid_url: str, database: str) -> None:
        self._url = plaid_url.rstrip("/") + "/signal/evaluate"
        self._writer = RowWriter(database)
        self._session: aiohttp.ClientSession | None = None
        self._server: grpc.aio.Server | None = None

    async def start(self, listen: str) -> int:
        """Serve on `listen`; returns the bound port."""
        self._writer.start()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=POOL_SIZE, limit_per_host=0, keepalive_timeout=30
            ),
            timeout=aiohttp.ClientTimeout(total=PLAID_TIMEOUT_S),
        )
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "EvaluatePayment": grpc.unary_unary_rpc_method_handler(
                    self.evaluate,
                    request_deserializer=pb.EvaluatePaymentRequest.FromString,
                    response_serializer=pb.EvaluatePaymentResponse.SerializeToString,
                )
            },
        )
        server = grpc.aio.server(
            options=[
                ("grpc.server.max_pending_requests", MAX_PENDING_CALLS),
                ("grpc.server.max_pending_requests_hard_limit", 2 * MAX_PENDING_CALLS),
            ]
        )
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port(listen)
        if port == 0:
            raise OSError(f"cannot listen on {listen}")
        await server.start()
        self._server = server
        return port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(1)
        if self._session is not None:
            await self._session.close()
        await asyncio.to_thread(self._writer.close)

    async def evaluate(
        self,
        request: pb.EvaluatePaymentRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> pb.EvaluatePaymentResponse:
        assert self._session is not None
        body: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "secret": SECRET,
            "access_token": request.access_token,
            "account_id": request.account_id,
            "client_transaction_id": request.client_transaction_id,
            "amount": request.amount.units + request.amount.nanos / 1e9,
        }
        if request.ruleset_key:
            body["ruleset_key"] = request.ruleset_key
        async with self._session.post(
            self._url,
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json"},
        ) as response:
            raw = await response.read()
            status = response.status
        if status != 200:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"Plaid answered {status}")
        answer = orjson.loads(raw)
        ruleset = answer.get("ruleset") or {}
        result = str(ruleset.get("result", "REVIEW"))
        await self._writer.insert(
            (
                request.client_transaction_id,
                result,
                str(answer.get("request_id", "")),
                time.time(),
            )
        )
        return pb.EvaluatePaymentResponse(
            decision=pb.Decision(
                client_transaction_id=request.client_transaction_id,
                result=RESULTS.get(result, pb.DECISION_RESULT_REVIEW),
                source=pb.DECISION_SOURCE_SIGNAL_RULESET,
                rail=request.rail,
                amount=request.amount,
                applied_ruleset_key=str(ruleset.get("ruleset_key", "")),
            )
        )


async def serve(listen: str, plaid_url: str, database: str) -> None:
    """Serve until SIGTERM or SIGINT."""
    forwarder = Forwarder(plaid_url, database)
    port = await forwarder.start(listen)
    # As the service does once started: collect rarely, never walk start-up's objects.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    print(f"forwarder listening on port {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await forwarder.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:50071")
    parser.add_argument("--plaid-url", default="http://127.0.0.1:8089")
    parser.add_argument("--database", default="forwarder.db")
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.plaid_url, args.database))
