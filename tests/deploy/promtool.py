"""promtool (Prometheus' rule checker), found on PATH; `make promtool` installs it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.files import ROOT

# Where `make promtool` builds it when apt-get is not at hand.
BUILT = ROOT / "build" / "bin" / "promtool"
HOW = (
    "install it with `make promtool` (apt-get install --no-install-recommends "
    "prometheus as root on Debian, else a pinned `go build` of it)"
)


def promtool() -> str:
    """promtool's path; without it the test skips, or fails under CI (CI must run it)."""
    found = shutil.which("promtool") or (str(BUILT) if BUILT.is_file() else None)
    if found is None:
        message = f"promtool is not on PATH: {HOW}"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must not skip the rules' tests")
        pytest.skip(message)
    return found


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
