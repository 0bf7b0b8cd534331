"""python_gc_* counted from gc's callbacks, as workers count them (ops/process_metrics.py):
the same names and labels as prometheus_client's collector, and the same counts gc reports."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry

from service.ops.process_metrics import GcCounters


def _value(registry: CollectorRegistry, name: str, generation: str) -> float:
    value = registry.get_sample_value(name, {"generation": generation})
    assert value is not None, name
    return value


def test_a_full_collection_is_counted_with_what_it_collected() -> None:
    registry = CollectorRegistry()
    counters = GcCounters(registry)
    try:
        for generation in ("0", "1", "2"):
            assert _value(registry, "python_gc_collections_total", generation) >= 0
        before = _value(registry, "python_gc_collections_total", "2")
        collected_before = _value(registry, "python_gc_objects_collected_total", "2")
        cycle: list[object] = []
        cycle.append(cycle)  # only the cycle collector frees it
        del cycle
        freed = gc.collect()
        assert _value(registry, "python_gc_collections_total", "2") == before + 1
        assert freed >= 1
        assert (
            _value(registry, "python_gc_objects_collected_total", "2")
            == collected_before + freed
        )
    finally:
        counters.close()
    assert counters._stopped not in gc.callbacks
