"""Exact money: integer minor units of an ISO 4217 currency, never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

# ISO 4217 minor-unit exponents that differ from 2. Everything else has cents.
_EXPONENTS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW"), 0),
    **dict.fromkeys(("PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
# scaleb rounds to the context's precision (28 digits by default); money must not round.
_EXACT_DIGITS = 200


def minor_unit_exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit has (2 for USD)."""
    return _EXPONENTS.get(currency, 2)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in integer minor units (cents for USD) of one currency."""

    minor_units: int
    currency: str

    @classmethod
    def from_decimal(cls, value: Decimal, currency: str) -> Money:
        """Exact conversion; raises ValueError for fractions below the minor unit."""
        with localcontext() as exact:
            exact.prec = _EXACT_DIGITS
            scaled = value.scaleb(minor_unit_exponent(currency))
        if scaled != scaled.to_integral_value():
            raise ValueError(
                f"{value} has a fraction smaller than one {currency} minor unit"
            )
        return cls(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (e.g. Decimal('102.05'))."""
        with localcontext() as exact:
            exact.prec = _EXACT_DIGITS
            return Decimal(self.minor_units).scaleb(-minor_unit_exponent(self.currency))

    def __str__(self) -> str:
        return f"{self.to_decimal():f} {self.currency}"
