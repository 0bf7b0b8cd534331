"""The `[plaid]` table (timeouts, budgets, pool, retries) and the PLAID_* variables
(which Plaid, with which credentials)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from service.adapters.plaid.retry import RetryPolicy
from service.app.decide import Budgets
from service.config.environ import read_secret
from service.config.section import Section
from service.domain.secret import Secret

PlaidEnv = Literal["emulator", "sandbox", "production"]
PLAID_HOSTS = {
    "sandbox": "https://sandbox.plaid.com",
    "production": "https://production.plaid.com",
}
EMULATOR_CREDENTIALS = ("emulator-client-id", "emulator-secret")


class RetrySection(Section):
    """`[plaid.retry]`: bounded attempts with full-jitter backoff."""

    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    initial_backoff_s: Annotated[float, Field(gt=0)] = 0.1
    max_backoff_s: Annotated[float, Field(gt=0)] = 2.0
    min_attempt_s: Annotated[float, Field(gt=0)] = 0.25

    def policy(self) -> RetryPolicy:
        return RetryPolicy(**self.model_dump())


class PlaidSection(Section):
    """`[plaid]`: how to talk to Plaid."""

    connect_timeout_s: Annotated[float, Field(gt=0)] = 3.0
    scores_budget_s: Annotated[float, Field(gt=0)] = 10.0
    live_balance_budget_s: Annotated[float, Field(gt=0)] = 40.0
    scores_attempt_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    live_balance_attempt_timeout_s: Annotated[float, Field(gt=0)] = 35.0
    pool_size: Annotated[int, Field(ge=1)] = 4096
    credentials_probe_interval_s: Annotated[float, Field(gt=0)] = 30.0
    retry: RetrySection = RetrySection()

    def budgets(self) -> Budgets:
        return Budgets(
            scores_s=self.scores_budget_s,
            live_balance_s=self.live_balance_budget_s,
            scores_attempt_s=self.scores_attempt_timeout_s,
            live_balance_attempt_s=self.live_balance_attempt_timeout_s,
        )


@dataclass(frozen=True, slots=True)
class PlaidSettings:
    """Where Plaid is and who we are to it (PLAID_*), and how to talk to it ([plaid])."""

    env: PlaidEnv
    base_url: str | None  # None: start the emulator in-process (emulator env only)
    client_id: Secret
    secret: Secret
    tuning: PlaidSection


def plaid_settings(
    env: Mapping[str, str],
    plaid_env: PlaidEnv,
    tuning: PlaidSection,
    problems: list[str],
) -> PlaidSettings:
    """The emulator gets its own credentials and may be embedded; sandbox and
    production need credentials, and production only Plaid's production host."""
    client_id = read_secret(env, "PLAID_CLIENT_ID", problems)
    secret = read_secret(env, "PLAID_SECRET", problems)
    base_url = (env.get("PLAID_BASE_URL") or "").rstrip("/") or None
    if plaid_env == "emulator":
        client_id = client_id or Secret(EMULATOR_CREDENTIALS[0])
        secret = secret or Secret(EMULATOR_CREDENTIALS[1])
    else:
        problems.extend(
            f"{n} (or {n}_FILE) is required when PLAID_ENV={plaid_env}"
            for n, v in (
                ("PLAID_CLIENT_ID", client_id),
                ("PLAID_SECRET", secret),
            )
            if not v
        )
        if (
            plaid_env == "production"
            and base_url
            and base_url != PLAID_HOSTS["production"]
        ):
            problems.append(
                "PLAID_BASE_URL must be Plaid's production host when "
                "PLAID_ENV=production (the emulator is refused)"
            )
        base_url = base_url or PLAID_HOSTS[plaid_env]
    return PlaidSettings(
        env=plaid_env,
        base_url=base_url,
        client_id=client_id or Secret(""),
        secret=secret or Secret(""),
        tuning=tuning,
    )
