"""The rate-budget rule (app/rate_budget.py) on a ManualClock: which budgets a call
spends, when it waits and when it is refused, and Plaid's 429 shrinking a budget."""

from __future__ import annotations

import asyncio

import pytest

from service.app.errors import FailureKind, PlaidFailure
from service.app.ports import CallBudget
from service.app.rate_budget import (
    WAITED,
    Budget,
    RateBudgetExhausted,
    RateBudgets,
    RateGate,
    Scope,
    Ticket,
    Waited,
    transit_margin_s,
)
from service.domain.model import BALANCE_GET, SIGNAL_EVALUATE
from service.domain.secret import Secret
from tests.clock import ManualClock
from tests.fakes import InMemoryRateLedger

TOKEN = Secret("access-sandbox-rate-item")
LIMITS = {
    (SIGNAL_EVALUATE, Scope.ITEM): Budget(70, 3600.0),
    (SIGNAL_EVALUATE, Scope.CLIENT): Budget(20, 1.0),
    (BALANCE_GET, Scope.ITEM): Budget(5, 60.0),
    (BALANCE_GET, Scope.CLIENT): Budget(1200, 60.0),
}


def gate(
    clock: ManualClock, ledger: InMemoryRateLedger, max_wait_s: float = 2.0
) -> tuple[RateGate, list[tuple[str, str, str, float]]]:
    seen: list[tuple[str, str, str, float]] = []
    rates = RateGate(
        ledger,
        RateBudgets(True, max_wait_s, LIMITS),
        b"key",
        Secret("client-id"),
        clock,
        observe=lambda *event: seen.append(event),
    )
    return rates, seen


def budget(clock: ManualClock, total_s: float = 10.0) -> CallBudget:
    return CallBudget.from_now(clock, total_s, total_s)


async def past_the_client_second(rates: RateGate, clock: ManualClock) -> Ticket:
    """The client's 20 evaluations of this second spent on 20 Items; the 21st Item's
    ticket."""
    for n in range(20):
        ticket = rates.ticket(SIGNAL_EVALUATE, Secret(f"access-item-{n}"))
        assert ticket is not None
        await ticket.spend(budget(clock), 0.25)
    ticket = rates.ticket(SIGNAL_EVALUATE, Secret("access-item-20"))
    assert ticket is not None
    return ticket


