"""Settings from the environment and the TOML file, validated once at start-up.

Each table of the file has its model in a module of its own (plaid, ledger, outbox,
server, policies), which is where its defaults are written; this module reads the file
and the environment and assembles them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, get_args

from pydantic import ValidationError

from service.app.rate_budget import RateBudgets
from service.config.environ import read_text
from service.config.ledger import LedgerSection, StateSettings, state_settings
from service.config.outbox import OutboxSection
from service.config.plaid import PlaidEnv, PlaidSection, PlaidSettings, plaid_settings
from service.config.policies import PolicySections
from service.config.rate_budgets import RateBudgetsSection
from service.config.server import (
    DEFAULT_LISTEN,
    ServerSection,
    ServerSettings,
    server_settings,
)
from service.domain.policies import Policies

LogFormat = Literal["json", "console", "auto"]
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(Exception):
    """The configuration is invalid; the message names every problem."""


class ConfigFile(PolicySections):
    """The whole TOML file: the policy tables and one table per part of the service."""

    plaid: PlaidSection = PlaidSection()
    ledger: LedgerSection = LedgerSection()
    outbox: OutboxSection = OutboxSection()
    server: ServerSection = ServerSection()
    rate_budgets: RateBudgetsSection = RateBudgetsSection()


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole configuration, read once at start-up and passed down."""

    listen: str
    plaid: PlaidSettings
    policies: Policies
    state: StateSettings
    server: ServerSettings
    rate_budgets: RateBudgets
    log_format: LogFormat
    log_level: str
    config_source: str  # the file read, for the start-up log
    notes: tuple[str, ...]  # deprecations to warn of at start-up

    @classmethod
    def from_environ(
        cls,
        env: Mapping[str, str],
        *,
        listen: str | None = None,
        config_path: str | None = None,
        metrics_listen: str | None = None,
        workers: int | None = None,
    ) -> Settings:
        """Read ACH_RISK_* and PLAID_*; fail naming every problem at once. The keyword
        arguments are the command line's, which win over the environment."""
        problems: list[str] = []
        plaid_env = env.get("PLAID_ENV", "emulator")
        if plaid_env not in get_args(PlaidEnv):
            problems.append(
                f"PLAID_ENV={plaid_env!r}: expected emulator, sandbox or production"
            )
            plaid_env = "emulator"
        path = config_path or env.get("ACH_RISK_CONFIG")
        source, file = _load_file(path, plaid_env, problems)
        plaid = plaid_settings(env, plaid_env, file.plaid, problems)  # type: ignore[arg-type]
        log_format = env.get("ACH_RISK_LOG_FORMAT", "auto")
        if log_format not in get_args(LogFormat):
            problems.append(
                f"ACH_RISK_LOG_FORMAT={log_format!r}: expected json, console or auto"
            )
        state = state_settings(env, plaid_env, file.ledger, file.outbox, problems)
        listen = listen or env.get("ACH_RISK_LISTEN", DEFAULT_LISTEN)
        server = server_settings(
            env, plaid_env, listen, file.server, metrics_listen, problems, workers
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
            policies=file.policies(),
            state=state,
            server=server,
            rate_budgets=file.rate_budgets.budgets(plaid_env),
            log_format=log_format,  # type: ignore[arg-type]
            log_level=log_level,
            config_source=source,
            notes=tuple(filter(None, [file.migration_note()])),
        )


def _load_file(
    path: str | None, plaid_env: str, problems: list[str]
) -> tuple[str, ConfigFile]:
    """The file named, else the packaged emulator registry (emulator only), else none:
    no file and an empty file give the same defaults, each written once in its model."""
    if path:
        source, text = path, read_text(Path(path), problems)
    elif plaid_env == "emulator":
        # The emulator's default scenario comes with a matching ruleset registry.
        source = "service/config/emulator.toml (packaged)"
        text = resources.files("service.config").joinpath("emulator.toml").read_text()
    else:
        source, text = "<defaults>", ""
    try:
        return source, ConfigFile.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{source}: not valid TOML: {exc}")
    except ValidationError as exc:
        problems.extend(
            f"{source}: {_where(e['loc'])}: {e['msg']}" for e in exc.errors()
        )
    return source, ConfigFile()


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)
