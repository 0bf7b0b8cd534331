"""structlog configuration: JSON lines in production, a readable console on a TTY."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import orjson
import structlog


def configure(fmt: Literal["json", "console", "auto"], level: str) -> None:
    """Configure once at start-up; every line goes to stdout."""
    structlog.configure(
        processors=processors(
            fmt == "console" or (fmt == "auto" and sys.stdout.isatty())
        ),
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=logger_factory(
            fmt == "console" or (fmt == "auto" and sys.stdout.isatty())
        ),
        cache_logger_on_first_use=True,
    )


def logger_factory(console: bool) -> structlog.typing.WrappedLogger:
    """Text to stdout for the console; JSON lines are orjson's bytes, written as such."""
    if console:
        return structlog.PrintLoggerFactory(sys.stdout)
    return structlog.BytesLoggerFactory(sys.stdout.buffer)


def processors(console: bool) -> list[structlog.typing.Processor]:
    """The chain. Tracebacks never carry local variables: locals hold access tokens,
    the Plaid secret and user PII (structlog's dict_tracebacks would include them)."""
    common: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
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
