"""What the evaluation shell needs from the outside world, as Protocols."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from service.risk.model import BalanceAnswer, PaymentAttempt, PlaidCall, SignalAnswer
from service.secret import Secret


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


@dataclass(frozen=True, slots=True)
class CallBudget:
    """Time for one Plaid call, retries included.

    `deadline` is absolute on time.monotonic(); each attempt waits at most
    `attempt_timeout_s` so that a retry can still fit before the deadline.
    """

    deadline: float
    attempt_timeout_s: float


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
