"""Fidelity: every body the emulator can send matches Plaid's published OpenAPI schema,
and plaid-python 46 reads every success body with its default type checking."""

import gzip
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import plaid
import pytest
from plaid.model.accounts_get_response import AccountsGetResponse
from plaid.model.item_get_response import ItemGetResponse
from plaid.model.plaid_error import PlaidError
from plaid.model.signal_decision_report_response import SignalDecisionReportResponse
from plaid.model.signal_evaluate_response import SignalEvaluateResponse
from plaid.model.signal_prepare_response import SignalPrepareResponse
from plaid.model.signal_return_report_response import SignalReturnReportResponse

from plaid_emulator.endpoints import ENDPOINTS
from plaid_emulator.errors import KNOWN_ERRORS
from tests.emulator.conftest import Admin, StartEmulator
from tests.emulator.test_emulator_sdk import RawBody
from tests.plaid_schema import SPEC_PATH, PlaidSchema

EVALUATE = "/signal/evaluate"
BALANCE = "/accounts/balance/get"
DECISION = "/signal/decision/report"
RETURN = "/signal/return/report"
PREPARE = "/signal/prepare"
ITEM_GET = "/item/get"
SDK_MODELS = {
    EVALUATE: SignalEvaluateResponse,
    BALANCE: AccountsGetResponse,
    DECISION: SignalDecisionReportResponse,
    RETURN: SignalReturnReportResponse,
    PREPARE: SignalPrepareResponse,
    ITEM_GET: ItemGetResponse,
}
OK = "access-sandbox-checking-ok"
CACHED = "access-sandbox-cached-only"
RELINK = "access-sandbox-relink"
NOT_RESPONDING = "access-sandbox-bank-not-responding"
# The emulator's clock is real here; an hour's floor admits the 10-minute-old balance.
RECENT = "{recent}"


def evaluate(txn: str = "t1", **fields: Any) -> dict[str, Any]:
    return {
        "access_token": OK,
        "account_id": "checking-ok",
        "client_transaction_id": txn,
        "amount": 25.0,
        **fields,
    }


@dataclass(frozen=True)
class Case:
    """One request whose answer is checked; `before` runs first, on `scenario`."""

    name: str
    endpoint: str
    body: dict[str, Any]
    status: int
    before: tuple[tuple[str, dict[str, Any]], ...] = ()
    scenario: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] | None = None


