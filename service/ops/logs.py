"""structlog configuration: JSON lines in production, a readable console on a TTY."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import orjson
import structlog

from service.ops.tracing import add_trace_ids


def configure(
    fmt: Literal["json", "console", "auto"],
    level: str,
    *,
    worker: int | None = None,
    trace_ids: bool = False,
) -> None:
    """Configure once at start-up; every line goes to stdout. `worker`: this process is
    that worker of `--workers N`, and every line says so (they share one stdout).
    `trace_ids`: tracing is on, and a line written under a span carries its ids."""
    chain = processors(
        fmt == "console" or (fmt == "auto" and sys.stdout.isatty()), trace_ids
    )
    if worker is not None:
        chain.insert(0, _Stamp(worker=worker))
    structlog.configure(
        processors=chain,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=logger_factory(
            fmt == "console" or (fmt == "auto" and sys.stdout.isatty())
        ),
        cache_logger_on_first_use=True,
    )


class _Stamp:
    """Adds fixed fields to every line (a processor; unlike contextvars, which each RPC
    clears, these stay)."""

    def __init__(self, **fields: object) -> None:
        self._fields = fields

    def __call__(
        self, _logger: object, _name: str, event: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        event.update(self._fields)
        return event


def logger_factory(console: bool) -> structlog.typing.WrappedLogger:
    """Text to stdout for the console; JSON lines are orjson's bytes, written as such."""
    if console:
        return structlog.PrintLoggerFactory(sys.stdout)
    return structlog.BytesLoggerFactory(sys.stdout.buffer)


def processors(
    console: bool, trace_ids: bool = False
) -> list[structlog.typing.Processor]:
    """The chain. Tracebacks never carry local variables: locals hold access tokens,
    the Plaid secret and user PII (structlog's dict_tracebacks would include them).
    `trace_ids`: add the current span's ids (tracing on; off, no processor at all)."""
    common: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if trace_ids:
        common.insert(1, add_trace_ids)
    if console:
        return [
            *common,
            structlog.dev.ConsoleRenderer(
                exception_formatter=structlog.dev.plain_traceback
            ),
        ]
    return [
        *common,
        structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        ),
        # orjson: a line per decision, and the stdlib encoder was ~3% of its CPU.
        structlog.processors.JSONRenderer(serializer=orjson.dumps),
    ]
