"""Defensive parsing of Plaid's JSON, and Plaid's error codes as failure kinds."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.adapters.plaid.errors import classify
from service.adapters.plaid.responses import (
    MalformedAnswer,
    malformed,
    newest_time_in,
    parse_account_balance,
    parse_amount,
    parse_ruleset,
    parse_scores,
    parse_signal_balance,
    parse_time,
    parse_warnings,
)
from service.app.errors import FailureKind
from service.domain.model import AppliedRuleset, PlaidWarning, Scores, TimeSource


class TestParseAmount:
    @pytest.mark.parametrize(
        ("raw", "value"),
        [
            ("102.05", Decimal("102.05")),
            ("0.1", Decimal("0.1")),
            ("1234.56", Decimal("1234.56")),
            ("-5.5", Decimal("-5.5")),
            ("100", Decimal(100)),
            ("0", Decimal(0)),
            ("1e2", Decimal(100)),
        ],
    )
    def test_is_the_decimal_plaid_wrote(self, raw, value):
        assert parse_amount(orjson.loads(raw), "available") == value

    def test_null_is_none(self):
        assert parse_amount(None, "available") is None

    @pytest.mark.parametrize("value", ["102.05", True, False, [1], {"v": 1}])
    def test_anything_but_a_number_is_malformed(self, value):
        with pytest.raises(MalformedAnswer, match="available is not a number"):
            parse_amount(value, "available")

    @given(st.decimals(min_value=-(10**12), max_value=10**12, places=2))
    def test_any_amount_in_cents_survives_json_exactly(self, value):
        raw = orjson.loads(orjson.dumps(float(value)))
        assert parse_amount(raw, "available") == value


class TestParseTime:
    def test_an_offset_is_kept(self):
        parsed = parse_time("2030-01-01T12:00:00-05:00", "t")
        assert parsed == datetime(2030, 1, 1, 17, tzinfo=UTC)
        assert parsed.utcoffset() == timedelta(hours=-5)

    def test_z_means_utc(self):
        assert parse_time("2030-01-01T12:00:00Z", "t") == datetime(
            2030, 1, 1, 12, tzinfo=UTC
        )

    def test_a_time_without_an_offset_is_utc(self):
        parsed = parse_time("2030-01-01T12:00:00", "t")
        assert parsed == datetime(2030, 1, 1, 12, tzinfo=UTC)
        assert parsed.tzinfo is UTC

    def test_fractional_seconds_are_kept(self):
        parsed = parse_time("2030-01-01T12:00:00.250Z", "t")
        assert parsed is not None
        assert parsed.microsecond == 250_000

    def test_null_is_none(self):
        assert parse_time(None, "t") is None

    @pytest.mark.parametrize("value", [1893499200, 1.5, True, ["2030-01-01"]])
    def test_a_non_string_is_malformed(self, value):
        with pytest.raises(
            MalformedAnswer, match="balance_last_updated is not a string"
        ):
            parse_time(value, "balance_last_updated")

    @pytest.mark.parametrize("value", ["yesterday", "2030-13-01T00:00:00Z", ""])
    def test_a_string_that_is_not_iso_8601_is_malformed(self, value):
        with pytest.raises(MalformedAnswer, match="is not an ISO 8601 time"):
            parse_time(value, "t")

    @given(
        st.datetimes(
            min_value=datetime(2000, 1, 1),  # noqa: DTZ001
            max_value=datetime(2100, 1, 1),  # noqa: DTZ001
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))]),
        )
    )
    def test_round_trips_an_aware_time(self, moment):
        assert parse_time(moment.isoformat(), "t") == moment


class TestNewestTimeIn:
    def test_finds_the_time_in_plaids_message(self):
        message = (
            "requested balance is older than min_last_updated_datetime; the newest "
            "balance available is from 2030-01-01T10:00:00Z"
        )
        assert newest_time_in(message) == datetime(2030, 1, 1, 10, tzinfo=UTC)

    def test_a_time_without_an_offset_is_utc(self):
        assert newest_time_in("newest: 2030-01-01T10:00:00.5") == datetime(
            2030, 1, 1, 10, 0, 0, 500_000, tzinfo=UTC
        )

    @pytest.mark.parametrize("message", ["no time here", "at 2030-99-99T99:99:99Z"])
    def test_no_usable_time_is_none(self, message):
        assert newest_time_in(message) is None


class TestParseScores:
    def test_reads_both_scores_and_tiers(self):
        body = {
            "customer_initiated_return_risk": {"score": 9, "risk_tier": 1},
            "bank_initiated_return_risk": {"score": 72, "risk_tier": 7},
        }
        assert parse_scores(body) == Scores(9, 1, 72, 7)

    def test_the_deprecated_tiers_may_be_absent_or_null(self):
        body = {
            "customer_initiated_return_risk": {"score": 9},
            "bank_initiated_return_risk": {"score": 82, "risk_tier": None},
        }
        assert parse_scores(body) == Scores(9, None, 82, None)

    def test_a_missing_score_is_named(self):
        body = {
            "customer_initiated_return_risk": {"score": 9},
            "bank_initiated_return_risk": {"risk_tier": 3},
        }
        with pytest.raises(MalformedAnswer) as raised:
            parse_scores(body)
        assert raised.value.field == "scores.bank_initiated_return_risk.score"
        assert str(raised.value) == "scores.bank_initiated_return_risk.score is missing"

    def test_null_is_none(self):
        assert parse_scores(None) is None

    @pytest.mark.parametrize(
        ("body", "complaint"),
        [
            ([], "scores is not an object"),
            ({}, "scores.customer_initiated_return_risk is not an object"),
            (
                {"customer_initiated_return_risk": {"score": 1, "risk_tier": 1}},
                "scores.bank_initiated_return_risk is not an object",
            ),
            (
                {
                    "customer_initiated_return_risk": {"score": "9", "risk_tier": 1},
                    "bank_initiated_return_risk": {"score": 1, "risk_tier": 1},
                },
                "scores.customer_initiated_return_risk.score is not an integer",
            ),
            (
                {
                    "customer_initiated_return_risk": {"score": 9, "risk_tier": 1},
                    "bank_initiated_return_risk": {"score": True, "risk_tier": 1},
                },
                "scores.bank_initiated_return_risk.score is not an integer",
            ),
            (
                {
                    "customer_initiated_return_risk": {"score": 9, "risk_tier": "1"},
                    "bank_initiated_return_risk": {"score": 1, "risk_tier": 1},
                },
                "scores.customer_initiated_return_risk.risk_tier is not an integer",
            ),
        ],
    )
    def test_a_wrong_shape_is_malformed(self, body, complaint):
        with pytest.raises(MalformedAnswer, match=complaint):
            parse_scores(body)


class TestParseRuleset:
    def test_reads_key_result_and_triggered_rule(self):
        body = {
            "ruleset_key": "default",
            "result": "REROUTE",
            "triggered_rule_details": {
                "custom_action_key": "nsf",
                "internal_note": "low balance",
            },
        }
        assert parse_ruleset(body) == AppliedRuleset(
            "default", "REROUTE", "nsf", "low balance"
        )

    def test_missing_or_empty_texts_are_none(self):
        body = {
            "ruleset_key": "",
            "result": "ACCEPT",
            "triggered_rule_details": {"custom_action_key": None},
        }
        assert parse_ruleset(body) == AppliedRuleset(None, "ACCEPT", None, None)

    def test_null_triggered_rule_details_are_allowed(self):
        body = {"result": "ACCEPT", "triggered_rule_details": None}
        assert parse_ruleset(body) == AppliedRuleset(None, "ACCEPT")

    def test_null_is_none(self):
        assert parse_ruleset(None) is None

    @pytest.mark.parametrize(
        ("body", "complaint"),
        [
            ("ACCEPT", "ruleset is not an object"),
            ({"ruleset_key": "k"}, "ruleset.result is missing"),
            ({"result": None}, "ruleset.result is missing"),
            (
                {"result": "ACCEPT", "triggered_rule_details": "x"},
                "triggered_rule_details is not an object",
            ),
        ],
    )
    def test_a_wrong_shape_is_malformed(self, body, complaint):
        with pytest.raises(MalformedAnswer, match=complaint):
            parse_ruleset(body)


class TestParseWarnings:
    def test_reads_each_warning(self):
        body = [
            {
                "warning_type": "BANK_ERROR",
                "warning_code": "ITEM_LOGIN_REQUIRED",
                "warning_message": "relink",
            },
            {"warning_code": "NO_ACCOUNTS"},
        ]
        assert parse_warnings(body) == (
            PlaidWarning("BANK_ERROR", "ITEM_LOGIN_REQUIRED", "relink"),
            PlaidWarning("", "NO_ACCOUNTS", ""),
        )

    @pytest.mark.parametrize("body", [None, []])
    def test_missing_or_empty_is_none(self, body):
        assert parse_warnings(body) == ()

    def test_not_a_list_is_malformed(self):
        with pytest.raises(MalformedAnswer, match="warnings is not a list"):
            parse_warnings({"warning_code": "X"})

    def test_an_entry_that_is_not_an_object_is_malformed(self):
        with pytest.raises(MalformedAnswer, match=r"warnings\[0\] is not an object"):
            parse_warnings(["ITEM_LOGIN_REQUIRED"])


class TestParseSignalBalance:
    def test_reads_the_balance_attributes_exactly(self):
        attributes = orjson.loads(
            b'{"available_balance": 2000.1, "current_balance": 2100.25,'
            b' "balance_last_updated": "2030-01-01T11:59:00Z",'
            b' "days_since_first_plaid_connection": 400}'
        )
        balance = parse_signal_balance(attributes)
        assert balance.available == Decimal("2000.1")
        assert balance.current == Decimal("2100.25")
        assert balance.currency == "USD"
        assert balance.as_of == datetime(2030, 1, 1, 11, 59, tzinfo=UTC)
        assert balance.as_of_source is TimeSource.PLAID_REPORTED

    def test_a_balance_only_answer_has_no_time(self):
        balance = parse_signal_balance(
            {"available_balance": 10.0, "current_balance": None}
        )
        assert (balance.available, balance.current) == (Decimal("10.0"), None)
        assert balance.as_of is None
        assert balance.as_of_source is TimeSource.UNKNOWN

    def test_a_wrong_typed_attribute_is_malformed(self):
        with pytest.raises(MalformedAnswer, match="available_balance"):
            parse_signal_balance({"available_balance": "10.00"})


ACCOUNTS_BODY = {
    "accounts": [
        "junk",
        {"account_id": "other", "balances": {"available": 1.0}},
        {
            "account_id": "acc-1",
            "balances": {
                "available": 100.5,
                "current": 110,
                "iso_currency_code": "USD",
                "unofficial_currency_code": None,
                "last_updated_datetime": "2030-01-01T11:00:00Z",
            },
        },
    ]
}


class TestParseAccountBalance:
    def test_reads_the_requested_account(self):
        balance = parse_account_balance(ACCOUNTS_BODY, "acc-1")
        assert (balance.available, balance.current) == (Decimal("100.5"), Decimal(110))
        assert balance.currency == "USD"
        assert balance.as_of == datetime(2030, 1, 1, 11, tzinfo=UTC)
        assert balance.as_of_source is TimeSource.PLAID_REPORTED

    def test_an_unofficial_currency_is_used_when_there_is_no_iso_code(self):
        body = {
            "accounts": [
                {
                    "account_id": "a",
                    "balances": {
                        "available": None,
                        "current": 3.0,
                        "iso_currency_code": None,
                        "unofficial_currency_code": "BTC",
                    },
                }
            ]
        }
        balance = parse_account_balance(body, "a")
        assert balance.currency == "BTC"
        assert balance.available is None
        assert balance.as_of is None
        assert balance.as_of_source is TimeSource.UNKNOWN

    @pytest.mark.parametrize(
        ("body", "complaint"),
        [
            ({}, "accounts is not a list"),
            ({"accounts": {}}, "accounts is not a list"),
            ({"accounts": []}, "accounts does not hold the requested account"),
            (
                {"accounts": [{"account_id": "acc-1"}]},
                r"accounts\[0\].balances is not an object",
            ),
            (
                {"accounts": [{"account_id": "acc-1", "balances": {"current": "1"}}]},
                "current is not a number",
            ),
        ],
    )
    def test_a_wrong_shape_is_malformed(self, body, complaint):
        with pytest.raises(MalformedAnswer, match=complaint):
            parse_account_balance(body, "acc-1")


class TestMalformed:
    def test_becomes_a_transient_plaid_failure_without_the_body(self):
        failure = malformed(
            "/accounts/balance/get",
            MalformedAnswer("accounts", "is not a list"),
            (),
            "r1",
        )
        assert failure.kind is FailureKind.MALFORMED_RESPONSE
        assert failure.kind.transient
        assert failure.http_status == 200
        assert failure.request_id == "r1"
        assert str(failure) == (
            "Plaid's answer to /accounts/balance/get is malformed: "
            "accounts is not a list"
        )


class TestClassify:
    """Plaid's error table (docs/plaid-behaviour.md), row by row: Plaid's code decides, then its type."""

    @pytest.mark.parametrize(
        ("http_status", "error_type", "error_code", "kind"),
        [
            (500, "API_ERROR", "INTERNAL_SERVER_ERROR", FailureKind.UNAVAILABLE),
            (503, "API_ERROR", "PLANNED_MAINTENANCE", FailureKind.UNAVAILABLE),
            (429, "RATE_LIMIT_EXCEEDED", "RATE_LIMIT", FailureKind.RATE_LIMITED),
            (429, "RATE_LIMIT_EXCEEDED", "BALANCE_LIMIT", FailureKind.RATE_LIMITED),
            (
                429,
                "RATE_LIMIT_EXCEEDED",
                "ACCOUNTS_BALANCE_GET_LIMIT",
                FailureKind.RATE_LIMITED,
            ),
            (
                429,
                "RATE_LIMIT_EXCEEDED",
                "INSTITUTION_RATE_LIMIT",
                FailureKind.RATE_LIMITED,
            ),
            (
                400,
                "INSTITUTION_ERROR",
                "INSTITUTION_DOWN",
                FailureKind.INSTITUTION_DOWN,
            ),
            (
                400,
                "INSTITUTION_ERROR",
                "INSTITUTION_NOT_RESPONDING",
                FailureKind.INSTITUTION_DOWN,
            ),
            (400, "ITEM_ERROR", "PRODUCT_NOT_READY", FailureKind.UNAVAILABLE),
            (
                429,
                "RATE_LIMIT_EXCEEDED",
                "CREDITS_EXHAUSTED",
                FailureKind.QUOTA_EXHAUSTED,
            ),
            (400, "ITEM_ERROR", "ITEM_LOGIN_REQUIRED", FailureKind.RELINK_REQUIRED),
            (400, "ITEM_ERROR", "ITEM_LOCKED", FailureKind.RELINK_REQUIRED),
            (400, "ITEM_ERROR", "NO_ACCOUNTS", FailureKind.RELINK_REQUIRED),
            (400, "ITEM_ERROR", "SOMETHING_NEW", FailureKind.RELINK_REQUIRED),
            (400, "ITEM_ERROR", "PRODUCTS_NOT_SUPPORTED", FailureKind.NOT_SUPPORTED),
            (
                400,
                "INVALID_INPUT",
                "INVALID_ACCESS_TOKEN",
                FailureKind.INVALID_ACCESS_TOKEN,
            ),
            (400, "INVALID_INPUT", "INVALID_ACCOUNT_ID", FailureKind.INVALID_ACCOUNT),
            (
                400,
                "INVALID_INPUT",
                "INVALID_API_KEYS",
                FailureKind.CREDENTIALS_REJECTED,
            ),
            (400, "INVALID_REQUEST", "INVALID_FIELD", FailureKind.REQUEST_REJECTED),
            (
                400,
                "INVALID_RESULT",
                "LAST_UPDATED_DATETIME_OUT_OF_RANGE",
                FailureKind.REQUEST_REJECTED,
            ),
            (400, "SIGNAL_ERROR", "RULESET_NOT_FOUND", FailureKind.RULESET_NOT_FOUND),
            (
                400,
                "SIGNAL_ERROR",
                "CLIENT_TRANSACTION_ID_ALREADY_IN_USE",
                FailureKind.IDEMPOTENCY_CONFLICT,
            ),
            (403, "SIGNAL_ERROR", "ADDENDUM_NOT_SIGNED", FailureKind.NOT_SUPPORTED),
            (
                400,
                "SIGNAL_ERROR",
                "SIGNAL_TRANSACTION_NOT_INITIATED",
                FailureKind.NOT_SUPPORTED,
            ),
            (429, None, None, FailureKind.RATE_LIMITED),
            (502, None, None, FailureKind.UNAVAILABLE),
            (408, None, None, FailureKind.UNAVAILABLE),
            (0, None, None, FailureKind.UNAVAILABLE),
            (401, None, None, FailureKind.CREDENTIALS_REJECTED),
            (403, None, None, FailureKind.CREDENTIALS_REJECTED),
            (404, None, None, FailureKind.REQUEST_REJECTED),
            (400, "SOME_NEW_TYPE", "SOME_NEW_CODE", FailureKind.REQUEST_REJECTED),
        ],
    )
    def test_maps_each_plaid_error(self, http_status, error_type, error_code, kind):
        assert classify(http_status, error_type, error_code) is kind

    @pytest.mark.parametrize(
        ("error_type", "error_code"),
        [
            ("API_ERROR", "INTERNAL_SERVER_ERROR"),
            ("API_ERROR", "PLANNED_MAINTENANCE"),
            ("RATE_LIMIT_EXCEEDED", "RATE_LIMIT"),
            ("RATE_LIMIT_EXCEEDED", "BALANCE_LIMIT"),
            ("RATE_LIMIT_EXCEEDED", "ACCOUNTS_BALANCE_GET_LIMIT"),
            ("RATE_LIMIT_EXCEEDED", "ITEM_GET_LIMIT"),
            ("RATE_LIMIT_EXCEEDED", "ACCOUNTS_LIMIT"),
            ("RATE_LIMIT_EXCEEDED", "INSTITUTION_RATE_LIMIT"),
            ("ITEM_ERROR", "PRODUCT_NOT_READY"),
        ],
    )
    def test_the_reference_transient_codes_are_transient(self, error_type, error_code):
        assert classify(400, error_type, error_code).transient

    @pytest.mark.parametrize(
        "error_code",
        ["INSTITUTION_DOWN", "INSTITUTION_NOT_RESPONDING", "INSTITUTION_NOT_AVAILABLE"],
    )
    def test_institution_outages_degrade_now_rather_than_retry(self, error_code):
        """Plaid says retry in hours, so degrade now."""
        kind = classify(400, "INSTITUTION_ERROR", error_code)
        assert kind is FailureKind.INSTITUTION_DOWN
        assert not kind.transient

    @pytest.mark.parametrize(
        ("error_type", "error_code"),
        [
            ("RATE_LIMIT_EXCEEDED", "CREDITS_EXHAUSTED"),
            ("ITEM_ERROR", "ITEM_LOGIN_REQUIRED"),
            ("ITEM_ERROR", "ITEM_NOT_FOUND"),
            ("ITEM_ERROR", "ITEM_LOCKED"),
            ("ITEM_ERROR", "PASSWORD_RESET_REQUIRED"),
            ("ITEM_ERROR", "USER_SETUP_REQUIRED"),
            ("ITEM_ERROR", "NO_ACCOUNTS"),
            ("ITEM_ERROR", "ACCESS_NOT_GRANTED"),
            ("ITEM_ERROR", "PRODUCT_NOT_ENABLED"),
            ("ITEM_ERROR", "PRODUCTS_NOT_SUPPORTED"),
            ("INVALID_INPUT", "INVALID_ACCESS_TOKEN"),
            ("INVALID_INPUT", "INVALID_ACCOUNT_ID"),
            ("INVALID_INPUT", "INVALID_API_KEYS"),
            ("INVALID_INPUT", "INVALID_PRODUCT"),
            ("INVALID_INPUT", "ADDITIONAL_CONSENT_REQUIRED"),
            ("INVALID_REQUEST", "INVALID_FIELD"),
            ("INVALID_REQUEST", "MISSING_FIELDS"),
            ("INVALID_REQUEST", "UNKNOWN_FIELDS"),
            ("INVALID_REQUEST", "INVALID_BODY"),
            ("INVALID_REQUEST", "INVALID_HEADERS"),
            ("INVALID_RESULT", "LAST_UPDATED_DATETIME_OUT_OF_RANGE"),
            ("INSTITUTION_ERROR", "INSTITUTION_NO_LONGER_SUPPORTED"),
            ("INSTITUTION_ERROR", "UNSUPPORTED_RESPONSE"),
            ("INSTITUTION_ERROR", "INSTITUTION_REGISTRATION_REQUIRED"),
            ("INSTITUTION_ERROR", "UNAUTHORIZED_INSTITUTION"),
            ("SIGNAL_ERROR", "ADDENDUM_NOT_SIGNED"),
            ("SIGNAL_ERROR", "NOT_ENABLED_FOR_SIGNAL_TRANSACTION_SCORE_RULESETS"),
            ("SIGNAL_ERROR", "CLIENT_TRANSACTION_ID_ALREADY_IN_USE"),
            ("SIGNAL_ERROR", "INVALID_CONFIGURATION_STATE"),
            ("SIGNAL_ERROR", "RULESET_NOT_FOUND"),
            ("SIGNAL_ERROR", "SIGNAL_TRANSACTION_NOT_INITIATED"),
        ],
    )
    def test_the_reference_permanent_codes_are_not_retried(
        self, error_type, error_code
    ):
        assert not classify(400, error_type, error_code).transient

    @pytest.mark.parametrize("http_status", [400, 429, 500])
    def test_plaids_code_wins_over_its_type_and_the_http_status(self, http_status):
        assert (
            classify(http_status, "RATE_LIMIT_EXCEEDED", "CREDITS_EXHAUSTED")
            is FailureKind.QUOTA_EXHAUSTED
        )
