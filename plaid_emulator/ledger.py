"""What the emulator remembers per client_transaction_id: the evaluation and its reports.

Replays answer from here; report checks ask here whether a transaction was initiated.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from plaid_emulator.errors import invalid_request, signal_error
from plaid_emulator.validation import EvaluateRequest, ReportRequest

# Bounds memory (under 1 KB each) under endless unique ids, as in a soak test; the
# oldest are forgotten first.
MAX_TRANSACTIONS: Final = 200_000


@dataclass(slots=True)
class Transaction:
    """One evaluated transaction: what a replay needs, and the latest decision report."""

    payment: tuple[str, str, float, str | None]
    account_id: str
    ruleset_key: str | None
    result: str | None
    evaluated_at: datetime
    request_id: str
    initiated: bool | None = None


class Ledger:
    """Evaluated transactions by client_transaction_id, oldest first."""

    def __init__(self) -> None:
        self._transactions: dict[str, Transaction] = {}

    def get(self, client_transaction_id: str) -> Transaction | None:
        """The transaction evaluated under this id, or None."""
        return self._transactions.get(client_transaction_id)

    def replay(
        self, req: EvaluateRequest, *, refuse_repeats: bool = False
    ) -> Transaction | None:
        """The earlier evaluation under req's id, or None; refused for another payment,
        and for the same one too when `refuse_repeats`."""
        earlier = self._transactions.get(req.client_transaction_id)
        if earlier is not None and (refuse_repeats or earlier.payment != req.payment):
            # Plaid's one documented wording, whichever case it is.
            raise signal_error(
                "CLIENT_TRANSACTION_ID_ALREADY_IN_USE",
                "this client_transaction_id was already used in a different transaction",
            )
        return earlier

    def remember(self, client_transaction_id: str, transaction: Transaction) -> None:
        """Keep a first evaluation, forgetting the oldest one if full."""
        if len(self._transactions) >= MAX_TRANSACTIONS:
            del self._transactions[next(iter(self._transactions))]
        self._transactions[client_transaction_id] = transaction

    def clear(self) -> None:
        """Forget every transaction."""
        self._transactions.clear()

    def report_decision(self, report: ReportRequest) -> Transaction:
        """Record what was done with a transaction; the latest report wins."""
        transaction = self._evaluated(report)
        transaction.initiated = report.initiated
        return transaction

    def check_return(self, report: ReportRequest) -> Transaction:
        """The transaction a return is reported for; raises if it was never initiated."""
        transaction = self._evaluated(report)
        # docs/plaid-behaviour.md, Reports: reported as not initiated, or rerouted and never
        # reported as initiated.
        if transaction.initiated is False or (
            transaction.initiated is None and transaction.result == "REROUTE"
        ):
            raise signal_error(
                "SIGNAL_TRANSACTION_NOT_INITIATED",
                "this transaction was not initiated, so it cannot have been returned",
            )
        return transaction

    def _evaluated(self, report: ReportRequest) -> Transaction:
        transaction = self._transactions.get(report.client_transaction_id)
        if transaction is None:
            raise invalid_request(
                "INVALID_FIELD",
                "client_transaction_id does not match any evaluated transaction",
            )
        return transaction
