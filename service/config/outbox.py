"""The `[outbox]` table: how reports are delivered to Plaid, and which are accepted."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from service.app.outbox import OutboxPolicy
from service.config.section import Section


class OutboxSection(Section):
    """`[outbox]`: delivery pacing and give-up rules."""

    batch: Annotated[int, Field(ge=1, le=1000)] = 50
    lease_s: Annotated[float, Field(gt=0)] = 60.0
    idle_poll_s: Annotated[float, Field(gt=0)] = 1.0
    attempt_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    backoff_initial_s: Annotated[float, Field(gt=0)] = 1.0
    backoff_max_s: Annotated[float, Field(gt=0)] = 300.0
    max_permanent_failures: Annotated[int, Field(ge=1)] = 3
    # False: refuse reports about Balance-only decisions (a Plaid client without the
    # Signal Addendum, whose every report Plaid answers ADDENDUM_NOT_SIGNED).
    report_balance_only: bool = True

    def policy(self) -> OutboxPolicy:
        """The worker's part; report_balance_only is the Reports use case's."""
        return OutboxPolicy(**self.model_dump(exclude={"report_balance_only"}))
