"""Settings from the environment and the TOML file, validated once at start-up."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from service.config_server import ServerFile, ServerSettings, server_settings
from service.outbox import OutboxPolicy
from service.risk.degraded import DegradedPolicy, DegradedRule, FailureClass
from service.risk.model import Rail, Result
from service.risk.policy import BalancePolicy, ScorePolicy
from service.risk.realtime import RulesetDeclaration
from service.secret import Secret

PLAID_HOSTS = {
    "sandbox": "https://sandbox.plaid.com",
    "production": "https://production.plaid.com",
}
DEFAULT_DATABASE = "sqlite+aiosqlite:///var/ach-risk.db"  # relative to the working dir
DEVELOPMENT_FINGERPRINT_KEY = "ach-risk-development-only-fingerprint-key"
LOG_LEVELS = ("debug", "info", "warning", "error")
EMULATOR_CREDENTIALS = ("emulator-client-id", "emulator-secret")


class ConfigError(Exception):
    """The configuration is invalid; the message names every problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Ruleset(_Strict):
    balance_rule: bool
    kind: Literal["balance_only", "transaction_score"] | None = None


class _BalancePolicy(_Strict):
    margin: Annotated[Decimal, Field(ge=0, le=10)] = Decimal(0)
    allow_current_fallback: bool = False
    max_balance_age_s: Annotated[int, Field(gt=0)] = 3600


class _BalanceOverride(_Strict):
    """A rail's policy: fields left out are taken from [balance_policy.default]."""

    margin: Annotated[Decimal, Field(ge=0, le=10)] | None = None
    allow_current_fallback: bool | None = None
    max_balance_age_s: Annotated[int, Field(gt=0)] | None = None


class _BalancePolicies(_Strict):
    default: _BalancePolicy = _BalancePolicy()
    rails: dict[
        Literal["rtp", "fednow", "wire", "card", "balance_check"], _BalanceOverride
    ] = {}


class _ScorePolicy(_Strict):
    review_customer_initiated: Annotated[int, Field(ge=1, le=100)] = 70
    reroute_customer_initiated: Annotated[int, Field(ge=1, le=100)] = 90
    review_bank_initiated: Annotated[int, Field(ge=1, le=100)] = 60
    reroute_bank_initiated: Annotated[int, Field(ge=1, le=100)] = 80

    @model_validator(mode="after")
    def _review_before_reroute(self) -> _ScorePolicy:
        for kind in ("customer_initiated", "bank_initiated"):
            review = getattr(self, f"review_{kind}")
            reroute = getattr(self, f"reroute_{kind}")
            if review > reroute:
                raise ValueError(
                    f"review_{kind} ({review}) must not exceed "
                    f"reroute_{kind} ({reroute})"
                )
        return self


class _Realtime(_Strict):
    window_s: Annotated[int, Field(ge=0)] = 120


class _Retry(_Strict):
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    initial_backoff_s: Annotated[float, Field(gt=0)] = 0.1
    max_backoff_s: Annotated[float, Field(gt=0)] = 2.0
    min_attempt_s: Annotated[float, Field(gt=0)] = 0.25


class _Plaid(_Strict):
    connect_timeout_s: Annotated[float, Field(gt=0)] = 3.0
    scores_budget_s: Annotated[float, Field(gt=0)] = 10.0
    live_balance_budget_s: Annotated[float, Field(gt=0)] = 40.0
    scores_attempt_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    live_balance_attempt_timeout_s: Annotated[float, Field(gt=0)] = 35.0
    pool_size: Annotated[int, Field(ge=1)] = 4096
    credentials_probe_interval_s: Annotated[float, Field(gt=0)] = 30.0
    retry: _Retry = _Retry()


