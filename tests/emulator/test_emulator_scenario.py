"""Scenario files: the default loads, and bad ones are refused naming path and field."""

import json
from typing import Any

import pytest
from plaid.model.signal_evaluate_core_attributes import SignalEvaluateCoreAttributes

from plaid_emulator import ScenarioError, load_scenario, parse_scenario
from plaid_emulator.attributes import BALANCE_ATTRIBUTES, CORE_ATTRIBUTES

ITEM: dict[str, Any] = {
    "access_token": "access-a",
    "accounts": [{"account_id": "a1", "available": 1.0, "current": 2.0}],
}
RULESET: dict[str, Any] = {
    "key": "r",
    "kind": "transaction_score",
    "rules": [{"result": "ACCEPT"}],
}


def error_of(data: object) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, "scenario.yaml")
    return str(caught.value)


class TestAttributes:
    def test_core_attributes_are_exactly_plaids(self):
        assert tuple(SignalEvaluateCoreAttributes.attribute_map) == CORE_ATTRIBUTES
        assert len(CORE_ATTRIBUTES) == 81

    def test_balance_attributes_are_core_attributes(self):
        assert set(CORE_ATTRIBUTES) >= BALANCE_ATTRIBUTES


class TestDefaultScenario:
    def test_it_loads_with_the_documented_tokens_and_rulesets(self, emulator):
        scenario = emulator.engine.scenario
        assert [i.access_token for i in scenario.items] == [
            "access-sandbox-checking-ok",
            "access-sandbox-low-balance",
            "access-sandbox-null-available",
            "access-sandbox-risky",
            "access-sandbox-cached-only",
            "access-sandbox-bank-not-responding",
            "access-sandbox-relink",
        ]
        assert [r.key for r in scenario.rulesets] == [
            "balance-only",
            "sts-with-balance",
            "sts-scores-only",
            "unregistered-balance-only",
            "unregistered-sts",
        ]
        assert scenario.default_ruleset is None
        assert scenario.credentials is None
        assert scenario.item("access-sandbox-relink").error == "ITEM_LOGIN_REQUIRED"


class TestFiles:
    def test_json_files_load(self, tmp_path):
        path = tmp_path / "s.json"
        path.write_text(json.dumps({"items": [ITEM]}))
        assert load_scenario(path).items[0].accounts[0].account_id == "a1"

    def test_a_bad_file_names_file_path_and_field(self, tmp_path):
        path = tmp_path / "scenario.yaml"
        path.write_text(
            "items:\n"
            "  - access_token: t\n"
            "    accounts:\n"
            "      - {account_id: a, available: 1, current: 1}\n"
            "      - {account_id: b, available: lots, current: 1}\n"
        )
        with pytest.raises(ScenarioError) as caught:
            load_scenario(path)
        assert str(caught.value) == (
            f"{path}: items[0].accounts[1].available: Input should be a valid number"
        )

    def test_a_missing_file(self, tmp_path):
        with pytest.raises(ScenarioError, match="cannot read"):
            load_scenario(tmp_path / "nope.yaml")

    def test_broken_yaml(self, tmp_path):
        path = tmp_path / "bad.yaml"
        path.write_text("items: [\n")
        with pytest.raises(ScenarioError, match="not valid YAML"):
            load_scenario(path)


