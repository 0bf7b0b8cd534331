"""The server's garbage-collector tuning, judged by what the collector does."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from service.ops.runtime import tune_garbage_collector

CPYTHON_DEFAULT_THRESHOLDS = (700, 10, 10)
BURST = 200_000  # container objects allocated and kept alive, as in-flight calls do


@pytest.fixture(autouse=True)
def restored_gc() -> Iterator[None]:
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    if enabled:
        gc.enable()


def collections_during_a_burst() -> int:
    """How many automatic collections allocating BURST live lists sets off."""
    collections = 0

    def count(phase: str, info: dict[str, Any]) -> None:
        nonlocal collections
        if phase == "start":
            collections += 1

    gc.callbacks.append(count)
    try:
        kept: list[list[object]] = [[] for _ in range(BURST)]
    finally:
        gc.callbacks.remove(count)
    del kept
    return collections


def test_an_allocation_burst_sets_off_far_fewer_collections_than_by_default() -> None:
    gc.set_threshold(*CPYTHON_DEFAULT_THRESHOLDS)
    by_default = collections_during_a_burst()

    tune_garbage_collector()
    tuned = collections_during_a_burst()

    assert by_default >= BURST // 700  # the baseline really is CPython's
    assert tuned * 20 <= by_default


def test_objects_built_before_tuning_are_never_walked_again() -> None:
    gc.unfreeze()
    built_at_start_up: list[object] = []
    assert any(o is built_at_start_up for o in gc.get_objects())

    tune_garbage_collector()

    # Frozen objects sit in the permanent generation, which no collection visits
    # and gc.get_objects() does not list.
    assert gc.get_freeze_count() > 0
    assert not any(o is built_at_start_up for o in gc.get_objects())


def test_cycles_are_still_collected_without_being_asked() -> None:
    tune_garbage_collector()

    class Node:
        other: object

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    assert gone() is not None  # a cycle outlives its last reference until collected

    young_threshold = gc.get_threshold()[0]
    kept: list[list[object]] = [
        [] for _ in range(3 * young_threshold)
    ]  # no gc.collect(): automatic only

    assert gone() is None
    del kept
