"""Every relative link in the README and docs/*.md leads somewhere: the file exists, and
an anchor (#…) names a heading of that page as GitHub spells heading anchors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import docs

_FENCED = re.compile(r"^```.*?^```$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+).*?\1", re.DOTALL)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} +(.+?) *#* *$", re.MULTILINE)


def prose(text: str) -> str:
    """The page without fenced blocks and code spans, where a link is only text."""
    return _CODE_SPAN.sub("", _FENCED.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lowercased, links and code marks
    dropped, punctuation but hyphens and underscores removed, spaces made hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a page, with GitHub's -1, -2 … for repeated ones."""
    seen: dict[str, int] = {}
    found = set()
    for heading in _HEADING.findall(_FENCED.sub("", page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links() -> list[tuple[Path, str]]:
    """(page, target) for every link that is not a URL with a scheme (http:, mailto: …)."""
    return [
        (page, target)
        for page in docs.pages()
        for target in _LINK.findall(prose(page.read_text()))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)
    ]


LINKS = relative_links()


def test_the_pages_link_to_each_other() -> None:
    assert len(LINKS) > 50
    linked = {docs.name(page) for page, _ in LINKS}
    assert {"README.md", "docs/operations.md", "docs/load-testing.md"} <= linked


@pytest.mark.parametrize(
    ("page", "target"), LINKS, ids=[f"{docs.name(p)}->{t}" for p, t in LINKS]
)
def test_the_link_leads_somewhere(page: Path, target: str) -> None:
    path, _, anchor = target.partition("#")
    destination = (page.parent / path).resolve() if path else page
    relative = destination.relative_to(docs.ROOT).as_posix()
    assert destination.exists(), f"{relative} does not exist"
    if anchor:
        assert destination.suffix == ".md", "anchors are checked in Markdown pages only"
        assert anchor in anchors(destination), f"no heading #{anchor} in {relative}"


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        (
            "Past Plaid's rate limits: refused here, before Plaid",
            "past-plaids-rate-limits-refused-here-before-plaid",
        ),
        ("`make bench`", "make-bench"),
        ("The ghz configs in `bench/ghz/`", "the-ghz-configs-in-benchghz"),
        (
            "1. ACH, Balance-only ruleset → a live balance",
            "1-ach-balance-only-ruleset--a-live-balance",
        ),
        ("Workers, and the scaling on paper", "workers-and-the-scaling-on-paper"),
    ],
)
def test_slugs_follow_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor
