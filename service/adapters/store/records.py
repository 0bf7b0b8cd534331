"""Stored text to domain values and back: decisions as pydantic JSON, report rows."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import TypeAdapter

from service.adapters.store.schema import DONE
from service.app.ports import (
    Claim,
    ClaimState,
    DeliveryStatus,
    ReportKind,
    ReportRecord,
)
from service.domain.model import Decision

# A lease time as each writer compares it: a datetime, or SQLite's DATETIME text
# (fixed width, so text order is time order).
_Time = TypeVar("_Time", datetime, str)

# Built once: a TypeAdapter compiles its validator and serialiser up front.
_DECISION = TypeAdapter(Decision)


def decision_to_json(decision: Decision) -> str:
    """The decision as JSON that decision_from_json reads back exactly."""
    return _DECISION.dump_json(decision).decode()


def decision_from_json(text: str) -> Decision:
    """A decision stored by decision_to_json."""
    return _DECISION.validate_json(text)


def found_claim(
    row: tuple[Any, ...], fingerprint: str, owner: str, now: _Time
) -> Claim | None:
    """What an existing decisions row (fingerprint, state, owner, lease_until,
    decision_json) means to a claimer: CONFLICT, DONE or IN_FLIGHT, or None when its
    lease ended (or is the claimer's own) and the claimer may take it over."""
    found, state, holder, held_until, stored = row
    if found != fingerprint:
        return Claim(ClaimState.CONFLICT)
    if state == DONE:
        return Claim(ClaimState.DONE, decision_from_json(stored))
    if holder != owner and held_until > now:
        return Claim(ClaimState.IN_FLIGHT)
    return None


def body_to_json(body: dict[str, Any]) -> str:
    """A report body as compact JSON (text keeps Plaid's key order, JSONB would not)."""
    return json.dumps(body, separators=(",", ":"), allow_nan=False)


def report_from_row(row: sa.Row[Any]) -> ReportRecord:
    """A `reports` row as the port's ReportRecord."""
    return ReportRecord(
        id=row.id,
        caller=row.caller,
        client_transaction_id=row.client_transaction_id,
        kind=ReportKind(row.kind),
        body=json.loads(row.body_json),
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        last_error_code=row.last_error_code,
        accepted_at=row.accepted_at,
        delivered_at=row.delivered_at,
        next_attempt_at=row.next_attempt_at,
    )
