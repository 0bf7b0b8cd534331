"""Latency per endpoint or ruleset kind: a fixed delay, or a lognormal fitted to a p50
and a p95. Draws come from one seeded generator per key, so a run can be replayed exactly.
"""

import math
import random
from collections.abc import Mapping
from typing import Annotated, Final, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictFloat,
    StrictInt,
    Tag,
    model_validator,
)

# The z-score of the 95th percentile of a standard normal distribution.
_Z95: Final = 1.6448536269514722
# Plaid says live balances usually take under 10 s but sometimes 30 s or more
# (docs/plaid-behaviour.md); three times p95 keeps that tail without stalling a test.
_DEFAULT_CAP_FACTOR: Final = 3
# Pydantic names a tagged union's branch in the error path; scenario errors drop it.
UNION_TAGS: Final = frozenset({"fixed", "distribution"})

_Key = TypeVar("_Key", bound=str)
# StrictFloat takes JSON integers too, but not booleans or strings.
Millis = Annotated[StrictFloat, Field(gt=0)]


class LatencyDistribution(BaseModel):
    """A lognormal delay with the given median and 95th percentile, capped at `max`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    p50: Millis
    p95: Millis
    max: Millis | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.p95 < self.p50:
            raise ValueError("p95 must be at least p50")
        if self.max is not None and self.max < self.p50:
            raise ValueError("max must be at least p50")
        return self

    @property
    def cap_ms(self) -> float:
        """The longest delay ever drawn."""
        return float(
            self.max if self.max is not None else _DEFAULT_CAP_FACTOR * self.p95
        )

    def draw(self, rng: random.Random) -> float:
        """One delay in milliseconds."""
        sigma = math.log(self.p95 / self.p50) / _Z95
        return min(rng.lognormvariate(math.log(self.p50), sigma), self.cap_ms)


def _branch(value: object) -> str:
    return "distribution" if isinstance(value, Mapping) else "fixed"


Latency = Annotated[
    Annotated[Annotated[StrictInt, Field(ge=0)], Tag("fixed")]
    | Annotated[LatencyDistribution, Tag("distribution")],
    Discriminator(_branch),
]


class LatencySampler:
    """Delays per key (an endpoint, or a kind of ruleset) from a scenario's latencies
    and `seed`."""

    def __init__(
        self, latency_ms: Mapping[_Key, int | LatencyDistribution], seed: int
    ) -> None:
        self._fixed: dict[str, int] = {
            k: v for k, v in latency_ms.items() if isinstance(v, int)
        }
        self._drawn: dict[str, tuple[LatencyDistribution, random.Random]] = {
            key: (spec, random.Random(f"{seed}:{key}"))  # noqa: S311
            for key, spec in latency_ms.items()
            if isinstance(spec, LatencyDistribution)
        }

    def __contains__(self, key: str) -> bool:
        return key in self._fixed or key in self._drawn

    def delay_ms(self, key: str) -> float:
        """The delay for the next call under `key` (0 when none is configured)."""
        drawn = self._drawn.get(key)
        if drawn is None:
            return self._fixed.get(key, 0)
        spec, rng = drawn
        return spec.draw(rng)
