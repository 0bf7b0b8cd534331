"""Proto <-> domain: every bad request field is named; money converts exactly."""

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.money_pb2 import Money as MoneyPb
from hypothesis import given
from hypothesis import strategies as st

from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service.api.convert import (
    decision_pb,
    money_decimal,
    money_pb,
    payment_request,
    timestamp,
)
from service.app.errors import InvalidRequest
from service.domain.model import (
    AppliedRuleset,
    Balance,
    Basis,
    Decision,
    Freshness,
    Note,
    PaymentAttempt,
    PlaidCall,
    PlaidWarning,
    Rail,
    RealtimeReport,
    Result,
    ReusedFetch,
    Scores,
    Source,
    TimeSource,
    Verdict,
)
from service.domain.money import Money
from tests.strategies import money

TOKEN = "access-sandbox-8ab976e6-64bc-4b38-98f7-731e7a349970"
NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
ACH_RAILS = [pb.PAYMENT_RAIL_ACH_STANDARD, pb.PAYMENT_RAIL_ACH_SAME_DAY]
OTHER_RAILS = [
    pb.PAYMENT_RAIL_RTP,
    pb.PAYMENT_RAIL_FEDNOW,
    pb.PAYMENT_RAIL_WIRE,
    pb.PAYMENT_RAIL_CARD,
    pb.PAYMENT_RAIL_BALANCE_CHECK,
]


def request(**changes: Any) -> pb.EvaluatePaymentRequest:
    fields: dict[str, Any] = {
        "client_transaction_id": "tx-0001",
        "access_token": TOKEN,
        "account_id": "BxBXxLj1m4HMXBm9WZZmCWVbPjX16EHwv99vp",
        "amount": MoneyPb(currency_code="USD", units=102, nanos=50_000_000),
        "rail": pb.PAYMENT_RAIL_ACH_STANDARD,
    }
    fields.update(changes)
    return pb.EvaluatePaymentRequest(
        **{k: v for k, v in fields.items() if v is not None}
    )


def violations(msg: pb.EvaluatePaymentRequest) -> dict[str, list[str]]:
    with pytest.raises(InvalidRequest) as caught:
        payment_request(msg)
    named: dict[str, list[str]] = {}
    for violation in caught.value.violations:
        named.setdefault(violation.field, []).append(violation.description)
    return named


def usd(units: int, nanos: int = 0, currency: str = "USD") -> MoneyPb:
    return MoneyPb(currency_code=currency, units=units, nanos=nanos)