class TestSpend:
    async def test_the_item_budget_refuses_the_sixth_balance_call(self):
        clock, ledger = ManualClock(), InMemoryRateLedger()
        rates, seen = gate(clock, ledger)
        for _ in range(5):
            ticket = rates.ticket(BALANCE_GET, TOKEN)
            assert ticket is not None
            assert await ticket.spend(budget(clock), 0.25) == 0.0
        ticket = rates.ticket(BALANCE_GET, TOKEN)
        assert ticket is not None
        with pytest.raises(RateBudgetExhausted) as refused:
            await ticket.spend(budget(clock), 0.25)
        assert refused.value.scope is Scope.ITEM
        assert refused.value.kind is FailureKind.RATE_LIMITED
        assert refused.value.calls == ()
        # Plaid's minute, and the margin for the calls' transit (a tenth, at most 1 s)
        assert refused.value.retry_after_s == pytest.approx(61.0)
        assert seen == [(BALANCE_GET, "item", "refused", 0.0)]
        other = rates.ticket(BALANCE_GET, Secret("access-sandbox-other"))
        assert other is not None
        assert await other.spend(budget(clock), 0.25) == 0.0

    async def test_the_client_budget_waits_for_its_window_within_max_wait(self):
        clock, ledger = ManualClock(), InMemoryRateLedger()
        rates, seen = gate(clock, ledger)
        ticket = await past_the_client_second(rates, clock)
        holder = Waited()
        WAITED.set(holder)
        waiting = asyncio.ensure_future(ticket.spend(budget(clock), 0.25))
        window_s = 1.1  # Plaid's second, and a tenth for the calls' transit
        assert await clock.run(waiting) == [pytest.approx(window_s)]
        assert waiting.result() == pytest.approx(window_s)
        assert holder.seconds == pytest.approx(window_s)
        assert [event[:3] for event in seen] == [(SIGNAL_EVALUATE, "client", "waited")]
        assert seen[0][3] == pytest.approx(window_s)

    async def test_no_wait_past_the_callers_deadline(self):
        clock, ledger = ManualClock(), InMemoryRateLedger()
        rates, _ = gate(clock, ledger)
        ticket = await past_the_client_second(rates, clock)
        with pytest.raises(RateBudgetExhausted) as refused:
            await ticket.spend(budget(clock, total_s=1.2), 0.25)  # 1 s + 0.25 > 1.2
        assert refused.value.scope is Scope.CLIENT
        assert clock.pending == []

    async def test_no_wait_beyond_max_wait(self):
        clock, ledger = ManualClock(), InMemoryRateLedger()
        rates, _ = gate(clock, ledger, max_wait_s=0.5)
        ticket = await past_the_client_second(rates, clock)
        with pytest.raises(RateBudgetExhausted):
            await ticket.spend(budget(clock), 0.25)

    async def test_keys_never_hold_the_token(self):
        clock, ledger = ManualClock(), InMemoryRateLedger()
        rates, _ = gate(clock, ledger)
        ticket = rates.ticket(BALANCE_GET, TOKEN)
        assert ticket is not None
        await ticket.spend(budget(clock), 0.25)
        assert len(ledger.spends) == 2
        assert all(TOKEN.reveal() not in key for key, _, _ in ledger.spends)

    async def test_disabled_budgets_hand_out_no_tickets(self):
        clock, ledger = ManualClock(), InMemoryRateLedger()
        rates = RateGate(
            ledger, RateBudgets(False, 1.0, LIMITS), b"k", Secret("c"), clock
        )
        assert rates.ticket(BALANCE_GET, TOKEN) is None


class TestPlaidRateLimit:
    @pytest.mark.parametrize(
        ("code", "blocked_scope", "blocked_s"),
        [
            ("BALANCE_LIMIT", "item", 60.0),
            ("ACCOUNTS_BALANCE_GET_LIMIT", "client", 60.0),
        ],
    )
    async def test_a_429_blocks_the_budget_it_names_for_its_window(
        self, code, blocked_scope, blocked_s
    ):
        clock, ledger = ManualClock(), InMemoryRateLedger()
        rates, _ = gate(clock, ledger)
        ticket = rates.ticket(BALANCE_GET, TOKEN)
        assert ticket is not None
        await ticket.refused_by_plaid(
            PlaidFailure(
                FailureKind.RATE_LIMITED,
                "429",
                endpoint=BALANCE_GET,
                error_type="RATE_LIMIT_EXCEEDED",
                error_code=code,
            )
        )
        with pytest.raises(RateBudgetExhausted) as refused:
            await ticket.spend(budget(clock), 0.25)
        assert refused.value.scope.value == blocked_scope
        assert refused.value.retry_after_s == pytest.approx(blocked_s)
        clock.advance(blocked_s)
        assert await ticket.spend(budget(clock), 0.25) == 0.0

    async def test_the_banks_own_limit_blocks_nothing(self):
        clock, ledger = ManualClock(), InMemoryRateLedger()
        rates, _ = gate(clock, ledger)
        ticket = rates.ticket(BALANCE_GET, TOKEN)
        assert ticket is not None
        await ticket.refused_by_plaid(
            PlaidFailure(
                FailureKind.RATE_LIMITED,
                "bank",
                endpoint=BALANCE_GET,
                error_type="INSTITUTION_ERROR",
                error_code="INSTITUTION_RATE_LIMIT",
            )
        )
        assert ledger.spends == []


class TestTransitMargin:
    @pytest.mark.parametrize(
        ("window_s", "margin_s"), [(1.0, 0.1), (60.0, 1.0), (3600.0, 1.0)]
    )
    def test_a_tenth_of_the_window_at_most_a_second(
        self, window_s: float, margin_s: float
    ) -> None:
        assert transit_margin_s(window_s) == pytest.approx(margin_s)
