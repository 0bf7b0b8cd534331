"""Reading what the environment names: files, and secrets given plainly or as files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from service.domain.secret import Secret


def read_text(path: Path, problems: list[str]) -> str:
    """The file's text, or "" with the reason added to `problems`."""
    try:
        return path.read_text()
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror}")
        return ""


def read_secret(
    env: Mapping[str, str], name: str, problems: list[str]
) -> Secret | None:
    """NAME, or the contents of the file NAME_FILE (Kubernetes secret mounts)."""
    if env.get(f"{name}_FILE"):
        value = read_text(Path(env[f"{name}_FILE"]), problems).strip()
        return Secret(value) if value else None
    return Secret(env[name]) if env.get(name) else None