class TestValidation:
    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            (
                {"items": [ITEM | {"error": "login required"}]},
                "items[0].error: String should match pattern",
            ),
            ({"itemz": []}, "itemz: Extra inputs are not permitted"),
            (
                {"items": [ITEM, ITEM]},
                "items[1].access_token: duplicate of items[0].access_token",
            ),
            (
                {"items": [ITEM | {"accounts": ITEM["accounts"] * 2}]},
                "items[0].accounts[1].account_id: duplicate account id 'a1'",
            ),
            (
                {"rulesets": [RULESET], "default_ruleset": "other"},
                "default_ruleset: unknown ruleset 'other'",
            ),
            (
                {"rulesets": [RULESET | {"rules": [{"result": "ACCEPT"}] * 2}]},
                "rulesets[0].rules[0].conditions: only the last rule may have no",
            ),
            (
                {"items": [ITEM | {"accounts": []}]},
                "items[0].accounts: an Item needs at least one account",
            ),
            (
                {"rulesets": [RULESET | {"rules": []}]},
                "rulesets[0].rules: a ruleset needs at least its fallback rule",
            ),
            (
                {"latency_ms": {"/signal/evaluate": -1}},
                "latency_ms./signal/evaluate: Input should be greater than or equal",
            ),
        ],
    )
    def test_errors_name_the_path(self, data, expected):
        assert error_of(data).startswith(f"scenario.yaml: {expected}")

    def test_last_rule_must_be_the_unconditional_fallback(self):
        rule = {
            "conditions": [
                {"attribute": "current_balance", "operator": ">", "value": 1}
            ],
            "result": "ACCEPT",
        }
        assert error_of({"rulesets": [RULESET | {"rules": [rule]}]}) == (
            "scenario.yaml: rulesets[0].rules[0].conditions: the last rule must have "
            "no conditions (it is the fallback)"
        )

    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            (
                {"attribute": "balance", "operator": "<", "value": 1},
                "conditions[0].attribute: Value error, unknown attribute 'balance'",
            ),
            (
                {"attribute": "current_balance", "operator": "!=", "value": 1},
                "conditions[0].operator: Input should be '<', '<=', '>', '>=', '==' or "
                "'is_null'",
            ),
            (
                {"attribute": "current_balance", "operator": "<"},
                "conditions[0]: Value error, operator '<' needs a value",
            ),
            (
                {"attribute": "current_balance", "operator": "is_null", "value": 1},
                "conditions[0]: Value error, is_null takes no value",
            ),
            (
                {"attribute": "transactions_last_updated", "operator": "<", "value": 1},
                "conditions[0].attribute: 'transactions_last_updated' can only be "
                "tested with is_null",
            ),
        ],
    )
    def test_condition_errors(self, condition, expected):
        rules = [{"conditions": [condition], "result": "REVIEW"}, {"result": "ACCEPT"}]
        message = error_of({"rulesets": [RULESET | {"rules": rules}]})
        assert message.startswith(f"scenario.yaml: rulesets[0].rules[0].{expected}")

    def test_balance_only_rulesets_test_only_balance_attributes(self):
        condition = {"attribute": "bank_initiated_score", "operator": ">", "value": 1}
        rules = [{"conditions": [condition], "result": "REVIEW"}, {"result": "ACCEPT"}]
        ruleset = RULESET | {"kind": "balance_only", "rules": rules}
        assert "a balance_only ruleset sees only" in error_of({"rulesets": [ruleset]})

    @pytest.mark.parametrize(
        ("raw", "valid"),
        [
            ("-600s", True),
            ("-3d", True),
            ("2025-01-01T00:00:00Z", True),
            ("2025-01-01T00:00:00", False),
            ("10m", False),
            (12, False),
        ],
    )
    def test_balance_last_updated_forms(self, raw, valid):
        account = ITEM["accounts"][0] | {"balance_last_updated": raw}
        data = {"items": [ITEM | {"accounts": [account]}]}
        if valid:
            assert parse_scenario(data).items[0].accounts[0].is_cached_only
        else:
            assert "items[0].accounts[0].balance_last_updated" in error_of(data)

    def test_live_balance_is_ok_or_fails(self):
        account = ITEM["accounts"][0] | {"live_balance": "slow"}
        message = error_of({"items": [ITEM | {"accounts": [account]}]})
        assert "items[0].accounts[0].live_balance: Input should be 'ok' or 'fails'" in (
            message
        )

    def test_a_cached_only_account_cannot_fail_a_live_fetch_it_never_makes(self):
        account = ITEM["accounts"][0] | {
            "live_balance": "fails",
            "balance_last_updated": "-10m",
        }
        assert error_of({"items": [ITEM | {"accounts": [account]}]}) == (
            "scenario.yaml: items[0].accounts[0].live_balance: a cached-only account "
            "(one with balance_last_updated) is never asked for a live balance"
        )

    def test_scores_stay_within_1_to_99(self):
        account = ITEM["accounts"][0] | {
            "scores": {"customer_initiated": 0, "bank_initiated": 100}
        }
        message = error_of({"items": [ITEM | {"accounts": [account]}]})
        assert "items[0].accounts[0].scores.customer_initiated" in message
        assert "items[0].accounts[0].scores.bank_initiated" in message

    def test_amount_must_not_be_a_boolean(self):
        account = ITEM["accounts"][0] | {"available": True}
        message = error_of({"items": [ITEM | {"accounts": [account]}]})
        assert (
            "items[0].accounts[0].available: Input should be a valid number" in message
        )


class TestNewOptions:
    def test_defaults_keep_the_old_behaviour_but_enforce_rate_limits(self):
        scenario = parse_scenario({})
        assert scenario.signal_addendum_signed is True
        assert scenario.rate_limits.enabled is True
        assert scenario.rate_limits.profile == "production"
        assert (scenario.seed, scenario.latency_ms) == (0, {})

    def test_all_options_together(self):
        scenario = parse_scenario(
            {
                "signal_addendum_signed": False,
                "seed": 7,
                "latency_ms": {
                    "/signal/evaluate": 20,
                    "/accounts/balance/get": {"p50": 3000, "p95": 11000},
                },
                "rate_limits": {"enabled": True, "profile": "sandbox"},
            }
        )
        assert scenario.latency_ms["/signal/evaluate"] == 20
        assert scenario.rate_limits.profile == "sandbox"

    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            (
                {"deprecated_fields": "yes"},
                "deprecated_fields: Input should be a valid boolean",
            ),
            (
                {"repeated_transaction_id": "ignore"},
                "repeated_transaction_id: Input should be 'replay' or 'refuse'",
            ),
            (
                {"default_ruleset_opted_out": 0},
                "default_ruleset_opted_out: Input should be a valid boolean",
            ),
        ],
    )
    def test_new_knobs_are_checked(self, data, expected):
        assert error_of(data) == f"scenario.yaml: {expected}"

    def test_new_knobs_default_to_plaids_documented_behaviour(self):
        scenario = parse_scenario({})
        assert scenario.deprecated_fields is False
        assert scenario.repeated_transaction_id == "replay"
        assert (scenario.default_ruleset, scenario.default_ruleset_opted_out) == (
            None,
            True,
        )

    def test_the_addendum_flag_is_a_real_boolean(self):
        message = error_of({"signal_addendum_signed": "no"})
        assert "signal_addendum_signed: Input should be a valid boolean" in message
