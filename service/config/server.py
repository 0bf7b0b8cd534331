"""Settings of the server itself: who may call (API keys, mutual TLS), limits, metrics."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
_SHA256_HEX = r"^[0-9a-fA-F]{64}$"


class ServerFile(BaseModel):
    """The `[server]` table of the TOML config."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_in_flight: Annotated[int, Field(ge=1)] = 4096
    grace_s: Annotated[float, Field(gt=0)] = 10.0


class _Caller(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    key_sha256: list[Annotated[str, Field(pattern=_SHA256_HEX)]]


class _KeysFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    callers: dict[str, _Caller]


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files for TLS; with a client CA, callers must present certificates (mTLS)."""

    cert: Path
    key: Path
    client_ca: Path | None = None


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Who may call and how much the server takes on."""

    api_key_hashes: Mapping[str, str] | None  # sha256 hex -> caller; None: auth off
    tls: TlsFiles | None = None
    max_in_flight: int = 4096
    grace_s: float = 10.0
    metrics_listen: str | None = "127.0.0.1:9464"
    notes: tuple[str, ...] = field(default=())


def server_settings(
    env: Mapping[str, str],
    plaid_env: str,
    listen: str,
    file: ServerFile,
    metrics_listen: str | None,
    problems: list[str],
) -> ServerSettings:
    """Read API keys and TLS files; authentication may be off only on loopback, emulated."""
    keys = _api_keys(env.get("ACH_RISK_API_KEYS_FILE"), problems)
    if keys is None and not (plaid_env == "emulator" and is_loopback(listen)):
        problems.append(
            "ACH_RISK_API_KEYS_FILE is required unless PLAID_ENV=emulator and the "
            f"service listens on loopback (it would listen on {listen}, "
            f"PLAID_ENV={plaid_env})"
        )
    return ServerSettings(
        api_key_hashes=keys,
        tls=_tls(env, problems),
        max_in_flight=file.max_in_flight,
        grace_s=file.grace_s,
        metrics_listen=metrics_listen or None,
    )


def is_loopback(listen: str) -> bool:
    host = listen.rpartition(":")[0]
    return host in LOOPBACK_HOSTS


def _api_keys(path: str | None, problems: list[str]) -> dict[str, str] | None:
    if not path:
        return None
    try:
        parsed = _KeysFile.model_validate(tomllib.loads(Path(path).read_text()))
    except OSError as exc:
        problems.append(f"ACH_RISK_API_KEYS_FILE {path}: cannot read: {exc.strerror}")
        return None
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"ACH_RISK_API_KEYS_FILE {path}: not valid TOML: {exc}")
        return None
    except ValidationError as exc:
        problems.extend(
            f"ACH_RISK_API_KEYS_FILE {path}: {'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in exc.errors()
        )
        return None
    keys = {h.lower(): name for name, c in parsed.callers.items() for h in c.key_sha256}
    if not keys:
        problems.append(f"ACH_RISK_API_KEYS_FILE {path}: names no keys")
    return keys


def _tls(env: Mapping[str, str], problems: list[str]) -> TlsFiles | None:
    cert, key = env.get("ACH_RISK_TLS_CERT_FILE"), env.get("ACH_RISK_TLS_KEY_FILE")
    client_ca = env.get("ACH_RISK_TLS_CLIENT_CA_FILE")
    if not cert and not key:
        if client_ca:
            problems.append(
                "ACH_RISK_TLS_CLIENT_CA_FILE needs ACH_RISK_TLS_CERT_FILE "
                "and ACH_RISK_TLS_KEY_FILE"
            )
        return None
    files = [p for p in (cert, key, client_ca) if p]
    missing = [p for p in files if not Path(p).is_file()]
    if not cert or not key or missing:
        problems.append(
            "TLS needs both ACH_RISK_TLS_CERT_FILE and ACH_RISK_TLS_KEY_FILE "
            f"as readable files (missing: {missing or 'one of the two'})"
        )
        return None
    return TlsFiles(Path(cert), Path(key), Path(client_ca) if client_ca else None)
