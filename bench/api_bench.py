"""Sealing over HTTP next to sealing in-process, on the same PDF, seal and machine.

    python bench/api_bench.py [--requests 120] [--level B-T] [--algorithm rsa] [--workers 2]

Starts ``sealctl serve --workers N`` on a fresh data directory and a free localhost port
(first start: dev CAs, demo seals), creates a sign key with no practical rate limit, and
measures, with bounded request counts, requests per second and p50/p99 latency at
concurrency 1, 8 and 32 for

* ``POST /v1/seals/{code}/sign`` (raw ``application/pdf`` body, the 1-page test licence),
* ``POST /v1/verify`` with the sealed PDF if the server has that endpoint, and otherwise
  ``POST /pki/rsa/tsa`` (an RFC 3161 query made by ``openssl ts -query``).

Beside them: ``Sealer.seal`` of the same PDF in a loop in one process, and in N processes
at once (the in-process ceiling for N cores).  The goal is HTTP sealing with N workers at
≥ 70 % of the N-process in-process rate.  The load generator (one asyncio process with
httpx) runs on the same machine and takes CPU from the server, so the ratio is a lower
bound.  The server is stopped at the end.

Wall-clock rates depend on whatever else the machine runs, so each row also gives the rate
per CPU second spent by the sealing side (the server's process tree read from ``/proc``, or
the sealing processes): that ratio is what the HTTP layer costs, whatever the load.  The
load average is printed with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the server launcher and test PDFs are shared

from api_fixtures import LiveServer, run_server  # noqa: E402
from conftest import TEST_PASSPHRASE  # noqa: E402
from pdf_fixtures import chinese_pdf  # noqa: E402

from sealsvc.config import Settings  # noqa: E402
from sealsvc.context import ServiceContext  # noqa: E402
from sealsvc.pades import Level, SealOptions  # noqa: E402
from sealsvc.sealing import Sealer  # noqa: E402

__all__ = ["HttpResult", "InProcessResult", "main"]

GOAL = 0.70
CONCURRENCY = (1, 8, 32)
WARM_UP = 4


@dataclass(frozen=True)
class HttpResult:
    """One endpoint at one concurrency: throughput and latency percentiles."""

    name: str
    concurrency: int
    requests: int
    errors: int
    rate: float
    per_cpu_second: float
    """Requests per CPU second of the server's processes (all workers together)."""
    p50_ms: float
    p99_ms: float


