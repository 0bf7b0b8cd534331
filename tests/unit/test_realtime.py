"""Did a real-time balance call happen: attempted, fetched, basis and warnings, by the
ruleset type (docs/realtime-balance.md)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.model import (
    AppliedRuleset,
    Balance,
    BalanceAnswer,
    Basis,
    PlaidWarning,
    RealtimeReport,
    Scores,
    SignalAnswer,
    TimeSource,
)
from service.domain.realtime import (
    BALANCE_ONLY_ATTRIBUTES,
    RulesetDeclaration,
    RulesetType,
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
BALANCE_ONLY = RulesetType.BALANCE_ONLY
TRANSACTION_SCORES = RulesetType.TRANSACTION_SCORES
REGISTRY = {
    "balance-only": RulesetDeclaration(BALANCE_ONLY, balance_rule=True),
    "sts-with-balance": RulesetDeclaration(TRANSACTION_SCORES, balance_rule=True),
    "sts-scores-only": RulesetDeclaration(TRANSACTION_SCORES, balance_rule=False),
    "sts-undeclared-rules": RulesetDeclaration(TRANSACTION_SCORES, balance_rule=None),
    "legacy-balance-rule": RulesetDeclaration(None, balance_rule=True),
}
EXTRACTION_FAILED = PlaidWarning(
    "INSTITUTION_ERROR", "INSTITUTION_NOT_RESPONDING", "the institution did not answer"
)


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
    warnings: tuple[PlaidWarning, ...] = (),
) -> SignalAnswer:
    return SignalAnswer(
        request_id="req-signal",
        ruleset=AppliedRuleset(key, "ACCEPT") if applied else None,
        scores=scores,
        core_attributes=dict.fromkeys(keys),
        balance=balance,
        warnings=warnings,
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
    """Each row of the basis table, through the functions the service calls."""

    @pytest.mark.parametrize(
        ("answer", "requested", "attempted", "fetched", "basis", "warnings"),
        [
            pytest.param(
                balance_only(),
                "balance-only",
                True,
                True,
                Basis.RULESET_BALANCE_ONLY,
                [],
                id="Balance-only ruleset with its shape",
            ),
            pytest.param(
                balance_only(balance=EMPTY, warnings=(EXTRACTION_FAILED,)),
                "balance-only",
                True,
                False,
                Basis.RULESET_BALANCE_ONLY,
                ["LIVE_BALANCE_NOT_RETURNED"],
                id="Balance-only ruleset whose extraction failed: null balances",
            ),
            pytest.param(
                balance_only(warnings=(EXTRACTION_FAILED,)),
                "balance-only",
                True,
                False,
                Basis.RULESET_BALANCE_ONLY,
                ["LIVE_BALANCE_WARNING"],
                id="Balance-only ruleset answered with a warning",
            ),
            pytest.param(
                signal("sts-with-balance", balance=cached(5)),
                "sts-with-balance",
                False,
                False,
                Basis.RULESET_TRANSACTION_SCORES,
                [
                    "BALANCE_RULES_RAN_ON_CACHED_BALANCE",
                    "CACHED_BALANCE_RECENTLY_UPDATED",
                ],
                id="STS ruleset with balance rules and a recent cache: never live",
            ),
            pytest.param(
                signal("sts-with-balance", balance=cached(21_600)),
                "sts-with-balance",
                False,
                False,
                Basis.RULESET_TRANSACTION_SCORES,
                ["BALANCE_RULES_RAN_ON_CACHED_BALANCE"],
                id="STS ruleset with balance rules, six-hour-old cache",
            ),
            pytest.param(
                signal("sts-scores-only", balance=cached(86_400)),
                "sts-scores-only",
                False,
                False,
                Basis.RULESET_TRANSACTION_SCORES,
                [],
                id="STS ruleset declared without balance rules",
            ),
            pytest.param(
                signal("sts-undeclared-rules", balance=cached(86_400)),
                "sts-undeclared-rules",
                False,
                False,
                Basis.RULESET_TRANSACTION_SCORES,
                [],
                id="STS ruleset with no note of its rules",
            ),
            pytest.param(
                signal(applied=False, balance=cached(86_400)),
                None,
                False,
                False,
                Basis.NO_RULESET,
                [],
                id="no ruleset applied (scores only), none requested",
            ),
            pytest.param(
                balance_only("dashboard-new"),
                "dashboard-new",
                True,
                True,
                Basis.INFERRED_FROM_RESPONSE,
                [],
                id="ruleset not in the registry, Balance-only shape",
            ),
            pytest.param(
                signal("dashboard-new"),
                "dashboard-new",
                False,
                False,
                Basis.INFERRED_FROM_RESPONSE,
                [],
                id="ruleset not in the registry, STS shape",
            ),
            pytest.param(
                signal("legacy-balance-rule"),
                "legacy-balance-rule",
                False,
                False,
                Basis.INFERRED_FROM_RESPONSE,
                [],
                id="declared with the old balance_rule alone: the type is inferred",
            ),
        ],
    )
    def test_signal_rows(self, answer, requested, attempted, fetched, basis, warnings):
        report = assess_signal(answer, requested, REGISTRY, WINDOW)
        assert (report.attempted, report.fetched, report.basis) == (
            attempted,
            fetched,
            basis,
        )
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
        assert (report.attempted, report.fetched, report.basis) == (
            not answer.too_old,
            fetched,
            Basis.BALANCE_ENDPOINT,
        )
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
        assert (report.fetched, report.basis) == (True, Basis.RULESET_BALANCE_ONLY)
        assert warning_codes(report) == ["APPLIED_RULESET_KEY_MISSING"]
        assert "balance-only" in report.warnings[0].message

    def test_the_requested_key_stands_in_for_a_transaction_scores_ruleset_too(self):
        report = assess_signal(signal(None), "sts-scores-only", REGISTRY, WINDOW)
        assert (report.fetched, report.basis) == (
            False,
            Basis.RULESET_TRANSACTION_SCORES,
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
        assert report.basis is Basis.RULESET_TRANSACTION_SCORES
        assert not report.attempted
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
        assert (report.attempted, report.basis) == (True, Basis.RULESET_BALANCE_ONLY)
        assert warning_codes(report) == ["DECLARED_BALANCE_ONLY_BUT_SCORES_RETURNED"]

    def test_a_declared_transaction_scores_ruleset_with_the_balance_only_shape(self):
        report = assess_signal(
            balance_only("sts-scores-only"), "sts-scores-only", REGISTRY, WINDOW
        )
        assert (report.attempted, report.fetched, report.basis) == (
            False,
            False,
            Basis.RULESET_TRANSACTION_SCORES,
        )
        assert warning_codes(report) == [
            "DECLARED_TRANSACTION_SCORES_BUT_BALANCE_ONLY_SHAPE"
        ]

    @pytest.mark.parametrize(
        ("age_s", "warnings"),
        [
            (0, ["CACHED_BALANCE_RECENTLY_UPDATED"]),
            (120, ["CACHED_BALANCE_RECENTLY_UPDATED"]),
            (121, []),
        ],
    )
    def test_a_recent_cache_under_transaction_scores_is_noted_not_claimed(
        self, age_s, warnings
    ):
        report = assess_signal(
            signal(balance=cached(age_s)), "sts-scores-only", REGISTRY, WINDOW
        )
        assert (report.attempted, report.fetched) == (False, False)
        assert warning_codes(report) == warnings

    def test_the_cached_balance_rules_warning_gives_the_balance_age(self):
        answer = signal("sts-with-balance", balance=cached(21_600))
        report = assess_signal(answer, "sts-with-balance", REGISTRY, WINDOW)
        assert report.warnings[0].message == (
            "ruleset sts-with-balance is a Transaction Scores ruleset: Plaid does not "
            "extract a live balance for it, so its balance rules ran on a cached "
            "balance 21603 s old (balance_last_updated 2030-01-01T06:00:00+00:00)"
        )

    def test_the_cached_balance_rules_warning_says_when_the_age_is_unknown(self):
        answer = signal("sts-with-balance", balance=LIVE)
        report = assess_signal(answer, "sts-with-balance", REGISTRY, WINDOW)
        assert report.warnings[0].message.endswith(
            "a cached balance of unknown age (Plaid gave no balance_last_updated)"
        )

    @pytest.mark.parametrize(
        ("key", "basis", "last"),
        [
            ("balance-only", Basis.RULESET_BALANCE_ONLY, "LIVE_BALANCE_NOT_RETURNED"),
            ("sts-scores-only", Basis.RULESET_TRANSACTION_SCORES, "NO_EVIDENCE"),
            ("dashboard-new", Basis.INFERRED_FROM_RESPONSE, "NO_EVIDENCE"),
        ],
    )
    def test_an_answer_with_neither_scores_nor_balances_is_never_fetched(
        self, key, basis, last
    ):
        answer = balance_only(key, keys=frozenset(), balance=EMPTY)
        report = assess_signal(answer, key, REGISTRY, WINDOW)
        assert (report.fetched, report.basis) == (False, basis)
        assert warning_codes(report)[-1] == last

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
    def test_a_balance_only_answer_with_a_timestamp_older_than_the_window_is_cached(
        self, age_s, fetched, warnings
    ):
        answer = balance_only(keys=BALANCE_ONLY_ATTRIBUTES, balance=cached(age_s))
        report = assess_signal(answer, "balance-only", REGISTRY, WINDOW)
        assert (report.attempted, report.basis) == (True, Basis.RULESET_BALANCE_ONLY)
        assert report.fetched is fetched
        assert warning_codes(report) == warnings

    def test_the_staleness_warning_states_the_field_age_and_window(self):
        answer = balance_only(keys=BALANCE_ONLY_ATTRIBUTES, balance=cached(3600))
        report = assess_signal(answer, "balance-only", REGISTRY, WINDOW)
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
        keys = BALANCE_ONLY_ATTRIBUTES
        fresh = balance_only(keys=keys, balance=cached(0))
        stale = balance_only(keys=keys, balance=cached(1))
        assert assess_signal(fresh, None, REGISTRY, zero).fetched
        assert not assess_signal(stale, None, REGISTRY, zero).fetched

    def test_a_declared_balance_only_ruleset_answering_with_scores_is_no_fetch(self):
        """Even with a fresh cached timestamp: the answer has the STS shape."""
        answer = signal("balance-only", balance=cached(1))
        report = assess_signal(answer, "balance-only", REGISTRY, WINDOW)
        assert not report.fetched
        assert warning_codes(report) == ["DECLARED_BALANCE_ONLY_BUT_SCORES_RETURNED"]

    def test_an_undeclared_balance_only_ruleset_whose_extraction_failed(self):
        """No scores, the two balance attributes null: still a Balance-only answer."""
        answer = balance_only(
            "dashboard-new", balance=EMPTY, warnings=(EXTRACTION_FAILED,)
        )
        report = assess_signal(answer, "dashboard-new", REGISTRY, WINDOW)
        assert (report.attempted, report.fetched, report.basis) == (
            True,
            False,
            Basis.INFERRED_FROM_RESPONSE,
        )
        assert warning_codes(report) == ["LIVE_BALANCE_NOT_RETURNED"]

    def test_the_warning_names_plaids_warning_codes(self):
        answer = balance_only(warnings=(EXTRACTION_FAILED,))
        report = assess_signal(answer, "balance-only", REGISTRY, WINDOW)
        assert "INSTITUTION_NOT_RESPONDING" in report.warnings[0].message


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


class TestSettleAsOf:
    def test_a_live_fetch_without_a_timestamp_was_true_when_plaid_answered(self):
        report = RealtimeReport(True, Basis.BALANCE_ENDPOINT)
        settled = settle_as_of(LIVE, report, RECEIVED)
        assert settled.as_of == RECEIVED
        assert settled.as_of_source is TimeSource.RESPONSE_TIME
        assert (settled.available, settled.current) == (LIVE.available, LIVE.current)

    def test_a_timestamp_from_plaid_is_kept(self):
        report = RealtimeReport(True, Basis.RULESET_BALANCE_ONLY, attempted=True)
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
        assert {"NO_EVIDENCE", "LIVE_BALANCE_NOT_RETURNED"} & set(warning_codes(report))

    @given(signal_answers(), requested_keys, registries, windows)
    def test_a_signal_balance_older_than_the_window_is_never_fetched(
        self, answer, requested, registry, window
    ):
        report = assess_signal(answer, requested, registry, window)
        as_of = answer.balance.as_of
        if as_of is not None and as_of < answer.sent_at - window:
            assert not report.fetched

    @given(signal_answers(), requested_keys, registries, windows)
    def test_a_transaction_scores_ruleset_is_never_attempted_nor_fetched(
        self, answer, requested, registry, window
    ):
        applied_key = answer.ruleset.key if answer.ruleset else None
        report = assess_signal(answer, requested, registry, window)
        declaration = registry.get(applied_key or "")
        if declaration is not None and declaration.type is TRANSACTION_SCORES:
            assert (report.attempted, report.fetched) == (False, False)

    @given(signal_answers(), requested_keys, registries, windows)
    def test_fetched_implies_attempted(self, answer, requested, registry, window):
        report = assess_signal(answer, requested, registry, window)
        assert report.attempted or not report.fetched

    @given(signal_answers(), requested_keys, registries, windows)
    def test_a_balance_only_answer_with_plaid_warnings_is_never_fetched(
        self, answer, requested, registry, window
    ):
        answer = replace(answer, warnings=(EXTRACTION_FAILED,))
        report = assess_signal(answer, requested, registry, window)
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
        assert report.attempted is not answer.too_old
        assert bool(report.warnings) is not report.fetched