EVALUATED = ((EVALUATE, evaluate()),)
LIMITED = {
    "rate_limits": {
        "enabled": True,
        "endpoints": {
            e: {"per_client": {"limit": 1, "window_s": 60}} for e in ENDPOINTS
        },
    }
}
CASES = [
    # /signal/evaluate: both ruleset kinds, no ruleset, Item errors, cached-only.
    Case("evaluate, no ruleset (scores only)", EVALUATE, evaluate(), 200),
    Case(
        "evaluate, transaction_score",
        EVALUATE,
        evaluate(ruleset_key="sts-scores-only"),
        200,
    ),
    Case(
        "evaluate, transaction_score with a balance rule",
        EVALUATE,
        evaluate(ruleset_key="sts-with-balance", amount=500.0),
        200,
    ),
    Case(
        "evaluate, transaction_score rerouted on scores",
        EVALUATE,
        evaluate(
            access_token="access-sandbox-risky",
            account_id="checking-risky",
            ruleset_key="sts-scores-only",
        ),
        200,
    ),
    Case(
        "evaluate, balance_only accepted",
        EVALUATE,
        evaluate(ruleset_key="balance-only"),
        200,
    ),
    Case(
        "evaluate, balance_only rerouted with rule details",
        EVALUATE,
        evaluate(ruleset_key="balance-only", amount=150.0),
        200,
    ),
    Case(
        "evaluate, balance_only on a null available balance",
        EVALUATE,
        evaluate(
            access_token="access-sandbox-null-available",
            account_id="checking-null-available",
            ruleset_key="balance-only",
        ),
        200,
    ),
    Case(
        "evaluate, balance_only with the bank not responding",
        EVALUATE,
        evaluate(
            access_token=NOT_RESPONDING,
            account_id="checking-bank-not-responding",
            ruleset_key="balance-only",
        ),
        200,
    ),
    Case(
        "evaluate, Item error as a warning under balance_only",
        EVALUATE,
        evaluate(
            access_token=RELINK,
            account_id="checking-relink",
            ruleset_key="balance-only",
        ),
        200,
    ),
    Case(
        "evaluate, Item error as a warning with no ruleset",
        EVALUATE,
        evaluate(access_token=RELINK, account_id="checking-relink"),
        200,
    ),
    Case(
        "evaluate, cached-only account",
        EVALUATE,
        evaluate(
            access_token=CACHED,
            account_id="checking-cached-stale",
            ruleset_key="sts-with-balance",
        ),
        200,
    ),
    Case("evaluate, a replay", EVALUATE, evaluate(), 200, before=EVALUATED),
    Case(
        "evaluate, every optional field",
        EVALUATE,
        evaluate(
            ruleset_key="sts-scores-only",
            client_user_id="user-1",
            is_recurring=True,
            user_present=True,
            default_payment_method="SAME_DAY_ACH",
            user={
                "name": {"given_name": "Ada", "family_name": "Lovelace"},
                "phone_number": "+14155550011",
                "email_address": "ada@example.com",
                "address": {"city": "San Francisco", "country": "US"},
            },
            device={"ip_address": "192.0.2.1", "user_agent": "test"},
        ),
        200,
    ),
    Case("evaluate, MISSING_FIELDS", EVALUATE, {"access_token": OK}, 400),
    Case("evaluate, UNKNOWN_FIELDS", EVALUATE, evaluate(colour="red"), 400),
    Case("evaluate, INVALID_FIELD", EVALUATE, evaluate(amount="25"), 400),
    Case("evaluate, INVALID_API_KEYS", EVALUATE, evaluate(), 400, headers={}),
    Case("evaluate, INVALID_ACCESS_TOKEN", EVALUATE, evaluate(access_token="x"), 400),
    Case("evaluate, INVALID_ACCOUNT_ID", EVALUATE, evaluate(account_id="x"), 400),
    Case("evaluate, RULESET_NOT_FOUND", EVALUATE, evaluate(ruleset_key="x"), 400),
    Case(
        "evaluate, RULESET_NOT_FOUND for a newer customer naming none",
        EVALUATE,
        evaluate(),
        400,
        scenario={"default_ruleset_opted_out": False},
    ),
    Case(
        "evaluate, CLIENT_TRANSACTION_ID_ALREADY_IN_USE",
        EVALUATE,
        evaluate(amount=26.0),
        400,
        before=EVALUATED,
    ),
    Case(
        "evaluate, CLIENT_TRANSACTION_ID_ALREADY_IN_USE for the same payment",
        EVALUATE,
        evaluate(),
        400,
        before=EVALUATED,
        scenario={"repeated_transaction_id": "refuse"},
    ),
    Case(
        "evaluate, Item error as an error",
        EVALUATE,
        evaluate(access_token=RELINK, account_id="checking-relink"),
        400,
        scenario={"evaluate_item_errors": "error"},
    ),
    Case(
        "evaluate, ADDENDUM_NOT_SIGNED",
        EVALUATE,
        evaluate(ruleset_key="balance-only", device={"ip_address": "192.0.2.1"}),
        403,
        scenario={"signal_addendum_signed": False},
    ),
    Case(
        "evaluate, RATE_LIMIT",
        EVALUATE,
        evaluate("t2"),
        429,
        before=EVALUATED,
        scenario=LIMITED,
    ),
    # /accounts/balance/get: live, cached-only, and each error.
    Case("balance, live", BALANCE, {"access_token": OK}, 200),
    Case(
        "balance, some accounts",
        BALANCE,
        {"access_token": OK, "options": {"account_ids": ["savings-ok"]}},
        200,
    ),
    Case(
        "balance, cached-only",
        BALANCE,
        {
            "access_token": CACHED,
            "options": {
                "account_ids": ["checking-cached-fresh"],
                "min_last_updated_datetime": RECENT,
            },
        },
        200,
    ),
    Case(
        "balance, min_last_updated_datetime missing",
        BALANCE,
        {"access_token": CACHED},
        400,
    ),
    Case(
        "balance, LAST_UPDATED_DATETIME_OUT_OF_RANGE",
        BALANCE,
        {"access_token": CACHED, "options": {"min_last_updated_datetime": RECENT}},
        400,
    ),
    Case("balance, ITEM_LOGIN_REQUIRED", BALANCE, {"access_token": RELINK}, 400),
    Case(
        "balance, INSTITUTION_NOT_RESPONDING",
        BALANCE,
        {"access_token": NOT_RESPONDING},
        400,
    ),
    Case(
        "balance, INVALID_ACCOUNT_ID",
        BALANCE,
        {"access_token": OK, "options": {"account_ids": ["x"]}},
        400,
    ),
    Case(
        "balance, BALANCE_LIMIT",
        BALANCE,
        {"access_token": OK},
        429,
        before=((BALANCE, {"access_token": OK}),),
        scenario=LIMITED,
    ),
    # Reports.
    Case(
        "decision report, every field",
        DECISION,
        {
            "client_transaction_id": "t1",
            "initiated": True,
            "days_funds_on_hold": 1,
            "decision_outcome": "APPROVE",
            "payment_method": "STANDARD_ACH",
            "amount_instantly_available": 25.0,
            "submitted_at": "2025-03-04T12:00:00Z",
        },
        200,
        before=EVALUATED,
    ),
    Case(
        "decision report, unknown id",
        DECISION,
        {"client_transaction_id": "x", "initiated": True},
        400,
    ),
    Case(
        "decision report, ADDENDUM_NOT_SIGNED",
        DECISION,
        {"client_transaction_id": "t1", "initiated": True},
        403,
        before=EVALUATED,
        scenario={"signal_addendum_signed": False},
    ),
    Case(
        "return report",
        RETURN,
        {"client_transaction_id": "t1", "return_code": "R01"},
        200,
        before=EVALUATED,
    ),
    Case(
        "return report, SIGNAL_TRANSACTION_NOT_INITIATED",
        RETURN,
        {"client_transaction_id": "t1", "return_code": "R01"},
        400,
        before=(
            *EVALUATED,
            (DECISION, {"client_transaction_id": "t1", "initiated": False}),
        ),
    ),
    Case(
        "return report, bad return code",
        RETURN,
        {"client_transaction_id": "t1", "return_code": "R99"},
        400,
        before=EVALUATED,
    ),
    # /signal/prepare and /item/get.
    Case("prepare", PREPARE, {"access_token": OK}, 200),
    Case("prepare, INVALID_ACCESS_TOKEN", PREPARE, {"access_token": "x"}, 400),
    Case("item get", ITEM_GET, {"access_token": OK}, 200),
    Case("item get, an Item in error", ITEM_GET, {"access_token": RELINK}, 200),
    Case(
        "item get, ITEM_GET_LIMIT",
        ITEM_GET,
        {"access_token": OK},
        429,
        before=((ITEM_GET, {"access_token": OK}),),
        scenario=LIMITED,
    ),
]


