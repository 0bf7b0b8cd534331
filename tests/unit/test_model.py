"""The core's values: rails, balance age, warning codes, decisions."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from service.domain.model import (
    Balance,
    PlaidWarning,
    Rail,
    SignalAnswer,
)

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


class TestRail:
    @pytest.mark.parametrize(
        ("rail", "is_ach"),
        [
            (Rail.ACH_STANDARD, True),
            (Rail.ACH_SAME_DAY, True),
            (Rail.RTP, False),
            (Rail.FEDNOW, False),
            (Rail.WIRE, False),
            (Rail.CARD, False),
            (Rail.BALANCE_CHECK, False),
        ],
    )
    def test_only_the_ach_rails_go_to_signal(self, rail, is_ach):
        assert rail.is_ach is is_ach


class TestBalanceAge:
    def test_is_unknown_without_an_as_of_time(self):
        assert Balance(Decimal(1), None, "USD").age_seconds(NOW) is None

    @pytest.mark.parametrize(
        ("before", "age"),
        [
            (timedelta(0), 0),
            (timedelta(seconds=90), 90),
            (timedelta(seconds=90, milliseconds=999), 90),
            (timedelta(days=2), 172_800),
            (timedelta(seconds=-5), -5),
        ],
    )
    def test_is_whole_seconds_between_as_of_and_now(self, before, age):
        balance = Balance(Decimal(1), None, "USD", NOW - before)
        assert balance.age_seconds(NOW) == age


class TestSignalAnswer:
    def test_warning_codes_keep_plaid_order(self):
        answer = SignalAnswer(
            request_id="req",
            ruleset=None,
            scores=None,
            core_attributes={},
            balance=Balance(None, None, "USD"),
            warnings=(
                PlaidWarning("BANK_ERROR", "ITEM_LOGIN_REQUIRED", "m"),
                PlaidWarning("BANK_ERROR", "NO_ACCOUNTS", "m"),
            ),
            sent_at=NOW,
            received_at=NOW,
        )
        assert answer.warning_codes() == ("ITEM_LOGIN_REQUIRED", "NO_ACCOUNTS")