class _DegradedRule(_Strict):
    result: Literal["ACCEPT", "REVIEW", "REROUTE"]
    failures: (
        list[
            Literal["TIMEOUT", "RATE_LIMITED", "PLAID_UNAVAILABLE", "INSTITUTION_DOWN"]
        ]
        | None
    ) = None
    min_amount: Annotated[Decimal, Field(ge=0)] | None = None
    max_amount: Annotated[Decimal, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _bounded(self) -> _DegradedRule:
        if self.result == "ACCEPT" and self.max_amount is None:
            raise ValueError(
                "an ACCEPT rule needs max_amount: an unchecked payment is "
                "only let through under a cap"
            )
        if (
            self.min_amount is not None
            and self.max_amount is not None
            and self.min_amount > self.max_amount
        ):
            raise ValueError("min_amount must not exceed max_amount")
        return self


class _Degraded(_Strict):
    try_balance_endpoint: bool = False
    rules: list[_DegradedRule] = []


class _DegradedPolicies(_Strict):
    default: _Degraded = _Degraded()
    callers: dict[str, _Degraded] = {}


class _Ledger(_Strict):
    retention_days: Annotated[int, Field(ge=1)] = 400


class _Outbox(_Strict):
    batch: Annotated[int, Field(ge=1, le=1000)] = 50
    lease_s: Annotated[float, Field(gt=0)] = 60.0
    idle_poll_s: Annotated[float, Field(gt=0)] = 1.0
    attempt_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    backoff_initial_s: Annotated[float, Field(gt=0)] = 1.0
    backoff_max_s: Annotated[float, Field(gt=0)] = 300.0
    max_permanent_failures: Annotated[int, Field(ge=1)] = 3


class _File(_Strict):
    rulesets: dict[str, _Ruleset] = {}
    balance_policy: _BalancePolicies = _BalancePolicies()
    score_policy: _ScorePolicy = _ScorePolicy()
    realtime: _Realtime = _Realtime()
    plaid: _Plaid = _Plaid()
    degraded: _DegradedPolicies = _DegradedPolicies()
    ledger: _Ledger = _Ledger()
    outbox: _Outbox = _Outbox()
    server: ServerFile = ServerFile()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How transient Plaid failures are retried: bounded attempts, full-jitter backoff."""

    max_attempts: int = 3
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    min_attempt_s: float = 0.25  # an attempt with less time than this is not started


@dataclass(frozen=True, slots=True)
class PlaidSettings:
    """Where Plaid is and how to talk to it."""

    env: Literal["emulator", "sandbox", "production"]
    base_url: str | None  # None: start the emulator in-process (emulator env only)
    client_id: Secret
    secret: Secret
    connect_timeout_s: float = 3.0
    scores_budget_s: float = 10.0
    live_balance_budget_s: float = 40.0
    scores_attempt_timeout_s: float = 5.0
    live_balance_attempt_timeout_s: float = 35.0
    pool_size: int = 4096
    credentials_probe_interval_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True, slots=True)
class Policies:
    """Everything the decision core is configured with."""

    rulesets: Mapping[str, RulesetDeclaration]
    score: ScorePolicy
    balance_default: BalancePolicy
    balance_by_rail: Mapping[Rail, BalancePolicy]
    realtime_window: timedelta
    degraded_default: DegradedPolicy = field(default_factory=DegradedPolicy)
    degraded_by_caller: Mapping[str, DegradedPolicy] = field(default_factory=dict)

    def balance_for(self, rail: Rail) -> BalancePolicy:
        return self.balance_by_rail.get(rail, self.balance_default)

    def degraded_for(self, caller: str) -> DegradedPolicy:
        return self.degraded_by_caller.get(caller, self.degraded_default)


@dataclass(frozen=True, slots=True)
class StateSettings:
    """Where decisions and reports live, and for how long."""

    database_url: Secret  # may hold a password
    fingerprint_key: Secret
    retention_days: int = 400
    outbox: OutboxPolicy = field(default_factory=OutboxPolicy)
    development_fingerprint_key: bool = False


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole configuration, read once by app.py and passed down."""

    listen: str
    plaid: PlaidSettings
    policies: Policies
    state: StateSettings
    server: ServerSettings
    log_format: Literal["json", "console", "auto"] = "auto"
    log_level: str = "info"
    config_source: str = "<defaults>"
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def from_environ(
        cls,
        env: Mapping[str, str],
        *,
        listen: str | None = None,
        config_path: str | None = None,
        metrics_listen: str | None = None,
    ) -> Settings:
        """Read ACH_RISK_* and PLAID_*; fail naming every problem at once."""
        problems: list[str] = []
        plaid_env = env.get("PLAID_ENV", "emulator")
        if plaid_env not in ("emulator", "sandbox", "production"):
            problems.append(
                f"PLAID_ENV={plaid_env!r}: expected emulator, sandbox or production"
            )
            plaid_env = "emulator"
        path = config_path or env.get("ACH_RISK_CONFIG")
        source, file = _load_file(path, plaid_env, problems)
        plaid = _plaid_settings(env, plaid_env, file.plaid, problems)  # type: ignore[arg-type]
        log_format = env.get("ACH_RISK_LOG_FORMAT", "auto")
        if log_format not in ("json", "console", "auto"):
            problems.append(
                f"ACH_RISK_LOG_FORMAT={log_format!r}: expected json, console or auto"
            )
        state = _state_settings(env, plaid_env, file, problems)
        listen = listen or env.get("ACH_RISK_LISTEN", "127.0.0.1:50051")
        if metrics_listen is None:
            metrics_listen = env.get("ACH_RISK_METRICS_LISTEN", "127.0.0.1:9464")
        server = server_settings(
            env, plaid_env, listen, file.server, metrics_listen, problems
        )
        log_level = env.get("ACH_RISK_LOG_LEVEL", "info").lower()
        if log_level not in LOG_LEVELS:
            problems.append(
                f"ACH_RISK_LOG_LEVEL={log_level!r}: expected one of "
                f"{', '.join(LOG_LEVELS)}"
            )
        if problems:
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
        return cls(
            listen=listen,
            plaid=plaid,
            policies=_policies(file),
            state=state,
            server=server,
            log_format=log_format,  # type: ignore[arg-type]
            log_level=log_level,
            config_source=source,
        )


def _load_file(
    path: str | None, plaid_env: str, problems: list[str]
) -> tuple[str, _File]:
    if path:
        source, text = path, _read(Path(path), problems)
    elif plaid_env == "emulator":
        # The emulator's default scenario comes with a matching ruleset registry.
        source = "service/emulator_config.toml (packaged)"
        text = resources.files("service").joinpath("emulator_config.toml").read_text()
    else:
        return "<defaults>", _File()
    try:
        return source, _File.model_validate(tomllib.loads(text or ""))
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{source}: not valid TOML: {exc}")
    except ValidationError as exc:
        problems.extend(
            f"{source}: {_where(e['loc'])}: {e['msg']}" for e in exc.errors()
        )
    return source, _File()


def _read(path: Path, problems: list[str]) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror}")
        return ""


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _secret(env: Mapping[str, str], name: str, problems: list[str]) -> Secret | None:
    """NAME, or the contents of the file NAME_FILE (Kubernetes secret mounts)."""
    if env.get(f"{name}_FILE"):
        value = _read(Path(env[f"{name}_FILE"]), problems).strip()
        return Secret(value) if value else None
    return Secret(env[name]) if env.get(name) else None


