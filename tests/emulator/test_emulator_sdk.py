"""plaid-python 46 against the emulator over a real socket: every success shape parses,
errors carry Plaid's JSON, and the call log tells whether a live balance fetch happened."""

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import plaid
import pytest
from plaid.api.plaid_api import PlaidApi
from plaid.model.accounts_balance_get_request import AccountsBalanceGetRequest
from plaid.model.accounts_balance_get_request_options import (
    AccountsBalanceGetRequestOptions,
)
from plaid.model.plaid_error import PlaidError
from plaid.model.signal_evaluate_request import SignalEvaluateRequest

from tests.emulator.conftest import plaid_api


@pytest.fixture
def deprecated_fields() -> bool:
    """On: these tests read STS answers through plaid-python 46's type-checked models,
    which raise TypeError without each score's deprecated risk_tier."""
    return True


def evaluate_request(
    token: str = "access-sandbox-checking-ok",
    account: str = "checking-ok",
    amount: float = 25.0,
    txn: str = "txn-1",
    ruleset: str | None = None,
    **extra: Any,
) -> SignalEvaluateRequest:
    if ruleset is not None:
        extra["ruleset_key"] = ruleset
    return SignalEvaluateRequest(
        access_token=token,
        account_id=account,
        client_transaction_id=txn,
        amount=amount,
        **extra,
    )


def balance_request(
    token: str = "access-sandbox-checking-ok",
    ids: list[str] | None = None,
    floor: datetime | None = None,
) -> AccountsBalanceGetRequest:
    options: dict[str, Any] = {}
    if ids is not None:
        options["account_ids"] = ids
    if floor is not None:
        options["min_last_updated_datetime"] = floor
    if not options:
        return AccountsBalanceGetRequest(access_token=token)
    return AccountsBalanceGetRequest(
        access_token=token, options=AccountsBalanceGetRequestOptions(**options)
    )


async def evaluate(client: PlaidApi, **kwargs: Any) -> Any:
    return await asyncio.to_thread(client.signal_evaluate, evaluate_request(**kwargs))


class RawBody:
    """What ApiClient.deserialize needs of a response: .data and .getheader()."""

    def __init__(self, data: str) -> None:
        self.data = data

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return "application/json" if name.lower() == "content-type" else default


async def plaid_error(
    call: Callable[[Any], Any], request: Any
) -> tuple[int, str, str, dict[str, Any]]:
    with pytest.raises(plaid.ApiException) as caught:
        await asyncio.to_thread(call, request)
    assert caught.value.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = json.loads(caught.value.body)
    # The body must satisfy the SDK's own PlaidError model, types checked.
    api_client = call.__self__.api_client  # type: ignore[attr-defined]
    error = api_client.deserialize(RawBody(caught.value.body), (PlaidError,), True)
    assert error.request_id == body["request_id"]
    assert error.display_message is None
    return caught.value.status, body["error_type"], body["error_code"], body


