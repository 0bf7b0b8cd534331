"""The image is reproducible: its base is pinned by digest and every dependency, runtime and
build, by version and hash (requirements/*.lock, `make lock`). The lock satisfies
pyproject.toml, the virtualenv the tests run in holds exactly the locked versions, and the
Dockerfile's install steps, run here without Docker, install from the locks alone."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.files import ROOT, copy_build_context
from tests.deploy.test_dockerfile import DOCKERFILE, base_image

RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
BUILD_LOCK = ROOT / "requirements" / "build.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: tuple[str, ...]
    marker: Marker | None


def pins(lock: Path) -> dict[str, Pin]:
    """name → its pin, from pip's requirements format (continuation lines joined)."""
    logical = re.sub(r"\\\n", " ", lock.read_text())
    found: dict[str, Pin] = {}
    for line in logical.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        words = line.split(" --hash=")
        requirement = Requirement(words[0].strip())
        [specifier] = list(requirement.specifier)
        assert specifier.operator == "==", (
            f"{lock.name}: {line.split()[0]} is not pinned"
        )
        found[canonicalize_name(requirement.name)] = Pin(
            specifier.version, tuple(w.strip() for w in words[1:]), requirement.marker
        )
    return found


def test_the_base_both_stages_start_from_is_pinned_by_digest() -> None:
    # test_dockerfile.py checks that both stages start from BASE, the ARG read here.
    image, _, digest = base_image().partition("@")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), base_image()
    # The Python the lock was resolved for (scripts/lock.py) is the base image's.
    [python] = re.findall(
        r'^PYTHON_VERSION = "([0-9.]+)"', (ROOT / "scripts/lock.py").read_text(), re.M
    )
    assert re.fullmatch(rf"python:{re.escape(python)}-slim(-bookworm)?", image)


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, BUILD_LOCK], ids=lambda p: p.name)
def test_every_pin_carries_hashes(lock: Path) -> None:
    locked = pins(lock)
    assert locked
    for name, pin in locked.items():
        assert pin.hashes, f"{name} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes), name


def _satisfied(lock: Path, requirements: list[str]) -> None:
    locked = pins(lock)
    for line in requirements:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is missing from {lock.name}"
        assert requirement.specifier.contains(locked[name].version), (
            f"{lock.name} pins {name}=={locked[name].version}, outside {requirement.specifier}"
        )


def test_the_runtime_lock_satisfies_pyproject() -> None:
    [extras] = re.findall(
        r"^EXTRAS: .* = (\(.*\))$", (ROOT / "scripts/lock.py").read_text(), re.M
    )
    assert ast.literal_eval(extras) == ("otel",)  # the image traces (docs/tracing.md)
    optional = PYPROJECT["project"]["optional-dependencies"]
    _satisfied(
        RUNTIME_LOCK,
        PYPROJECT["project"]["dependencies"]
        + [r for e in ast.literal_eval(extras) for r in optional[e]],
    )
    # Extras pull in packages of their own: psycopg[binary,pool], SQLAlchemy[asyncio].
    assert {"psycopg-binary", "psycopg-pool", "greenlet"} <= set(pins(RUNTIME_LOCK))


def test_the_build_lock_satisfies_the_build_system() -> None:
    _satisfied(BUILD_LOCK, PYPROJECT["build-system"]["requires"])


def test_the_tests_run_the_versions_that_ship() -> None:
    """`make setup` constrains this virtualenv to the lock, so a test that passed here
    passed on the image's versions."""
    differ = {}
    for name, pin in pins(RUNTIME_LOCK).items():
        if pin.marker is not None and not pin.marker.evaluate():
            continue
        installed = importlib.metadata.version(name)
        if installed != pin.version:
            differ[name] = (installed, pin.version)
    assert not differ, f"installed vs locked (run `make setup`): {differ}"