class TestValidRequest:
    def test_converts_the_amount_exactly(self):
        converted = payment_request(request())
        assert converted.attempt.amount == Money(10205, "USD")

    def test_keeps_identifiers_rail_and_token(self):
        converted = payment_request(request(ruleset_key="balance-only"))
        attempt = converted.attempt
        assert attempt.client_transaction_id == "tx-0001"
        assert attempt.rail is Rail.ACH_STANDARD
        assert attempt.ruleset_key == "balance-only"
        assert converted.account.access_token.reveal() == TOKEN
        assert converted.account.account_id.startswith("BxBX")

    def test_the_access_token_is_a_secret_from_the_first_line(self):
        converted = payment_request(request())
        assert TOKEN not in repr(converted)

    @pytest.mark.parametrize(
        ("rail", "expected"),
        [
            (pb.PAYMENT_RAIL_ACH_STANDARD, Rail.ACH_STANDARD),
            (pb.PAYMENT_RAIL_ACH_SAME_DAY, Rail.ACH_SAME_DAY),
            (pb.PAYMENT_RAIL_RTP, Rail.RTP),
            (pb.PAYMENT_RAIL_FEDNOW, Rail.FEDNOW),
            (pb.PAYMENT_RAIL_WIRE, Rail.WIRE),
            (pb.PAYMENT_RAIL_CARD, Rail.CARD),
            (pb.PAYMENT_RAIL_BALANCE_CHECK, Rail.BALANCE_CHECK),
        ],
    )
    def test_every_rail_maps(self, rail, expected):
        assert payment_request(request(rail=rail)).attempt.rail is expected

    @pytest.mark.parametrize(
        ("amount", "minor_units"),
        [
            (usd(0, 10_000_000), 1),
            (usd(36, 10_000_000, "EUR"), 3601),
            (usd(1500, 0, "JPY"), 1500),
            (usd(1, 234_000_000, "KWD"), 1234),
        ],
    )
    def test_non_ach_rails_take_any_currency_at_its_minor_unit(
        self, amount, minor_units
    ):
        converted = payment_request(request(amount=amount, rail=pb.PAYMENT_RAIL_WIRE))
        assert converted.attempt.amount == Money(minor_units, amount.currency_code)

    def test_a_36_character_transaction_id_is_allowed(self):
        converted = payment_request(request(client_transaction_id="x" * 36))
        assert converted.attempt.client_transaction_id == "x" * 36

    def test_an_empty_ruleset_key_means_none(self):
        assert payment_request(request(ruleset_key="")).attempt.ruleset_key is None

    def test_unset_optional_booleans_stay_unset(self):
        context = payment_request(request()).context
        assert context.user_present is None
        assert context.is_recurring is None

    @pytest.mark.parametrize("value", [True, False])
    def test_set_optional_booleans_keep_their_value_even_false(self, value):
        context = payment_request(
            request(user_present=value, is_recurring=value)
        ).context
        assert context.user_present is value
        assert context.is_recurring is value

    def test_empty_optional_texts_are_none(self):
        context = payment_request(request()).context
        assert context.client_user_id is None
        assert context.user is None
        assert context.ip_address is None
        assert context.user_agent is None

    def test_user_and_device_blocks_are_forwarded(self):
        msg = request(
            client_user_id="user-42",
            user=pb.PaymentUser(
                name=pb.PersonName(given_name="Ada", family_name="Lovelace"),
                email_address="ada@example.com",
                address=pb.PostalAddress(city="London", country="GB"),
            ),
            device=pb.PaymentDevice(ip_address="192.0.2.1", user_agent="curl/8"),
        )
        context = payment_request(msg).context
        assert context.client_user_id == "user-42"
        assert context.user is not None
        assert (context.user.given_name, context.user.family_name) == (
            "Ada",
            "Lovelace",
        )
        assert context.user.middle_name is None
        assert context.user.email_address == "ada@example.com"
        assert (context.user.city, context.user.country) == ("London", "GB")
        assert context.user.street is None
        assert (context.ip_address, context.user_agent) == ("192.0.2.1", "curl/8")


