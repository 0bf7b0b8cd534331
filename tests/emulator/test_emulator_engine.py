"""The engine without HTTP, on a fixed clock: balance times, replays, Item errors."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from plaid_emulator import Engine, Reply, load_scenario, parse_scenario
from plaid_emulator.attributes import CORE_ATTRIBUTES
from plaid_emulator.scenario import Ruleset, Scenario, default_scenario_path

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
CREDENTIALS = {"client_id": "c", "secret": "s"}


@pytest.fixture(scope="module")
def default_scenario():
    return load_scenario(default_scenario_path())


@pytest.fixture
def engine(default_scenario):
    return Engine(default_scenario, clock=lambda: NOW)


def body(
    token: str = "access-sandbox-checking-ok",
    account: str = "checking-ok",
    **fields: object,
) -> dict[str, object]:
    return {
        "access_token": token,
        "account_id": account,
        "client_transaction_id": "txn-1",
        "amount": 25.0,
        **CREDENTIALS,
        **fields,
    }


def nested(reply: Reply) -> Any:
    """The body, untyped, for reading nested keys."""
    return reply.body


def stamp(text: Any) -> datetime:
    return datetime.fromisoformat(text)


def realtime(engine: Engine) -> tuple[bool, bool]:
    """The last call's (realtime_balance_attempted, realtime_balance_fetched)."""
    call = engine.calls.since()[-1]
    return call.realtime_balance_attempted, call.realtime_balance_fetched


class TestBalanceTimes:
    @pytest.mark.parametrize("ruleset", ["sts-with-balance", "sts-scores-only", None])
    def test_an_sts_answer_never_fetches_and_carries_the_cached_time(
        self, engine, ruleset
    ):
        fields = {} if ruleset is None else {"ruleset_key": ruleset}
        reply = engine.signal_evaluate(body(**fields))
        updated = stamp(reply.body["core_attributes"]["balance_last_updated"])
        assert updated == NOW - timedelta(seconds=21600)
        assert realtime(engine) == (False, False)

    def test_cached_balance_age_s_is_the_age_of_the_cached_balance(self):
        account = {
            "account_id": "a",
            "available": 1.0,
            "current": 1.0,
            "cached_balance_age_s": 90,
        }
        scenario = parse_scenario(
            {"items": [{"access_token": "t", "accounts": [account]}]}
        )
        reply = Engine(scenario, clock=lambda: NOW).signal_evaluate(body("t", "a"))
        updated = stamp(nested(reply)["core_attributes"]["balance_last_updated"])
        assert updated == NOW - timedelta(seconds=90)

    def test_a_cached_only_account_reports_its_own_time(self, engine):
        reply = engine.signal_evaluate(
            body(
                "access-sandbox-cached-only",
                "checking-cached-stale",
                ruleset_key="sts-with-balance",
            )
        )
        updated = stamp(reply.body["core_attributes"]["balance_last_updated"])
        assert updated == NOW - timedelta(days=2)
        assert realtime(engine) == (False, False)

    def test_a_balance_only_answer_is_fetched_and_has_no_balance_time(self, engine):
        reply = engine.signal_evaluate(body(ruleset_key="balance-only"))
        assert reply.body["core_attributes"] == {
            "available_balance": 100.0,
            "current_balance": 110.0,
        }
        assert realtime(engine) == (True, True)

    def test_the_time_is_written_in_utc_with_z(self, engine):
        reply = engine.signal_evaluate(body(ruleset_key="sts-with-balance"))
        assert reply.body["core_attributes"]["balance_last_updated"].endswith("Z")


