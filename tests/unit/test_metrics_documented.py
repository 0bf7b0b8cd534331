"""Every series the service exports has its row in docs/operations.md's table of series, so an
operator reading a dashboard or an alert can look any of them up."""

from __future__ import annotations

import tempfile
from pathlib import Path

from prometheus_client import CollectorRegistry

from service.ops.metrics import Metrics
from service.ops.worker_metrics import WorkerMetrics

OPERATIONS = Path(__file__).parents[2] / "docs" / "operations.md"


def exported(registry: CollectorRegistry) -> set[str]:
    names = set()
    for family in registry.collect():
        suffix = "_total" if family.type == "counter" else ""
        names.add(family.name + suffix)
    return names


def test_every_series_has_a_row() -> None:
    table = {
        line for line in OPERATIONS.read_text().splitlines() if line.startswith("| `")
    }
    names = exported(Metrics(CollectorRegistry()).registry)
    with tempfile.TemporaryDirectory() as directory:
        names |= exported(WorkerMetrics(directory).registry)
    ours = {n for n in names if n.startswith(("achrisk_", "grpc_server_"))}
    assert len(ours) > 20
    undocumented = {n for n in ours if not any(f"`{n}`" in row for row in table)}
    assert not undocumented, (
        f"not in docs/operations.md's series: {sorted(undocumented)}"
    )
