"""A wrapper that keeps secrets (Plaid secret, access tokens) out of reprs and logs."""

from __future__ import annotations

import hashlib
import hmac


class Secret:
    """A string that prints as <SECRET>; `reveal()` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def fingerprint(self, key: bytes) -> str:
        """A keyed, irreversible identity for storage and correlation (HMAC-SHA256)."""
        return hmac.new(key, self._value.encode(), hashlib.sha256).hexdigest()

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(
            self._value.encode(), other._value.encode()
        )

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "<SECRET>"

    __str__ = __repr__