class TestFailedExtraction:
    """An account with live_balance: fails, whose bank does not answer."""

    TOKEN = "access-sandbox-bank-not-responding"
    ACCOUNT = "checking-bank-not-responding"

    def test_balance_only_answers_200_with_null_balances_and_a_warning(self, engine):
        reply = engine.signal_evaluate(
            body(self.TOKEN, self.ACCOUNT, ruleset_key="balance-only")
        )
        assert reply.status == 200
        assert reply.body["scores"] is None
        assert reply.body["core_attributes"] == {
            "available_balance": None,
            "current_balance": None,
        }
        assert reply.body["warnings"] == [
            {
                "warning_type": "INSTITUTION_ERROR",
                "warning_code": "INSTITUTION_NOT_RESPONDING",
                "warning_message": "this institution is not currently responding",
            }
        ]
        # The rule on available_balance is skipped for lack of data: the fallback.
        assert reply.body["ruleset"] == {
            "ruleset_key": "balance-only",
            "result": "ACCEPT",
            "triggered_rule_details": None,
        }
        assert realtime(engine) == (True, False)

    def test_an_is_null_rule_sees_the_missing_balance(self):
        rules = [
            {
                "conditions": [
                    {"attribute": "available_balance", "operator": "is_null"}
                ],
                "result": "REVIEW",
            },
            {"result": "ACCEPT"},
        ]
        account = {"account_id": "a", "available": 1.0, "current": 1.0}
        scenario = parse_scenario(
            {
                "items": [
                    {
                        "access_token": "t",
                        "accounts": [account | {"live_balance": "fails"}],
                    }
                ],
                "rulesets": [{"key": "b", "kind": "balance_only", "rules": rules}],
            }
        )
        engine = Engine(scenario, clock=lambda: NOW)
        reply = engine.signal_evaluate(body("t", "a", ruleset_key="b"))
        assert nested(reply)["ruleset"]["result"] == "REVIEW"

    def test_an_sts_ruleset_does_not_ask_the_bank_so_nothing_fails(self, engine):
        reply = engine.signal_evaluate(
            body(self.TOKEN, self.ACCOUNT, ruleset_key="sts-with-balance")
        )
        assert reply.body["core_attributes"]["available_balance"] == 100.0
        assert reply.body["warnings"] == []
        assert realtime(engine) == (False, False)

    def test_balance_get_answers_the_institution_error(self, engine):
        reply = engine.accounts_balance_get({"access_token": self.TOKEN} | CREDENTIALS)
        assert (reply.status, reply.body["error_type"], reply.body["error_code"]) == (
            400,
            "INSTITUTION_ERROR",
            "INSTITUTION_NOT_RESPONDING",
        )
        assert realtime(engine) == (True, False)

    def test_a_check_that_fails_before_the_bank_is_asked_is_no_attempt(self, engine):
        options = {"account_ids": ["nope"]}
        request = {"access_token": self.TOKEN, "options": options} | CREDENTIALS
        assert engine.accounts_balance_get(request).status == 400
        assert realtime(engine) == (False, False)


