"""process_* and python_gc_* under `ach-risk serve --workers N`, where prometheus_client's
own collectors cannot reach the supervisor's one endpoint.

Its multiprocess mode merges only the series workers write to files, and a collector runs
in the process that is scraped. So the two are rebuilt for a tree of processes:

- process_*: the supervisor reads /proc for itself and every live worker, as the process
  collector does for one process, and adds them up (CPU seconds, resident and virtual
  memory, open files): what the container as a whole uses. Start time and the file limit
  are the supervisor's. A worker that exits stops counting, so process_cpu_seconds_total
  can go down at a restart; rate() treats that as a counter reset.
- python_gc_*: each worker counts its collections from a gc callback into counters the
  files carry, summed over the workers, under the collector's names and labels.

docs/workers.md.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

# Summed over the tree; the rest are the supervisor's alone.
_SUMMED = frozenset(
    {
        "process_cpu_seconds",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
    }
)


class ProcessTreeCollector(Collector):
    """process_* for the supervisor (`root`) and the workers `pids()` names."""

    def __init__(self, root: int, pids: Callable[[], Iterable[int]]) -> None:
        self._root = root
        self._pids = pids
        self._readers: dict[int, ProcessCollector] = {}

    def _reader(self, pid: int) -> ProcessCollector:
        if pid not in self._readers:
            self._readers[pid] = ProcessCollector(pid=lambda: pid, registry=None)
        return self._readers[pid]

    def collect(self) -> Iterable[Metric]:
        live = {self._root, *self._pids()}
        for gone in self._readers.keys() - live:
            del self._readers[gone]
        families: dict[str, Metric] = {}
        totals: dict[str, float] = {}
        for pid in sorted(live):
            # A worker gone since pids() was read yields nothing.
            for family in self._reader(pid).collect():
                if pid == self._root:
                    families[family.name] = family
                if family.name in _SUMMED:
                    [sample] = family.samples
                    totals[family.name] = totals.get(family.name, 0.0) + sample.value
        for name, family in families.items():
            if name in totals:
                [sample] = family.samples
                family.samples = [sample._replace(value=totals[name])]
            yield family


class GcCounters:
    """python_gc_collections_total, python_gc_objects_collected_total and
    python_gc_objects_uncollectable_total by generation, counted as collections end."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, ["generation"], registry=registry)

        self._collections = counter(
            "python_gc_collections", "Number of times this generation was collected"
        )
        self._collected = counter(
            "python_gc_objects_collected", "Objects collected during gc"
        )
        self._uncollectable = counter(
            "python_gc_objects_uncollectable", "Uncollectable objects found during GC"
        )
        self._children = {
            generation: (
                self._collections.labels(str(generation)),
                self._collected.labels(str(generation)),
                self._uncollectable.labels(str(generation)),
            )
            for generation in range(len(gc.get_stats()))
        }
        gc.callbacks.append(self._stopped)

    def _stopped(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop":
            return
        collections, collected, uncollectable = self._children[info["generation"]]
        collections.inc()
        if info["collected"]:
            collected.inc(info["collected"])
        if info["uncollectable"]:
            uncollectable.inc(info["uncollectable"])

    def close(self) -> None:
        if self._stopped in gc.callbacks:
            gc.callbacks.remove(self._stopped)