class TestInvalidRequest:
    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            pytest.param(
                {"client_transaction_id": ""}, "client_transaction_id", id="empty id"
            ),
            pytest.param(
                {"client_transaction_id": "x" * 37},
                "client_transaction_id",
                id="37-char id",
            ),
            pytest.param({"access_token": ""}, "access_token", id="no access_token"),
            pytest.param({"account_id": ""}, "account_id", id="no account_id"),
            pytest.param({"amount": None}, "amount", id="no amount"),
            pytest.param({"amount": usd(0)}, "amount", id="zero amount"),
            pytest.param({"amount": usd(-5)}, "amount", id="negative amount"),
            pytest.param(
                {"amount": usd(0, -10_000_000)}, "amount", id="negative nanos only"
            ),
            pytest.param({"amount": usd(1, 1)}, "amount", id="fraction of a cent"),
            pytest.param(
                {"amount": usd(1, 500_000_000, "JPY"), "rail": pb.PAYMENT_RAIL_WIRE},
                "amount",
                id="fraction of a yen",
            ),
            pytest.param(
                {"amount": usd(1, 0, "usd")},
                "amount.currency_code",
                id="lowercase currency",
            ),
            pytest.param(
                {"amount": usd(1, 0, ""), "rail": pb.PAYMENT_RAIL_WIRE},
                "amount.currency_code",
                id="no currency",
            ),
            pytest.param(
                {"amount": usd(1, 0, "US$"), "rail": pb.PAYMENT_RAIL_WIRE},
                "amount.currency_code",
                id="symbol currency",
            ),
            pytest.param(
                {"amount": usd(1, -1)}, "amount.nanos", id="nanos sign mismatch"
            ),
            pytest.param(
                {"amount": usd(-1, 1)},
                "amount.nanos",
                id="nanos sign mismatch negative",
            ),
            pytest.param(
                {"amount": usd(1, 1_000_000_000)}, "amount.nanos", id="nanos too large"
            ),
            pytest.param(
                {"rail": pb.PAYMENT_RAIL_UNSPECIFIED}, "rail", id="UNSPECIFIED rail"
            ),
            pytest.param({"rail": 99}, "rail", id="unknown rail number"),
            pytest.param(
                {"rail": pb.PAYMENT_RAIL_RTP, "ruleset_key": "balance-only"},
                "ruleset_key",
                id="ruleset_key on a non-ACH rail",
            ),
            pytest.param(
                {"ruleset_key": "r" * 257}, "ruleset_key", id="257-char ruleset_key"
            ),
            pytest.param(
                {"client_user_id": "u" * 257}, "client_user_id", id="257-char user id"
            ),
            pytest.param(
                {"access_token": "a" * 257}, "access_token", id="257-char token"
            ),
            pytest.param(
                {"amount": usd(10, 0, "EUR")}, "amount.currency_code", id="ACH in EUR"
            ),
            pytest.param(
                {"user": pb.PaymentUser(address=pb.PostalAddress(country="GBR"))},
                "user.address.country",
                id="alpha-3 country",
            ),
        ],
    )
    def test_names_the_bad_field(self, changes, field):
        assert field in violations(request(**changes))

    def test_the_bad_token_is_not_echoed(self):
        named = violations(request(access_token="a" * 257))
        assert "a" * 257 not in " ".join(named["access_token"])

    @pytest.mark.parametrize("rail", ACH_RAILS)
    def test_ach_rails_accept_only_usd(self, rail):
        named = violations(request(rail=rail, amount=usd(10, 0, "EUR")))
        assert named == {"amount.currency_code": ["ACH payments must be in USD"]}

    @pytest.mark.parametrize("rail", OTHER_RAILS)
    def test_non_ach_rails_refuse_a_ruleset_key(self, rail):
        named = violations(request(rail=rail, ruleset_key="balance-only"))
        assert list(named) == ["ruleset_key"]

    def test_a_request_with_several_bad_fields_names_all_of_them(self):
        msg = pb.EvaluatePaymentRequest(
            client_transaction_id="x" * 37,
            amount=usd(1, -1),
            rail=pb.PAYMENT_RAIL_UNSPECIFIED,
            client_user_id="u" * 300,
            user=pb.PaymentUser(address=pb.PostalAddress(country="usa")),
        )
        assert set(violations(msg)) == {
            "client_transaction_id",
            "access_token",
            "account_id",
            "amount.nanos",
            "rail",
            "client_user_id",
            "user.address.country",
        }

    def test_an_empty_request_names_every_required_field(self):
        assert set(violations(pb.EvaluatePaymentRequest())) == {
            "client_transaction_id",
            "access_token",
            "account_id",
            "amount",
            "rail",
        }

    def test_a_ruleset_key_on_a_non_ach_rail_is_named_with_a_bad_amount(self):
        named = violations(
            request(rail=pb.PAYMENT_RAIL_CARD, ruleset_key="k", amount=usd(0))
        )
        assert set(named) == {"ruleset_key", "amount"}

    def test_an_ach_amount_in_eur_that_is_also_negative_names_both_problems(self):
        """The currency and the value are separate mistakes; both are reported."""
        named = violations(request(amount=usd(-5, 0, "EUR")))
        assert "amount.currency_code" in named
        assert "amount" in named

    @pytest.mark.parametrize("currency", ["EUR\n", "JPY\n"])
    def test_a_currency_code_with_a_trailing_newline_is_not_a_3_letter_code(
        self, currency
    ):
        """`$` in a regex also matches before a final newline; the check must not."""
        amount = usd(1500, 500_000_000, currency)
        named = violations(request(amount=amount, rail=pb.PAYMENT_RAIL_WIRE))
        assert "amount.currency_code" in named

    def test_the_error_message_lists_every_field(self):
        with pytest.raises(InvalidRequest) as caught:
            payment_request(request(client_transaction_id="", account_id=""))
        assert str(caught.value) == (
            "client_transaction_id: is required; account_id: is required"
        )