class TestEvaluateBodies:
    def test_all_81_attributes_in_plaid_order(self, engine):
        reply = engine.signal_evaluate(body())
        assert tuple(reply.body["core_attributes"]) == CORE_ATTRIBUTES
        assert reply.body["ruleset"] is None

    def test_derived_scores_are_deterministic_and_in_range(self, engine):
        kwargs = {"token": "access-sandbox-null-available"}
        first = engine.signal_evaluate(
            body(account="checking-null-available", **kwargs)
        )
        engine.reset()
        again = engine.signal_evaluate(
            body(account="checking-null-available", **kwargs)
        )
        assert first.body["scores"] == again.body["scores"]
        assert first.body["core_attributes"] == again.body["core_attributes"]
        for risk in ("customer_initiated_return_risk", "bank_initiated_return_risk"):
            assert 1 <= first.body["scores"][risk]["score"] <= 99

    def test_the_documented_shape_has_no_tiers_and_no_outcome(self, engine):
        reply = engine.signal_evaluate(
            body(
                "access-sandbox-risky", "checking-risky", ruleset_key="sts-scores-only"
            )
        )
        assert reply.body["scores"] == {
            "customer_initiated_return_risk": {"score": 85},
            "bank_initiated_return_risk": {"score": 92},
        }
        assert reply.body["ruleset"] == {
            "ruleset_key": "sts-scores-only",
            "result": "REROUTE",
            "triggered_rule_details": {"custom_action_key": "high-bank-return-risk"},
        }

    @pytest.mark.parametrize(
        ("score", "customer_tier", "bank_tier"),
        [(1, 1, 1), (20, 1, 2), (50, 3, 4), (99, 5, 8)],
    )
    def test_deprecated_fields_add_tiers_in_equal_score_bands(
        self, score, customer_tier, bank_tier
    ):
        scores = {"customer_initiated": score, "bank_initiated": score}
        scenario = parse_scenario(
            {
                "deprecated_fields": True,
                "items": [
                    {
                        "access_token": "t",
                        "accounts": [
                            {
                                "account_id": "a",
                                "available": 1.0,
                                "current": 1.0,
                                "scores": scores,
                            }
                        ],
                    }
                ],
            }
        )
        reply = Engine(scenario, clock=lambda: NOW).signal_evaluate(body("t", "a"))
        assert nested(reply)["scores"] == {
            "customer_initiated_return_risk": {
                "score": score,
                "risk_tier": customer_tier,
            },
            "bank_initiated_return_risk": {"score": score, "risk_tier": bank_tier},
        }

    def test_null_available_falls_back_to_current_for_the_ratio(self, engine):
        reply = engine.signal_evaluate(
            body("access-sandbox-null-available", "checking-null-available", amount=400)
        )
        assert (
            reply.body["core_attributes"]["balance_to_transaction_amount_ratio"] == 2.5
        )

    def test_a_rule_on_null_available_is_skipped(self, engine):
        reply = engine.signal_evaluate(
            body(
                "access-sandbox-null-available",
                "checking-null-available",
                ruleset_key="balance-only",
            )
        )
        assert reply.body["ruleset"]["result"] == "ACCEPT"
        assert reply.body["ruleset"]["triggered_rule_details"] is None

    @pytest.mark.parametrize(
        ("token", "account", "ruleset", "outcome"),
        [
            ("access-sandbox-risky", "checking-risky", "sts-scores-only", "block"),
            (
                "access-sandbox-low-balance",
                "checking-low",
                "sts-with-balance",
                "review",
            ),
            ("access-sandbox-checking-ok", "checking-ok", "balance-only", "accept"),
        ],
    )
    def test_deprecated_fields_add_the_legacy_outcome(
        self, default_scenario, token, account, ruleset, outcome
    ):
        scenario = default_scenario.model_copy(update={"deprecated_fields": True})
        engine = Engine(scenario, clock=lambda: NOW)
        reply = engine.signal_evaluate(body(token, account, ruleset_key=ruleset))
        assert nested(reply)["ruleset"]["outcome"] == outcome

    def test_low_balance_meets_the_balance_rule_of_sts(self, engine):
        reply = engine.signal_evaluate(
            body(
                "access-sandbox-low-balance",
                "checking-low",
                ruleset_key="sts-with-balance",
            )
        )
        assert reply.body["ruleset"]["result"] == "REVIEW"

    def test_the_default_ruleset_applies_when_none_is_named(self, default_scenario):
        scenario = default_scenario.model_copy(
            update={"default_ruleset": "balance-only"}
        )
        engine = Engine(scenario, clock=lambda: NOW)
        reply = engine.signal_evaluate(body())
        assert nested(reply)["ruleset"]["ruleset_key"] == "balance-only"
        assert realtime(engine) == (True, True)