def _cpu_seconds(root: int) -> float:
    """User + system CPU time of process ``root`` and all its descendants, from ``/proc``."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {root}, True
    while grew:
        grown = tree | {pid for pid, parent in parents.items() if parent in tree}
        grew, tree = grown != tree, grown
    return sum(times.get(pid, 0.0) for pid in tree)


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _load(
    url: str, send: Callable[[httpx.AsyncClient], object], count: int, concurrency: int
) -> tuple[float, list[float], int]:
    """``count`` requests, ``concurrency`` in flight: wall time, latencies, failures."""
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(count))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for _ in remaining:
            started = time.perf_counter()
            response = await send(client)
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 200

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as client:
        for _ in range(WARM_UP):  # every worker process builds its caches first
            await send(client)
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, errors


def measure_http(
    name: str, server: LiveServer, send: Callable[[httpx.AsyncClient], object], count: int
) -> list[HttpResult]:
    results = []
    for concurrency in CONCURRENCY:
        cpu = _cpu_seconds(server.process.pid)
        elapsed, latencies, errors = asyncio.run(_load(server.url, send, count, concurrency))
        cpu = _cpu_seconds(server.process.pid) - cpu  # includes the few warm-up requests
        results.append(
            HttpResult(
                name=name,
                concurrency=concurrency,
                requests=count,
                errors=errors,
                rate=count / elapsed,
                per_cpu_second=(count + WARM_UP) / cpu,
                p50_ms=1000 * statistics.median(latencies),
                p99_ms=1000 * _percentile(latencies, 0.99),
            )
        )
    return results


# --- in-process ----------------------------------------------------------------------------


def _seal_loop(data_dir: str, code: str, level: str, count: int, barrier, results) -> None:
    """One process: build a context like an API worker, warm up, then seal ``count`` times."""
    settings = Settings.load(data_dir, {"SEALSVC_PASSPHRASE": TEST_PASSPHRASE})
    context = ServiceContext(settings)
    sealer = Sealer(context)
    pdf, options = chinese_pdf(1), SealOptions(level=Level(level))
    for _ in range(WARM_UP):
        sealer.seal(pdf, code, options, actor="bench:in-process")
    barrier.wait()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        sealer.seal(pdf, code, options, actor="bench:in-process")
    results.put((time.perf_counter() - started, time.process_time() - cpu))
    context.close()


@dataclass(frozen=True)
class InProcessResult:
    processes: int
    seals: int
    rate: float
    per_cpu_second: float


def measure_in_process(
    data_dir: Path, code: str, level: str, count: int, processes: int
) -> InProcessResult:
    """``processes`` processes sealing at the same time: seals per second, per CPU second."""
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(processes), spawn.Queue()
    workers = [
        spawn.Process(target=_seal_loop, args=(str(data_dir), code, level, count, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    measured = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    seals = processes * count
    return InProcessResult(
        processes=processes,
        seals=seals,
        rate=seals / max(wall for wall, _ in measured),
        per_cpu_second=seals / sum(cpu for _, cpu in measured),
    )


# --- the run ---------------------------------------------------------------------------------


def _bench_key(server: LiveServer, department: str) -> str:
    created = server.sealctl(
        "apikey", "create", "--name", "bench", "--scopes", "sign,verify",
        "--dept", department, "--rate", "100000000", "--json",
    )  # fmt: skip
    if created.returncode != 0:
        raise RuntimeError(created.stderr)
    return json.loads(created.stdout)["token"]


def _timestamp_query(directory: Path) -> bytes:
    document = directory / "document.txt"
    document.write_text("bench\n")
    query = directory / "q.tsq"
    subprocess.run(
        ["openssl", "ts", "-query", "-data", document, "-sha256", "-cert", "-out", query],
        check=True,
        capture_output=True,
    )
    return query.read_bytes()


def run(args: argparse.Namespace, console: Console) -> None:
    with tempfile.TemporaryDirectory(prefix="sealsvc-bench-") as tmp:
        directory = Path(tmp)
        console.print(f"starting sealctl serve --workers {args.workers} …")
        with run_server(directory / "data", workers=args.workers) as server:
            seal = server.demo_seal("ZZ-D26", args.algorithm)
            headers = {"Authorization": f"Bearer {_bench_key(server, seal.department)}"}
            pdf, path = chinese_pdf(1), f"/v1/seals/{seal.code}/sign"

            def sign(client: httpx.AsyncClient):
                return client.post(
                    path,
                    content=pdf,
                    params={"level": args.level},
                    headers={**headers, "Content-Type": "application/pdf"},
                )

            console.print(f"in-process Sealer.seal of seal {seal.code} ({seal.algorithm}) …")
            in_process = [
                measure_in_process(server.data_dir, seal.code, args.level, args.in_process, n)
                for n in sorted({1, args.workers})
            ]
            console.print("HTTP …")
            results = measure_http(f"sign {args.level}", server, sign, args.requests)
            paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
            if "/v1/verify" in paths:
                sealed = httpx.post(
                    f"{server.url}{path}",
                    content=pdf,
                    headers={**headers, "Content-Type": "application/pdf"},
                    timeout=60,
                ).content

                def second(client: httpx.AsyncClient):
                    return client.post(
                        "/v1/verify",
                        content=sealed,
                        headers={**headers, "Content-Type": "application/pdf"},
                    )

                second_name = "verify"
            else:
                query = _timestamp_query(directory)

                def second(client: httpx.AsyncClient):
                    return client.post(
                        "/pki/rsa/tsa",
                        content=query,
                        headers={"Content-Type": "application/timestamp-query"},
                    )

                second_name = "TSA (RFC 3161)"
            results += measure_http(second_name, server, second, args.requests)
    _report(console, args, in_process, results)


def _report(
    console: Console,
    args: argparse.Namespace,
    in_process: list[InProcessResult],
    results: list[HttpResult],
) -> None:
    table = Table(title=f"sealsvc HTTP vs in-process ({args.algorithm}, {args.level})")
    columns = ("what", "conc.", "requests", "errors", "req/s", "per CPU-s", "p50 ms", "p99 ms")
    for column in columns:
        table.add_column(column, justify="left" if column == "what" else "right")
    for r in in_process:
        table.add_row(
            f"Sealer.seal, {r.processes} process{'es' if r.processes > 1 else ''}",
            "-",
            str(r.seals),
            "0",
            f"{r.rate:.1f}",
            f"{r.per_cpu_second:.1f}",
        )
    for r in results:
        table.add_row(
            f"HTTP {r.name}, {args.workers} workers",
            str(r.concurrency),
            str(r.requests),
            str(r.errors),
            f"{r.rate:.1f}",
            f"{r.per_cpu_second:.1f}",
            f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}",
        )
    console.print(table)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    console.print(f"{os.cpu_count()} CPUs, load average {load}")
    signs = [r for r in results if r.name.startswith("sign")]
    best, ceiling = max(signs, key=lambda r: r.rate), in_process[-1]
    ratio = best.rate / ceiling.rate
    verdict = "[green]meets[/]" if ratio >= GOAL else "[red]misses[/]"
    console.print(
        f"HTTP sealing, best concurrency ({best.concurrency}): {best.rate:.1f}/s = {ratio:.0%} "
        f"of {ceiling.processes}-process in-process {ceiling.rate:.1f}/s — {verdict} the "
        f"{GOAL:.0%} goal; per CPU second "
        f"{best.per_cpu_second / ceiling.per_cpu_second:.0%} of in-process"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=120, help="per endpoint and concurrency")
    parser.add_argument("--in-process", type=int, default=60, help="seals per process")
    parser.add_argument("--level", default="B-T", choices=[level.value for level in Level])
    parser.add_argument("--algorithm", default="rsa", choices=["rsa", "sm2"])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    run(args, Console(width=110))


if __name__ == "__main__":
    main()
