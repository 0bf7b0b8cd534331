"""What the evaluation shell needs from the outside world, as Protocols."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from service.app.clock import Clock
from service.domain.model import (
    BalanceAnswer,
    Decision,
    PaymentAttempt,
    PlaidCall,
    SignalAnswer,
)
from service.domain.secret import Secret


@dataclass(frozen=True, slots=True)
class PlaidAccount:
    """The account at Plaid: the Item's access token (a secret) and the account id."""

    access_token: Secret
    account_id: str


@dataclass(frozen=True, slots=True)
class EndUser:
    """PII forwarded to Plaid to improve scores; never stored, never logged."""

    prefix: str | None = None
    given_name: str | None = None
    middle_name: str | None = None
    family_name: str | None = None
    suffix: str | None = None
    phone_number: str | None = None
    email_address: str | None = None
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def __repr__(self) -> str:
        return "EndUser(<PII>)"


@dataclass(frozen=True, slots=True)
class SignalContext:
    """Optional `/signal/evaluate` inputs that the decision core does not read."""

    user_present: bool | None = None
    is_recurring: bool | None = None
    client_user_id: str | None = None
    user: EndUser | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    # False: send nothing only Transaction Scores reads (default_payment_method too).
    sts_inputs: bool = True
    # An earlier evaluation of this id may have reached Plaid and never finished.
    id_sent_before: bool = False

    def for_balance_only(self) -> SignalContext:
        """A Balance-only ruleset ignores these inputs at best, and answers `user` or
        `device` with 403 ADDENDUM_NOT_SIGNED at worst (docs/plaid-behaviour.md)."""
        return SignalContext(
            client_user_id=self.client_user_id,
            sts_inputs=False,
            id_sent_before=self.id_sent_before,
        )


@dataclass(frozen=True, slots=True)
class CallBudget:
    """Time for one Plaid call, retries included.

    `deadline` is absolute on the clock's monotonic() (app/clock.py); each attempt waits at
    most `attempt_timeout_s` so that a retry can still fit before the deadline. Every
    budget is made by `from_now` and read by `left_s`: the arithmetic lives here.
    """

    deadline: float
    attempt_timeout_s: float

    @classmethod
    def from_now(
        cls,
        clock: Clock,
        total_s: float,
        attempt_s: float,
        callers_deadline: float | None = None,
    ) -> CallBudget:
        """`total_s` from now on `clock`, ended sooner by the caller's own deadline."""
        deadline = clock.monotonic() + total_s
        if callers_deadline is not None:
            deadline = min(deadline, callers_deadline)
        return cls(deadline, attempt_s)

    def left_s(self, clock: Clock) -> float:
        """Seconds until the deadline (negative once it has passed)."""
        return self.deadline - clock.monotonic()


class SignalSource(Protocol):
    """Plaid as the shell sees it: evidence in, PlaidFailure on failure."""

    async def evaluate_signal(
        self,
        attempt: PaymentAttempt,
        account: PlaidAccount,
        context: SignalContext,
        budget: CallBudget,
    ) -> tuple[SignalAnswer, tuple[PlaidCall, ...]]:
        """Call `/signal/evaluate` within `budget`, retries included."""
        ...

    async def get_balance(
        self,
        account: PlaidAccount,
        min_last_updated: datetime,
        budget: CallBudget,
    ) -> tuple[BalanceAnswer, tuple[PlaidCall, ...]]:
        """Call `/accounts/balance/get` for one account within `budget`."""
        ...

    async def credentials_accepted(self, budget: CallBudget) -> bool:
        """Whether Plaid accepts our client id and secret (a free, read-only probe)."""
        ...


class CredentialsListener(Protocol):
    """Told whether Plaid accepts the service's own credentials (readiness follows)."""

    async def credentials_rejected(self) -> None: ...

    async def plaid_answered(self) -> None: ...


