"""Settings from the environment and the TOML file, validated once at start-up."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError

from service.app.outbox import OutboxPolicy
from service.config.policies import (
    Policies,
    PolicyFile,
    Strict,
    policies_from,
    registry_migration_note,
)
from service.config.server import ServerFile, ServerSettings, server_settings
from service.domain.secret import Secret

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


class _Retry(Strict):
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    initial_backoff_s: Annotated[float, Field(gt=0)] = 0.1
    max_backoff_s: Annotated[float, Field(gt=0)] = 2.0
    min_attempt_s: Annotated[float, Field(gt=0)] = 0.25


class _Plaid(Strict):
    connect_timeout_s: Annotated[float, Field(gt=0)] = 3.0
    scores_budget_s: Annotated[float, Field(gt=0)] = 10.0
    live_balance_budget_s: Annotated[float, Field(gt=0)] = 40.0
    scores_attempt_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    live_balance_attempt_timeout_s: Annotated[float, Field(gt=0)] = 35.0
    pool_size: Annotated[int, Field(ge=1)] = 4096
    credentials_probe_interval_s: Annotated[float, Field(gt=0)] = 30.0
    retry: _Retry = _Retry()


class _Ledger(Strict):
    retention_days: Annotated[int, Field(ge=1)] = 400


class _Outbox(Strict):
    batch: Annotated[int, Field(ge=1, le=1000)] = 50
    lease_s: Annotated[float, Field(gt=0)] = 60.0
    idle_poll_s: Annotated[float, Field(gt=0)] = 1.0
    attempt_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    backoff_initial_s: Annotated[float, Field(gt=0)] = 1.0
    backoff_max_s: Annotated[float, Field(gt=0)] = 300.0
    max_permanent_failures: Annotated[int, Field(ge=1)] = 3
    report_balance_only: bool = True


class _File(PolicyFile):
    plaid: _Plaid = _Plaid()
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
            policies=policies_from(file),
            state=state,
            server=server,
            log_format=log_format,  # type: ignore[arg-type]
            log_level=log_level,
            config_source=source,
            notes=tuple(filter(None, [registry_migration_note(file)])),
        )


def _load_file(
    path: str | None, plaid_env: str, problems: list[str]
) -> tuple[str, _File]:
    if path:
        source, text = path, _read(Path(path), problems)
    elif plaid_env == "emulator":
        # The emulator's default scenario comes with a matching ruleset registry.
        source = "service/config/emulator.toml (packaged)"
        text = resources.files("service.config").joinpath("emulator.toml").read_text()
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