class TestMoney:
    @pytest.mark.parametrize(
        ("value", "units", "nanos"),
        [
            (Decimal("102.05"), 102, 50_000_000),
            (Decimal("0.01"), 0, 10_000_000),
            (Decimal("-0.5"), 0, -500_000_000),
            (Decimal("-3.25"), -3, -250_000_000),
            (Decimal("1500"), 1500, 0),
            (Decimal("0.000000001"), 0, 1),
            (Decimal("0.0000000005"), 0, 0),
            (Decimal("0.0000000015"), 0, 2),
        ],
    )
    def test_money_pb_is_exact_with_nanos_sharing_the_sign(self, value, units, nanos):
        assert money_pb(value, "USD") == MoneyPb(
            currency_code="USD", units=units, nanos=nanos
        )

    @given(
        st.decimals(
            min_value=Decimal("-9e17"),
            max_value=Decimal("9e17"),
            allow_nan=False,
            allow_infinity=False,
        )
        | st.integers(-(10**20), 10**20).map(lambda n: Decimal(n).scaleb(-9))
        | st.integers(-(10**20), 10**20).map(lambda n: Decimal(n).scaleb(-2))
    )
    def test_money_pb_agrees_with_quantizing_at_nanos(self, value: Decimal) -> None:
        # The integer fast path (at most 9 decimals) and the quantizing path must
        # write the same units and nanos.
        with localcontext() as exact:
            exact.prec = 60
            rounded = value.quantize(Decimal("1e-9"), rounding=ROUND_HALF_EVEN)
        units = int(rounded)
        expected = MoneyPb(
            currency_code="USD", units=units, nanos=int((rounded - units).scaleb(9))
        )
        assert money_pb(value, "USD") == expected

    @pytest.mark.parametrize(
        ("units", "nanos", "value"),
        [
            (102, 50_000_000, Decimal("102.05")),
            (0, 1, Decimal("0.000000001")),
            (-3, -250_000_000, Decimal("-3.25")),
            (2**63 - 1, 999_999_999, Decimal("9223372036854775807.999999999")),
        ],
    )
    def test_money_decimal_is_exact(self, units, nanos, value):
        assert money_decimal(usd(units, nanos)) == value

    @given(money())
    def test_minor_units_round_trip_through_google_type_money(self, amount):
        wire = money_pb(amount.to_decimal(), amount.currency)
        assert wire.currency_code == amount.currency
        assert -999_999_999 <= wire.nanos <= 999_999_999
        assert wire.units * wire.nanos >= 0
        back = Money.from_decimal(money_decimal(wire), amount.currency)
        assert back == amount

    def test_an_ach_amount_a_double_cannot_carry_exactly_is_refused(self):
        huge = Money(9_007_199_254_740_993, "USD")  # 2**53 + 1 cents
        msg = request(amount=money_pb(huge.to_decimal(), "USD"))
        with pytest.raises(InvalidRequest) as caught:
            payment_request(msg)
        assert [v.field for v in caught.value.violations] == ["amount"]

    @given(money(positive=True), st.sampled_from([r for r in Rail if not r.is_ach]))
    def test_any_positive_amount_survives_request_conversion(self, amount, rail):
        msg = request(
            amount=money_pb(amount.to_decimal(), amount.currency),
            rail=getattr(pb, f"PAYMENT_RAIL_{rail.value}"),
        )
        assert payment_request(msg).attempt.amount == amount


def decision(**changes: Any) -> Decision:
    fields: dict[str, Any] = {
        "attempt": PaymentAttempt("tx-1", Money(10205, "USD"), Rail.ACH_SAME_DAY, "k"),
        "verdict": Verdict(
            Result.REROUTE, Source.SIGNAL_RULESET, (Note("RULESET_RESULT", "why"),)
        ),
        "balance": Balance(
            Decimal("12.34"),
            Decimal("56.78"),
            "USD",
            NOW - timedelta(seconds=90),
            TimeSource.PLAID_REPORTED,
        ),
        "realtime": RealtimeReport(
            True, Basis.RULESET_HAS_BALANCE_RULE, (Note("W", "warned"),)
        ),
        "evaluated_at": NOW,
        "duration_ms": 250,
        "plaid_calls": (
            PlaidCall("/signal/evaluate", None, 500, "INTERNAL_SERVER_ERROR", 80, 1),
            PlaidCall("/signal/evaluate", "req-2", 200, None, 120, 2),
        ),
        "applied_ruleset": AppliedRuleset("k-applied", "REROUTE", "nsf", None),
        "scores": Scores(12, 1, 34, 2),
        "plaid_warnings": (PlaidWarning("BANK_ERROR", "ITEM_LOGIN_REQUIRED", "m"),),
    }
    fields.update(changes)
    return Decision(**fields)


