"""`prepare_gc`: what the collector and `dijkwacht detect` do to the garbage collector first."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from core.gc_tuning import COLLECTOR_YOUNG_THRESHOLD, GC_YOUNG_THRESHOLD, prepare_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_the_young_generation_is_larger() -> None:
    survivor = {"allocated": "at start-up"}
    _, middle, old = gc.get_threshold()
    prepare_gc()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, middle, old)
    # Frozen objects are left out of collections, not freed or changed.
    assert gc.collect() >= 0
    assert survivor == {"allocated": "at start-up"}


@pytest.mark.usefixtures("restored_gc")
def test_cycles_made_after_start_up_are_still_collected() -> None:
    prepare_gc()

    class Node:
        def __init__(self) -> None:
            self.me = self

    node = Node()
    ref = weakref.ref(node)
    del node
    gc.collect()
    assert ref() is None


@pytest.mark.usefixtures("restored_gc")
def test_the_collector_asks_for_a_young_generation_that_holds_a_batch() -> None:
    _, middle, old = gc.get_threshold()
    prepare_gc(young_threshold=COLLECTOR_YOUNG_THRESHOLD)
    assert gc.get_threshold() == (COLLECTOR_YOUNG_THRESHOLD, middle, old)
    assert COLLECTOR_YOUNG_THRESHOLD > GC_YOUNG_THRESHOLD
