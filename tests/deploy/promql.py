"""Just enough PromQL to say what an expression reads: the series it selects, with their
label matchers, and the labels it aggregates or matches by (with the series they apply to).

Not a PromQL parser: it knows the shapes the rules and the dashboard use (selectors,
functions, aggregations with `by`/`without` before or after their argument, binary
operators with `on`/`ignoring`/`group_left`), which is what the tests check."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""\s+
    | "(?:[^"\\]|\\.)*" | '(?:[^'\\]|\\.)*' | `[^`]*`   # strings
    | \[[^\]]*\]                                        # range and subquery windows
    | [A-Za-z_:][A-Za-z0-9_:]*                          # identifiers
    | [0-9][0-9.eE+]*[a-z]*                             # numbers and durations
    | =~ | !~ | != | == | >= | <=
    | \S""",
    re.VERBOSE,
)
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_OPERATORS = {"and", "or", "unless", "bool", "offset", "atan2"}
AGGREGATIONS = {
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
}


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # =, !=, =~, !~
    value: str


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[Matcher, ...]


@dataclass(frozen=True)
class Grouping:
    """`by`/`without` (every selector aggregated must carry each label) or
    `on`/`ignoring`/`group_*` (some selector of the expression must)."""

    clause: str
    labels: tuple[str, ...]
    over: tuple[Selector, ...]


@dataclass(frozen=True)
class Reads:
    selectors: tuple[Selector, ...]
    groupings: tuple[Grouping, ...]


def _unquote(token: str) -> str:
    if token.startswith("`"):
        return token[1:-1]
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def parse(expr: str) -> Reads:
    tokens = [t for t in _TOKEN.findall(expr) if not t.isspace()]
    closing = _matching_parens(tokens, expr)
    selectors: list[tuple[int, Selector]] = []
    pending: list[tuple[str, tuple[str, ...], tuple[int, int] | None]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token in _GROUPING:
            if following != "(":  # group_left without labels
                i += 1
                continue
            end = closing[i + 1]
            labels = tuple(t for t in tokens[i + 2 : end] if t != ",")
            span = None
            if token in ("by", "without"):
                previous = tokens[i - 1] if i else ""
                if previous in AGGREGATIONS:  # sum by (x) (expr)
                    start = end + 1
                    span = (start, closing[start])
                else:  # sum(expr) by (x)
                    span = (_opening(closing, i - 1), i - 1)
            pending.append((token, labels, span))
            i = end + 1
            continue
        if re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", token):
            aggregation = token in AGGREGATIONS and following in ("by", "without")
            if following == "(" or aggregation or token in _OPERATORS:
                i += 1  # a function, an aggregation or an operator
                continue
            matchers: list[Matcher] = []
            at = i
            if following == "{":
                i += 2
                while tokens[i] != "}":
                    label, op, value = tokens[i], tokens[i + 1], tokens[i + 2]
                    matchers.append(Matcher(label, op, _unquote(value)))
                    i += 3
                    if tokens[i] == ",":
                        i += 1
            selectors.append((at, Selector(token, tuple(matchers))))
        i += 1
    groupings = tuple(
        Grouping(
            clause,
            labels,
            tuple(
                s
                for at, s in selectors
                if span is None or span[0] < at < span[1]  # on/ignoring: all
            ),
        )
        for clause, labels, span in pending
    )
    return Reads(tuple(s for _, s in selectors), groupings)


def _matching_parens(tokens: list[str], expr: str) -> dict[int, int]:
    closing: dict[int, int] = {}
    stack: list[int] = []
    for i, token in enumerate(tokens):
        if token == "(":
            stack.append(i)
        elif token == ")":
            closing[stack.pop()] = i
    assert not stack, f"unbalanced parentheses in {expr!r}"
    return closing


def _opening(closing: dict[int, int], end: int) -> int:
    return next(start for start, stop in closing.items() if stop == end)


def alternatives(pattern: str) -> list[str]:
    """A regex matcher's top-level alternatives (`a|b(c|d)` -> `a`, `b(c|d)`)."""
    found, depth, current = [], 0, ""
    for char in pattern:
        if char == "|" and depth == 0:
            found.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    return [*found, current]
