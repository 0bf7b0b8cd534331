"""The wheel the image installs, built from exactly what the Dockerfile copies: every
package, data file and command the service and the emulator need at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.deploy.files import ROOT

# What the Dockerfile's build stage copies (test_dockerfile.py checks the COPY lines).
BUILD_CONTEXT = ("pyproject.toml", "README.md", "service", "plaid_emulator")


def test_the_wheel_holds_the_data_files_and_both_commands(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in BUILD_CONTEXT:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--no-build-isolation", "--wheel-dir", str(tmp_path / "dist"), str(source)],
        check=True,
        timeout=300,
    )  # fmt: skip
    [wheel] = (tmp_path / "dist").glob("ach_risk-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [entry_points] = [n for n in names if n.endswith("entry_points.txt")]
        commands = archive.read(entry_points).decode()
    assert {
        "service/config/emulator.toml",
        "service/adapters/store/migrations/env.py",
        "service/adapters/store/migrations/script.py.mako",
        "service/adapters/store/migrations/versions/v0001_ledger_and_outbox.py",
        "service/py.typed",
        "service/_proto/achrisk.protoset",  # `ach-risk protoset` writes it
        "plaid_emulator/default_scenario.yaml",
        "plaid_emulator/py.typed",
        "plaid_emulator/command.py",
    } <= names
    assert not any(n.startswith("tests/") for n in names)
    assert "ach-risk = service.cli:main" in commands
    assert "plaid-emulator = plaid_emulator.command:main" in commands
