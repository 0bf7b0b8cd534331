"""Values the decision core reads and returns; they mirror the proto but never import it."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from service.domain.money import Money

# The Plaid endpoints a decision's PlaidCall records name (the adapter owns the URLs).
SIGNAL_EVALUATE = "/signal/evaluate"
BALANCE_GET = "/accounts/balance/get"


class Rail(enum.Enum):
    """How the money moves; only the ACH rails go to Plaid Signal."""

    ACH_STANDARD = "ACH_STANDARD"
    ACH_SAME_DAY = "ACH_SAME_DAY"
    RTP = "RTP"
    FEDNOW = "FEDNOW"
    WIRE = "WIRE"
    CARD = "CARD"
    BALANCE_CHECK = "BALANCE_CHECK"

    @property
    def is_ach(self) -> bool:
        return self in (Rail.ACH_STANDARD, Rail.ACH_SAME_DAY)


class Result(enum.Enum):
    """What to do with the payment, in Plaid's vocabulary."""

    ACCEPT = "ACCEPT"
    REVIEW = "REVIEW"
    REROUTE = "REROUTE"


class Source(enum.Enum):
    """What produced a result."""

    SIGNAL_RULESET = "SIGNAL_RULESET"
    SIGNAL_NO_RULESET = "SIGNAL_NO_RULESET"
    BALANCE_POLICY = "BALANCE_POLICY"
    DEGRADED_POLICY = "DEGRADED_POLICY"


class Basis(enum.Enum):
    """Why the service believes a real-time balance call did or did not happen."""

    RULESET_BALANCE_ONLY = "RULESET_BALANCE_ONLY"
    RULESET_TRANSACTION_SCORES = "RULESET_TRANSACTION_SCORES"
    NO_RULESET = "NO_RULESET"
    INFERRED_FROM_RESPONSE = "INFERRED_FROM_RESPONSE"
    BALANCE_ENDPOINT = "BALANCE_ENDPOINT"
    NO_PLAID_RESPONSE = "NO_PLAID_RESPONSE"
    # A live balance fetched earlier for the same caller and account, reused within
    # the request's max_balance_age (docs/realtime-balance.md, "Balance freshness").
    REUSED_RECENT_FETCH = "REUSED_RECENT_FETCH"
    # Decided from a ruleset's declared balance rule, before the ruleset type decided
    # (docs/realtime-balance.md). Never emitted now; kept so stored decisions load.
    RULESET_HAS_BALANCE_RULE = "RULESET_HAS_BALANCE_RULE"
    RULESET_HAS_NO_BALANCE_RULE = "RULESET_HAS_NO_BALANCE_RULE"


class Freshness(enum.Enum):
    """How fresh the balance behind a decision must be (docs/realtime-balance.md)."""

    DEFAULT = "DEFAULT"  # the ruleset (ACH) or /accounts/balance/get decides
    REQUIRE_LIVE = "REQUIRE_LIVE"  # a balance fetched live by this very call
    ACCEPT_RECENT = "ACCEPT_RECENT"  # a recent live fetch may be reused (non-ACH)


class TimeSource(enum.Enum):
    """Where a balance's as-of time comes from."""

    UNKNOWN = "UNKNOWN"
    PLAID_REPORTED = "PLAID_REPORTED"
    RESPONSE_TIME = "RESPONSE_TIME"


@dataclass(frozen=True, slots=True)
class Note:
    """A coded, human-readable statement: a decision reason or an evidence warning."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class PaymentAttempt:
    """The payment to decide, as the core sees it (no secrets, no PII)."""

    client_transaction_id: str
    amount: Money
    rail: Rail
    ruleset_key: str | None = None


@dataclass(frozen=True, slots=True)
class Scores:
    """Plaid Signal's return-risk scores (1-99, higher is riskier) and, when Plaid
    still sends them, the deprecated risk tiers (None when absent)."""

    customer_initiated: int
    customer_tier: int | None
    bank_initiated: int
    bank_tier: int | None


@dataclass(frozen=True, slots=True)
class Balance:
    """A balance as Plaid reported it, exact, with the time it was true if known."""

    available: Decimal | None
    current: Decimal | None
    currency: str | None
    as_of: datetime | None = None
    as_of_source: TimeSource = TimeSource.UNKNOWN

    def age_seconds(self, now: datetime) -> int | None:
        """Whole seconds between as_of and now, if as_of is known."""
        if self.as_of is None:
            return None
        return int((now - self.as_of).total_seconds())


@dataclass(frozen=True, slots=True)
class AppliedRuleset:
    """The `ruleset` object of a Signal answer."""

    key: str | None
    result: str
    custom_action_key: str | None = None
    internal_note: str | None = None


@dataclass(frozen=True, slots=True)
class PlaidWarning:
    """One entry of Signal's `warnings`."""

    warning_type: str
    warning_code: str
    warning_message: str


