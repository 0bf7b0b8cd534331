"""Money: exact integer minor units, and exact conversion to and from Decimal."""

from decimal import Decimal

import pytest
from hypothesis import given

from service.domain.money import Money, minor_unit_exponent
from tests.strategies import money


class TestMinorUnitExponent:
    @pytest.mark.parametrize(
        ("currency", "exponent"),
        [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3)],
    )
    def test_is_the_iso_4217_number_of_decimal_places(self, currency, exponent):
        assert minor_unit_exponent(currency) == exponent

    def test_an_unlisted_currency_has_cents(self):
        assert minor_unit_exponent("XYZ") == 2


class TestFromDecimal:
    @pytest.mark.parametrize(
        ("value", "currency", "minor_units"),
        [
            (Decimal("102.05"), "USD", 10205),
            (Decimal("102.050000000"), "USD", 10205),
            (Decimal("0.01"), "USD", 1),
            (Decimal("-3.50"), "USD", -350),
            (Decimal("1500"), "JPY", 1500),
            (Decimal("1.234"), "KWD", 1234),
            (Decimal("0"), "USD", 0),
        ],
    )
    def test_converts_exactly(self, value, currency, minor_units):
        assert Money.from_decimal(value, currency) == Money(minor_units, currency)

    @pytest.mark.parametrize(
        ("value", "currency"),
        [
            (Decimal("0.001"), "USD"),
            (Decimal("102.055"), "USD"),
            (Decimal("0.000000001"), "USD"),
            (Decimal("1.5"), "JPY"),
            (Decimal("1.2345"), "KWD"),
        ],
    )
    def test_rejects_a_fraction_below_the_minor_unit(self, value, currency):
        with pytest.raises(ValueError, match=f"smaller than one {currency} minor unit"):
            Money.from_decimal(value, currency)

    def test_rejects_a_fraction_below_the_minor_unit_on_a_29_digit_amount(self):
        """Exactness must not depend on the decimal context's 28-digit precision."""
        value = Decimal("12345678901234567890123456.789")
        with pytest.raises(ValueError, match="smaller than one USD minor unit"):
            Money.from_decimal(value, "USD")


class TestToDecimal:
    @pytest.mark.parametrize(
        ("money", "value"),
        [
            (Money(10205, "USD"), Decimal("102.05")),
            (Money(1500, "JPY"), Decimal("1500")),
            (Money(1234, "KWD"), Decimal("1.234")),
            (Money(-1, "USD"), Decimal("-0.01")),
        ],
    )
    def test_gives_major_units_exactly(self, money, value):
        assert money.to_decimal() == value

    def test_str_shows_the_amount_and_currency_without_exponent_notation(self):
        assert str(Money(10205, "USD")) == "102.05 USD"
        assert str(Money(100, "JPY")) == "100 JPY"
        assert str(Money(5, "KWD")) == "0.005 KWD"

    @given(money())
    def test_round_trips_through_from_decimal(self, amount):
        assert Money.from_decimal(amount.to_decimal(), amount.currency) == amount


class TestValue:
    def test_is_immutable(self):
        amount = Money(1, "USD")
        with pytest.raises(AttributeError):
            amount.minor_units = 2  # type: ignore[misc]

    def test_equal_amounts_in_different_currencies_differ(self):
        assert Money(100, "USD") != Money(100, "EUR")