def database_url(raw: str) -> str:
    """Accept plain URLs and pick the async drivers: aiosqlite and psycopg 3."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+psycopg://"),
        ("postgres://", "postgresql+psycopg://"),
    ):
        if raw.startswith(plain):
            return driver + raw.removeprefix(plain)
    return raw


def _state_settings(
    env: Mapping[str, str], plaid_env: str, file: _File, problems: list[str]
) -> StateSettings:
    url = _secret(env, "ACH_RISK_DATABASE_URL", problems)
    key = _secret(env, "ACH_RISK_FINGERPRINT_KEY", problems)
    if plaid_env == "production" and key is None:
        problems.append(
            "ACH_RISK_FINGERPRINT_KEY (or _FILE) is required when "
            "PLAID_ENV=production: it keys the access-token fingerprints"
        )
    return StateSettings(
        database_url=Secret(database_url(url.reveal()))
        if url
        else Secret(DEFAULT_DATABASE),
        fingerprint_key=key or Secret(DEVELOPMENT_FINGERPRINT_KEY),
        retention_days=file.ledger.retention_days,
        outbox=OutboxPolicy(**file.outbox.model_dump()),
        development_fingerprint_key=key is None,
    )


def _plaid_settings(
    env: Mapping[str, str],
    plaid_env: Literal["emulator", "sandbox", "production"],
    tuning: _Plaid,
    problems: list[str],
) -> PlaidSettings:
    client_id = _secret(env, "PLAID_CLIENT_ID", problems)
    secret = _secret(env, "PLAID_SECRET", problems)
    base_url = (env.get("PLAID_BASE_URL") or "").rstrip("/") or None
    if plaid_env == "emulator":
        client_id = client_id or Secret(EMULATOR_CREDENTIALS[0])
        secret = secret or Secret(EMULATOR_CREDENTIALS[1])
    else:
        problems.extend(
            f"{n} (or {n}_FILE) is required when PLAID_ENV={plaid_env}"
            for n, v in (("PLAID_CLIENT_ID", client_id), ("PLAID_SECRET", secret))
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
        connect_timeout_s=tuning.connect_timeout_s,
        scores_budget_s=tuning.scores_budget_s,
        live_balance_budget_s=tuning.live_balance_budget_s,
        scores_attempt_timeout_s=tuning.scores_attempt_timeout_s,
        live_balance_attempt_timeout_s=tuning.live_balance_attempt_timeout_s,
        pool_size=tuning.pool_size,
        credentials_probe_interval_s=tuning.credentials_probe_interval_s,
        retry=RetryPolicy(**tuning.retry.model_dump()),
    )


def _policies(file: _File) -> Policies:
    base = file.balance_policy.default

    def balance(p: _BalancePolicy) -> BalancePolicy:
        return BalancePolicy(p.margin, p.allow_current_fallback, p.max_balance_age_s)

    def merged(o: _BalanceOverride) -> BalancePolicy:
        return balance(base.model_copy(update=o.model_dump(exclude_none=True)))

    return Policies(
        rulesets={
            k: RulesetDeclaration(v.balance_rule, v.kind)
            for k, v in file.rulesets.items()
        },
        score=ScorePolicy(**file.score_policy.model_dump()),
        balance_default=balance(base),
        balance_by_rail={
            Rail[name.upper()]: merged(p)
            for name, p in file.balance_policy.rails.items()
        },
        realtime_window=timedelta(seconds=file.realtime.window_s),
        degraded_default=_degraded(file.degraded.default),
        degraded_by_caller={k: _degraded(v) for k, v in file.degraded.callers.items()},
    )


def _degraded(policy: _Degraded) -> DegradedPolicy:
    rules = tuple(
        DegradedRule(
            result=Result(rule.result),
            failures=frozenset(FailureClass(f) for f in rule.failures)
            if rule.failures
            else frozenset(FailureClass),
            min_amount=rule.min_amount,
            max_amount=rule.max_amount,
        )
        for rule in policy.rules
    )
    return DegradedPolicy(rules, policy.try_balance_endpoint)