def with_rulesets(scenario: Scenario, **update: object) -> Scenario:
    """`scenario` changed as given, plus a ruleset keyed `default` (Plaid's name)."""
    plaid_default = Ruleset.model_validate(
        {"key": "default", "kind": "transaction_score", "rules": [{"result": "REVIEW"}]}
    )
    rulesets = (*scenario.rulesets, plaid_default)
    return scenario.model_copy(update={"rulesets": rulesets, **update})


class TestDefaultRuleset:
    """A request naming no ruleset, per Plaid's docs (docs/plaid-behaviour.md)."""

    @pytest.mark.parametrize("opted_out", [True, False])
    def test_a_default_ruleset_named_in_the_scenario_applies(
        self, default_scenario, opted_out
    ):
        scenario = with_rulesets(
            default_scenario,
            default_ruleset="sts-scores-only",
            default_ruleset_opted_out=opted_out,
        )
        engine = Engine(scenario, clock=lambda: NOW)
        reply = engine.signal_evaluate(body())
        assert nested(reply)["ruleset"]["ruleset_key"] == "sts-scores-only"
        assert engine.calls.since()[-1].ruleset_key == "sts-scores-only"

    def test_an_opted_out_customer_runs_no_ruleset(self, default_scenario):
        # The `default` ruleset exists, but an opted-out customer never gets it.
        engine = Engine(with_rulesets(default_scenario), clock=lambda: NOW)
        reply = engine.signal_evaluate(body())
        assert reply.status == 200
        assert nested(reply)["ruleset"] is None
        assert nested(reply)["scores"] is not None
        assert engine.calls.since()[-1].ruleset_key is None

    def test_a_newer_customer_gets_the_ruleset_keyed_default(self, default_scenario):
        scenario = with_rulesets(default_scenario, default_ruleset_opted_out=False)
        engine = Engine(scenario, clock=lambda: NOW)
        reply = engine.signal_evaluate(body())
        assert nested(reply)["ruleset"]["ruleset_key"] == "default"
        assert nested(reply)["ruleset"]["result"] == "REVIEW"

    def test_a_newer_customer_without_a_default_ruleset_is_refused(
        self, default_scenario
    ):
        scenario = default_scenario.model_copy(
            update={"default_ruleset_opted_out": False}
        )
        engine = Engine(scenario, clock=lambda: NOW)
        reply = engine.signal_evaluate(body())
        assert (reply.status, reply.body["error_type"], reply.body["error_code"]) == (
            400,
            "SIGNAL_ERROR",
            "RULESET_NOT_FOUND",
        )
        assert engine.calls.since()[-1].error_code == "RULESET_NOT_FOUND"
        # Naming a ruleset works, and the refused id was not used up.
        named = engine.signal_evaluate(body(ruleset_key="sts-scores-only"))
        assert named.status == 200


class TestItemErrors:
    def test_error_mode_answers_400_with_the_item_error(self, default_scenario):
        scenario = default_scenario.model_copy(update={"evaluate_item_errors": "error"})
        engine = Engine(scenario, clock=lambda: NOW)
        reply = engine.signal_evaluate(body("access-sandbox-relink", "checking-relink"))
        assert reply.status == 400
        assert reply.body["error_type"] == "ITEM_ERROR"
        assert reply.body["error_code"] == "ITEM_LOGIN_REQUIRED"

    def test_institution_errors_keep_their_type(self):
        scenario = parse_scenario(
            {
                "items": [
                    {
                        "access_token": "t",
                        "error": "INSTITUTION_DOWN",
                        "accounts": [{"account_id": "a", "available": 1, "current": 1}],
                    }
                ]
            }
        )
        reply = Engine(scenario).signal_evaluate(body("t", "a"))
        assert nested(reply)["warnings"][0]["warning_type"] == "INSTITUTION_ERROR"


