"""The Plaid adapter reads every body Plaid documents, over HTTP on loopback.

Liberal in what Plaid sends: deprecated fields may be absent, unknown ones are ignored,
absent `warnings`/`scores`/`core_attributes` are fine, and only a value of the wrong
type is MALFORMED_RESPONSE, naming the field.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from google.rpc import code_pb2, error_details_pb2

from service.adapters.plaid.http import PlaidTransport
from service.adapters.plaid.reports import PlaidReportSender
from service.adapters.plaid.retry import RetryingPoster, RetryPolicy
from service.adapters.plaid.signals import PlaidSignalSource
from service.api.status import to_status
from service.app.errors import FailureKind, PlaidFailure
from service.app.ports import CallBudget, PlaidAccount, ReportKind, SignalContext
from service.domain.model import PaymentAttempt, Rail, Scores
from service.domain.money import Money
from service.domain.secret import Secret
from tests.clock import START_MONOTONIC, JumpingClock
from tests.contract.documented import error_bodies, response_examples
from tests.contract.standin import (
    HELD,
    Answer,
    StandIn,
    documented_error,
    standin,
)

EVALUATE = "/signal/evaluate"
BALANCE = "/accounts/balance/get"
ATTEMPT = PaymentAttempt("txn-doc-1", Money(10205, "USD"), Rail.ACH_STANDARD, None)
ACCOUNT = PlaidAccount(Secret("access-sandbox-doc"), "acc-doc")


@pytest.fixture
async def plaid() -> AsyncIterator[StandIn]:
    async with standin() as running:
        yield running


@pytest.fixture
def clock() -> JumpingClock:
    return JumpingClock()


@pytest.fixture
async def transport(
    plaid: StandIn, clock: JumpingClock
) -> AsyncIterator[PlaidTransport]:
    transport = PlaidTransport(
        plaid.url,
        Secret("cid"),
        Secret("sec"),
        clock=clock,
        pool_size=4,
        connect_timeout_s=1.0,
    )
    await transport.start()
    yield transport
    await transport.close()


@pytest.fixture
def source(transport: PlaidTransport, clock: JumpingClock) -> PlaidSignalSource:
    policy = RetryPolicy(
        max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02, min_attempt_s=0.05
    )
    return PlaidSignalSource(RetryingPoster(transport, policy, clock), clock)


def budget(seconds: float = 5.0, attempt_s: float = 5.0) -> CallBudget:
    """A budget from the start of the test, when every test's clock reads the same."""
    return CallBudget(START_MONOTONIC + seconds, attempt_s)


def answering(plaid: StandIn, endpoint: str, *answers: Answer) -> None:
    queue = list(answers)
    plaid.handlers[endpoint] = lambda _body: queue.pop(0)


async def evaluate(source: PlaidSignalSource) -> Any:
    answer, _ = await source.evaluate_signal(
        ATTEMPT, ACCOUNT, SignalContext(), budget()
    )
    return answer


