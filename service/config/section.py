"""The base of every model of a TOML table: the one place a setting's default is written.

The values handed on to the use cases and adapters (RetryPolicy, OutboxPolicy, Budgets,
Policies ...) have no defaults of their own: each section model builds them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Unknown keys are errors; parsed values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
