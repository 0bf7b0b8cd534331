"""The wheel the image installs, built from exactly what the Dockerfile copies: every
package, data file and command the service and the emulator need at run time."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.deploy.files import ROOT, copy_build_context

# The SHA-256 of the Apache License 2.0 as its publisher distributes it, byte for byte.
APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_the_wheel_holds_the_data_files_and_both_commands(tmp_path: Path) -> None:
    source = copy_build_context(tmp_path / "src")
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
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        headers = archive.read(metadata).decode().partition("\n\n")[0]
        [license_file] = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        shipped = archive.read(license_file)
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
    # The license: its SPDX name in the metadata, its full text in the wheel.
    assert "\nLicense-Expression: Apache-2.0\n" in headers
    assert "\nLicense-File: LICENSE\n" in headers
    assert shipped == (ROOT / "LICENSE").read_bytes()


def test_the_license_is_the_apache_license_2_0_as_published() -> None:
    """The text exactly as the Apache Software Foundation publishes it (its SHA-256),
    with no preamble or appendix of another project's."""
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_0_SHA256
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert pyproject["license"] == "Apache-2.0"
    assert pyproject["license-files"] == ["LICENSE"]
