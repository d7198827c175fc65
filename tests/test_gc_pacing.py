"""The collector paced by units of work: paused inside a unit, the unit's cyclic garbage
freed when it ends, old garbage freed by the periodic full pass, the heap frozen once."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from sealsvc import gc_pacing


class _Node:
    """An object in a reference cycle: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.me = self


def _cycle() -> weakref.ref[_Node]:
    return weakref.ref(_Node())


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.enable() if enabled else gc.disable()


def test_the_collector_is_paused_inside_a_unit_and_restored_after() -> None:
    assert gc.isenabled()
    with gc_pacing.one_unit():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_units_cyclic_garbage_is_freed_when_it_ends_not_before() -> None:
    with gc_pacing.one_unit():
        garbage = _cycle()
        for _ in range(10_000):  # allocations that would have triggered a collection
            _Node.__new__(_Node)
        assert garbage() is not None
    assert garbage() is None


def test_an_exception_in_a_unit_still_restores_the_collector() -> None:
    with pytest.raises(ZeroDivisionError), gc_pacing.one_unit():
        garbage = _cycle()
        1 / 0  # noqa: B018
    assert gc.isenabled()
    assert garbage() is None


def test_overlapping_units_keep_the_collector_paused_until_the_last_ends() -> None:
    with gc_pacing.one_unit():
        with gc_pacing.one_unit():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_process_that_disabled_the_collector_keeps_it_disabled() -> None:
    gc.disable()
    with gc_pacing.one_unit():
        garbage = _cycle()
    assert not gc.isenabled()
    assert garbage() is None


def test_old_garbage_waits_for_the_periodic_full_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gc_pacing, "_units", 0)
    node = _Node()
    old = weakref.ref(node)
    gc.collect(1)  # node survives a young collection: it is in the old generation now
    del node
    for _ in range(gc_pacing.FULL_EVERY - 1):
        with gc_pacing.one_unit():
            pass
        assert old() is not None
    with gc_pacing.one_unit():
        pass
    assert old() is None


def test_settle_freezes_the_heap_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gc_pacing, "_settled", False)
    gc.unfreeze()
    try:
        gc_pacing.settle()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        kept = [_Node() for _ in range(100)]
        gc_pacing.settle()
        assert gc.get_freeze_count() == frozen
        assert kept
    finally:
        gc.unfreeze()
