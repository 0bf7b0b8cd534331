"""The `[server]` table (limits, drain) and the variables of the server itself: where it
listens, who may call (API keys, mutual TLS), where metrics are served, how many worker
processes serve."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError

from service.config.section import Section

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_METRICS_LISTEN = "127.0.0.1:9464"
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
_SHA256_HEX = r"^[0-9a-fA-F]{64}$"


class ServerSection(Section):
    """`[server]`: how much the server takes on, and how long it drains."""

    # Calls in flight beyond this are refused at once. A Plaid bank at 10 s and 400 calls
    # a second hold ~4,000: the limit leaves room for that load's peaks (each call in
    # flight holds ~50 KiB, docs/performance.md).
    max_in_flight: Annotated[int, Field(ge=1)] = 8192
    grace_s: Annotated[float, Field(gt=0)] = 10.0
    # With --workers: a worker silent on its link this long (its event loop stuck; it
    # heartbeats every second) is killed and restarted (docs/workers.md).
    worker_silence_s: Annotated[float, Field(gt=0)] = 60.0


class _Caller(Section):
    key_sha256: list[Annotated[str, Field(pattern=_SHA256_HEX)]]


class _KeysFile(Section):
    callers: dict[str, _Caller]


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files for TLS; with a client CA, callers must present certificates (mTLS)."""

    cert: Path
    key: Path
    client_ca: Path | None


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Who may call, how much the server takes on, where metrics are served."""

    api_key_hashes: Mapping[str, str] | None  # sha256 hex -> caller; None: auth off
    tls: TlsFiles | None
    limits: ServerSection
    metrics_listen: str | None  # None: no metrics endpoint
    # Serving processes on the one address; above 1 a supervisor runs them (docs/workers.md).
    workers: int = 1


def usable_cores() -> int:
    """The cores this process may run on. The affinity mask, not a cgroup CPU quota: a
    container limited to 2 CPUs on a 32-core node still sees 32 (docs/workers.md)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # no affinity call (macOS): every core


def worker_count(text: str) -> int:
    """`--workers`/ACH_RISK_WORKERS: a whole number from 1, or `auto` (usable_cores())."""
    if text.strip().lower() == "auto":
        return usable_cores()
    try:
        count = int(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a number of workers: expected 1, 2, ... or auto"
        ) from None
    if count < 1:
        raise ValueError(f"{count} workers: expected 1 or more (or auto)")
    return count


def server_settings(
    env: Mapping[str, str],
    plaid_env: str,
    listen: str,
    limits: ServerSection,
    metrics_listen: str | None,
    problems: list[str],
    workers: int | None = None,
) -> ServerSettings:
    """Read API keys and TLS files; authentication may be off only on loopback, emulated.
    `metrics_listen` (the command line's) wins over ACH_RISK_METRICS_LISTEN; empty: off.
    `workers` (the command line's, already checked) wins over ACH_RISK_WORKERS."""
    keys = _api_keys(env.get("ACH_RISK_API_KEYS_FILE"), problems)
    if keys is None and not (plaid_env == "emulator" and _is_loopback(listen)):
        problems.append(
            "ACH_RISK_API_KEYS_FILE is required unless PLAID_ENV=emulator and the "
            f"service listens on loopback (it would listen on {listen}, "
            f"PLAID_ENV={plaid_env})"
        )
    if metrics_listen is None:
        metrics_listen = env.get("ACH_RISK_METRICS_LISTEN", DEFAULT_METRICS_LISTEN)
    if workers is None:
        workers = _workers_from(env.get("ACH_RISK_WORKERS", "1"), problems)
    if workers > 1 and listen.rpartition(":")[2] == "0":
        problems.append(
            f"{workers} workers need a fixed port to share (listen {listen}): with "
            "port 0 each worker would listen on a port of its own"
        )
    return ServerSettings(
        api_key_hashes=keys,
        tls=_tls(env, problems),
        limits=limits,
        metrics_listen=metrics_listen or None,
        workers=workers,
    )


def _workers_from(raw: str, problems: list[str]) -> int:
    try:
        return worker_count(raw)
    except ValueError as exc:
        problems.append(f"ACH_RISK_WORKERS: {exc}")
        return 1


def _is_loopback(listen: str) -> bool:
    host = listen.rpartition(":")[0]
    return host in _LOOPBACK_HOSTS


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
