"""The emulator's state machine: scenario, call log, ledger, faults and limits; no HTTP.

handle() takes an endpoint and a decoded JSON body and returns a Reply (status, body).
"""

import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Protocol

from plaid_emulator.access import (
    applied_ruleset,
    authenticate,
    find_account,
    find_item,
    require_addendum,
)
from plaid_emulator.balance import balance_get
from plaid_emulator.calls import Call, CallLog
from plaid_emulator.endpoints import (
    ACCOUNTS_BALANCE_GET,
    ITEM_GET,
    SIGNAL_DECISION_REPORT,
    SIGNAL_EVALUATE,
    SIGNAL_PREPARE,
    SIGNAL_RETURN_REPORT,
    Endpoint,
)
from plaid_emulator.errors import PlaidApiError, item_error, not_found
from plaid_emulator.evaluation import SignalOutcome, evaluate_signal
from plaid_emulator.faults import Fault, FaultQueue
from plaid_emulator.ledger import Ledger, Transaction
from plaid_emulator.limits import Caller, RateLimiter
from plaid_emulator.pacing import Pacer
from plaid_emulator.responses import item_json, item_status_json
from plaid_emulator.scenario import Ruleset, Scenario
from plaid_emulator.validation import (
    EvaluateRequest,
    ReportRequest,
    parse_access_token,
    parse_balance_get,
    parse_decision_report,
    parse_evaluate,
    parse_return_report,
)

Clock = Callable[[], datetime]
_Handler = Callable[[object, Call, datetime, str], dict[str, object]]
_ID_ALPHABET = string.ascii_letters + string.digits
# Maps each random byte to a letter or digit (a slight bias is harmless in an id).
_ID_TABLE = bytes(_ID_ALPHABET[b % len(_ID_ALPHABET)].encode()[0] for b in range(256))


def utc_now() -> datetime:
    """The real clock, aware and in UTC."""
    return datetime.now(UTC)


def new_request_id() -> str:
    """A fresh request_id shaped like Plaid's (15 letters and digits)."""
    return secrets.token_bytes(15).translate(_ID_TABLE).decode()


class Gate(Protocol):
    """A per-request check run before an endpoint's work, as rate limits are."""

    def __call__(self, endpoint: str, caller: Caller, now: datetime) -> None:
        """Raise PlaidApiError to refuse the request."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer: an HTTP status and a JSON body."""

    status: int
    body: dict[str, object]


