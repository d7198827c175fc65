"""CPU-bound request work runs one job at a time per worker, first come first served.

A small ASGI app with the same queue as the service (``api.cpu_bound``) and jobs that
record when they run: jobs never overlap, start in the order their requests arrived, and
other requests are answered while a job runs.  The service's own sign, licence and verify
routes go through this queue (``test_api*.py`` exercise them; the real-server test sends
concurrent seals).
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
from fastapi import FastAPI, Request

from api.cpu_bound import install_cpu_queue, run_cpu_bound

JOB_SECONDS = 0.05


class _Recorder:
    """What the jobs saw: start order and the most jobs running at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started: list[int] = []

    def job(self, number: int) -> int:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.append(number)
        time.sleep(JOB_SECONDS)  # stands for the work; a second job would start meanwhile
        with self._lock:
            self.running -= 1
        return number


def _app(recorder: _Recorder) -> FastAPI:
    app = FastAPI()
    install_cpu_queue(app)

    @app.post("/job/{number}")
    async def job(request: Request, number: int) -> dict:
        return {"number": await run_cpu_bound(request, recorder.job, number)}

    @app.get("/ping")
    async def ping() -> dict:
        return {"pong": True}

    return app


async def _send_jobs(recorder: _Recorder, count: int) -> tuple[list[int], float, float]:
    """Job numbers answered, when the last job ended and when a ping sent meanwhile did."""
    transport = httpx.ASGITransport(app=_app(recorder))
    async with httpx.AsyncClient(transport=transport, base_url="http://queue") as client:

        async def job(number: int) -> int:
            await asyncio.sleep(number * JOB_SECONDS / 10)  # arrive in this order
            response = await client.post(f"/job/{number}")
            assert response.status_code == 200
            return response.json()["number"]

        async def ping() -> float:
            await asyncio.sleep(JOB_SECONDS)  # while the first jobs run or wait
            assert (await client.get("/ping")).status_code == 200
            return time.monotonic()

        started = time.monotonic()
        *numbers, pinged = await asyncio.gather(*(job(n) for n in range(count)), ping())
        return numbers, time.monotonic() - started, pinged - started


def test_jobs_run_one_at_a_time_in_arrival_order_and_other_requests_go_on() -> None:
    recorder, count = _Recorder(), 6
    numbers, total, pinged = asyncio.run(_send_jobs(recorder, count))
    assert numbers == list(range(count))
    assert recorder.most == 1
    assert recorder.started == list(range(count))
    assert total >= count * JOB_SECONDS  # one after another
    assert pinged < total - 2 * JOB_SECONDS  # not queued behind the jobs