def filled(body: dict[str, Any]) -> dict[str, Any]:
    """The body with RECENT replaced by a time an hour ago, as the SDK writes it."""
    recent = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    replaced: dict[str, Any] = json.loads(json.dumps(body).replace(RECENT, recent))
    return replaced


async def answer(
    case: Case,
    start: StartEmulator,
    http: aiohttp.ClientSession,
    default_scenario_data: dict[str, Any],
) -> dict[str, Any]:
    running = await start(default_scenario_data | case.scenario)
    admin = Admin(http, running.url)
    for endpoint, earlier in case.before:
        status, _ = await admin.post(endpoint, filled(earlier))
        assert status == 200, (endpoint, earlier)
    status, answered = await admin.post(case.endpoint, filled(case.body), case.headers)
    assert status == case.status, answered
    body: dict[str, Any] = answered
    return body


def deserialize(model: type, body: object, *, checked: bool = True) -> Any:
    """What plaid-python makes of `body`, types checked as on a real call by default."""
    api_client = plaid.ApiClient(plaid.Configuration())
    return api_client.deserialize(RawBody(json.dumps(body)), (model,), checked)


# Plaid's schema still requires the deprecated, hidden risk_tier that its documented
# answer leaves out (docs/plaid-behaviour.md): a documented-shape body with scores has
# exactly these two errors, as Plaid's own example has (TestPlaidsOwnExample).
RISK_TIER_REQUIRED = [
    "scores/bank_initiated_return_risk: 'risk_tier' is a required property",
    "scores/customer_initiated_return_risk: 'risk_tier' is a required property",
]


