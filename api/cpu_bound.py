"""CPU-bound request work — sealing, licence issuance, verification — one job at a time.

These jobs are Python code that holds the GIL almost throughout.  Run in Starlette's thread
pool (40 threads), the requests a worker process has in flight would all run at once and
take turns on the GIL every 5 ms: none finishes sooner, and the switching and the cache
misses of a dozen interleaved jobs cost some 15-25 % more CPU per seal (``bench/api_bench.py``,
2 workers, concurrency 8 and 32).  So each worker runs them one at a time, in arrival order,
while its event loop keeps reading requests and answers everything else (health, PKI,
lookups, authentication) from the ordinary thread pool.  Several cores are used by several
worker processes (``sealctl serve --workers N``), which do not share a GIL.

The price: in one worker, a long job (a 100-page verification) delays the seals queued
behind it instead of sharing the core with them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request

__all__ = ["install_cpu_queue", "run_cpu_bound"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


def install_cpu_queue(app: FastAPI) -> None:
    """Give ``app`` its queue of CPU-bound jobs: one at a time, first come first served."""
    app.state.cpu_jobs = anyio.CapacityLimiter(1)


async def run_cpu_bound(
    request: Request, function: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """``function(*args, **kwargs)`` in a worker thread, after the jobs queued before it
    (the arguments are type-checked against ``function``'s)."""
    jobs: anyio.CapacityLimiter = request.app.state.cpu_jobs
    return await anyio.to_thread.run_sync(partial(function, *args, **kwargs), limiter=jobs)
