"""Scripted faults: queued per endpoint, first in first out, each use spent by one call.

A fault may delay a call, answer a Plaid error, drop the connection or send a bad body.
"""

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from plaid_emulator.endpoints import Endpoint
from plaid_emulator.errors import KNOWN_ERRORS, PlaidApiError, known_error
from plaid_emulator.problems import problems

# A day of delay is already a hung call; more is a typo.
_MAX_DELAY_MS: Final = 86_400_000
_MAX_TIMES: Final = 1_000_000


class Fault(BaseModel):
    """One entry of POST /_emulator/faults; `times` calls to `endpoint` each get it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: Endpoint
    times: StrictInt = Field(default=1, ge=1, le=_MAX_TIMES)
    delay_ms: StrictInt = Field(default=0, ge=0, le=_MAX_DELAY_MS)
    error_code: str | None = None
    error_message: str | None = Field(default=None, min_length=1)
    drop_connection: StrictBool = False
    malformed_body: StrictBool = False
    status: StrictInt | None = Field(default=None, ge=200, le=599)
    body: str = ""
    content_type: str = Field(default="text/html", min_length=1)

    @field_validator("error_code")
    @classmethod
    def _known_code(cls, code: str | None) -> str | None:
        if code is not None and code not in KNOWN_ERRORS:
            raise ValueError(
                f"unknown error code {code!r}; known codes: "
                + ", ".join(sorted(KNOWN_ERRORS))
            )
        return code

    @model_validator(mode="after")
    def _one_action(self) -> Self:
        actions = [
            name
            for name, chosen in (
                ("error_code", self.error_code is not None),
                ("drop_connection", self.drop_connection),
                ("malformed_body", self.malformed_body),
                ("status", self.status is not None),
            )
            if chosen
        ]
        if len(actions) > 1:
            raise ValueError(f"choose one of {', '.join(actions)}, not several")
        if not actions and not self.delay_ms:
            raise ValueError(
                "a fault needs delay_ms, error_code, drop_connection, malformed_body "
                "or status"
            )
        for field, needs in (
            ("error_message", "error_code"),
            ("body", "status"),
            ("content_type", "status"),
        ):
            if field in self.model_fields_set and needs not in actions:
                raise ValueError(f"{field} goes with {needs}")
        return self

    @property
    def answers(self) -> bool:
        """Whether the fault replaces the endpoint's answer (beyond delaying it)."""
        return (
            self.error_code is not None
            or self.drop_connection
            or self.malformed_body
            or self.status is not None
        )

    def error(self) -> PlaidApiError | None:
        """The Plaid error this fault answers with, if it is an error fault."""
        if self.error_code is None:
            return None
        return known_error(self.error_code, self.error_message)

    def describe(self) -> dict[str, object]:
        """What the fault does, as the call log and GET /_emulator/faults show it."""
        shown: dict[str, object] = self.model_dump(
            exclude={"endpoint", "times"}, exclude_defaults=True
        )
        if self.error_code is not None:
            status, error_type = KNOWN_ERRORS[self.error_code]
            shown |= {"status": status, "error_type": error_type}
        if self.status is not None:
            shown["content_type"] = self.content_type
        return shown


@dataclass(slots=True)
class _Queued:
    fault: Fault
    remaining: int


class FaultQueue:
    """Faults waiting for calls, one FIFO queue per endpoint."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[_Queued]] = {}

    def add(self, faults: list[Fault]) -> None:
        """Queue faults behind any already waiting for the same endpoint."""
        for fault in faults:
            queue = self._queues.setdefault(fault.endpoint, deque())
            queue.append(_Queued(fault, fault.times))

    def take(self, endpoint: str) -> Fault | None:
        """The fault for the next call to `endpoint`, spending one use; None if none."""
        queue = self._queues.get(endpoint)
        if not queue:
            return None
        head = queue[0]
        head.remaining -= 1
        if head.remaining == 0:
            queue.popleft()
        return head.fault

    def pending(self) -> Iterator[dict[str, object]]:
        """Every queued fault with its remaining uses, in the order they will fire."""
        for endpoint, queue in self._queues.items():
            for queued in queue:
                yield {
                    "endpoint": endpoint,
                    "remaining": queued.remaining,
                    **queued.fault.describe(),
                }

    def clear(self) -> None:
        """Forget every queued fault."""
        self._queues.clear()


class FaultError(ValueError):
    """A fault request that cannot be queued; the message names the field."""


_FAULTS: Final = TypeAdapter(list[Fault])


def parse_faults(data: object) -> list[Fault]:
    """One fault object or a list of them; all valid or none queued."""
    try:
        if isinstance(data, list):
            return _FAULTS.validate_python(data)
        return [Fault.model_validate(data)]
    except ValidationError as exc:
        raise FaultError("; ".join(problems(exc))) from None
