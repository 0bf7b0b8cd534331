"""The `[ledger]` table and the variables naming the ledger's database and the key of
its access-token fingerprints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from service.adapters.store.engine import with_async_driver
from service.config.environ import read_secret
from service.config.outbox import OutboxSection
from service.config.section import Section
from service.domain.secret import Secret

DEFAULT_DATABASE = "sqlite+aiosqlite:///var/ach-risk.db"  # relative to the working dir
DEVELOPMENT_FINGERPRINT_KEY = "ach-risk-development-only-fingerprint-key"


class LedgerSection(Section):
    """`[ledger]`: how long decisions are kept."""

    retention_days: Annotated[int, Field(ge=1)] = 400


@dataclass(frozen=True, slots=True)
class StateSettings:
    """Where decisions and reports live, for how long, and how reports leave."""

    database_url: Secret  # may hold a password
    fingerprint_key: Secret
    development_fingerprint_key: bool  # no key was set: the public built-in one is used
    ledger: LedgerSection
    outbox: OutboxSection


def state_settings(
    env: Mapping[str, str],
    plaid_env: str,
    ledger: LedgerSection,
    outbox: OutboxSection,
    problems: list[str],
) -> StateSettings:
    """The built-in fingerprint key is refused in production: it is public."""
    url = read_secret(env, "ACH_RISK_DATABASE_URL", problems)
    key = read_secret(env, "ACH_RISK_FINGERPRINT_KEY", problems)
    if plaid_env == "production" and key is None:
        problems.append(
            "ACH_RISK_FINGERPRINT_KEY (or _FILE) is required when "
            "PLAID_ENV=production: it keys the access-token fingerprints"
        )
    return StateSettings(
        database_url=Secret(
            with_async_driver(url.reveal()) if url else DEFAULT_DATABASE
        ),
        fingerprint_key=key or Secret(DEVELOPMENT_FINGERPRINT_KEY),
        development_fingerprint_key=key is None,
        ledger=ledger,
        outbox=outbox,
    )
