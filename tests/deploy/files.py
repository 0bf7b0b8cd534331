"""The deployment files as data, the environment names the service reads, and the linters."""

from __future__ import annotations

import re
import shutil
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
COMPOSE = ROOT / "deploy" / "compose"
SECRETS_MOUNT = "/run/secrets/ach-risk/"
CONFIG_MOUNT = "/etc/ach-risk/"
# What the Dockerfile's build stage copies to build the wheel (test_dockerfile.py checks
# the COPY lines).
BUILD_CONTEXT = ("pyproject.toml", "README.md", "LICENSE", "service", "plaid_emulator")


def copy_build_context(destination: Path) -> Path:
    """The wheel's sources as the build stage has them, in `destination` (created)."""
    destination.mkdir()
    for name in BUILD_CONTEXT:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name,
                destination / name,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            shutil.copy2(ROOT / name, destination / name)
    return destination


def load(path: Path) -> dict[str, Any]:
    """One YAML document as a dict."""
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), f"{path}: expected one mapping"
    return loaded


def manifests() -> list[Path]:
    """Every Kubernetes manifest (the kustomization is a list of them, not a resource)."""
    return sorted(
        p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml"
    )


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    found: dict[str, Any] = containers[0]
    return found


def container_port(deployment: dict[str, Any], name: str) -> int:
    ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
    port: int = ports[name]
    return port


@cache
def service_sources() -> str:
    """The service's own Python source (generated protobuf code excluded)."""
    files = sorted((ROOT / "service").rglob("*.py"))
    return "\n".join(p.read_text() for p in files if "_proto" not in p.parts)


def secret_names() -> set[str]:
    """Variables read through read_secret(): NAME, or the file named by NAME_FILE."""
    return set(re.findall(r'_secret\(\s*env,\s*"([A-Z0-9_]+)"', service_sources()))


def names_read_by_service() -> set[str]:
    """Every name the source reads as env.get("NAME") or env["NAME"], plus secrets' _FILE."""
    read = re.findall(r'env(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]+)"', service_sources())
    secrets = secret_names()
    return set(read) | secrets | {f"{name}_FILE" for name in secrets}


def venv_tool(name: str) -> Path:
    """A command-line tool installed beside this interpreter (the dev dependencies)."""
    path = Path(sys.executable).parent / name
    if not path.is_file():
        pytest.fail(
            f"{name} is not installed in {path.parent}: install the dev dependencies "
            "(pip install -e '.[dev]'), which include it"
        )
    return path
