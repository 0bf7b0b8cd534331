"""`buf breaking` (part of `make lint`) really guards the recorded released contract:
a copy of the protos with a renamed field fails it, an unchanged copy passes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"
RELEASED = ROOT / "protos" / "released" / "achrisk-v1.binpb"
PROTO = Path("protos") / "achrisk" / "v1" / "risk_service.proto"


@pytest.fixture(scope="module")
def buf() -> str:
    """buf from package.json (npm ci through the Makefile's stamp if need be), with the
    googleapis protos staged in build/buf-deps as `make buf-lint` has them."""
    if not BUF.is_file():
        if shutil.which("npm") is None and not os.environ.get("CI"):
            pytest.skip("npm is not installed, so buf cannot be installed")
        subprocess.run(
            ["make", "-s", "node_modules/.installed-stamp"], cwd=ROOT, check=True
        )
    check = [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"]
    subprocess.run(check, cwd=ROOT, check=True)
    return str(BUF)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of the buf workspace (buf.yaml, protos, the staged deps)."""
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    shutil.copytree(ROOT / "protos" / "achrisk", tmp_path / "protos" / "achrisk")
    shutil.copytree(ROOT / "build" / "buf-deps", tmp_path / "build" / "buf-deps")
    return tmp_path


def _breaking(buf: str, workspace: Path) -> subprocess.CompletedProcess[str]:
    """`make buf-lint`'s two steps: build an image, compare it with the released one
    (image against image: a workspace directory against an image compares other paths)."""
    image = workspace / "build" / "current.binpb"
    subprocess.run([buf, "build", "-o", str(image)], cwd=workspace, check=True)
    return subprocess.run(
        [buf, "breaking", str(image), "--against", str(RELEASED)],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_current_protos_match_the_recorded_contract(
    buf: str, workspace: Path
) -> None:
    done = _breaking(buf, workspace)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_renamed_field_is_caught(buf: str, workspace: Path) -> None:
    proto = workspace / PROTO
    text = proto.read_text()
    assert text.count("  string account_id = 3;\n") == 1
    proto.write_text(text.replace("string account_id = 3;", "string bank_account = 3;"))
    done = _breaking(buf, workspace)
    assert done.returncode != 0
    assert 'changed name from "account_id" to "bank_account"' in done.stdout, (
        done.stdout + done.stderr
    )


def test_a_changed_go_package_is_caught(buf: str, workspace: Path) -> None:
    """File options are part of the contract too: generated code's import paths."""
    proto = workspace / PROTO
    text = proto.read_text()
    old = 'option go_package = "github.com/ach-risk/ach-risk/gen/go/achrisk/v1;achriskv1";'
    assert text.count(old) == 1
    proto.write_text(text.replace(old, 'option go_package = "example.com/elsewhere";'))
    done = _breaking(buf, workspace)
    assert done.returncode != 0
    assert 'File option "go_package" changed' in done.stdout, done.stdout + done.stderr
