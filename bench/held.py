"""Many connections to the emulator, each with one /signal/evaluate call in flight.

A client of plain asyncio streams: one TCP connection per call, the request written in
one go, the answer read by its Content-Length. aiohttp's client costs several times
more CPU per connection, and at thousands of connections the load generator, not the
emulator, became what was measured.
"""

from __future__ import annotations

import asyncio
import resource
import time
from dataclasses import dataclass, field

import orjson

HEAD = (
    "POST /signal/evaluate HTTP/1.1\r\nHost: emulator\r\n"
    "Content-Type: application/json\r\n"
    "PLAID-CLIENT-ID: bench-client\r\nPLAID-SECRET: bench-secret\r\n"
    "Content-Length: {}\r\n\r\n"
)


def request(transaction_id: str) -> bytes:
    """One evaluation of the default scenario's healthy account, as raw HTTP/1.1."""
    body = orjson.dumps(
        {
            "access_token": "access-sandbox-checking-ok",
            "account_id": "checking-ok",
            "client_transaction_id": transaction_id,
            "amount": 12.5,
        }
    )
    return HEAD.format(len(body)).encode() + body


def raise_fd_limit(needed: int) -> int:
    """Raise this process's soft limit on open files to the hard one (each connection
    is a file); returns the soft limit, which the caller compares with `needed`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed <= hard or (soft < hard and hard == resource.RLIM_INFINITY):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


@dataclass
class Held:
    """What became of each connection."""

    answered: list[float] = field(default_factory=list)  # seconds from send to answer
    statuses: dict[int, int] = field(default_factory=dict)
    refused: int = 0  # connect failed
    reset: int = 0  # the connection ended before a whole answer
    gave_up: int = 0  # closed by this client, as planned
    in_flight: int = 0
    peak_in_flight: int = 0

    def errors(self) -> int:
        """Refused, reset, or answered with anything but 200."""
        not_ok = sum(n for status, n in self.statuses.items() if status != 200)
        return self.refused + self.reset + not_ok


async def hold(
    host: str,
    port: int,
    connections: int,
    run_id: str,
    give_up_s: float | None = None,
    connect_timeout_s: float = 30.0,
    held: Held | None = None,
    ramp_s: float = 0.0,
) -> Held:
    """Open `connections` connections at once (or evenly over `ramp_s`), send one call
    on each, and wait for every answer (or close each `give_up_s` after sending, as a
    client that times out). Pass `held` to watch it fill while this runs."""
    held = Held() if held is None else held

    async def one(i: int) -> None:
        if ramp_s:
            await asyncio.sleep(ramp_s * i / connections)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), connect_timeout_s
            )
        except (OSError, TimeoutError):
            held.refused += 1
            return
        try:
            started = time.perf_counter()
            writer.write(request(f"{run_id}-{i}"))
            held.in_flight += 1
            held.peak_in_flight = max(held.peak_in_flight, held.in_flight)
            try:
                status = await asyncio.wait_for(_answer(reader), give_up_s)
            except TimeoutError:
                held.gave_up += 1
                return
            except (OSError, asyncio.IncompleteReadError, ValueError):
                held.reset += 1
                return
            finally:
                held.in_flight -= 1
            held.answered.append(time.perf_counter() - started)
            held.statuses[status] = held.statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(one(i) for i in range(connections)))
    return held


async def _answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(
        int(line.split(":", 1)[1])
        for line in lines
        if line.lower().startswith("content-length:")
    )
    await reader.readexactly(length)
    return status


def pct_ms(values: list[float], q: float) -> float:
    """The q-quantile of `values` (seconds) in milliseconds; 0 when empty."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if values else 0
