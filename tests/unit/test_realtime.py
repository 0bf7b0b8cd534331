"""SPEC 2.1: did a real-time balance call happen, on what basis, with which warnings."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.risk.model import (
    AppliedRuleset,
    Balance,
    BalanceAnswer,
    Basis,
    RealtimeReport,
    Scores,
    SignalAnswer,
    TimeSource,
)
from service.risk.realtime import (
    BALANCE_ONLY_ATTRIBUTES,
    RulesetDeclaration,
    assess_balance_endpoint,
    assess_signal,
    is_balance_only_shape,
    settle_as_of,
)
from tests.strategies import (
    balance_answers,
    registries,
    requested_keys,
    signal_answers,
    windows,
)

SENT = datetime(2030, 1, 1, 12, tzinfo=UTC)
RECEIVED = SENT + timedelta(seconds=3)
WINDOW = timedelta(seconds=120)
SCORES = Scores(customer_initiated=12, customer_tier=1, bank_initiated=34, bank_tier=2)
STS_KEYS = frozenset(
    {
        "available_balance",
        "current_balance",
        "balance_last_updated",
        "p50_eod_balance_30d",
        "days_since_first_plaid_connection",
    }
)
BALANCE_ONLY_KEYS = frozenset({"available_balance", "current_balance"})
REGISTRY = {
    "balance-only": RulesetDeclaration(balance_rule=True, kind="balance_only"),
    "sts-with-balance": RulesetDeclaration(balance_rule=True, kind="transaction_score"),
    "sts-scores-only": RulesetDeclaration(balance_rule=False, kind="transaction_score"),
    "undeclared-kind": RulesetDeclaration(balance_rule=True),
}


def cached(age_s: int) -> Balance:
    """A balance as an STS answer gives it: with balance_last_updated."""
    return Balance(
        Decimal("500.00"),
        Decimal("510.00"),
        "USD",
        SENT - timedelta(seconds=age_s),
        TimeSource.PLAID_REPORTED,
    )


LIVE = Balance(Decimal("500.00"), Decimal("510.00"), "USD")
EMPTY = Balance(None, None, "USD")


def signal(
    key: str | None = "sts-scores-only",
    *,
    applied: bool = True,
    scores: Scores | None = SCORES,
    keys: frozenset[str] = STS_KEYS,
    balance: Balance = LIVE,
) -> SignalAnswer:
    return SignalAnswer(
        request_id="req-signal",
        ruleset=AppliedRuleset(key, "ACCEPT") if applied else None,
        scores=scores,
        attribute_keys=keys,
        balance=balance,
        warnings=(),
        sent_at=SENT,
        received_at=RECEIVED,
    )


def balance_only(key: str | None = "balance-only", **changes: Any) -> SignalAnswer:
    defaults: dict[str, Any] = {
        "scores": None,
        "keys": BALANCE_ONLY_KEYS,
        "balance": LIVE,
    }
    return signal(key, **{**defaults, **changes})


def warning_codes(report: RealtimeReport) -> list[str]:
    return [note.code for note in report.warnings]


def endpoint(balance: Balance = LIVE, *, too_old: bool = False) -> BalanceAnswer:
    return BalanceAnswer("req-balance", balance, SENT, RECEIVED, too_old)


class TestSpecTable:
    """Each row of SPEC 2.1, through the functions the service calls."""

    @pytest.mark.parametrize(
        ("answer", "requested", "fetched", "basis", "warnings"),
        [
            pytest.param(
                balance_only(),
                "balance-only",
                True,
                Basis.RULESET_HAS_BALANCE_RULE,
                [],
                id="Balance-only ruleset with its shape",
            ),
            pytest.param(
                signal("sts-with-balance", balance=cached(5)),
                "sts-with-balance",
                True,
                Basis.RULESET_HAS_BALANCE_RULE,
                [],
                id="STS ruleset declared with a balance rule",
            ),
            pytest.param(
                signal("undeclared-kind"),
                None,
                True,
                Basis.RULESET_HAS_BALANCE_RULE,
                [],
                id="ruleset with a balance rule, kind not declared, scores returned",
            ),
            pytest.param(
                signal("sts-scores-only", balance=cached(86_400)),
                "sts-scores-only",
                False,
                Basis.RULESET_HAS_NO_BALANCE_RULE,
                [],
                id="STS ruleset declared without a balance rule, cached balance",
            ),
            pytest.param(
                signal(applied=False, balance=cached(86_400)),
                None,
                False,
                Basis.NO_RULESET,
                [],
                id="no ruleset applied (scores only), none requested",
            ),
            pytest.param(
                balance_only("dashboard-new"),
                "dashboard-new",
                True,
                Basis.INFERRED_FROM_RESPONSE,
                [],
                id="ruleset not in the registry, Balance-only shape",
            ),
            pytest.param(
                balance_only(
                    "dashboard-new",
                    keys=BALANCE_ONLY_ATTRIBUTES,
                    balance=cached(10),
                ),
                "dashboard-new",
                True,
                Basis.INFERRED_FROM_RESPONSE,
                [],
                id="ruleset not in the registry, Balance-only shape with a timestamp",
            ),
            pytest.param(
                signal("dashboard-new"),
                "dashboard-new",
                False,
                Basis.INFERRED_FROM_RESPONSE,
                [],
                id="ruleset not in the registry, STS shape",
            ),
        ],
    )
    def test_signal_rows(self, answer, requested, fetched, basis, warnings):
        report = assess_signal(answer, requested, REGISTRY, WINDOW)
        assert (report.fetched, report.basis) == (fetched, basis)
        assert warning_codes(report) == warnings

    @pytest.mark.parametrize(
        ("answer", "fetched", "warnings"),
        [
            (endpoint(LIVE), True, []),
            (endpoint(cached(0)), True, []),
            (endpoint(cached(120)), True, []),
            (endpoint(cached(121)), False, ["BALANCE_TIMESTAMP_PREDATES_CALL"]),
            (endpoint(cached(-5)), True, []),
            (endpoint(EMPTY, too_old=True), False, ["BALANCE_OLDER_THAN_ALLOWED"]),
            (endpoint(cached(0), too_old=True), False, ["BALANCE_OLDER_THAN_ALLOWED"]),
        ],
        ids=[
            "no timestamp",
            "timestamp at the call",
            "timestamp at the window's edge",
            "timestamp one second past the window",
            "timestamp after the call was sent",
            "too old, no newest time",
            "too old, with the newest time",
        ],
    )
    def test_balance_endpoint_rows(self, answer, fetched, warnings):
        report = assess_balance_endpoint(answer, WINDOW)
        assert (report.fetched, report.basis) == (fetched, Basis.BALANCE_ENDPOINT)
        assert warning_codes(report) == warnings


class TestSignalWarnings:
    """Every disagreement between declaration and evidence is reported, never silent."""

    def test_a_requested_ruleset_that_plaid_did_not_apply(self):
        report = assess_signal(signal(applied=False), "balance-only", REGISTRY, WINDOW)
        assert (report.fetched, report.basis) == (False, Basis.NO_RULESET)
        assert warning_codes(report) == ["REQUESTED_RULESET_NOT_APPLIED"]
        assert "balance-only" in report.warnings[0].message

    def test_an_answer_naming_no_ruleset_key_uses_the_requested_one(self):
        report = assess_signal(balance_only(None), "balance-only", REGISTRY, WINDOW)
        assert (report.fetched, report.basis) == (
            True,
            Basis.RULESET_HAS_BALANCE_RULE,
        )
        assert warning_codes(report) == ["APPLIED_RULESET_KEY_MISSING"]
        assert "balance-only" in report.warnings[0].message

    def test_the_requested_key_stands_in_for_a_declared_no_balance_rule_too(self):
        report = assess_signal(signal(None), "sts-scores-only", REGISTRY, WINDOW)
        assert (report.fetched, report.basis) == (
            False,
            Basis.RULESET_HAS_NO_BALANCE_RULE,
        )
        assert warning_codes(report) == ["APPLIED_RULESET_KEY_MISSING"]

    @pytest.mark.parametrize(
        ("answer", "fetched"), [(balance_only(None), True), (signal(None), False)]
    )
    def test_an_unnamed_ruleset_with_nothing_requested_is_inferred(
        self, answer, fetched
    ):
        report = assess_signal(answer, None, REGISTRY, WINDOW)
        assert (report.fetched, report.basis) == (
            fetched,
            Basis.INFERRED_FROM_RESPONSE,
        )
        assert warning_codes(report) == ["APPLIED_RULESET_UNKNOWN"]

    def test_the_applied_key_wins_over_the_requested_key(self):
        report = assess_signal(
            signal("sts-scores-only"), "balance-only", REGISTRY, WINDOW
        )
        assert report.basis is Basis.RULESET_HAS_NO_BALANCE_RULE
        assert not report.fetched
        assert warning_codes(report) == ["APPLIED_RULESET_DIFFERS"]

    def test_the_same_applied_and_requested_key_is_no_warning(self):
        report = assess_signal(
            signal("sts-scores-only"), "sts-scores-only", REGISTRY, WINDOW
        )
        assert warning_codes(report) == []

    def test_a_declared_balance_only_ruleset_that_returned_scores(self):
        report = assess_signal(
            balance_only(scores=SCORES), "balance-only", REGISTRY, WINDOW
        )
        assert (report.fetched, report.basis) == (
            True,
            Basis.RULESET_HAS_BALANCE_RULE,
        )
        assert warning_codes(report) == ["DECLARED_BALANCE_ONLY_BUT_SCORES_RETURNED"]

    def test_a_declared_no_balance_rule_ruleset_with_the_balance_only_shape(self):
        report = assess_signal(
            balance_only("sts-scores-only"), "sts-scores-only", REGISTRY, WINDOW
        )
        assert (report.fetched, report.basis) == (
            False,
            Basis.RULESET_HAS_NO_BALANCE_RULE,
        )
        assert warning_codes(report) == [
            "DECLARED_NO_BALANCE_RULE_BUT_BALANCE_ONLY_SHAPE"
        ]

    @pytest.mark.parametrize(
        ("age_s", "warnings"),
        [
            (0, ["DECLARED_NO_BALANCE_RULE_BUT_BALANCE_FRESH"]),
            (120, ["DECLARED_NO_BALANCE_RULE_BUT_BALANCE_FRESH"]),
            (121, []),
        ],
    )
    def test_a_declared_no_balance_rule_ruleset_with_a_fresh_timestamp(
        self, age_s, warnings
    ):
        report = assess_signal(
            signal(balance=cached(age_s)), "sts-scores-only", REGISTRY, WINDOW
        )
        assert (report.fetched, report.basis) == (
            False,
            Basis.RULESET_HAS_NO_BALANCE_RULE,
        )
        assert warning_codes(report) == warnings

    def test_both_disagreements_of_a_no_balance_rule_ruleset_are_reported(self):
        answer = balance_only(
            "sts-scores-only", keys=BALANCE_ONLY_ATTRIBUTES, balance=cached(1)
        )
        report = assess_signal(answer, "sts-scores-only", REGISTRY, WINDOW)
        assert warning_codes(report) == [
            "DECLARED_NO_BALANCE_RULE_BUT_BALANCE_ONLY_SHAPE",
            "DECLARED_NO_BALANCE_RULE_BUT_BALANCE_FRESH",
        ]

    @pytest.mark.parametrize(
        ("key", "basis"),
        [
            ("balance-only", Basis.RULESET_HAS_BALANCE_RULE),
            ("sts-scores-only", Basis.RULESET_HAS_NO_BALANCE_RULE),
            ("dashboard-new", Basis.INFERRED_FROM_RESPONSE),
        ],
    )
    def test_an_answer_with_neither_scores_nor_balances_proves_nothing(
        self, key, basis
    ):
        answer = balance_only(key, keys=frozenset(), balance=EMPTY)
        report = assess_signal(answer, key, REGISTRY, WINDOW)
        assert (report.fetched, report.basis) == (False, basis)
        assert warning_codes(report)[-1] == "NO_EVIDENCE"

    def test_no_ruleset_and_no_evidence_reports_both(self):
        answer = signal(applied=False, scores=None, keys=frozenset(), balance=EMPTY)
        report = assess_signal(answer, "balance-only", REGISTRY, WINDOW)
        assert (report.fetched, report.basis) == (False, Basis.NO_RULESET)
        assert warning_codes(report) == [
            "REQUESTED_RULESET_NOT_APPLIED",
            "NO_EVIDENCE",
        ]

    @pytest.mark.parametrize(
        ("age_s", "fetched", "warnings"),
        [
            (120, True, []),
            (121, False, ["BALANCE_TIMESTAMP_PREDATES_CALL"]),
        ],
    )
    def test_a_declared_fetch_with_a_timestamp_older_than_the_window_is_cached(
        self, age_s, fetched, warnings
    ):
        answer = signal("sts-with-balance", balance=cached(age_s))
        report = assess_signal(answer, "sts-with-balance", REGISTRY, WINDOW)
        assert report.basis is Basis.RULESET_HAS_BALANCE_RULE
        assert report.fetched is fetched
        assert warning_codes(report) == warnings

    def test_the_staleness_warning_states_the_field_age_and_window(self):
        answer = signal("sts-with-balance", balance=cached(3600))
        report = assess_signal(answer, "sts-with-balance", REGISTRY, WINDOW)
        assert report.warnings[0].message == (
            "balance_last_updated 2030-01-01T11:00:00+00:00 is 3600 s before the "
            "call, more than the 120 s window: the balance was cached, not fetched"
        )

    def test_an_inferred_fetch_with_a_stale_timestamp_is_cached(self):
        answer = balance_only(
            "dashboard-new", keys=BALANCE_ONLY_ATTRIBUTES, balance=cached(600)
        )
        report = assess_signal(answer, None, REGISTRY, WINDOW)
        assert (report.fetched, report.basis) == (
            False,
            Basis.INFERRED_FROM_RESPONSE,
        )
        assert warning_codes(report) == ["BALANCE_TIMESTAMP_PREDATES_CALL"]

    def test_a_zero_window_accepts_only_a_timestamp_at_or_after_the_call(self):
        zero = timedelta(0)
        fresh = signal("sts-with-balance", balance=cached(0))
        stale = signal("sts-with-balance", balance=cached(1))
        assert assess_signal(fresh, None, REGISTRY, zero).fetched
        assert not assess_signal(stale, None, REGISTRY, zero).fetched


class TestBalanceEndpointWarnings:
    def test_the_too_old_warning_names_the_newest_time(self):
        report = assess_balance_endpoint(endpoint(cached(7200), too_old=True), WINDOW)
        assert "newest: 2030-01-01T10:00:00+00:00" in report.warnings[0].message

    def test_the_too_old_warning_says_when_the_newest_time_is_unknown(self):
        report = assess_balance_endpoint(endpoint(EMPTY, too_old=True), WINDOW)
        assert "newest: unknown" in report.warnings[0].message

    def test_the_stale_warning_names_last_updated_datetime(self):
        report = assess_balance_endpoint(endpoint(cached(300)), WINDOW)
        assert report.warnings[0].message.startswith("last_updated_datetime ")
        assert "is 300 s before the call" in report.warnings[0].message


class TestBalanceOnlyShape:
    @pytest.mark.parametrize(
        ("answer", "expected"),
        [
            (balance_only(), True),
            (balance_only(keys=BALANCE_ONLY_ATTRIBUTES), True),
            (balance_only(keys=frozenset({"available_balance"})), True),
            (balance_only(balance=Balance(None, Decimal(5), "USD")), True),
            (balance_only(balance=Balance(Decimal(5), None, "USD")), True),
            (balance_only(scores=SCORES), False),
            (balance_only(balance=EMPTY), False),
            (balance_only(keys=BALANCE_ONLY_KEYS | {"is_account_closed"}), False),
            (signal(), False),
        ],
        ids=[
            "the two balance attributes",
            "with balance_last_updated",
            "one attribute",
            "current only",
            "available only",
            "with scores",
            "no balance values",
            "an STS attribute too",
            "an STS answer",
        ],
    )
    def test_means_no_scores_and_only_balance_attributes_with_a_value(
        self, answer, expected
    ):
        assert is_balance_only_shape(answer) is expected


class TestDeclaredBalanceRuleWithoutBalance:
    def test_a_declared_fetch_with_no_balance_in_the_answer_is_not_a_fetch(self):
        answer = replace(signal("sts-with-balance"), balance=Balance(None, None, "USD"))
        report = assess_signal(answer, "sts-with-balance", REGISTRY, WINDOW)
        assert report.basis is Basis.RULESET_HAS_BALANCE_RULE
        assert not report.fetched
        assert warning_codes(report) == ["DECLARED_BALANCE_RULE_BUT_NO_BALANCE"]


class TestSettleAsOf:
    def test_a_live_fetch_without_a_timestamp_was_true_when_plaid_answered(self):
        report = RealtimeReport(True, Basis.BALANCE_ENDPOINT)
        settled = settle_as_of(LIVE, report, RECEIVED)
        assert settled.as_of == RECEIVED
        assert settled.as_of_source is TimeSource.RESPONSE_TIME
        assert (settled.available, settled.current) == (LIVE.available, LIVE.current)

    def test_a_timestamp_from_plaid_is_kept(self):
        report = RealtimeReport(True, Basis.RULESET_HAS_BALANCE_RULE)
        balance = cached(30)
        assert settle_as_of(balance, report, RECEIVED) is balance

    def test_a_balance_that_was_not_fetched_gets_no_invented_time(self):
        report = RealtimeReport(False, Basis.NO_RULESET)
        assert settle_as_of(LIVE, report, RECEIVED) is LIVE

    @given(balance_answers(), windows)
    def test_a_settled_balance_has_a_time_exactly_when_fetched_or_reported(
        self, answer, window
    ):
        report = assess_balance_endpoint(answer, window)
        settled = settle_as_of(answer.balance, report, answer.received_at)
        has_values = (
            answer.balance.available is not None or answer.balance.current is not None
        )
        if answer.balance.as_of is not None:
            assert settled == answer.balance
        elif report.fetched and has_values:
            assert settled.as_of == answer.received_at
        else:  # no invented time, and none for a balance with no values at all
            assert settled.as_of is None


class TestProperties:
    @given(signal_answers(), requested_keys, registries, windows)
    def test_assess_signal_is_deterministic(self, answer, requested, registry, window):
        first = assess_signal(answer, requested, registry, window)
        assert assess_signal(answer, requested, registry, window) == first

    @given(signal_answers(evidence=False), requested_keys, registries, windows)
    def test_no_scores_and_no_balance_values_is_never_fetched(
        self, answer, requested, registry, window
    ):
        report = assess_signal(answer, requested, registry, window)
        assert not report.fetched
        assert "NO_EVIDENCE" in warning_codes(report)

    @given(signal_answers(), requested_keys, registries, windows)
    def test_a_signal_balance_older_than_the_window_is_never_fetched(
        self, answer, requested, registry, window
    ):
        report = assess_signal(answer, requested, registry, window)
        as_of = answer.balance.as_of
        if as_of is not None and as_of < answer.sent_at - window:
            assert not report.fetched

    @given(signal_answers(), requested_keys, registries, windows)
    def test_a_ruleset_declared_without_a_balance_rule_is_never_fetched(
        self, answer, requested, registry, window
    ):
        applied_key = answer.ruleset.key if answer.ruleset else None
        report = assess_signal(answer, requested, registry, window)
        declaration = registry.get(applied_key or "")
        if declaration is not None and not declaration.balance_rule:
            assert not report.fetched

    @given(signal_answers(), requested_keys, registries, windows)
    def test_no_applied_ruleset_is_never_fetched(
        self, answer, requested, registry, window
    ):
        answer = replace(answer, ruleset=None)
        report = assess_signal(answer, requested, registry, window)
        assert (report.fetched, report.basis) == (False, Basis.NO_RULESET)

    @given(balance_answers(), windows)
    def test_assess_balance_endpoint_is_deterministic(self, answer, window):
        assert assess_balance_endpoint(answer, window) == assess_balance_endpoint(
            answer, window
        )

    @given(
        balance_answers(),
        windows,
        st.integers(min_value=1, max_value=10 * 86_400),
    )
    def test_a_last_updated_older_than_the_window_is_never_fetched(
        self, answer, window, seconds_past
    ):
        stale_at = answer.sent_at - window - timedelta(seconds=seconds_past)
        answer = replace(answer, balance=replace(answer.balance, as_of=stale_at))
        report = assess_balance_endpoint(answer, window)
        assert not report.fetched
        assert report.basis is Basis.BALANCE_ENDPOINT
        assert len(report.warnings) == 1

    @given(balance_answers(), windows)
    def test_the_balance_endpoint_is_fetched_unless_its_evidence_says_not(
        self, answer, window
    ):
        as_of = answer.balance.as_of
        stale = as_of is not None and as_of < answer.sent_at - window
        report = assess_balance_endpoint(answer, window)
        assert report.fetched is not (answer.too_old or stale)
        assert bool(report.warnings) is not report.fetched
