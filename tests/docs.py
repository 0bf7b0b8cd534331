"""The documentation a user reads, as the tests read it: the README and every page in
docs/, their fenced blocks, and the blocks marked to be run as pasted."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parents[1]
# Marks the ```sh block on the next line as runnable against `make run` (docs/development.md).
RUNNABLE = "<!-- runnable -->"
# A fenced block: its language and its text. Fences open and close at the line's start.
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def pages() -> list[Path]:
    """README.md, then docs/*.md in name order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def name(page: Path) -> str:
    """The page's path from the repository's root, for test ids and messages."""
    return page.relative_to(ROOT).as_posix()


@dataclass(frozen=True)
class Block:
    """One fenced block of a page, and whether the line before it marks it runnable."""

    page: Path
    language: str
    text: str
    runnable: bool


def blocks(page: Path) -> list[Block]:
    """Every fenced block of the page, in order."""
    text = page.read_text()
    found = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        runnable = before.strip() == RUNNABLE
        found.append(Block(page, match.group(1), match.group(2), runnable))
    return found