class TestSignalEvaluateExamples:
    @pytest.mark.parametrize(
        ("name", "body"), response_examples(EVALUATE), ids=lambda v: str(v)[:20]
    )
    async def test_every_documented_answer_parses(
        self, plaid: StandIn, source: PlaidSignalSource, name: str, body: dict[str, Any]
    ) -> None:
        answering(plaid, EVALUATE, (200, body, 0))
        answer = await evaluate(source)
        assert answer.request_id == body["request_id"]
        assert answer.core_attributes == body.get("core_attributes", {})
        ruleset = body.get("ruleset")
        if ruleset:
            assert answer.ruleset.key == ruleset.get("ruleset_key")
            assert answer.ruleset.result == ruleset["result"]

    async def test_the_documented_answer_has_scores_without_tiers(
        self, plaid: StandIn, source: PlaidSignalSource
    ) -> None:
        """Plaid deprecated and hid risk_tier: its own example carries score only."""
        (_, body), *_ = response_examples(EVALUATE)
        answering(plaid, EVALUATE, (200, body, 0))
        answer = await evaluate(source)
        assert answer.scores == Scores(9, None, 82, None)
        assert answer.balance.available == Decimal(2200)
        assert answer.balance.current == Decimal(2000)
        assert answer.ruleset.internal_note.startswith("Rerouting customer")

    @pytest.mark.parametrize(
        ("mutate", "expected"),
        [
            (lambda b: b.pop("warnings"), "warnings"),
            (lambda b: b.pop("scores"), "scores"),
            (lambda b: b.pop("core_attributes"), "core_attributes"),
            (lambda b: b.pop("ruleset"), "ruleset"),
            (lambda b: b.update(scores=None), "scores null"),
            (lambda b: b.update(core_attributes=None), "core_attributes null"),
            (lambda b: b["ruleset"].pop("triggered_rule_details"), "details"),
            (lambda b: b["ruleset"].pop("ruleset_key"), "ruleset_key"),
        ],
        ids=lambda v: v if isinstance(v, str) else "",
    )
    async def test_absent_keys_are_fine(
        self, plaid: StandIn, source: PlaidSignalSource, mutate: Any, expected: str
    ) -> None:
        body = copy.deepcopy(response_examples(EVALUATE)[0][1])
        mutate(body)
        answering(plaid, EVALUATE, (200, body, 0))
        answer = await evaluate(source)
        assert answer.request_id == "mdqfuVxeoza6mhu", expected

    async def test_deprecated_and_unknown_fields_are_accepted_and_ignored(
        self, plaid: StandIn, source: PlaidSignalSource
    ) -> None:
        body = copy.deepcopy(response_examples(EVALUATE)[0][1])
        body["scores"]["customer_initiated_return_risk"]["risk_tier"] = 1
        body["scores"]["bank_initiated_return_risk"]["risk_tier"] = 7
        body["ruleset"]["outcome"] = "block"
        body["risk_profile"] = {"key": "legacy", "outcome": "block"}
        body["brand_new_field"] = {"nested": [1, 2, 3]}
        body["scores"]["customer_initiated_return_risk"]["explanation"] = "new"
        body["core_attributes"]["a_new_attribute_30d"] = 4
        answering(plaid, EVALUATE, (200, body, 0))
        answer = await evaluate(source)
        assert answer.scores == Scores(9, 1, 82, 7)
        assert answer.ruleset.result == "REROUTE"
        # Every core attribute is kept, new ones included: the evidence stays whole.
        assert answer.core_attributes["a_new_attribute_30d"] == 4

    @pytest.mark.parametrize(
        ("path", "value", "field"),
        [
            (("request_id",), None, "request_id"),
            (("request_id",), 42, "request_id"),
            (("scores",), [], "scores"),
            (
                ("scores", "customer_initiated_return_risk", "score"),
                "9",
                "scores.customer_initiated_return_risk.score",
            ),
            (
                ("scores", "bank_initiated_return_risk", "score"),
                None,
                "scores.bank_initiated_return_risk.score",
            ),
            (
                ("scores", "bank_initiated_return_risk", "risk_tier"),
                2.5,
                "scores.bank_initiated_return_risk.risk_tier",
            ),
            (
                ("scores", "customer_initiated_return_risk", "score"),
                2**40,
                "scores.customer_initiated_return_risk.score",
            ),
            (
                ("scores", "bank_initiated_return_risk", "score"),
                0,
                "scores.bank_initiated_return_risk.score",
            ),
            (
                ("scores", "customer_initiated_return_risk", "risk_tier"),
                6,
                "scores.customer_initiated_return_risk.risk_tier",
            ),
            (("ruleset", "result"), 1, "ruleset.result"),
            (("ruleset", "result"), None, "ruleset.result"),
            (("ruleset", "ruleset_key"), ["x"], "ruleset.ruleset_key"),
            (
                ("ruleset", "triggered_rule_details", "internal_note"),
                {},
                "ruleset.triggered_rule_details.internal_note",
            ),
            (("warnings",), {}, "warnings"),
            (("core_attributes",), "none", "core_attributes"),
            (
                ("core_attributes", "available_balance"),
                "2200",
                "core_attributes.available_balance",
            ),
            (
                ("core_attributes", "balance_last_updated"),
                "yesterday",
                "core_attributes.balance_last_updated",
            ),
            (
                ("core_attributes", "p50_eod_balance_30d"),
                {"nested": [1]},
                "core_attributes.p50_eod_balance_30d",
            ),
        ],
        ids=lambda v: ".".join(v) if isinstance(v, tuple) else None,
    )
    async def test_a_value_of_the_wrong_type_is_malformed_naming_the_field(
        self,
        plaid: StandIn,
        source: PlaidSignalSource,
        path: tuple[str, ...],
        value: object,
        field: str,
    ) -> None:
        body = copy.deepcopy(response_examples(EVALUATE)[0][1])
        *parents, leaf = path
        target = body
        for key in parents:
            target = target[key]
        target[leaf] = value
        answering(plaid, EVALUATE, (200, body, 0))
        with pytest.raises(PlaidFailure) as raised:
            await evaluate(source)
        failure = raised.value
        assert failure.kind is FailureKind.MALFORMED_RESPONSE
        assert failure.answer_field == field
        assert field in str(failure)
        status = to_status(failure)
        assert status.code == code_pb2.UNAVAILABLE
        (info,) = [
            d for d in _details(status) if isinstance(d, error_details_pb2.ErrorInfo)
        ]
        assert info.reason == "MALFORMED_RESPONSE"
        assert info.metadata["plaidAnswerField"] == field
        # A malformed answer is Plaid's answer: one call, not retried.
        assert len(plaid.bodies(EVALUATE)) == 1