def lacks_risk_tier(body: dict[str, Any], deprecated_fields: bool) -> bool:
    """Whether `body` is an answer with scores in the documented shape."""
    return not deprecated_fields and isinstance(body.get("scores"), dict)


def sdk_model(case: Case, body: dict[str, Any], deprecated_fields: bool) -> Any:
    """`body` read by plaid-python: type-checked, unless it lacks risk_tier, which
    the type-checked model must then refuse."""
    if case.status != 200:
        return deserialize(PlaidError, body)
    model = SDK_MODELS[case.endpoint]
    if not lacks_risk_tier(body, deprecated_fields):
        return deserialize(model, body)
    with pytest.raises(TypeError, match="risk_tier"):
        deserialize(model, body)
    return deserialize(model, body, checked=False)


# Only /signal/evaluate answers differ between the two shapes.
SHAPED_CASES = [
    pytest.param(case, deprecated, id=f"{case.name} ({shape})")
    for case in CASES
    for deprecated, shape in ((False, "documented"), (True, "deprecated_fields"))
    if not deprecated or case.endpoint == EVALUATE
]


class TestEverySuccessAndError:
    @pytest.mark.parametrize(("case", "deprecated_fields"), SHAPED_CASES)
    async def test_the_body_matches_plaids_schema(
        self, case, deprecated_fields, start, http, default_scenario_data, plaid_schema
    ):
        scenario = default_scenario_data | {"deprecated_fields": deprecated_fields}
        body = await answer(case, start, http, scenario)
        pointer = plaid_schema.response_pointer(case.endpoint, case.status)
        expected = (
            RISK_TIER_REQUIRED if lacks_risk_tier(body, deprecated_fields) else []
        )
        assert sorted(plaid_schema.errors(pointer, body)) == expected
        parsed = sdk_model(case, body, deprecated_fields)
        assert parsed.request_id == body["request_id"]

    @pytest.mark.parametrize("deprecated_fields", [False, True])
    async def test_only_deprecated_fields_adds_tiers_and_outcome(
        self, deprecated_fields, start, http, default_scenario_data
    ):
        case = next(c for c in CASES if c.name == "evaluate, transaction_score")
        scenario = default_scenario_data | {"deprecated_fields": deprecated_fields}
        body = await answer(case, start, http, scenario)
        score_keys = {"score", "risk_tier"} if deprecated_fields else {"score"}
        assert {
            risk: set(score) for risk, score in body["scores"].items()
        } == dict.fromkeys(
            ("customer_initiated_return_risk", "bank_initiated_return_risk"),
            score_keys,
        )
        assert ("outcome" in body["ruleset"]) is deprecated_fields

    def test_the_cases_cover_every_endpoint_with_success_and_error(self):
        covered = {(c.endpoint, c.status == 200) for c in CASES}
        assert covered == {(e, ok) for e in ENDPOINTS for ok in (True, False)}