class TestSignalEvaluateShapes:
    async def test_balance_only_returns_two_attributes_and_null_scores(
        self, plaid_client
    ):
        resp = await evaluate(plaid_client, amount=150.0, ruleset="balance-only")
        assert resp.scores is None
        assert resp.core_attributes.to_dict() == {
            "available_balance": 100.0,
            "current_balance": 110.0,
        }
        assert resp.ruleset.ruleset_key == "balance-only"
        assert resp.ruleset.result.value == "REROUTE"
        details = resp.ruleset.triggered_rule_details
        assert details.custom_action_key == "insufficient-funds"
        assert details.internal_note == "available balance below amount"
        assert resp.warnings == []

    async def test_transaction_score_ruleset_returns_scores_and_81_attributes(
        self, plaid_client
    ):
        resp = await evaluate(plaid_client, ruleset="sts-scores-only")
        assert resp.scores.customer_initiated_return_risk.score.value == 12
        assert resp.scores.bank_initiated_return_risk.score.value == 7
        assert len(resp.core_attributes.to_dict()) == 81
        assert resp.core_attributes.available_balance == 100.0
        assert resp.core_attributes.balance_to_transaction_amount_ratio == 4.0
        assert resp.core_attributes.balance_last_updated.tzinfo is not None
        assert resp.ruleset.result.value == "ACCEPT"
        assert resp.ruleset.triggered_rule_details is None

    async def test_no_ruleset_returns_scores_and_no_ruleset(self, plaid_client):
        resp = await evaluate(
            plaid_client, token="access-sandbox-risky", account="checking-risky"
        )
        assert resp.scores.bank_initiated_return_risk.score.value == 92
        assert resp.scores.bank_initiated_return_risk.risk_tier.value == 8
        assert resp.ruleset is None

    async def test_item_error_answers_200_with_a_warning_and_no_scores(
        self, plaid_client
    ):
        resp = await evaluate(
            plaid_client,
            token="access-sandbox-relink",
            account="checking-relink",
            ruleset="balance-only",
        )
        assert resp.scores is None
        assert resp.core_attributes.to_dict() == {}
        assert resp.ruleset.result.value == "ACCEPT"
        warning = resp.warnings[0]
        assert (warning.warning_type, warning.warning_code) == (
            "ITEM_ERROR",
            "ITEM_LOGIN_REQUIRED",
        )


class TestDocumentedShape:
    """Without deprecated_fields the emulator answers as Plaid documents, and
    plaid-python 46's type-checked models cannot read that (docs/plaid-behaviour.md)."""

    async def test_the_type_checked_model_refuses_a_score_without_risk_tier(
        self, start
    ):
        running = await start()
        with plaid_api(running.url) as client:
            with pytest.raises(TypeError, match="risk_tier"):
                await evaluate(client, ruleset="sts-scores-only")
            request = evaluate_request(txn="txn-2", ruleset="sts-scores-only")
            resp = await asyncio.to_thread(
                client.signal_evaluate, request, _check_return_type=False
            )
        assert resp.scores == {
            "customer_initiated_return_risk": {"score": 12},
            "bank_initiated_return_risk": {"score": 7},
        }
        assert resp.ruleset == {
            "ruleset_key": "sts-scores-only",
            "result": "ACCEPT",
            "triggered_rule_details": None,
        }

    async def test_a_balance_only_answer_has_no_scores_so_it_reads_type_checked(
        self, start
    ):
        running = await start()
        with plaid_api(running.url) as client:
            resp = await evaluate(client, ruleset="balance-only", amount=150.0)
        assert resp.scores is None
        assert resp.ruleset.result.value == "REROUTE"


class TestBalanceGetShapes:
    async def test_live_balances_parse_with_no_last_updated(self, plaid_client):
        resp = await asyncio.to_thread(
            plaid_client.accounts_balance_get, balance_request()
        )
        assert [a.account_id for a in resp.accounts] == ["checking-ok", "savings-ok"]
        balances = resp.accounts[0].balances
        assert (balances.available, balances.current) == (100.0, 110.0)
        assert balances.iso_currency_code == "USD"
        assert balances.last_updated_datetime is None
        assert resp.accounts[1].subtype.value == "savings"
        assert resp.item.institution_id == "ins_109508"
        assert resp.item.error is None

    async def test_cached_only_balance_carries_its_time(self, plaid_client):
        floor = datetime.now(UTC) - timedelta(hours=1)
        request = balance_request(
            "access-sandbox-cached-only", ["checking-cached-fresh"], floor
        )
        resp = await asyncio.to_thread(plaid_client.accounts_balance_get, request)
        stamp = resp.accounts[0].balances.last_updated_datetime
        age = datetime.now(UTC) - stamp
        assert timedelta(minutes=9) < age < timedelta(minutes=11)