class ClaimState(enum.Enum):
    """What a claim on (caller, client_transaction_id) found."""

    NEW = "NEW"  # ours to evaluate: inserted, or taken over from an expired lease
    DONE = "DONE"  # a decision is stored for the same payment
    IN_FLIGHT = (
        "IN_FLIGHT"  # another owner holds an unexpired lease: wait and look again
    )
    CONFLICT = "CONFLICT"  # the id is stored for a different payment


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to DecisionLedger.claim; `decision` is set when DONE."""

    state: ClaimState
    decision: Decision | None = None
    # NEW over a PENDING row whose evaluation never completed: an earlier attempt,
    # here or on a replica that died, may have reached Plaid with this id.
    taken_over: bool = False


class ReportKind(enum.Enum):
    """Which Plaid report endpoint a report goes to."""

    DECISION = "DECISION"  # /signal/decision/report
    RETURN = "RETURN"  # /signal/return/report


class DeliveryStatus(enum.Enum):
    """Where a report's delivery stands."""

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    DEAD_LETTERED = "DEAD_LETTERED"


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """A report in the outbox: `body` is the exact Plaid JSON to send (no credentials)."""

    id: int
    caller: str
    client_transaction_id: str
    kind: ReportKind
    body: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    last_error_code: str | None
    accepted_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """A stored decision with the reports made about its payment, oldest first."""

    decision: Decision
    reports: tuple[ReportRecord, ...]


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """For metrics: undelivered reports, the oldest one's age, and dead letters."""

    pending: int
    oldest_pending_age_s: float
    dead_lettered: int


class UnknownTransaction(Exception):
    """No decision is stored for this caller and client_transaction_id."""


class ClaimNotHeld(Exception):
    """complete() found no PENDING claim of this owner: taken over, released, decided."""

    def __init__(self, owner: str, txid: str) -> None:
        super().__init__(
            f"no pending claim of {owner!r} on {txid!r}: lease lost or decided"
        )


# --- The store, as each use case sees it ------------------------------------------
# One SQL store (adapters/store/sql.py) implements all four; each use case names only
# the part it uses, so a change to one cannot reach the others and a test stand-in
# need offer no more than that part.


@dataclass(frozen=True, slots=True)
class BalanceFetch:
    """A live balance a decision fetched, as the ledger keys it for later reuse:
    `key` is a keyed fingerprint of (access token, account_id), never the token."""

    key: str
    fetched_at: datetime


class DecisionLedger(Protocol):
    """Owned by app/evaluate.py: one evaluation per (caller, client_transaction_id),
    across replicas, held by a lease while it runs."""

    async def claim(
        self,
        caller: str,
        txid: str,
        fingerprint: str,
        owner: str,
        lease_s: float,
        now: datetime,
    ) -> Claim:
        """Atomically start (or find) the evaluation of (caller, txid)."""
        ...

    async def complete(
        self,
        caller: str,
        txid: str,
        owner: str,
        decision: Decision,
        now: datetime,
        fetch: BalanceFetch | None = None,
    ) -> None:
        """Store the decision for a claim this owner holds; the row becomes DONE.
        `fetch`, written in the same statement, makes its live balance reusable.
        Raises ClaimNotHeld if the claim is not (any more) this owner's."""
        ...

    async def recent_balance(
        self, caller: str, key: str, since: datetime
    ) -> Decision | None:
        """The caller's newest decided decision whose live balance for `key` was
        fetched at or after `since`, or None."""
        ...

    async def release(self, caller: str, txid: str, owner: str) -> None:
        """Forget this owner's pending claim: the evaluation failed, a retry may work."""
        ...

    async def abandon(self, caller: str, txid: str, owner: str, now: datetime) -> None:
        """The evaluation failed after Plaid may have seen the id: keep the row PENDING
        with its lease ended, so the next claim takes it over knowing that."""
        ...


