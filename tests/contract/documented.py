"""Plaid's documented bodies, as tests/fixtures/plaid holds them (`make plaid-examples`).

Every call returns fresh objects: a test may change what it gets.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Final

FIXTURES: Final = Path(__file__).parents[1] / "fixtures" / "plaid"
ENDPOINTS: Final = (
    "/signal/evaluate",
    "/accounts/balance/get",
    "/signal/decision/report",
    "/signal/return/report",
    "/signal/prepare",
)


@functools.cache
def _text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _load(name: str) -> Any:
    return json.loads(_text(name))


def manifest() -> dict[str, Any]:
    """MANIFEST.json: the spec's version and sha256, the files, where each came from."""
    loaded: dict[str, Any] = _load("MANIFEST.json")
    return loaded


def _examples(endpoint: str, kind: str) -> list[tuple[str, dict[str, Any]]]:
    if endpoint not in ENDPOINTS:
        raise ValueError(f"no documented bodies for {endpoint}; known: {ENDPOINTS}")
    return [
        (entry["name"], _load(entry["file"]))
        for entry in manifest()["examples"]
        if entry["endpoint"] == endpoint and entry["kind"] == kind
    ]


def response_examples(endpoint: str) -> list[tuple[str, dict[str, Any]]]:
    """The documented 200 bodies of `endpoint` as (name, body), e.g. ("example-1", {...})."""
    return _examples(endpoint, "response")


def request_examples(endpoint: str) -> list[tuple[str, dict[str, Any]]]:
    """The documented request bodies of `endpoint` (the spec has none for Signal's)."""
    return _examples(endpoint, "request")


def schema_deviations(endpoint: str, kind: str, name: str) -> list[str]:
    """How a documented example breaks its own schema (Plaid's docs lag the schema)."""
    for entry in manifest()["examples"]:
        if (entry["endpoint"], entry["kind"], entry["name"]) == (endpoint, kind, name):
            deviations: list[str] = entry["schema_deviations"]
            return deviations
    raise KeyError(f"no {kind} example {name!r} for {endpoint}")


def error_entries() -> list[dict[str, Any]]:
    """errors.json as written: {"http_status", "endpoints", "body"} for each error."""
    entries: list[dict[str, Any]] = _load("errors.json")
    return entries


def error_bodies(endpoint: str | None = None) -> list[tuple[int, dict[str, Any]]]:
    """(HTTP status, body) of each documented error, only `endpoint`'s when given."""
    if endpoint is not None and endpoint not in ENDPOINTS:
        raise ValueError(f"no documented errors for {endpoint}; known: {ENDPOINTS}")
    return [
        (entry["http_status"], entry["body"])
        for entry in error_entries()
        if endpoint is None or endpoint in entry["endpoints"]
    ]