class TestRealtimeBalanceGroundTruth:
    @pytest.mark.parametrize(
        ("token", "account", "ruleset", "attempted", "fetched"),
        [
            ("access-sandbox-checking-ok", "checking-ok", "balance-only", True, True),
            # An STS ruleset never asks the bank, even with a rule on the balance.
            (
                "access-sandbox-checking-ok",
                "checking-ok",
                "sts-with-balance",
                False,
                False,
            ),
            (
                "access-sandbox-checking-ok",
                "checking-ok",
                "sts-scores-only",
                False,
                False,
            ),
            ("access-sandbox-checking-ok", "checking-ok", None, False, False),
            # Asked for (and billed), never fetched: the Item needs re-linking ...
            ("access-sandbox-relink", "checking-relink", "balance-only", True, False),
            # ... or the institution serves cached balances only.
            (
                "access-sandbox-cached-only",
                "checking-cached-fresh",
                "balance-only",
                True,
                False,
            ),
            (
                "access-sandbox-bank-not-responding",
                "checking-bank-not-responding",
                "balance-only",
                True,
                False,
            ),
        ],
    )
    async def test_evaluate_logs_whether_it_asked_the_bank_and_got_a_balance(
        self, plaid_client, admin, token, account, ruleset, attempted, fetched
    ):
        await evaluate(plaid_client, token=token, account=account, ruleset=ruleset)
        call = await admin.last_call()
        assert call["status"] == 200
        assert call["realtime_balance_attempted"] is attempted
        assert call["realtime_balance_fetched"] is fetched
        assert call["ruleset_key"] == ruleset
        assert call["replayed"] is False

    async def test_balance_get_asks_live_and_fetches_except_cached_only(
        self, plaid_client, admin
    ):
        floor = datetime.now(UTC) - timedelta(hours=1)
        await asyncio.to_thread(plaid_client.accounts_balance_get, balance_request())
        await asyncio.to_thread(
            plaid_client.accounts_balance_get,
            balance_request(
                "access-sandbox-cached-only", ["checking-cached-fresh"], floor
            ),
        )
        live, cached = await admin.calls()
        assert (live["realtime_balance_fetched"], live["status"]) == (True, 200)
        assert (cached["realtime_balance_fetched"], cached["status"]) == (False, 200)
        # Both asked for a live balance (both billed); the cached-only bank had none.
        assert live["realtime_balance_attempted"] is True
        assert cached["realtime_balance_attempted"] is True
        assert live["client_transaction_id"] is None
        assert live["account_ids"] == ["checking-ok", "savings-ok"]

    async def test_idempotent_replay_returns_the_first_answer_without_a_fetch(
        self, plaid_client, admin
    ):
        first = await evaluate(plaid_client, ruleset="balance-only")
        again = await evaluate(plaid_client, ruleset="balance-only")
        assert again.request_id == first.request_id
        first_call, replay = await admin.calls()
        assert first_call["realtime_balance_fetched"] is True
        assert replay["realtime_balance_fetched"] is False
        assert replay["realtime_balance_attempted"] is False
        assert replay["replayed"] is True
        assert replay["ruleset_key"] == "balance-only"


