"""Running pyhanko-certvalidator's coroutines from synchronous code, cheaply.

certvalidator's API is ``async`` (it may fetch CRLs and OCSP answers), while our path
validation and revocation judgements are synchronous and never let it fetch.
``asyncio.run`` sets up and tears down a whole event loop per call — about 0.6 ms on
the reference machine, and a verified document makes ten such calls (each path and
each revocation statement).  One loop per thread serves them all instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")

_local = threading.local()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)`` on this thread's own, reused event loop.

    Like ``asyncio.run`` it refuses to run inside a running loop (``RuntimeError``); the
    API calls verification from worker threads and processes, never on its loop.
    """
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
    return loop.run_until_complete(coroutine)
