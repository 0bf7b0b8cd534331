"""Whether a PromQL expression reads only what exists: series the service exports (or
recording rules defined beside it), labels those series carry, and label values the code
can produce."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.deploy.exported import Exported, matches_some, values_of
from tests.deploy.promql import Matcher, Selector, alternatives, parse


@dataclass(frozen=True)
class Recorded:
    """A recording rule as a series: the labels it keeps, the series it is made of."""

    labels: frozenset[str]
    sources: tuple[Selector, ...]


def recorded_series(rules: dict[str, str]) -> dict[str, Recorded]:
    """Each recording rule (name -> expr), in file order: its labels are those its
    aggregations keep (`by`), its sources the exported series it reads, through any
    recording rule it reads in turn."""
    recorded: dict[str, Recorded] = {}
    for name, expr in rules.items():
        reads = parse(expr)
        labels = {
            label for g in reads.groupings if g.clause == "by" for label in g.labels
        }
        labels.discard("le")  # histogram_quantile consumes it
        sources: list[Selector] = []
        for selector in reads.selectors:
            if selector.metric in recorded:
                sources.extend(recorded[selector.metric].sources)
            else:
                sources.append(selector)
        recorded[name] = Recorded(frozenset(labels), tuple(sources))
    return recorded


def problems(expr: str, exported: Exported, recorded: dict[str, Recorded]) -> list[str]:
    """What `expr` reads that does not exist; empty when all of it does."""
    found: list[str] = []
    reads = parse(expr)

    def labels_of(metric: str) -> set[str] | None:
        if metric in recorded:
            return set(recorded[metric].labels)
        return exported.labels.get(metric)

    for selector in reads.selectors:
        labels = labels_of(selector.metric)
        if labels is None:
            found.append(f"{selector.metric} is not exported")
            continue
        for matcher in selector.matchers:
            if matcher.label not in labels:
                found.append(f"{selector.metric} has no label {matcher.label}")
                continue
            found += _bad_values(selector.metric, matcher.label, matcher, recorded)
    for grouping in reads.groupings:
        for label in grouping.labels:
            carriers = [labels_of(s.metric) or set() for s in grouping.over]
            if grouping.clause in ("by", "without"):
                missing = [
                    s.metric
                    for s, labels in zip(grouping.over, carriers, strict=True)
                    if label not in labels
                ]
                if missing or not grouping.over:
                    found.append(f"{grouping.clause} ({label}): not on {missing}")
            elif not any(label in labels for labels in carriers):
                found.append(f"{grouping.clause} ({label}): on no series read")
    return found


def _bad_values(
    metric: str, label: str, matcher: Matcher, recorded: dict[str, Recorded]
) -> list[str]:
    series = (
        [s.metric for s in recorded[metric].sources] if metric in recorded else [metric]
    )
    known: set[str] = set()
    for name in series:
        values = values_of(name, label)
        if values is None:
            return []  # free values (a caller, a reason, a job)
        known |= values
    if matcher.op in ("=", "!="):
        patterns = [re.escape(matcher.value)]
    else:
        patterns = alternatives(matcher.value)
    return [
        f'{metric}{{{label}{matcher.op}"{matcher.value}"}}: {pattern!r} matches '
        "no value the service produces"
        for pattern in patterns
        if not matches_some(pattern, known)
    ]
