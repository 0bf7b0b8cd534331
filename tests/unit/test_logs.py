"""Log configuration: tracebacks never carry the local variables of their frames."""

from __future__ import annotations

import json

import pytest
import structlog

from service.ops.logs import logger_factory, processors


def fail_holding_a_secret() -> None:
    access_token = "access-production-TOPSECRET"  # a local the traceback must not show
    raise RuntimeError(f"boom {len(access_token)}")


@pytest.mark.parametrize("console", [False, True])
def test_a_logged_traceback_has_no_locals(
    console: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    structlog.configure(
        processors=processors(console),
        logger_factory=logger_factory(console),
        cache_logger_on_first_use=False,
    )
    try:
        fail_holding_a_secret()
    except RuntimeError as exc:
        structlog.get_logger().error("rpc.finished", exc_info=exc)
    finally:
        structlog.reset_defaults()
    out = capsys.readouterr().out
    assert "fail_holding_a_secret" in out  # the traceback is there...
    assert "TOPSECRET" not in out  # ...without its locals
    if not console:
        assert json.loads(out)["exception"]