class ReportInbox(Protocol):
    """Owned by app/reports.py: stored decisions read back, reports about them accepted."""

    async def get(self, caller: str, txid: str) -> StoredDecision | None:
        """The stored decision and its reports, or None if there is none (or pending)."""
        ...

    async def add_report(
        self,
        caller: str,
        txid: str,
        kind: ReportKind,
        body: dict[str, Any],
        now: datetime,
    ) -> ReportRecord:
        """Persist a report for a stored decision; raises UnknownTransaction if none."""
        ...


class OutboxQueue(Protocol):
    """Owned by app/outbox.py: accepted reports, leased out for delivery one by one."""

    async def claim_reports(
        self, owner: str, limit: int, lease_s: float, now: datetime
    ) -> list[ReportRecord]:
        """Due PENDING reports (next_attempt_at <= now, lease free), leased to owner;
        with PostgreSQL, FOR UPDATE SKIP LOCKED so replicas never share one."""
        ...

    async def report_delivered(self, report_id: int, now: datetime) -> None:
        """Mark delivered (attempts + 1)."""
        ...

    async def report_failed(
        self, report_id: int, error_code: str | None, next_attempt_at: datetime | None
    ) -> None:
        """Record a failed attempt (attempts + 1); None dead-letters the report."""
        ...


class LedgerUpkeep(Protocol):
    """Owned by main.py's housekeeping: readiness, metrics, retention, shutdown."""

    async def ready(self) -> bool:
        """Whether the database answers (for readiness)."""
        ...

    async def outbox_stats(self, now: datetime) -> OutboxStats:
        """Counts for metrics."""
        ...

    async def purge(self, before: datetime) -> int:
        """Delete decisions (and their delivered or dead reports) older than `before`."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RateKey:
    """One budget as the store counts it: a name (never a token), at most `limit`
    spends in any `window_s` seconds."""

    name: str
    limit: int
    window_s: float


@dataclass(frozen=True, slots=True)
class SpendRefused:
    """The budget `key` (a RateKey's name) is spent; room again in retry_after_s."""

    key: str
    retry_after_s: float


class RateLedger(Protocol):
    """Owned by app/rate_budget.py: spends of Plaid rate budgets, shared by every
    replica on the database; "at most N in any window" holds across all of them."""

    async def take_spends(
        self, keys: tuple[RateKey, ...], now: datetime
    ) -> SpendRefused | None:
        """Atomically: if every key has room, record one spend on each and return None;
        else record nothing and say which key frees last-needed room, and when."""
        ...

    async def block_spends(self, key: RateKey, until: datetime, now: datetime) -> None:
        """Fill `key`'s window so that it has no room before `until` (Plaid's 429)."""
        ...

    async def sweep_spends(self, before: datetime) -> int:
        """Delete spends older than `before`; how many."""
        ...


class ReportSender(Protocol):
    """Delivers one outbox report to Plaid: one attempt, PlaidFailure on failure."""

    async def send_report(
        self, kind: ReportKind, body: dict[str, Any], budget: CallBudget
    ) -> PlaidCall:
        """POST the body to the report's endpoint."""
        ...


@dataclass(frozen=True, slots=True)
class DecisionReport:
    """What the caller did with a decision (Plaid's `/signal/decision/report` fields)."""

    client_transaction_id: str
    initiated: bool
    days_funds_on_hold: int | None = None
    decision_outcome: str | None = None  # APPROVE, REVIEW, REJECT, ...
    payment_method: str | None = None  # SAME_DAY_ACH, STANDARD_ACH, ...
    amount_instantly_available: Decimal | None = None  # USD, exact
    submitted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReturnReport:
    """An ACH return (Plaid's `/signal/return/report` fields)."""

    client_transaction_id: str
    return_code: str
    returned_at: datetime | None = None


class ReportFormat(Protocol):
    """Turns reports into the exact Plaid JSON bodies the outbox stores and sends."""

    def decision_report(self, report: DecisionReport) -> dict[str, Any]: ...

    def return_report(self, report: ReturnReport) -> dict[str, Any]: ...
