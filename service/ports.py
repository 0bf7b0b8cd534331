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


class SignalSource(Protocol):
    """Plaid as the shell sees it: evidence in, PlaidFailure on failure."""

    async def evaluate_signal(
        self,
        attempt: PaymentAttempt,
        account: PlaidAccount,
        context: SignalContext,
        deadline: float,
    ) -> tuple[SignalAnswer, tuple[PlaidCall, ...]]:
        """Call `/signal/evaluate`; `deadline` is absolute, on time.monotonic()."""
        ...

    async def get_balance(
        self,
        account: PlaidAccount,
        min_last_updated: datetime,
        deadline: float,
    ) -> tuple[BalanceAnswer, tuple[PlaidCall, ...]]:
        """Call `/accounts/balance/get` for one account."""
        ...