class TestEmptyAnswer:
    async def test_an_empty_object_is_malformed_not_a_decision(
        self, plaid: StandIn, source: PlaidSignalSource
    ) -> None:
        """A 200 `{}` has no request_id: it is no answer of Plaid's."""
        answering(plaid, EVALUATE, (200, {}, 0))
        with pytest.raises(PlaidFailure) as raised:
            await evaluate(source)
        assert raised.value.kind is FailureKind.MALFORMED_RESPONSE
        assert raised.value.answer_field == "request_id"


class TestBalanceGetExamples:
    async def test_every_account_of_every_documented_answer_parses(
        self, plaid: StandIn, source: PlaidSignalSource
    ) -> None:
        checked = 0
        for _, body in response_examples(BALANCE):
            for account in body["accounts"]:
                answering(plaid, BALANCE, (200, body, 0))
                wanted = PlaidAccount(
                    Secret("access-sandbox-doc"), account["account_id"]
                )
                answer, _ = await source.get_balance(
                    wanted, datetime.now(UTC), budget()
                )
                balances = account["balances"]
                for got, raw in (
                    (answer.balance.available, balances["available"]),
                    (answer.balance.current, balances["current"]),
                ):
                    assert got == (None if raw is None else Decimal(repr(raw)))
                assert answer.balance.currency == balances["iso_currency_code"]
                assert answer.request_id == body["request_id"]
                checked += 1
        assert checked >= 3


class TestReportAndPrepareExamples:
    @pytest.mark.parametrize(
        ("kind", "endpoint"),
        [
            (ReportKind.DECISION, "/signal/decision/report"),
            (ReportKind.RETURN, "/signal/return/report"),
        ],
    )
    async def test_the_report_answers_are_read(
        self,
        plaid: StandIn,
        transport: PlaidTransport,
        clock: JumpingClock,
        kind: ReportKind,
        endpoint: str,
    ) -> None:
        (_, body), *_ = response_examples(endpoint)
        answering(plaid, endpoint, (200, body, 0))
        call = await PlaidReportSender(transport, clock).send_report(
            kind, {"client_transaction_id": "txn-doc-1"}, budget()
        )
        assert (call.endpoint, call.request_id) == (endpoint, body["request_id"])

    async def test_the_prepare_answer_is_read(
        self, plaid: StandIn, transport: PlaidTransport
    ) -> None:
        (_, body), *_ = response_examples("/signal/prepare")
        answering(plaid, "/signal/prepare", (200, body, 0))
        reply = await transport.post(
            "/signal/prepare", {"access_token": "access-sandbox-doc"}, 5.0
        )
        assert reply.call.request_id == body["request_id"]


