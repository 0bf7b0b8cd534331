"""Every block of the README and docs/ marked `<!-- runnable -->` runs as pasted.

The marker and what it promises are in docs/development.md ("Docs that run"): the block
runs with `bash -euo pipefail` in an empty directory holding a `.venv` link, against a
service started as `make run` starts it; it must exit 0 and print every line of the
```text block after it that elides nothing.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.run import find_ghz, find_grpcurl
from tests import docs, processes

# make run's addresses, as the blocks name them; the test serves on free ports instead.
DOCUMENTED_ADDRESS = "127.0.0.1:50051"
DOCUMENTED_METRICS = "127.0.0.1:9464"
ELIDED = ("…", "...")


def runnable_blocks() -> list[tuple[docs.Block, str | None]]:
    """Each marked block and the output shown after it, if a ```text block follows."""
    found = []
    for page in docs.pages():
        blocks = docs.blocks(page)
        for block, after in itertools.pairwise([*blocks, None]):
            assert block is not None
            if block.runnable:
                shown = after.text if after and after.language == "text" else None
                found.append((block, shown))
    return found


RUNNABLE = runnable_blocks()


def shown_lines(shown: str | None) -> list[str]:
    """The lines of the shown output that must be printed: all but elisions and blanks."""
    if shown is None:
        return []
    lines = (line.strip() for line in shown.splitlines())
    return [line for line in lines if line and not any(e in line for e in ELIDED)]


def test_the_marker_is_used_where_it_should_be() -> None:
    """Marked blocks are shell, and the README's ghz line and a grpcurl listing, the
    metrics, the health check, the CLI and the descriptor set are among them."""
    assert all(block.language == "sh" for block, _ in RUNNABLE)
    pages = {docs.name(block.page) for block, _ in RUNNABLE}
    assert {
        "README.md",
        "docs/calls.md",
        "docs/operations.md",
        "docs/configuration.md",
        "docs/load-testing.md",
    } <= pages
    readme = [block.text for block, _ in RUNNABLE if block.page.name == "README.md"]
    assert any("ghz" in text for text in readme)
    every = "\n".join(block.text for block, _ in RUNNABLE)
    for command in ("grpcurl", "ghz", "ach-risk protoset", "ach-risk health", "curl"):
        assert command in every


def test_a_marker_on_a_block_is_seen_and_only_there(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- runnable -->\n```sh\necho one\n```\n\n```sh\necho two\n```\n")
    assert [(b.text, b.runnable) for b in docs.blocks(page)] == [
        ("echo one\n", True),
        ("echo two\n", False),
    ]


@pytest.fixture(scope="module")
def tools_path() -> str:
    """The directories of ghz and grpcurl (installed pinned with Go when missing)."""
    try:
        tools = {Path(find_ghz()).parent, Path(find_grpcurl()).parent}
    except SystemExit as missing:
        pytest.skip(str(missing))
    return os.pathsep.join(str(d) for d in tools)


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[processes.Process, str]]:
    workdir = tmp_path_factory.mktemp("make-run")
    served, metrics = processes.start_like_make_run(workdir)
    try:
        yield served, metrics
    finally:
        assert served.stop() == 0


@pytest.mark.parametrize(
    ("block", "shown"),
    RUNNABLE,
    ids=[f"{docs.name(b.page)}:{i}" for i, (b, _) in enumerate(RUNNABLE)],
)
def test_the_block_runs_as_pasted(
    block: docs.Block,
    shown: str | None,
    service: tuple[processes.Process, str],
    tools_path: str,
    tmp_path: Path,
) -> None:
    served, metrics = service
    # From an empty directory, `.venv/bin/...` works as it does from the repository.
    (tmp_path / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    script = block.text.replace(DOCUMENTED_ADDRESS, served.address).replace(
        DOCUMENTED_METRICS, metrics
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PLAID_", "ACH_RISK_"))
    }
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), tools_path, env["PATH"]]
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    printed = {line.strip() for line in done.stdout.splitlines()}
    missing = [line for line in shown_lines(shown) if line not in printed]
    assert not missing, done.stdout