class TestErrors:
    async def test_unknown_access_token(self, plaid_client):
        request = evaluate_request(token="access-sandbox-nope")
        assert (await plaid_error(plaid_client.signal_evaluate, request))[:3] == (
            400,
            "INVALID_INPUT",
            "INVALID_ACCESS_TOKEN",
        )

    async def test_unknown_account(self, plaid_client):
        request = evaluate_request(account="savings-nope")
        assert (await plaid_error(plaid_client.signal_evaluate, request))[:3] == (
            400,
            "INVALID_INPUT",
            "INVALID_ACCOUNT_ID",
        )

    async def test_unknown_ruleset(self, plaid_client, admin):
        request = evaluate_request(ruleset="no-such-ruleset")
        assert (await plaid_error(plaid_client.signal_evaluate, request))[:3] == (
            400,
            "SIGNAL_ERROR",
            "RULESET_NOT_FOUND",
        )
        call = await admin.last_call()
        assert (call["status"], call["error_code"]) == (400, "RULESET_NOT_FOUND")

    async def test_37_character_transaction_id(self, lax_plaid_client):
        # The model checks lengths against the configuration it is given.
        lax = lax_plaid_client.api_client.configuration
        request = evaluate_request(txn="x" * 37, _configuration=lax)
        status, error_type, code, body = await plaid_error(
            lax_plaid_client.signal_evaluate, request
        )
        assert (status, error_type, code) == (400, "INVALID_REQUEST", "INVALID_FIELD")
        assert "client_transaction_id" in body["error_message"]

    async def test_transaction_id_reused_for_another_amount(self, plaid_client):
        await evaluate(plaid_client, amount=10.0)
        request = evaluate_request(amount=11.0)
        assert (await plaid_error(plaid_client.signal_evaluate, request))[:3] == (
            400,
            "SIGNAL_ERROR",
            "CLIENT_TRANSACTION_ID_ALREADY_IN_USE",
        )

    async def test_bad_credentials_when_the_scenario_sets_them(
        self, plaid_client, admin, default_scenario_data
    ):
        credentials = {"client_id": "right", "secret": "right-secret"}
        scenario = default_scenario_data | {"credentials": credentials}
        assert await admin.request("PUT", "/_emulator/scenario", scenario) == (200, {})
        request = evaluate_request()
        assert (await plaid_error(plaid_client.signal_evaluate, request))[:3] == (
            400,
            "INVALID_INPUT",
            "INVALID_API_KEYS",
        )

    async def test_min_last_updated_missing_for_cached_only(self, plaid_client):
        request = balance_request("access-sandbox-cached-only")
        status, error_type, code, body = await plaid_error(
            plaid_client.accounts_balance_get, request
        )
        assert (status, error_type, code) == (400, "INVALID_REQUEST", "INVALID_FIELD")
        assert "min_last_updated_datetime" in body["error_message"]

    async def test_min_last_updated_newer_than_the_cached_balance(
        self, plaid_client, admin
    ):
        floor = datetime.now(UTC) - timedelta(hours=1)
        request = balance_request(
            "access-sandbox-cached-only", ["checking-cached-stale"], floor
        )
        status, error_type, code, body = await plaid_error(
            plaid_client.accounts_balance_get, request
        )
        assert (status, error_type, code) == (
            400,
            "INVALID_RESULT",
            "LAST_UPDATED_DATETIME_OUT_OF_RANGE",
        )
        newest = datetime.fromisoformat(body["error_message"].rsplit(" ", 1)[1])
        assert timedelta(days=2) - timedelta(minutes=1) < datetime.now(UTC) - newest
        assert (await admin.last_call())["realtime_balance_fetched"] is False

    async def test_balance_get_when_the_bank_does_not_answer(self, plaid_client, admin):
        request = balance_request("access-sandbox-bank-not-responding")
        assert (await plaid_error(plaid_client.accounts_balance_get, request))[:3] == (
            400,
            "INSTITUTION_ERROR",
            "INSTITUTION_NOT_RESPONDING",
        )
        call = await admin.last_call()
        assert (
            call["realtime_balance_attempted"],
            call["realtime_balance_fetched"],
        ) == (
            True,
            False,
        )

    async def test_balance_get_for_an_item_in_error(self, plaid_client):
        request = balance_request("access-sandbox-relink")
        assert (await plaid_error(plaid_client.accounts_balance_get, request))[:3] == (
            400,
            "ITEM_ERROR",
            "ITEM_LOGIN_REQUIRED",
        )

    async def test_missing_fields_are_named(self, admin):
        body = {"access_token": "access-sandbox-checking-ok", "amount": 1.0}
        status, error = await admin.post("/signal/evaluate", body)
        assert (status, error["error_type"], error["error_code"]) == (
            400,
            "INVALID_REQUEST",
            "MISSING_FIELDS",
        )
        assert error["error_message"].endswith("account_id, client_transaction_id")
        assert set(error) >= {"error_message", "display_message", "request_id"}

    async def test_balance_get_for_an_account_not_in_the_item(self, plaid_client):
        request = balance_request(ids=["checking-ok", "checking-low"])
        assert (await plaid_error(plaid_client.accounts_balance_get, request))[:3] == (
            400,
            "INVALID_INPUT",
            "INVALID_ACCOUNT_ID",
        )