class TestDocumentedErrors:
    @pytest.mark.parametrize(
        ("status", "body"),
        error_bodies(),
        ids=[body["error_code"] for _, body in error_bodies()],
    )
    async def test_every_documented_error_keeps_plaids_code_and_maps_cleanly(
        self,
        plaid: StandIn,
        transport: PlaidTransport,
        status: int,
        body: dict[str, Any],
    ) -> None:
        answering(plaid, EVALUATE, (status, body, 0))
        with pytest.raises(PlaidFailure) as raised:
            await transport.post(EVALUATE, {"client_transaction_id": "t"}, 5.0)
        failure = raised.value
        assert (failure.error_type, failure.error_code) == (
            body["error_type"],
            body["error_code"],
        )
        assert failure.request_id == body["request_id"]
        assert failure.http_status == status
        grpc_status = to_status(failure)
        assert grpc_status.code != code_pb2.UNKNOWN
        if body["error_code"] == "INVALID_API_KEYS":
            assert grpc_status.code == code_pb2.INTERNAL  # our own keys: say so
        else:
            assert grpc_status.code != code_pb2.INTERNAL
        if failure.kind is FailureKind.RATE_LIMITED:
            retry = [
                d
                for d in _details(grpc_status)
                if isinstance(d, error_details_pb2.RetryInfo)
            ]
            assert retry[0].retry_delay.seconds == 60

    @pytest.mark.parametrize(
        ("status", "body"),
        error_bodies(),
        ids=[body["error_code"] for _, body in error_bodies()],
    )
    async def test_fields_plaid_may_add_or_null_change_nothing(
        self,
        plaid: StandIn,
        transport: PlaidTransport,
        status: int,
        body: dict[str, Any],
    ) -> None:
        """The error bodies are written from Plaid's error docs: its other fields
        (status, causes, error_code_reason) and a null message must not matter."""
        richer = {
            **body,
            "error_message": None,
            "display_message": None,
            "status": status,
            "causes": [],
            "error_code_reason": None,
            "suggested_action": None,
        }
        answering(plaid, EVALUATE, (status, richer, 0))
        with pytest.raises(PlaidFailure) as raised:
            await transport.post(EVALUATE, {"client_transaction_id": "t"}, 5.0)
        assert raised.value.error_code == body["error_code"]
        assert to_status(raised.value).code not in (code_pb2.UNKNOWN,)

    @pytest.mark.parametrize(
        "code", ["RATE_LIMIT", "BALANCE_LIMIT", "ACCOUNTS_BALANCE_GET_LIMIT"]
    )
    async def test_a_rate_limit_is_not_retried_within_the_call(
        self, plaid: StandIn, source: PlaidSignalSource, code: str
    ) -> None:
        """Plaid's windows are a minute or an hour: a retry seconds later is wasted."""
        status, body = documented_error(code)
        answering(plaid, EVALUATE, (status, body, 0), (200, {"request_id": "x"}, 0))
        with pytest.raises(PlaidFailure) as raised:
            await evaluate(source)
        assert raised.value.kind is FailureKind.RATE_LIMITED
        assert len(plaid.bodies(EVALUATE)) == 1

    async def test_a_server_error_is_still_retried(
        self, plaid: StandIn, source: PlaidSignalSource
    ) -> None:
        status, body = documented_error("INTERNAL_SERVER_ERROR")
        ok = response_examples(EVALUATE)[0][1]
        answering(plaid, EVALUATE, (status, body, 0), (200, ok, 0))
        answer = await evaluate(source)
        assert answer.request_id == ok["request_id"]
        bodies = plaid.bodies(EVALUATE)
        assert len(bodies) == 2
        assert bodies[0]["client_transaction_id"] == bodies[1]["client_transaction_id"]


class TestOwnRetries:
    async def test_in_use_after_our_own_timed_out_attempt_is_an_unknown_outcome(
        self, plaid: StandIn, source: PlaidSignalSource
    ) -> None:
        """The first attempt is held past its timeout; the retry is refused."""
        ok = response_examples(EVALUATE)[0][1]
        status, in_use = documented_error("CLIENT_TRANSACTION_ID_ALREADY_IN_USE")
        answering(plaid, EVALUATE, (200, ok, HELD), (status, in_use, 0))
        with pytest.raises(PlaidFailure) as raised:
            await source.evaluate_signal(
                ATTEMPT, ACCOUNT, SignalContext(), budget(5.0, attempt_s=0.2)
            )
        failure = raised.value
        assert failure.kind is FailureKind.OUTCOME_UNKNOWN
        assert failure.error_code == "CLIENT_TRANSACTION_ID_ALREADY_IN_USE"
        assert [c.http_status for c in failure.calls] == [0, 400]
        assert "its result is unknown" in str(failure)
        assert to_status(failure).code == code_pb2.UNAVAILABLE

    async def test_in_use_on_a_first_attempt_is_a_conflict(
        self, plaid: StandIn, source: PlaidSignalSource
    ) -> None:
        """No attempt of ours went unanswered: the id was used outside this service."""
        status, in_use = documented_error("CLIENT_TRANSACTION_ID_ALREADY_IN_USE")
        answering(plaid, EVALUATE, (status, in_use, 0))
        with pytest.raises(PlaidFailure) as raised:
            await evaluate(source)
        assert raised.value.kind is FailureKind.IDEMPOTENCY_CONFLICT
        assert to_status(raised.value).code == code_pb2.ALREADY_EXISTS
        assert len(plaid.bodies(EVALUATE)) == 1


def _details(status: Any) -> list[Any]:
    found = []
    for packed in status.details:
        for cls in (error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo):
            if packed.Is(cls.DESCRIPTOR):
                message = cls()
                packed.Unpack(message)
                found.append(message)
    return found
