"""The emulator's state machine: scenario, call log and idempotency memory; no HTTP.

Each endpoint method takes a decoded JSON body and returns a Reply (status, body).
"""

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from service.emulator.balance import balance_get
from service.emulator.calls import Call, CallLog
from service.emulator.errors import (
    PlaidApiError,
    invalid_input,
    invalid_request,
    signal_error,
)
from service.emulator.evaluation import evaluate_signal
from service.emulator.scenario import (
    ACCOUNTS_BALANCE_GET,
    SIGNAL_EVALUATE,
    Account,
    Item,
    Ruleset,
    Scenario,
)
from service.emulator.validation import (
    EvaluateRequest,
    parse_balance_get,
    parse_evaluate,
)

Clock = Callable[[], datetime]
_Handler = Callable[[object, Call, datetime, str], dict[str, object]]
_ID_ALPHABET = string.ascii_letters + string.digits


def utc_now() -> datetime:
    """The real clock, aware and in UTC."""
    return datetime.now(UTC)


def new_request_id() -> str:
    """A fresh request_id shaped like Plaid's (15 letters and digits)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(15))


class Gate(Protocol):
    """A per-request check run before an endpoint's work; rate limits slot in here."""

    def __call__(self, endpoint: str, access_token: str, now: datetime) -> None:
        """Raise PlaidApiError to refuse the request."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer: an HTTP status and a JSON body."""

    status: int
    body: dict[str, object]


@dataclass(frozen=True, slots=True)
class _Evaluation:
    """A stored /signal/evaluate answer, replayed for its client_transaction_id."""

    payment: tuple[str, str, float, str | None]
    body: dict[str, object]
    ruleset_key: str | None


class Engine:
    """Plaid's behaviour for one scenario, with a log of every call."""

    def __init__(self, scenario: Scenario, clock: Clock = utc_now) -> None:
        self._scenario = scenario
        self.clock = clock
        self.calls = CallLog()
        self.gates: list[Gate] = []
        self._evaluations: dict[str, _Evaluation] = {}

    @property
    def scenario(self) -> Scenario:
        """The scenario in force."""
        return self._scenario

    def replace_scenario(self, scenario: Scenario) -> None:
        """Switch to another scenario, forgetting calls and idempotency memory."""
        self._scenario = scenario
        self.reset()

    def reset(self) -> None:
        """Forget calls and idempotency memory; keep the scenario."""
        self.calls.clear()
        self._evaluations.clear()

    def signal_evaluate(self, body: object, now: datetime | None = None) -> Reply:
        """Answer POST /signal/evaluate."""
        return self._serve(SIGNAL_EVALUATE, body, now, self._evaluate)

    def accounts_balance_get(self, body: object, now: datetime | None = None) -> Reply:
        """Answer POST /accounts/balance/get."""
        return self._serve(ACCOUNTS_BALANCE_GET, body, now, self._balance)

    def reject(
        self, endpoint: str, error: PlaidApiError, now: datetime | None = None
    ) -> Reply:
        """Log and answer a request refused before reaching an endpoint."""

        def refuse(*_: object) -> dict[str, object]:
            raise error

        return self._serve(endpoint, None, now, refuse)

    def _serve(
        self, endpoint: str, body: object, now: datetime | None, handler: _Handler
    ) -> Reply:
        now = self.clock() if now is None else now
        call = self.calls.open(endpoint, now)
        request_id = new_request_id()
        try:
            status, answer = 200, handler(body, call, now, request_id)
        except PlaidApiError as exc:
            status, answer = exc.status, exc.to_json(request_id)
            call.error_code = exc.error_code
            call.realtime_balance_fetched = False
        call.status = status
        # A replay answers with the first evaluation's request_id.
        call.request_id = str(answer["request_id"])
        return Reply(status, answer)

    def _evaluate(
        self, body: object, call: Call, now: datetime, request_id: str
    ) -> dict[str, object]:
        req = parse_evaluate(self._authenticate(body))
        call.client_transaction_id = req.client_transaction_id
        call.account_ids = (req.account_id,)
        self._pass_gates(SIGNAL_EVALUATE, req.access_token, now)
        earlier = self._evaluations.get(req.client_transaction_id)
        if earlier is not None:
            return _replay(earlier, req, call)
        item, account = self._account(req.access_token, req.account_id)
        ruleset = self._applied_ruleset(req.ruleset_key)
        call.ruleset_key = None if ruleset is None else ruleset.key
        errors_mode = self._scenario.evaluate_item_errors
        outcome = evaluate_signal(
            req, item, account, ruleset, now, request_id, errors_mode
        )
        call.realtime_balance_fetched = outcome.realtime_balance_fetched
        self._evaluations[req.client_transaction_id] = _Evaluation(
            req.payment, outcome.body, call.ruleset_key
        )
        return outcome.body

    def _balance(
        self, body: object, call: Call, now: datetime, request_id: str
    ) -> dict[str, object]:
        req = parse_balance_get(self._authenticate(body))
        call.account_ids = req.account_ids or ()
        self._pass_gates(ACCOUNTS_BALANCE_GET, req.access_token, now)
        item = self._item(req.access_token)
        if req.account_ids is None:
            call.account_ids = tuple(a.account_id for a in item.accounts)
        outcome = balance_get(req, item, now, request_id)
        call.realtime_balance_fetched = outcome.realtime_balance_fetched
        return outcome.body

    def _authenticate(self, body: object) -> dict[str, object]:
        """The body without its credentials, once they check out."""
        if not isinstance(body, dict):
            raise invalid_request(
                "INVALID_BODY", "the request body must be a JSON object"
            )
        fields = dict(body)
        client_id = fields.pop("client_id", None)
        secret = fields.pop("secret", None)
        expected = self._scenario.credentials
        if (
            not (isinstance(client_id, str) and client_id)
            or not (isinstance(secret, str) and secret)
            or (
                expected
                and (client_id, secret) != (expected.client_id, expected.secret)
            )
        ):
            raise invalid_input(
                "INVALID_API_KEYS", "invalid client_id or secret provided"
            )
        return fields

    def _pass_gates(self, endpoint: str, access_token: str, now: datetime) -> None:
        for gate in self.gates:
            gate(endpoint, access_token, now)

    def _item(self, access_token: str) -> Item:
        item = self._scenario.item(access_token)
        if item is None:
            raise invalid_input(
                "INVALID_ACCESS_TOKEN",
                "the provided access token does not match any Item",
            )
        return item

    def _account(self, access_token: str, account_id: str) -> tuple[Item, Account]:
        item = self._item(access_token)
        account = item.account(account_id)
        if account is None:
            raise invalid_input(
                "INVALID_ACCOUNT_ID",
                "the account_id is invalid or does not belong to this Item",
            )
        return item, account

    def _applied_ruleset(self, requested: str | None) -> Ruleset | None:
        key = requested if requested is not None else self._scenario.default_ruleset
        if key is None:
            return None
        ruleset = self._scenario.ruleset(key)
        if ruleset is None:
            raise signal_error("RULESET_NOT_FOUND", f"no ruleset with key {key!r}")
        return ruleset


def _replay(
    earlier: _Evaluation, req: EvaluateRequest, call: Call
) -> dict[str, object]:
    """The stored answer for a repeated id; a different payment under it is refused."""
    if earlier.payment != req.payment:
        raise signal_error(
            "CLIENT_TRANSACTION_ID_ALREADY_IN_USE",
            "this client_transaction_id was already used in a different transaction",
        )
    call.replayed = True
    call.ruleset_key = earlier.ruleset_key
    return earlier.body
