"""Sealing over HTTP next to sealing in-process, on the same PDF, seal and machine.

    python bench/api_bench.py [--requests 120] [--level B-T] [--algorithm rsa] [--workers 2]
    python bench/api_bench.py --nodes 2 [--workers 1] [--concurrency 8]   (bench/api_cluster.py)

Starts ``sealctl serve --workers N`` on a fresh data directory and a free localhost port
(first start: dev CAs, demo seals), creates a sign key with no practical rate limit, and
measures, with bounded request counts, requests per second and p50/p99 latency at
concurrency 1, 8 and 32 for

* ``POST /v1/seals/{code}/sign`` (raw ``application/pdf`` body, the 1-page test licence),
* ``POST /v1/verify`` with the sealed PDF — the same document every time, which after
  the first request the service answers from its verdict cache — and, at concurrency 1,
  with a different freshly sealed document every time ("new docs": no verdict cached,
  what an unseen upload costs).  The goal is p50 ≤ 20 ms at concurrency 1, shown for both.

Beside them: ``Sealer.seal`` of the same PDF in a loop in one process, and in N processes
at once (the in-process ceiling for N cores).  The goal is HTTP sealing with N workers at
≥ 70 % of the N-process in-process rate.  The load generator (this process: asyncio
writing pre-serialised HTTP/1.1 requests on keep-alive connections) runs on the same
machine and takes CPU from the server, so the ratio is a lower bound; its CPU per request
is shown ("client ms").  Non-200 answers and transport errors are counted (and named under
the table).  The server is stopped at the end.

Wall-clock rates depend on whatever else the machine runs, so each row also gives the rate
per CPU second spent by the sealing side (the server's process tree read from ``/proc``, or
the sealing processes): that ratio is what the HTTP layer costs, whatever the load.  The
"workers %" column shows how the server's workers shared that CPU (both cores in use, or
not).  The load average is printed with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the server launcher and test PDFs are shared

from helpers.local import TEST_PASSPHRASE  # noqa: E402
from helpers.pdf_fixtures import chinese_pdf  # noqa: E402
from helpers.server import ServerProcess, running_server  # noqa: E402

from sealsvc.config import Settings  # noqa: E402
from sealsvc.context import ServiceContext  # noqa: E402
from sealsvc.pades import Level, SealOptions  # noqa: E402
from sealsvc.sealing import Sealer  # noqa: E402

__all__ = ["Call", "Connection", "HttpResult", "InProcessResult", "main"]

GOAL = 0.70
VERIFY_P50_GOAL_MS = 20.0
"""POST /v1/verify at concurrency 1 (issue #15), read on both verify rows."""
CONCURRENCY = (1, 8, 32)
WARM_UP = 4
REQUEST_TIMEOUT = 300.0


@dataclass(frozen=True)
class HttpResult:
    """One endpoint at one concurrency: throughput and latency percentiles."""

    name: str
    concurrency: int
    requests: int
    errors: int
    failures: dict[str, int]
    """What the errors were: HTTP status or transport exception, with counts."""
    rate: float
    per_cpu_second: float
    """Requests per CPU second of the server's processes (all workers together)."""
    worker_shares: str
    """The workers' shares of the server's CPU, in per cent, largest first."""
    client_ms: float
    """CPU milliseconds per request spent by the load generator."""
    p50_ms: float
    p99_ms: float


def _cpu_by_process(root: int) -> dict[int, float]:
    """User + system CPU seconds of process ``root`` and each of its descendants (``/proc``)."""
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
    return {pid: times[pid] for pid in tree if pid in times}


def _cpu_of(roots: Sequence[int]) -> dict[int, float]:
    """:func:`_cpu_by_process` of several servers (the nodes of a cluster) together."""
    return {pid: s for root in roots for pid, s in _cpu_by_process(root).items()}


def _spent(before: dict[int, float], after: dict[int, float]) -> dict[int, float]:
    return {pid: seconds - before.get(pid, 0.0) for pid, seconds in after.items()}


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- the load generator ----------------------------------------------------------------------
#
# A few lines of asyncio on raw sockets instead of an HTTP client library: the generator
# shares the cores with the server, and httpx spent 2-3 ms of CPU per request (about a
# tenth of a seal) where this spends about 0.3 ms.  Each request is serialised once; a
# connection writes it, reads the status line and headers, and reads exactly
# Content-Length bytes of body (every answer of this API has one).


class ProtocolError(Exception):
    """An answer this minimal HTTP/1.1 client does not read (no Content-Length, bad line)."""


@dataclass(frozen=True)
class Call:
    """One HTTP/1.1 request to the server, serialised once and sent as is."""

    host: str
    port: int
    wire: bytes

    @classmethod
    def post(cls, url: str, path: str, headers: dict[str, str], body: bytes) -> Call:
        parsed = urlsplit(url)
        if parsed.hostname not in ("127.0.0.1", "localhost", "::1") or parsed.port is None:
            raise ValueError(f"the benchmark only loads a local server, not {url}")
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {parsed.netloc}",
            *(f"{name}: {value}" for name, value in headers.items()),
            f"Content-Length: {len(body)}",
        ]
        head = "\r\n".join(lines) + "\r\n\r\n"
        return cls(parsed.hostname, parsed.port, head.encode("latin-1") + body)


