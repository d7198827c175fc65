"""Garbage collection paced by units of work, for batches that verify many documents.

Verifying a PDF leaves thousands of objects that refer to each other (pyHanko's objects
name their reader and container, asn1crypto's parsed values their parents): garbage that
only the cycle collector frees.  Paced by allocation counts (CPython's default
thresholds), the collector ran every few hundred objects, and its older-generation passes
traversed the whole long-lived heap — modules, caches, certificates — again and again:
a third of the CPU of an archive check went there (``bench/archive_check_bench.py``
measures it).

Here the collector is paused while one unit of work runs (:func:`one_unit`: a chunk of
records) and the young generations, where that unit's garbage is, are collected when it
ends: the unit's garbage is freed as promptly as before, the long-lived heap is not
traversed for it.  Every :data:`FULL_EVERY` units a full collection frees what survived
into the old generation (entries evicted from caches).  :func:`settle` freezes the heap a
batch process starts with, so that not even those full collections traverse it; only a
process that runs batches (``sealctl``, a batch worker) calls it, once.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["FULL_EVERY", "one_unit", "settle"]

FULL_EVERY = 16
"""Units of work between two full collections (a chunk of 32 records is a unit: a full
collection every 512 records)."""

_lock = threading.Lock()
_running = 0
"""Units running now, in any thread: the collector stays paused until the last ends."""
_units = 0
_enabled_before = True
"""Whether the collector was enabled when the first of the running units began."""
_settled = False


@contextmanager
def one_unit() -> Iterator[None]:
    """Run a unit of work with the collector paused; collect its garbage after it.

    Thread-safe: the collector is re-enabled (if it was enabled before the first unit)
    only when no unit runs any more.  A process that disabled the collector itself keeps
    it disabled; its units still collect their young garbage.
    """
    global _running, _units, _enabled_before
    with _lock:
        if _running == 0:
            _enabled_before = gc.isenabled()
            gc.disable()
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            _units += 1
            full = _units % FULL_EVERY == 0
            if _running == 0 and _enabled_before:
                gc.enable()
        # the young generations hold the unit's garbage; a full pass now and then frees
        # what lived long enough to be promoted
        gc.collect(2 if full else 1)


def settle() -> None:
    """Collect once, then freeze what is left (start-up's modules, settings, keys) out of
    every later collection.  Once per process; later calls do nothing.

    Only for processes that run batches: a frozen object is never examined again, so a
    long-running server that froze its caches would never free their evicted cycles.
    """
    global _settled
    with _lock:
        if _settled:
            return
        _settled = True
    gc.collect()
    gc.freeze()