class TestIdempotency:
    def test_a_failed_evaluation_is_not_remembered(self, engine):
        assert engine.signal_evaluate(body(ruleset_key="nope")).status == 400
        assert engine.signal_evaluate(body(amount=99.0)).status == 200

    def test_a_different_ruleset_under_the_same_id_is_refused(self, engine):
        engine.signal_evaluate(body(ruleset_key="balance-only"))
        reply = engine.signal_evaluate(body(ruleset_key="sts-scores-only"))
        assert reply.body["error_code"] == "CLIENT_TRANSACTION_ID_ALREADY_IN_USE"

    @pytest.mark.parametrize(
        ("token", "account", "ruleset"),
        [
            ("access-sandbox-checking-ok", "checking-ok", "sts-with-balance"),
            ("access-sandbox-checking-ok", "checking-ok", "balance-only"),
            ("access-sandbox-null-available", "checking-null-available", None),
            ("access-sandbox-relink", "checking-relink", "balance-only"),
            (
                "access-sandbox-bank-not-responding",
                "checking-bank-not-responding",
                "balance-only",
            ),
        ],
    )
    def test_a_replay_is_the_first_answer_exactly_even_later(
        self, default_scenario, token, account, ruleset
    ):
        times = iter([NOW, NOW + timedelta(hours=5)])
        engine = Engine(default_scenario, clock=lambda: next(times))
        fields = {} if ruleset is None else {"ruleset_key": ruleset}
        first = engine.signal_evaluate(body(token, account, **fields))
        again = engine.signal_evaluate(body(token, account, **fields))
        assert again == first
        assert [c.replayed for c in engine.calls] == [False, True]
        # A replay asks no bank, whatever the first evaluation did.
        assert realtime(engine) == (False, False)

    def test_refuse_mode_refuses_even_the_same_payment(self, default_scenario):
        scenario = default_scenario.model_copy(
            update={"repeated_transaction_id": "refuse"}
        )
        engine = Engine(scenario, clock=lambda: NOW)
        first = engine.signal_evaluate(body(ruleset_key="balance-only"))
        again = engine.signal_evaluate(body(ruleset_key="balance-only"))
        other = engine.signal_evaluate(body(ruleset_key="balance-only", amount=26.0))
        assert first.status == 200
        for refused in (again, other):
            assert (refused.status, refused.body["error_type"]) == (400, "SIGNAL_ERROR")
            assert refused.body["error_code"] == "CLIENT_TRANSACTION_ID_ALREADY_IN_USE"
        assert [c.replayed for c in engine.calls] == [False, False, False]
        assert realtime(engine) == (False, False)
        # The first evaluation stays what the reports refer to.
        report = {"client_transaction_id": "txn-1", "initiated": True}
        assert (
            engine.handle("/signal/decision/report", report | CREDENTIALS).status == 200
        )

    def test_reset_forgets_evaluations(self, engine):
        engine.signal_evaluate(body(amount=10.0))
        engine.reset()
        assert engine.signal_evaluate(body(amount=11.0)).status == 200
        assert [c.seq for c in engine.calls] == [1]