class TestEveryInjectedError:
    async def test_each_known_error_code_is_a_valid_plaid_error(
        self, admin, plaid_schema
    ):
        codes = sorted(KNOWN_ERRORS)
        await admin.fault(*({"endpoint": EVALUATE, "error_code": c} for c in codes))
        pointer = plaid_schema.response_pointer(EVALUATE, 400)
        for code in codes:
            status, body = await admin.post(EVALUATE, evaluate())
            assert (status, body["error_code"]) == (KNOWN_ERRORS[code][0], code)
            assert plaid_schema.errors(pointer, body) == [], code
            assert deserialize(PlaidError, body).error_type.value == body["error_type"]

    async def test_not_found_is_a_valid_plaid_error(self, admin, plaid_schema):
        status, body = await admin.post("/transfer/create", {})
        assert status == 404
        assert plaid_schema.errors("/components/schemas/PlaidError", body) == []

    async def test_invalid_json_is_a_valid_plaid_error(self, admin, plaid_schema):
        status, body = await admin.request("POST", EVALUATE, data=b"{")
        assert (status, body["error_code"]) == (400, "INVALID_BODY")
        assert plaid_schema.errors("/components/schemas/PlaidError", body) == []


class TestPlaidsOwnExample:
    """The /signal/evaluate 200 example in Plaid's OpenAPI document, the shape the
    emulator answers in by default."""

    @pytest.fixture
    def example(self, plaid_schema: PlaidSchema) -> dict[str, Any]:
        responses = plaid_schema.document["paths"][EVALUATE]["post"]["responses"]
        content = responses["200"]["content"]["application/json"]
        value: dict[str, Any] = content["examples"]["example-1"]["value"]
        return value

    def test_it_fails_plaids_schema_only_for_the_missing_risk_tier(
        self, example, plaid_schema
    ):
        pointer = plaid_schema.response_pointer(EVALUATE, 200)
        assert sorted(plaid_schema.errors(pointer, example)) == RISK_TIER_REQUIRED

    def test_the_sdks_type_checked_model_refuses_it_and_the_unchecked_one_reads_it(
        self, example
    ):
        with pytest.raises(TypeError, match="risk_tier"):
            deserialize(SignalEvaluateResponse, example)
        parsed = deserialize(SignalEvaluateResponse, example, checked=False)
        assert parsed.scores["bank_initiated_return_risk"] == {"score": 82}
        assert parsed.ruleset["result"] == "REROUTE"

    async def test_the_emulators_default_answer_has_its_keys(
        self, example, start, http, default_scenario_data
    ):
        case = next(c for c in CASES if c.name == "evaluate, transaction_score")
        body = await answer(case, start, http, default_scenario_data)
        assert set(body) == set(example)
        for risk, score in body["scores"].items():
            assert set(score) == set(example["scores"][risk])
        # RuleDetails' keys are each optional; ruleset_key and result are always sent.
        assert set(body["ruleset"]) == set(example["ruleset"])


class TestTheVendoredSchema:
    def test_it_is_plaids_file_unchanged(self, plaid_schema):
        digest = hashlib.sha256(gzip.decompress(SPEC_PATH.read_bytes())).hexdigest()
        assert digest == (
            "fb8c3f188d8b1c917f2b184b720a96361f2ee72f5d595d189e8b4513a1d62930"
        )
        assert plaid_schema.document["info"]["version"] == "2020-09-14_1.697.4"

    def test_the_checker_does_catch_a_bad_body(self, plaid_schema):
        pointer = plaid_schema.response_pointer(EVALUATE, 200)
        bad: dict[str, object] = {
            "request_id": "r",
            "scores": None,
            "warnings": [],
            "ruleset": {},
        }
        assert plaid_schema.errors(pointer, bad) == [
            "ruleset: 'result' is a required property"
        ]