def _index_reachable(scratch: Path) -> bool:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest",
         str(scratch), "--only-binary=:all:", "six==1.17.0"],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    return result.returncode == 0


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The package index, which the freshness check and the install steps read."""
    if not _index_reachable(tmp_path_factory.mktemp("index")):
        if os.environ.get("CI"):
            pytest.fail("the package index is unreachable in CI")
        pytest.skip("the package index is unreachable here")


@pytest.mark.usefixtures("index")
def test_the_locks_are_fresh() -> None:
    """Re-resolving within the pins changes nothing: pyproject.toml gained, lost or
    re-bounded no dependency since `make lock`."""
    result = subprocess.run(
        [sys.executable, "scripts/lock.py", "--check"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    not os.environ.get("ACH_RISK_IMAGE_CHECK"),
    reason="about 80 s (it builds plaid-python from source): `make image-check`, which CI runs",
)
@pytest.mark.usefixtures("index")
def test_the_dockerfiles_install_steps_work_from_the_locks_alone(
    tmp_path: Path,
) -> None:
    """The build stage's commands, without Docker: the build tools from build.lock, the
    runtime from runtime.lock with --require-hashes and no resolution, the wheel with
    --no-deps, then `pip check` and the command itself."""
    text = " ".join(re.sub(r"\\\n", " ", DOCKERFILE.read_text()).split())
    build_tools = (
        "--require-hashes --only-binary=:all: --no-deps -r requirements/build.lock"
    )
    runtime_wheels = (
        "pip wheel --no-cache-dir --require-hashes --no-deps --no-build-isolation"
        " --wheel-dir /wheels -r requirements/runtime.lock"
    )
    assert build_tools in text
    assert runtime_wheels in text
    # Quiet installs; `pip --quiet list` would print nothing at all.
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    builder, runtime, wheels = (
        tmp_path / "builder",
        tmp_path / "venv",
        tmp_path / "wheels",
    )
    subprocess.run(
        [sys.executable, "-m", "venv", str(builder)], check=True, timeout=120
    )
    in_builder = [str(builder / "bin/python"), "-m", "pip", "--quiet"]
    subprocess.run(
        [*in_builder, "install", *build_tools.split(" ")[:-1], str(BUILD_LOCK)],
        check=True, timeout=600,
    )  # fmt: skip
    subprocess.run(
        [*in_builder, "wheel", "--require-hashes", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(wheels), "-r", str(RUNTIME_LOCK)],
        check=True, timeout=600,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(runtime)],
        check=True,
        timeout=120,
    )
    subprocess.run(
        [*pip, "--quiet", "--python", str(runtime / "bin/python"), "install", "--no-index", "--no-deps",
         *map(str, sorted(wheels.glob("*.whl")))],
        check=True, timeout=600,
    )  # fmt: skip
    source = copy_build_context(tmp_path / "src")
    subprocess.run(
        [*in_builder, "wheel", "--no-deps",
         "--no-build-isolation", "--wheel-dir", str(tmp_path / "dist"), str(source)],
        check=True, timeout=300,
    )  # fmt: skip
    [wheel] = (tmp_path / "dist").glob("ach_risk-*.whl")

    subprocess.run(
        [*pip, "--quiet", "--python", str(runtime / "bin/python"), "install", "--no-deps", str(wheel)],
        check=True, timeout=300,
    )  # fmt: skip
    check = subprocess.run(
        [*pip, "--python", str(runtime / "bin/python"), "check"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    listed = subprocess.run(
        [*pip, "--python", str(runtime / "bin/python"), "list", "--format", "json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    installed = {
        canonicalize_name(p["name"]): p["version"] for p in json.loads(listed.stdout)
    }
    wanted = {
        name: pin.version
        for name, pin in pins(RUNTIME_LOCK).items()
        if pin.marker is None or pin.marker.evaluate()
    }
    assert installed == {**wanted, "ach-risk": PYPROJECT["project"]["version"]}
    # The installed service imports everything it serves with, and writes its descriptors.
    protoset = subprocess.run(
        [str(runtime / "bin/ach-risk"), "protoset", "--output", "-"],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert protoset.stdout == (ROOT / "service/_proto/achrisk.protoset").read_bytes()
    serve = subprocess.run(
        [str(runtime / "bin/python"), "-c", "import service.main, service.workers.worker, plaid_emulator.server;"
         " import opentelemetry.sdk.trace, opentelemetry.exporter.otlp.proto.grpc.trace_exporter,"
         " opentelemetry.instrumentation.grpc"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert serve.returncode == 0, serve.stderr