class Engine:
    """Plaid's behaviour for one scenario, with a log of every call."""

    def __init__(self, scenario: Scenario, clock: Clock = utc_now) -> None:
        self.clock = clock
        self.calls = CallLog()
        self.faults = FaultQueue()
        self.ledger = Ledger()
        # Extra checks after the scenario's rate limits; tests may add their own.
        self.gates: list[Gate] = []
        self._scenario = scenario
        self._fresh_counters()
        self._handlers: dict[str, _Handler] = {
            SIGNAL_EVALUATE: self._evaluate,
            SIGNAL_DECISION_REPORT: partial(
                self._report,
                SIGNAL_DECISION_REPORT,
                parse_decision_report,
                Ledger.report_decision,
            ),
            SIGNAL_RETURN_REPORT: partial(
                self._report,
                SIGNAL_RETURN_REPORT,
                parse_return_report,
                Ledger.check_return,
            ),
            SIGNAL_PREPARE: self._prepare,
            ACCOUNTS_BALANCE_GET: self._balance,
            ITEM_GET: self._item_get,
        }

    @property
    def scenario(self) -> Scenario:
        """The scenario in force."""
        return self._scenario

    def replace_scenario(self, scenario: Scenario) -> None:
        """Switch to another scenario, forgetting calls, transactions and faults."""
        self._scenario = scenario
        self.reset()

    def reset(self) -> None:
        """Forget calls, transactions, faults and rate counts; keep the scenario."""
        self.calls.clear()
        self.ledger.clear()
        self.faults.clear()
        self._fresh_counters()

    def _fresh_counters(self) -> None:
        self._limiter = RateLimiter(self._scenario.rate_limits)
        self._pacer = Pacer(self._scenario, self.ledger)

    def delay_ms(self, endpoint: str, body: object = None) -> float:
        """The scenario's latency for the next call to `endpoint` with this decoded
        body (for /signal/evaluate, the ruleset it will run may set it)."""
        return self._pacer.delay_ms(endpoint, body)

    def handle(
        self,
        endpoint: str,
        body: object,
        now: datetime | None = None,
        *,
        call: Call | None = None,
    ) -> Reply:
        """Answer a POST to `endpoint`, logged in `call` (opened by the server on
        arrival) or in a new entry."""
        handler = self._handlers.get(endpoint)
        if handler is None:
            return self.reject(endpoint, not_found(endpoint), now, call=call)
        return self._serve(endpoint, body, now, handler, call)

    def signal_evaluate(self, body: object, now: datetime | None = None) -> Reply:
        """Answer POST /signal/evaluate."""
        return self.handle(SIGNAL_EVALUATE, body, now)

    def accounts_balance_get(self, body: object, now: datetime | None = None) -> Reply:
        """Answer POST /accounts/balance/get."""
        return self.handle(ACCOUNTS_BALANCE_GET, body, now)

    def reject(
        self,
        endpoint: str,
        error: PlaidApiError,
        now: datetime | None = None,
        *,
        call: Call | None = None,
    ) -> Reply:
        """Log and answer a request refused before reaching an endpoint."""

        def refuse(*_: object) -> dict[str, object]:
            raise error

        return self._serve(endpoint, None, now, refuse, call)

    def inject(self, call: Call, fault: Fault, body: object) -> Reply | None:
        """Log a call a fault answers; the Reply for an error fault, else None."""
        call.fault = fault.describe()
        call.note_unchecked(body)
        error = fault.error()
        if error is None:
            call.status = None if fault.drop_connection else fault.status or 200
            return None
        call.request_id = new_request_id()
        call.status, call.error_code = error.status, error.error_code
        return Reply(error.status, error.to_json(call.request_id))

    def _serve(
        self,
        endpoint: str,
        body: object,
        now: datetime | None,
        handler: _Handler,
        call: Call | None = None,
    ) -> Reply:
        now = self.clock() if now is None else now
        if call is None:
            call = self.calls.open(endpoint, now)
        request_id = new_request_id()
        try:
            status, answer = 200, handler(body, call, now, request_id)
        except PlaidApiError as exc:
            status, answer = exc.status, exc.to_json(request_id)
            call.error_code = exc.error_code
            # Attempted stays: a failed extraction still reached the bank.
            call.realtime_balance_fetched = False
        call.status = status
        # A replay answers with the first evaluation's request_id.
        call.request_id = str(answer["request_id"])
        return Reply(status, answer)

    def _pass_gates(self, endpoint: str, caller: Caller, now: datetime) -> None:
        self._limiter(endpoint, caller, now)
        for gate in self.gates:
            gate(endpoint, caller, now)

    def _evaluate(
        self, body: object, call: Call, now: datetime, request_id: str
    ) -> dict[str, object]:
        fields, client_id = authenticate(body, self._scenario.credentials)
        req = parse_evaluate(fields)
        call.client_transaction_id = req.client_transaction_id
        call.account_ids = (req.account_id,)
        caller = Caller(client_id, req.access_token, req.client_transaction_id)
        self._pass_gates(SIGNAL_EVALUATE, caller, now)
        refuse = self._scenario.repeated_transaction_id == "refuse"
        earlier = self.ledger.replay(req, refuse_repeats=refuse)
        if earlier is not None:
            call.replayed, call.ruleset_key = True, earlier.ruleset_key
            # Rebuilt, not stored (4.5 KB each): the same inputs give the same body,
            # and the scenario cannot change without a reset.
            key = earlier.ruleset_key
            ruleset = None if key is None else self._scenario.ruleset(key)
            replayed = self._signal(
                req, ruleset, earlier.evaluated_at, earlier.request_id
            )
            return replayed.body
        find_account(self._scenario, req.access_token, req.account_id)
        ruleset = applied_ruleset(self._scenario, req.ruleset_key)
        if req.has_user_data and ruleset is not None and ruleset.kind == "balance_only":
            require_addendum(self._scenario)
        call.ruleset_key = None if ruleset is None else ruleset.key
        outcome = self._signal(req, ruleset, now, request_id)
        call.realtime_balance_attempted = outcome.realtime_balance_attempted
        call.realtime_balance_fetched = outcome.realtime_balance_fetched
        self.ledger.remember(
            req.client_transaction_id,
            Transaction(
                req.payment,
                req.account_id,
                call.ruleset_key,
                outcome.result,
                now,
                request_id,
            ),
        )
        return outcome.body

    def _signal(
        self,
        req: EvaluateRequest,
        ruleset: Ruleset | None,
        now: datetime,
        request_id: str,
    ) -> SignalOutcome:
        item, account = find_account(self._scenario, req.access_token, req.account_id)
        scenario = self._scenario
        return evaluate_signal(
            req,
            item,
            account,
            ruleset,
            now,
            request_id,
            scenario.evaluate_item_errors,
            deprecated_fields=scenario.deprecated_fields,
        )

    def _report(
        self,
        endpoint: Endpoint,
        parse: Callable[[Mapping[str, object]], ReportRequest],
        record: Callable[[Ledger, ReportRequest], Transaction],
        body: object,
        call: Call,
        now: datetime,
        request_id: str,
    ) -> dict[str, object]:
        """Both report endpoints: Plaid checks the addendum, the body and its limits,
        then records the report against the transaction it evaluated."""
        fields, client_id = authenticate(body, self._scenario.credentials)
        require_addendum(self._scenario)
        report = parse(fields)
        call.client_transaction_id, call.report = report.client_transaction_id, fields
        self._pass_gates(endpoint, Caller(client_id), now)
        call.account_ids = (record(self.ledger, report).account_id,)
        return {"request_id": request_id}

    def _prepare(
        self, body: object, call: Call, now: datetime, request_id: str
    ) -> dict[str, object]:
        fields, client_id = authenticate(body, self._scenario.credentials)
        access_token = parse_access_token(fields)
        self._pass_gates(SIGNAL_PREPARE, Caller(client_id, access_token), now)
        # Prepare only opts the Item into data collection; Plaid documents no Item
        # errors for it, so an Item in error still gets its 200.
        find_item(self._scenario, access_token)
        return {"request_id": request_id}

    def _balance(
        self, body: object, call: Call, now: datetime, request_id: str
    ) -> dict[str, object]:
        fields, client_id = authenticate(body, self._scenario.credentials)
        req = parse_balance_get(fields)
        call.account_ids = req.account_ids or ()
        self._pass_gates(ACCOUNTS_BALANCE_GET, Caller(client_id, req.access_token), now)
        item = find_item(self._scenario, req.access_token)
        if req.account_ids is None:
            call.account_ids = tuple(a.account_id for a in item.accounts)
        outcome = balance_get(req, item, now, request_id)
        call.realtime_balance_attempted = outcome.realtime_balance_attempted
        call.realtime_balance_fetched = outcome.realtime_balance_fetched
        if isinstance(outcome.answer, PlaidApiError):
            raise outcome.answer
        return outcome.answer

    def _item_get(
        self, body: object, call: Call, now: datetime, request_id: str
    ) -> dict[str, object]:
        fields, client_id = authenticate(body, self._scenario.credentials)
        access_token = parse_access_token(fields)
        self._pass_gates(ITEM_GET, Caller(client_id, access_token), now)
        item = find_item(self._scenario, access_token)
        error = None if item.error is None else item_error(item.error)
        return {
            "item": item_json(item, error.without_request_id() if error else None),
            "status": item_status_json(now),
            "request_id": request_id,
        }