class TestRequestValidation:
    @pytest.mark.parametrize(
        ("fields", "code", "words"),
        [
            ({"amount": "25.00"}, "INVALID_FIELD", "amount must be a number"),
            ({"amount": True}, "INVALID_FIELD", "amount must be a number"),
            ({"amount": 0}, "INVALID_FIELD", "greater than 0"),
            ({"client_transaction_id": ""}, "INVALID_FIELD", "client_transaction_id"),
            (
                {"user_present": "yes"},
                "INVALID_FIELD",
                "user_present must be a boolean",
            ),
            ({"colour": "red"}, "UNKNOWN_FIELDS", "colour"),
            ({"account_id": None}, "MISSING_FIELDS", "account_id"),
        ],
    )
    def test_bad_fields(self, engine, fields, code, words):
        reply = engine.signal_evaluate(body(**fields))
        assert (reply.status, reply.body["error_type"]) == (400, "INVALID_REQUEST")
        assert reply.body["error_code"] == code
        assert words in reply.body["error_message"]

    def test_every_optional_sdk_field_is_accepted(self, engine):
        reply = engine.signal_evaluate(
            body(
                user_present=True,
                client_user_id="u-1",
                is_recurring=False,
                default_payment_method="STANDARD_ACH",
                user={"email_address": "a@example.com"},
                device={"ip_address": "192.0.2.1"},
                risk_profile_key=None,
                ruleset_key=None,
            )
        )
        assert reply.status == 200

    @pytest.mark.parametrize("credentials", [{}, {"client_id": "c"}, {"secret": ""}])
    def test_missing_credentials(self, engine, credentials):
        fields = {k: v for k, v in body().items() if k not in CREDENTIALS}
        reply = engine.signal_evaluate(fields | credentials)
        assert reply.body["error_code"] == "INVALID_API_KEYS"

    def test_a_body_that_is_not_an_object(self, engine):
        reply = engine.signal_evaluate([1, 2])
        assert reply.body["error_code"] == "INVALID_BODY"

    def test_balance_get_options_are_checked(self, engine):
        bad = {"access_token": "access-sandbox-checking-ok", "options": {"ids": []}}
        reply = engine.accounts_balance_get(bad | CREDENTIALS)
        assert reply.body["error_code"] == "UNKNOWN_FIELDS"
        assert "options.ids" in reply.body["error_message"]


class TestNestedFields:
    @pytest.mark.parametrize(
        ("fields", "code", "words"),
        [
            ({"user": {"nickname": "x"}}, "UNKNOWN_FIELDS", "user.nickname"),
            ({"user": {"name": {"first": "A"}}}, "UNKNOWN_FIELDS", "user.name.first"),
            ({"user": {"address": {"zip": "1"}}}, "UNKNOWN_FIELDS", "user.address.zip"),
            ({"device": {"mac": "x"}}, "UNKNOWN_FIELDS", "device.mac"),
            ({"device": {"ip_address": 1}}, "INVALID_FIELD", "device.ip_address"),
            ({"user": "someone"}, "INVALID_FIELD", "user must be an object"),
            (
                {"default_payment_method": "WIRE"},
                "INVALID_FIELD",
                "default_payment_method must be one of SAME_DAY_ACH",
            ),
        ],
    )
    def test_bad_nested_fields_are_named_by_their_path(
        self, engine, fields, code, words
    ):
        reply = engine.signal_evaluate(body(**fields))
        assert (reply.status, reply.body["error_code"]) == (400, code)
        assert words in str(reply.body["error_message"])

    def test_balance_options_are_checked_too(self, engine):
        options = {"min_last_updated_datetime": "last week"}
        bad = {"access_token": "access-sandbox-checking-ok", "options": options}
        reply = engine.accounts_balance_get(bad | CREDENTIALS)
        assert reply.body["error_code"] == "INVALID_FIELD"
        assert "options.min_last_updated_datetime" in str(reply.body["error_message"])


class TestCallLogOnTheEngine:
    def test_a_report_entry_names_the_evaluated_account(self, engine):
        engine.signal_evaluate(body())
        report = {"client_transaction_id": "txn-1", "initiated": True}
        reply = engine.handle("/signal/decision/report", report | CREDENTIALS)
        assert reply.status == 200
        entry = engine.calls.since()[-1].to_json()
        assert entry["account_ids"] == ["checking-ok"]
        assert entry["report"] == report

    def test_a_path_the_engine_does_not_serve(self, engine):
        reply = engine.handle("/transfer/create", {})
        assert (reply.status, reply.body["error_code"]) == (404, "NOT_FOUND")

    def test_request_ids_look_like_plaids(self, engine):
        ids = {
            engine.signal_evaluate(body(client_transaction_id=f"t{i}")).body[
                "request_id"
            ]
            for i in range(50)
        }
        assert len(ids) == 50
        assert all(len(i) == 15 and str(i).isalnum() for i in ids)
