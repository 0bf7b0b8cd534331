"""The Dockerfile: hadolint-clean, and shaped as the service and the manifests expect."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib

from service.ops.readiness import LIVENESS_SERVICE
from tests.deploy.files import ROOT, names_read_by_service, venv_tool

DOCKERFILE = ROOT / "Dockerfile"
# Both stages start from the one base the ARG before the first FROM pins (test_lock.py checks
# the pin itself: a digest, and the Python the lock was resolved for).
BASE = "${PYTHON_BASE}"


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [str(venv_tool("hadolint")), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def base_image() -> str:
    """The image both stages start from: the ARG's default (build args may override it)."""
    [base] = [
        a.removeprefix("PYTHON_BASE=") for i, a in _instructions() if i == "ARG"
        and a.startswith("PYTHON_BASE=")
    ]  # fmt: skip
    return base


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in logical.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, arguments = line.strip().partition(" ")
            pairs.append((instruction.upper(), " ".join(arguments.split())))
    return pairs


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction, arguments in _instructions():
        if instruction == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction, arguments))
    return stages


def _final() -> dict[str, list[str]]:
    final: dict[str, list[str]] = {}
    for instruction, arguments in _stages()[-1]:
        final.setdefault(instruction, []).append(arguments)
    return final


def test_builds_a_wheel_then_runs_it_from_a_slim_image() -> None:
    build, final = _stages()
    assert build[0] == ("FROM", f"{BASE} AS build")
    assert any(i == "RUN" and "pip wheel" in a for i, a in build)
    assert final[0] == ("FROM", BASE)
    runs = " ".join(a for i, a in final if i == "RUN")
    assert "pip" not in runs, "the runtime stage installs nothing: it copies the venv"
    assert ("COPY", "--from=build /opt/venv /opt/venv") in final


def test_runs_as_a_fixed_non_root_uid_with_a_writable_var() -> None:
    final = _final()
    assert final["USER"] == ["10001:10001"]
    assert final["WORKDIR"] == ["/app"]
    assert any("--owner=10001" in run and "/app/var" in run for run in final["RUN"])


def test_ports_signal_and_command() -> None:
    final = _final()
    assert final["EXPOSE"] == ["50051 9464"]
    assert final["STOPSIGNAL"] == ["SIGTERM"]
    assert json.loads(final["ENTRYPOINT"][0]) == ["ach-risk"]
    assert json.loads(final["CMD"][0]) == ["serve", "--metrics-listen", "0.0.0.0:9464"]
    (healthcheck,) = final["HEALTHCHECK"]
    # Liveness: a database or Plaid outage must not mark the container unhealthy.
    assert healthcheck.endswith(
        f'CMD ["ach-risk", "health", "--service", "{LIVENESS_SERVICE}"]'
    )


def test_environment_names_are_ones_the_service_reads() -> None:
    env = " ".join(_final()["ENV"])
    names = set(re.findall(r"\b((?:ACH_RISK|PLAID)_[A-Z0-9_]+)=", env))
    assert names == {"ACH_RISK_LISTEN", "ACH_RISK_LOG_FORMAT"}
    assert names <= names_read_by_service()
    assert "ACH_RISK_LISTEN=0.0.0.0:50051" in env
    assert "ACH_RISK_LOG_FORMAT=json" in env
    assert "PYTHONUNBUFFERED=1" in env


def test_dockerignore_keeps_the_context_small_but_complete() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", "node_modules", ".git", "tests", "var", "build"} <= ignored
    assert {".pytest_cache", ".mypy_cache", ".ruff_cache", "**/__pycache__"} <= ignored
    copied = {
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "requirements",
        "service",
        "plaid_emulator",
    }
    assert not copied & ignored


def test_every_package_of_the_wheel_is_copied_into_the_build() -> None:
    """A package pyproject.toml ships but the build stage lacks is silently left out
    of the wheel: the image would start without it."""
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {p.rstrip("*") for p in find["packages"]["find"]["include"]}
    assert packages == {"service", "plaid_emulator"}
    text = (ROOT / "Dockerfile").read_text()
    # pyproject.toml names README.md (long description) and LICENSE (license-files).
    assert "COPY pyproject.toml README.md LICENSE ./" in text
    assert (
        "COPY requirements/runtime.lock requirements/build.lock ./requirements/" in text
    )
    for package in packages:
        assert f"COPY {package} ./{package}" in text