@dataclass(frozen=True, slots=True)
class SignalAnswer:
    """What `/signal/evaluate` said, parsed; times bracket the call on our clock."""

    request_id: str
    ruleset: AppliedRuleset | None
    scores: Scores | None
    # Every core attribute Plaid returned, as JSON values (evidence kept whole).
    core_attributes: Mapping[str, Any]
    balance: Balance
    warnings: tuple[PlaidWarning, ...]
    sent_at: datetime
    received_at: datetime

    @property
    def attribute_keys(self) -> frozenset[str]:
        return frozenset(self.core_attributes)

    def warning_codes(self) -> tuple[str, ...]:
        return tuple(w.warning_code for w in self.warnings)


@dataclass(frozen=True, slots=True)
class BalanceAnswer:
    """What `/accounts/balance/get` said about one account.

    `too_old` is set when Plaid answered LAST_UPDATED_DATETIME_OUT_OF_RANGE: then the
    balance values are unknown and `balance.as_of` holds the newest time Plaid had, if any.
    """

    request_id: str
    balance: Balance
    sent_at: datetime
    received_at: datetime
    too_old: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """A result, what produced it, and why."""

    result: Result
    source: Source
    reasons: tuple[Note, ...]


@dataclass(frozen=True, slots=True)
class ReusedFetch:
    """Which earlier live fetch a decision reused: the decision whose Plaid call
    fetched the balance, and the balance's age when it was reused."""

    client_transaction_id: str
    age: timedelta


@dataclass(frozen=True, slots=True)
class RealtimeReport:
    """Whether a real-time balance call to the bank happened, and on what basis.

    `attempted`: a live extraction was asked of the bank (Plaid bills it even when it
    fails); `fetched`: a fresh balance came back. Fetched implies attempted.
    """

    fetched: bool
    basis: Basis
    warnings: tuple[Note, ...] = ()
    attempted: bool = False
    # Set with basis REUSED_RECENT_FETCH only.
    reused: ReusedFetch | None = None

    @property
    def was_attempted(self) -> bool:
        """Attempted, also for decisions stored before `attempted` was recorded."""
        return self.attempted or self.fetched


@dataclass(frozen=True, slots=True)
class PlaidCall:
    """One call to Plaid made for a decision."""

    endpoint: str
    request_id: str | None
    http_status: int
    error_code: str | None
    duration_ms: int
    attempt: int = 1
    # Whether the call was sent to extract a live balance, as far as the service knew
    # when it sent it (a Signal evaluation under a ruleset declared Balance-only); None
    # when not known. What Plaid bills a call as (domain/billing.py) reads it when no
    # answer says more.
    live_extraction: bool | None = None


@dataclass(frozen=True, slots=True)
class DegradedCause:
    """Why a decision was made without Plaid's answer."""

    failure_class: str
    error_code: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The service's answer for one payment, with the evidence behind it."""

    attempt: PaymentAttempt
    verdict: Verdict
    balance: Balance
    realtime: RealtimeReport
    evaluated_at: datetime
    duration_ms: int = 0
    plaid_calls: tuple[PlaidCall, ...] = ()
    applied_ruleset: AppliedRuleset | None = None
    scores: Scores | None = None
    plaid_warnings: tuple[PlaidWarning, ...] = ()
    replayed: bool = False
    degraded: bool = False
    degraded_cause: DegradedCause | None = None
    # Signal's core_attributes as Plaid returned them (empty for other calls).
    core_attributes: Mapping[str, Any] = field(default_factory=dict)
