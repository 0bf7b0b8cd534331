"""What Plaid bills a call as: one pure rule, read by the metrics and the log line.

The Plaid facts, and which of them are documented and which inferred, are in
docs/plaid-behaviour.md ("What Plaid bills"). In short:

- a live balance extraction (a Balance-only Signal evaluation, or `/accounts/balance/get`)
  is billed as `balance_extraction`, also when the bank did not answer;
- any other Signal evaluation (a Transaction Scores ruleset, or none) as
  `signal_transaction_scores`;
- reports, `/item/get`, `/signal/prepare`, and every call Plaid refused with an error of
  its own (a bad request, a rate limit, a Plaid outage), as `free`.

A call that got no answer (a timeout, a dropped connection) may have been carried out,
so it counts as attempted, never as succeeded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from service.domain.model import (
    BALANCE_GET,
    SIGNAL_EVALUATE,
    Basis,
    PlaidCall,
    RealtimeReport,
)

# A bank that did not answer an extraction: asked live, so billed (docs/plaid-behaviour.md).
_BANK_FAILED: Final = frozenset(
    {
        "INSTITUTION_DOWN",
        "INSTITUTION_NOT_RESPONDING",
        "INSTITUTION_NOT_AVAILABLE",
        "INSTITUTION_NO_LONGER_SUPPORTED",
        "INSTITUTION_REGISTRATION_REQUIRED",
        "UNAUTHORIZED_INSTITUTION",
        "UNSUPPORTED_RESPONSE",
    }
)


class Product(enum.Enum):
    """What Plaid bills one call as."""

    BALANCE_EXTRACTION = "balance_extraction"
    SIGNAL_TRANSACTION_SCORES = "signal_transaction_scores"
    FREE = "free"


@dataclass(frozen=True, slots=True)
class Billing:
    """One call as Plaid bills it: the product; `succeeded` when Plaid answered it with
    success and, for a live extraction, a fresh balance came back."""

    product: Product
    succeeded: bool = False

    @property
    def billable(self) -> bool:
        return self.product is not Product.FREE


FREE: Final = Billing(Product.FREE)


def billed_as(call: PlaidCall, realtime: RealtimeReport | None = None) -> Billing:
    """What Plaid bills `call` as.

    `realtime` is the report of the decision the call was made for (None for a failed
    evaluation): it says, from the ruleset Plaid applied, whether an answered Signal
    evaluation extracted a live balance, and whether a fresh one came back. Without it,
    the call's own `live_extraction` (the type of the ruleset asked for) decides.
    """
    ok = 200 <= call.http_status < 300
    if call.endpoint not in (SIGNAL_EVALUATE, BALANCE_GET):
        return Billing(Product.FREE, succeeded=ok)
    answered = call.http_status != 0
    bank_failed = call.endpoint == BALANCE_GET and call.error_code in _BANK_FAILED
    if answered and not ok and not bank_failed:
        return FREE  # refused by Plaid before any work: nothing to bill
    live = _is_live(call, realtime)
    product = Product.BALANCE_EXTRACTION if live else Product.SIGNAL_TRANSACTION_SCORES
    if not ok:
        return Billing(product)
    if not live:
        return Billing(product, succeeded=True)
    return Billing(product, succeeded=realtime is not None and realtime.fetched)


def _is_live(call: PlaidCall, realtime: RealtimeReport | None) -> bool:
    """Whether the call asked the bank for a live balance."""
    if call.endpoint == BALANCE_GET:
        return True
    if realtime is None or realtime.basis is Basis.BALANCE_ENDPOINT:
        # No Signal answer (a failed evaluation, or one the balance fallback replaced).
        return bool(call.live_extraction)
    if realtime.basis is Basis.NO_PLAID_RESPONSE:
        return realtime.was_attempted or bool(call.live_extraction)
    # Plaid answered this evaluation: every attempt of it ran the ruleset it applied.
    return realtime.was_attempted


def billed_calls(
    calls: tuple[PlaidCall, ...], realtime: RealtimeReport | None = None
) -> tuple[Billing, ...]:
    """Every call of one evaluation, as Plaid bills it."""
    return tuple(billed_as(call, realtime) for call in calls)


def count(billings: tuple[Billing, ...], product: Product) -> int:
    """How many of `billings` Plaid bills as `product` (attempted: answered or not)."""
    return sum(1 for b in billings if b.product is product)