class Connection:
    """A keep-alive connection that sends :class:`Call` s one after another: the same one,
    or the next of an iterator that several connections may share."""

    def __init__(self, calls: Call | Iterator[Call]) -> None:
        self._calls = itertools.repeat(calls) if isinstance(calls, Call) else calls
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self) -> tuple[int, bytes]:
        """Status and body of one exchange; reconnects when the server closed the last one."""
        call = next(self._calls)
        if self._streams is None:
            self._streams = await asyncio.open_connection(call.host, call.port)
        reader, writer = self._streams
        try:
            writer.write(call.wire)
            status, close, length = await self._head(reader)
            body = await reader.readexactly(length)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status, body

    @staticmethod
    async def _head(reader: asyncio.StreamReader) -> tuple[int, bool, int]:
        status_line = await reader.readline()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {status_line[:80]!r}")
        close, length = parts[0] == b"HTTP/1.0", None
        while (line := await reader.readline()) not in (b"\r\n", b"\n"):
            if not line:
                raise ProtocolError("connection closed in the headers")
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                if not value.strip().isdigit():
                    raise ProtocolError(f"bad Content-Length {value[:40]!r}")
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                raise ProtocolError("chunked answers are not read by this client")
        if length is None:
            raise ProtocolError("an answer without Content-Length")
        return int(parts[1]), close, length

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    """Non-200 statuses and transport errors, by name."""


async def _exchange(connection: Connection, tally: _Tally) -> None:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            status, _ = await connection.send()
    except (OSError, EOFError, ProtocolError, TimeoutError) as exc:
        tally.failures[type(exc).__name__] += 1
        return
    tally.latencies.append(time.perf_counter() - started)
    if status != 200:
        tally.failures[str(status)] += 1


@dataclass(frozen=True)
class _Load:
    wall: float
    client_cpu: float
    server_cpu: dict[int, float]
    """CPU seconds per server process (supervisor and workers) during the measured requests."""
    tally: _Tally


