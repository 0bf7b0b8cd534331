"""In-memory implementations of the ports, for testing the shell without a network."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from service.errors import PlaidFailure
from service.ports import CallBudget, PlaidAccount, SignalContext
from service.risk.model import BalanceAnswer, PaymentAttempt, PlaidCall, SignalAnswer

Scripted = tuple[SignalAnswer | BalanceAnswer, tuple[PlaidCall, ...]] | PlaidFailure


class FakeSignalSource:
    """Answers each endpoint from its own queue of answers or failures, in order."""

    def __init__(self) -> None:
        self.signal: deque[Scripted] = deque()
        self.balance: deque[Scripted] = deque()
        self.budgets: list[CallBudget] = []
        self.accepts_credentials = True

    async def evaluate_signal(
        self,
        attempt: PaymentAttempt,
        account: PlaidAccount,
        context: SignalContext,
        budget: CallBudget,
    ) -> tuple[SignalAnswer, tuple[PlaidCall, ...]]:
        self.budgets.append(budget)
        answer, calls = self._next(self.signal)
        assert isinstance(answer, SignalAnswer)
        return answer, calls

    async def get_balance(
        self, account: PlaidAccount, min_last_updated: datetime, budget: CallBudget
    ) -> tuple[BalanceAnswer, tuple[PlaidCall, ...]]:
        self.budgets.append(budget)
        answer, calls = self._next(self.balance)
        assert isinstance(answer, BalanceAnswer)
        return answer, calls

    async def credentials_accepted(self, budget: CallBudget) -> bool:
        self.budgets.append(budget)
        return self.accepts_credentials

    @staticmethod
    def _next(
        queue: deque[Scripted],
    ) -> tuple[SignalAnswer | BalanceAnswer, tuple[PlaidCall, ...]]:
        item = queue.popleft()
        if isinstance(item, PlaidFailure):
            raise item
        return item