class TestDecisionPb:
    def test_carries_the_decision_and_its_evidence(self):
        out = decision_pb(decision())
        assert out.client_transaction_id == "tx-1"
        assert out.result == pb.DECISION_RESULT_REROUTE
        assert out.source == pb.DECISION_SOURCE_SIGNAL_RULESET
        assert out.rail == pb.PAYMENT_RAIL_ACH_SAME_DAY
        assert out.amount == MoneyPb(currency_code="USD", units=102, nanos=50_000_000)
        assert [(r.code, r.message) for r in out.reasons] == [("RULESET_RESULT", "why")]
        assert out.requested_ruleset_key == "k"
        assert out.applied_ruleset_key == "k-applied"
        assert out.triggered_rule.custom_action_key == "nsf"
        assert out.triggered_rule.internal_note == ""
        assert out.scores.customer_initiated_return_risk.score == 12
        assert out.scores.bank_initiated_return_risk.risk_tier == 2
        assert [w.warning_code for w in out.plaid_warnings] == ["ITEM_LOGIN_REQUIRED"]
        assert out.duration_ms == 250
        assert out.evaluate_time.ToDatetime(tzinfo=UTC) == NOW

    def test_balance_evidence_is_exact_with_its_age(self):
        balance = decision_pb(decision()).balance
        assert balance.available == MoneyPb(
            currency_code="USD", units=12, nanos=340_000_000
        )
        assert balance.current == MoneyPb(
            currency_code="USD", units=56, nanos=780_000_000
        )
        assert balance.as_of_source == pb.BALANCE_TIME_SOURCE_PLAID_REPORTED
        assert balance.HasField("age_seconds")
        assert balance.age_seconds == 90

    def test_an_unknown_balance_leaves_the_evidence_unset(self):
        out = decision_pb(decision(balance=Balance(None, None, None)))
        assert not out.balance.HasField("available")
        assert not out.balance.HasField("current")
        assert not out.balance.HasField("as_of_time")
        assert not out.balance.HasField("age_seconds")

    def test_realtime_report_and_plaid_calls_are_kept(self):
        out = decision_pb(decision())
        assert out.realtime_balance.fetched is True
        assert (
            out.realtime_balance.basis
            == pb.REALTIME_BALANCE_BASIS_RULESET_HAS_BALANCE_RULE
        )
        assert [w.code for w in out.realtime_balance.warnings] == ["W"]
        assert [c.attempt for c in out.plaid_calls] == [1, 2]
        assert out.plaid_calls[0].request_id == ""
        assert list(out.plaid_request_ids) == ["req-2"]

    def test_no_ruleset_and_no_scores_leave_those_fields_unset(self):
        out = decision_pb(decision(applied_ruleset=None, scores=None))
        assert out.applied_ruleset_key == ""
        assert not out.HasField("triggered_rule")
        assert not out.HasField("scores")

    def test_a_fallback_rule_result_has_an_applied_key_but_no_triggered_rule(self):
        ruleset = AppliedRuleset("default", "ACCEPT")
        out = decision_pb(decision(applied_ruleset=ruleset))
        assert out.applied_ruleset_key == "default"
        assert not out.HasField("triggered_rule")

    @pytest.mark.parametrize("basis", list(Basis))
    def test_every_basis_has_a_wire_value(self, basis):
        report = RealtimeReport(False, basis)
        out = decision_pb(decision(realtime=report))
        assert pb.RealtimeBalanceBasis.Name(out.realtime_balance.basis) == (
            f"REALTIME_BALANCE_BASIS_{basis.value}"
        )

    @pytest.mark.parametrize("result", list(Result))
    @pytest.mark.parametrize("source", list(Source))
    def test_every_result_and_source_has_a_wire_value(self, result, source):
        out = decision_pb(decision(verdict=Verdict(result, source, ())))
        assert pb.DecisionResult.Name(out.result) == f"DECISION_RESULT_{result.value}"
        assert pb.DecisionSource.Name(out.source) == f"DECISION_SOURCE_{source.value}"

    @pytest.mark.parametrize("rail", list(Rail))
    def test_every_rail_has_a_wire_value(self, rail):
        attempt = PaymentAttempt("tx-1", Money(1, "USD"), rail)
        out = decision_pb(decision(attempt=attempt))
        assert pb.PaymentRail.Name(out.rail) == f"PAYMENT_RAIL_{rail.value}"


