"""Stored text to domain values and back: decisions as pydantic JSON, report rows."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter

from service.app.ports import (
    DeliveryStatus,
    ReportKind,
    ReportRecord,
)
from service.domain.model import Decision

# Built once: a TypeAdapter compiles its validator and serialiser up front.
_DECISION = TypeAdapter(Decision)


def decision_to_json(decision: Decision) -> str:
    """The decision as JSON that decision_from_json reads back exactly."""
    return _DECISION.dump_json(decision).decode()


def decision_from_json(text: str) -> Decision:
    """A decision stored by decision_to_json."""
    return _DECISION.validate_json(text)


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