async def _load(
    call: Call | Iterator[Call], server_pids: Sequence[int], count: int, concurrency: int
) -> _Load:
    """``count`` requests on ``concurrency`` keep-alive connections.

    The connections open one after another, each once the one before has had its warm-up
    requests answered.  uvicorn's workers share one listening socket, and connections that
    arrive in one burst tend to be accepted together by whichever worker wakes first (seen:
    25 and 31 of 32, or all 8 of 8, on one worker, at half the rate) while the other idles.
    Opened one by one, as a client's pool grows, each goes to either worker; the workers'
    shares of the server CPU are shown with each row.  The warm-up requests also
    make every worker build its caches (its first seal takes about half a second of CPU),
    which is not what a running service pays per request.
    """
    connections = [Connection(call) for _ in range(concurrency)]
    remaining = iter(range(count))
    tally = _Tally()

    async def connection_loop(
        connection: Connection, requests: Iterable[int], into: _Tally
    ) -> None:
        for _ in requests:
            await _exchange(connection, into)

    try:
        for connection in connections:
            await connection_loop(connection, range(max(1, WARM_UP // concurrency)), _Tally())
        before = _cpu_of(server_pids)
        started, client_cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(connection_loop(c, remaining, tally) for c in connections))
        wall, client_cpu = time.perf_counter() - started, time.process_time() - client_cpu
        return _Load(wall, client_cpu, _spent(before, _cpu_of(server_pids)), tally)
    finally:
        for connection in connections:
            connection.close()


def _is_worker(pid: int) -> bool:
    """A uvicorn worker: a process multiprocessing spawned (not its resource tracker)."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _worker_shares(spent: dict[int, float]) -> str:
    """How the workers shared the server's CPU, in per cent, largest first (``52/48``)."""
    workers = sorted((s for pid, s in spent.items() if _is_worker(pid)), reverse=True)
    total = sum(workers)
    return "/".join(f"{100 * s / total:.0f}" for s in workers) if total else "100"


async def _once(call: Call) -> tuple[int, bytes]:
    connection = Connection(call)
    try:
        return await connection.send()
    finally:
        connection.close()


def measure_http(
    name: str,
    server: ServerProcess,
    call: Call | Callable[[], Iterator[Call]],
    count: int,
    concurrencies: Iterable[int] = CONCURRENCY,
) -> list[HttpResult]:
    """Rows for ``call`` (the same request each time), or for the requests a fresh
    iterator from ``call()`` yields, shared by the connections (a new one each time)."""
    results = []
    for concurrency in concurrencies:
        calls = call if isinstance(call, Call) else call()
        load = asyncio.run(_load(calls, (server.pid,), count, concurrency))
        latencies = load.tally.latencies or [float("nan")]
        server_cpu = sum(load.server_cpu.values())
        results.append(
            HttpResult(
                name=name,
                concurrency=concurrency,
                requests=count,
                errors=sum(load.tally.failures.values()),
                failures=dict(load.tally.failures),
                rate=count / load.wall,
                per_cpu_second=count / server_cpu,
                worker_shares=_worker_shares(load.server_cpu),
                client_ms=1000 * load.client_cpu / count,
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


def _bench_key(server: ServerProcess, department: str) -> str:
    created = server.sealctl(
        "apikey", "create", "--name", "bench", "--scopes", "sign",
        "--dept", department, "--rate", "100000000", "--json",
    )  # fmt: skip
    if created.returncode != 0:
        raise RuntimeError(created.stderr)
    return json.loads(created.stdout)["token"]


def run(args: argparse.Namespace, console: Console) -> None:
    with tempfile.TemporaryDirectory(prefix="sealsvc-bench-") as tmp:
        directory = Path(tmp)
        console.print(f"starting sealctl serve --workers {args.workers} …")
        with running_server(directory / "data", workers=args.workers) as server:
            seal = server.demo_seal("ZZ-D26", args.algorithm)
            headers = {
                "Authorization": f"Bearer {_bench_key(server, seal.department)}",
                "Content-Type": "application/pdf",
            }
            pdf = chinese_pdf(1)
            sign = Call.post(
                server.url, f"/v1/seals/{seal.code}/sign?level={args.level}", headers, pdf
            )
            console.print(f"in-process Sealer.seal of seal {seal.code} ({seal.algorithm}) …")
            in_process = [
                measure_in_process(server.data_dir, seal.code, args.level, args.in_process, n)
                for n in sorted({1, args.workers})
            ]
            console.print("HTTP …")
            results = measure_http(f"sign {args.level}", server, sign, args.requests)
            status, sealed = asyncio.run(_once(sign))
            if status != 200:
                raise RuntimeError(f"sealing the PDF to verify answered {status}")
            verify = Call.post(server.url, "/v1/verify", headers, sealed)
            results += measure_http("verify", server, verify, args.requests)
            # The same document again is answered from the verdict cache; a document the
            # service has not seen is the cold case: as many freshly sealed ones as requests.
            console.print(f"sealing {args.requests + WARM_UP} more documents to verify …")
            others = []
            for _ in range(args.requests + WARM_UP):
                status, other = asyncio.run(_once(sign))
                if status != 200:
                    raise RuntimeError(f"sealing a PDF to verify answered {status}")
                others.append(Call.post(server.url, "/v1/verify", headers, other))
            results += measure_http(
                "verify, new docs", server, lambda: iter(others), args.requests, (1,)
            )
    _report(console, args, in_process, results)


def _report(
    console: Console,
    args: argparse.Namespace,
    in_process: list[InProcessResult],
    results: list[HttpResult],
) -> None:
    what = f"{args.algorithm}, {args.level}"
    table = Table(title=f"sealsvc HTTP, {args.workers} workers, vs in-process ({what})")
    columns = (
        "what", "conc.", "requests", "errors", "req/s", "per CPU-s", "workers %", "p50 ms",
        "p99 ms", "client ms",
    )  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "what" else "right")
    for r in in_process:
        table.add_row(
            f"Sealer.seal, {r.processes} proc.",
            "-",
            str(r.seals),
            "0",
            f"{r.rate:.1f}",
            f"{r.per_cpu_second:.1f}",
        )
    for r in results:
        table.add_row(
            f"HTTP {r.name}",
            str(r.concurrency),
            str(r.requests),
            str(r.errors),
            f"{r.rate:.1f}",
            f"{r.per_cpu_second:.1f}",
            r.worker_shares,
            f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}",
            f"{r.client_ms:.2f}",
        )
    console.print(table)
    for r in results:
        if r.failures:
            named = ", ".join(f"{n} × {what}" for what, n in sorted(r.failures.items()))
            console.print(f"[red]errors[/] in {r.name} at concurrency {r.concurrency}: {named}")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    console.print(f"{os.cpu_count()} CPUs, load average {load}")
    for r in results:
        if r.name.startswith("verify") and r.concurrency == 1:
            met = "[green]meets[/]" if r.p50_ms <= VERIFY_P50_GOAL_MS else "[red]misses[/]"
            console.print(
                f"HTTP {r.name}, concurrency 1: p50 {r.p50_ms:.1f} ms — {met} the"
                f" {VERIFY_P50_GOAL_MS:g} ms goal"
            )
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
    parser.add_argument("--workers", type=int, default=2, help="per node")
    parser.add_argument(
        "--nodes", type=int, default=1, choices=[1, 2],
        help="2: one node vs two on one PostgreSQL, and HAProxy (bench/api_cluster.py)",
    )  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=8, help="per node, with --nodes 2")
    parser.add_argument(
        "--licences", type=int, default=10, help="issued for their sizes, with --nodes 2"
    )
    args = parser.parse_args(argv)
    if args.nodes == 2:
        from api_cluster import run_nodes  # it imports this module's load generator

        run_nodes(args, Console(width=120))
        return
    run(args, Console(width=120))


if __name__ == "__main__":
    main()
