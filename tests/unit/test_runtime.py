"""The server's garbage-collector tuning."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from service.ops.runtime import GC_THRESHOLDS, tune_garbage_collector


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_young_collections_are_rarer() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0

    tune_garbage_collector()

    assert gc.get_freeze_count() > 0  # what start-up built is never walked again
    assert gc.get_threshold() == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] > 700  # CPython's default young threshold


@pytest.mark.usefixtures("restored_gc")
def test_the_collector_stays_on_and_still_collects_cycles() -> None:
    tune_garbage_collector()
    assert gc.isenabled()

    class Node:
        other: object

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b

    assert gc.collect() >= 2
