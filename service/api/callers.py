"""Who is calling: bearer API keys (stored as SHA-256 hashes), one caller name per key."""

from __future__ import annotations

import contextvars
import hashlib
import hmac
from collections.abc import Mapping, Sequence

# The authenticated caller of the current RPC, set by the interceptor; tasks inherit it.
CURRENT_CALLER: contextvars.ContextVar[str] = contextvars.ContextVar(
    "caller", default="anonymous"
)
BEARER = "bearer "


class ApiKeys:
    """Maps SHA-256 hex digests of API keys to caller names."""

    def __init__(self, hashes: Mapping[str, str]) -> None:
        self._by_hash = {h.lower(): caller for h, caller in hashes.items()}

    def caller_for(
        self, metadata: Sequence[tuple[str, str | bytes]] | None
    ) -> str | None:
        """The caller whose key is in `authorization: Bearer <key>`, else None."""
        for name, value in metadata or ():
            if name.lower() != "authorization" or not isinstance(value, str):
                continue
            if value[: len(BEARER)].lower() == BEARER:
                return self._lookup(value[len(BEARER) :].strip())
        return None

    def _lookup(self, key: str) -> str | None:
        digest = hashlib.sha256(key.encode()).hexdigest()
        found = None
        # Compare against every hash in constant time, so timing says nothing of which.
        for known, caller in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                found = caller
        return found
