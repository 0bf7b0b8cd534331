"""The call log: one entry per request, with the truth about live balance fetches.

Served by GET /_emulator/calls; it never holds access tokens.
"""

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from service.emulator.responses import iso

# Enough for any test or benchmark run while bounding memory under endless load.
MAX_CALLS = 100_000


@dataclass(slots=True)
class Call:
    """One request, filled in while it is handled."""

    seq: int
    time: datetime
    endpoint: str
    client_transaction_id: str | None = None
    account_ids: tuple[str, ...] = ()
    ruleset_key: str | None = None
    # 500 until answered: an unexpected exception reaches the client as aiohttp's 500.
    status: int = 500
    error_code: str | None = None
    request_id: str = ""
    realtime_balance_fetched: bool = False
    replayed: bool = False

    def to_json(self) -> dict[str, object]:
        """The entry as GET /_emulator/calls shows it."""
        return {
            "seq": self.seq,
            "time": iso(self.time),
            "endpoint": self.endpoint,
            "client_transaction_id": self.client_transaction_id,
            "account_ids": list(self.account_ids),
            "ruleset_key": self.ruleset_key,
            "status": self.status,
            "error_code": self.error_code,
            "request_id": self.request_id,
            "realtime_balance_fetched": self.realtime_balance_fetched,
            "replayed": self.replayed,
        }


@dataclass(slots=True)
class CallLog:
    """Calls in arrival order, numbered from 1 since the last reset."""

    _calls: deque[Call] = field(default_factory=lambda: deque(maxlen=MAX_CALLS))
    _last_seq: int = 0

    def open(self, endpoint: str, now: datetime) -> Call:
        """Start and keep the entry for a new request."""
        self._last_seq += 1
        call = Call(seq=self._last_seq, time=now, endpoint=endpoint)
        self._calls.append(call)
        return call

    def since(self, seq: int = 0) -> list[Call]:
        """Calls numbered above `seq`."""
        return [c for c in self._calls if c.seq > seq]

    def __iter__(self) -> Iterator[Call]:
        return iter(self._calls)

    def clear(self) -> None:
        """Forget every call and restart numbering."""
        self._calls.clear()
        self._last_seq = 0