@given(
    st.datetimes(
        min_value=datetime(1, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
        max_value=datetime(9999, 12, 31),  # noqa: DTZ001
        timezones=st.one_of(st.none(), st.timezones()),
    )
)
def test_timestamps_are_what_protobuf_from_datetime_makes(moment: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(moment)

    assert timestamp(moment) == expected


class TestBalanceFreshness:
    def test_unset_is_the_default_with_no_age(self):
        converted = payment_request(request())
        assert converted.freshness is Freshness.DEFAULT
        assert converted.max_balance_age is None

    def test_require_live_converts(self):
        msg = request(balance_freshness=pb.BALANCE_FRESHNESS_REQUIRE_LIVE)
        assert payment_request(msg).freshness is Freshness.REQUIRE_LIVE

    @pytest.mark.parametrize(
        ("age", "expected"),
        [
            (Duration(seconds=1), timedelta(seconds=1)),
            (Duration(seconds=90, nanos=500_000_000), timedelta(seconds=90.5)),
            (Duration(seconds=86_400), timedelta(days=1)),
        ],
    )
    def test_accept_recent_takes_an_age_from_a_second_to_a_day(self, age, expected):
        msg = request(
            balance_freshness=pb.BALANCE_FRESHNESS_ACCEPT_RECENT, max_balance_age=age
        )
        converted = payment_request(msg)
        assert converted.freshness is Freshness.ACCEPT_RECENT
        assert converted.max_balance_age == expected

    @pytest.mark.parametrize(
        "age",
        [
            None,
            Duration(seconds=0),
            Duration(nanos=999_000_000),
            Duration(seconds=86_401),
            Duration(seconds=-5),
            Duration(seconds=5, nanos=-1),
            # Past what a timedelta holds: malformed, never an overflow.
            Duration(seconds=2**62),
            Duration(seconds=-(2**62)),
            Duration(seconds=315_576_000_001),
        ],
    )
    def test_accept_recent_without_a_valid_age_is_refused(self, age):
        msg = request(
            balance_freshness=pb.BALANCE_FRESHNESS_ACCEPT_RECENT, max_balance_age=age
        )
        assert list(violations(msg)) == ["max_balance_age"]

    @pytest.mark.parametrize(
        "freshness",
        [pb.BALANCE_FRESHNESS_UNSPECIFIED, pb.BALANCE_FRESHNESS_REQUIRE_LIVE],
    )
    def test_an_age_without_accept_recent_is_refused(self, freshness):
        msg = request(balance_freshness=freshness, max_balance_age=Duration(seconds=60))
        assert list(violations(msg)) == ["max_balance_age"]

    def test_an_unknown_freshness_is_refused(self):
        assert list(violations(request(balance_freshness=7))) == ["balance_freshness"]

    def test_a_reused_balance_is_reported_with_its_age_and_source(self):
        report = RealtimeReport(
            False,
            Basis.REUSED_RECENT_FETCH,
            reused=ReusedFetch("tx-0", timedelta(seconds=42)),
        )
        out = decision_pb(decision(realtime=report)).realtime_balance
        assert out.basis == pb.REALTIME_BALANCE_BASIS_REUSED_RECENT_FETCH
        assert out.reused_from_client_transaction_id == "tx-0"
        assert out.reused_balance_age.ToTimedelta() == timedelta(seconds=42)
        assert not out.fetched
        assert not out.attempted

    def test_other_decisions_leave_the_reuse_fields_unset(self):
        out = decision_pb(decision()).realtime_balance
        assert not out.HasField("reused_balance_age")
        assert out.reused_from_client_transaction_id == ""
