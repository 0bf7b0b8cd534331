"""The call log: one entry per request, with the truth about real-time balance calls.

Served by GET /_emulator/calls; it never holds access tokens.
"""

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from plaid_emulator.responses import iso

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
    # None while the call is in flight (entries open on arrival), and for good when a
    # fault dropped the connection: no HTTP status was ever sent.
    status: int | None = None
    error_code: str | None = None
    request_id: str | None = None
    # The bank was asked for a real-time balance (Plaid bills a Balance-only evaluation
    # for that even when the bank does not answer); fetched: a fresh balance came back.
    realtime_balance_attempted: bool = False
    realtime_balance_fetched: bool = False
    replayed: bool = False
    # What a queued fault did to this call (Fault.describe()), or None.
    fault: dict[str, object] | None = None
    # A report's checked fields (credentials never kept), or None for other endpoints.
    report: dict[str, object] | None = None
    # The delay added before answering: a fault's delay_ms plus scenario latency.
    latency_ms: float = 0
    # The client hung up before the answer; the work was done anyway, as Plaid does.
    abandoned: bool = False

    def note_unchecked(self, body: object) -> None:
        """Log which transaction and account a call was about, without checking it."""
        if not isinstance(body, dict):
            return
        txid, account_id = body.get("client_transaction_id"), body.get("account_id")
        if isinstance(txid, str):
            self.client_transaction_id = txid
        if isinstance(account_id, str):
            self.account_ids = (account_id,)

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
            "realtime_balance_attempted": self.realtime_balance_attempted,
            "realtime_balance_fetched": self.realtime_balance_fetched,
            "replayed": self.replayed,
            "fault": self.fault,
            "report": self.report,
            "latency_ms": round(self.latency_ms, 3),
            "abandoned": self.abandoned,
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
