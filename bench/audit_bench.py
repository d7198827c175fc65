"""Rows per second the audit hash chain sustains on PostgreSQL with 1, 2, 4 … writers.

    python bench/audit_bench.py [--writers 1 2 4] [--seconds 10] [--unsafe]

Every audited change appends to one chain: :func:`sealsvc.audit.append` locks the chain
head (``SELECT … FOR UPDATE``) and holds the lock until the transaction commits, so
appends from every node are serialised on one row, and each waits for the previous
commit's WAL flush.  That makes the chain the one part of the service that does not
scale out with nodes; this bench measures its ceiling.

It starts a throw-away PostgreSQL 15 server (PostgreSQL's durable defaults: ``fsync=on``,
``synchronous_commit=on``, unless ``--unsafe``), migrates an empty database, and runs N
writer *processes* at once (each its own connection, as N service nodes would), each
appending entries shaped like a ``seal.use`` entry (seal code, department, SHA-256
document hash, client details) for a fixed time, one entry per transaction.  It prints
rows/s, the p50/p99 transaction latency, and the bytes each entry takes on disk (table +
indexes, from ``pg_total_relation_size``), then verifies the whole chain
(:func:`sealsvc.audit.verify`): a benchmark that broke the chain would be worthless.

Beside the chain, the same processes insert the same rows into an unchained table with
no shared lock (``bench_unchained``): the rate PostgreSQL gives the same inserts when
they do not queue on one row — what partitioning the chain (one chain per node or per
department) could reach.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the PostgreSQL launcher is shared with the tests

from helpers.postgres import running_postgres  # noqa: E402

from sealsvc import audit  # noqa: E402
from sealsvc.db import Database  # noqa: E402

__all__ = ["WriterResult", "main"]


@dataclass(frozen=True)
class WriterResult:
    """What one run of N writers achieved."""

    table: str
    writers: int
    rows: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


_UNCHAINED = """
CREATE TABLE IF NOT EXISTS bench_unchained (
    id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT now(), actor VARCHAR(200),
    action VARCHAR(64), seal_code VARCHAR(32), department_code VARCHAR(32),
    document_hash VARCHAR(128), details TEXT, entry_hash VARCHAR(64))
"""


def _entry(writer: int, n: int) -> dict:
    """A ``seal.use``-shaped entry (the commonest one in a running service)."""
    return {
        "action": "seal.use",
        "actor": f"api:bench{writer}",
        "seal_code": "41010001000002",
        "department_code": "ZZ-D26",
        "document_hash": hashlib.sha256(f"{writer}:{n}".encode()).hexdigest(),
        "details": {"client": "127.0.0.1", "api_key": "0123456789abcdef", "level": "B-T"},
    }


def _write(database: Database, table: str, writer: int, n: int) -> None:
    entry = _entry(writer, n)
    with database.session() as session:
        if table == "audit_entries":
            audit.append(session, **entry)
        else:
            session.execute(
                text(
                    "INSERT INTO bench_unchained (actor, action, seal_code, department_code,"
                    " document_hash, details, entry_hash) VALUES (:actor, :action, :seal_code,"
                    " :department_code, :document_hash, :details, :hash)"
                ),
                {**entry, "details": str(entry["details"]), "hash": entry["document_hash"]},
            )


def _writer(url: str, table: str, writer: int, seconds: float, barrier, results) -> None:
    """One writer process: its own engine and connection, appends until time is up."""
    database = Database(url)
    _write(database, table, writer, -1)  # connect and warm up before the clock starts
    barrier.wait()
    latencies = []
    end = time.perf_counter() + seconds
    n = 0
    while (started := time.perf_counter()) < end:
        _write(database, table, writer, n)
        latencies.append(time.perf_counter() - started)
        n += 1
    results.put(latencies)
    database.dispose()


def measure(url: str, table: str, writers: int, seconds: float) -> WriterResult:
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(writers + 1), spawn.Queue()
    processes = [
        spawn.Process(target=_writer, args=(url, table, w, seconds, barrier, results))
        for w in range(writers)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    latencies = [latency for _ in processes for latency in results.get(timeout=600)]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    ordered = sorted(latencies)
    return WriterResult(
        table=table,
        writers=writers,
        rows=len(latencies),
        seconds=elapsed,
        p50_ms=1000 * statistics.median(ordered),
        p99_ms=1000 * ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
    )


def _bytes_per_row(database: Database, table: str) -> float:
    with database.session(read_only=True) as session:
        # The table names are the bench's own literals, not input.
        size = session.execute(text(f"SELECT pg_total_relation_size('{table}')")).scalar_one()
        rows = session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
    return size / rows


def run(args: argparse.Namespace, console: Console) -> None:
    settings = "-c fsync=off -c synchronous_commit=off" if args.unsafe else ""
    with running_postgres(settings) as server:
        server.execute('CREATE DATABASE "audit_bench"')
        url = server.url("audit_bench")
        database = Database(url)
        database.migrate()
        with database.session() as session:
            session.execute(text(_UNCHAINED))
        results = [
            measure(url, table, writers, args.seconds)
            for table in ("audit_entries", "bench_unchained")
            for writers in args.writers
        ]
        chain_bytes = _bytes_per_row(database, "audit_entries")
        with database.session(read_only=True) as session:
            report = audit.verify(session)
        database.dispose()
    durability = "fsync=off, synchronous_commit=off" if args.unsafe else "durable defaults"
    table = Table(title=f"audit chain on PostgreSQL 15 ({durability}), one entry per transaction")
    for column in ("table", "writers", "rows", "seconds", "rows/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for r in results:
        table.add_row(
            "audit chain" if r.table == "audit_entries" else "unchained inserts",
            str(r.writers),
            str(r.rows),
            f"{r.seconds:.1f}",
            f"{r.rate:.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
        )
    console.print(table)
    console.print(
        f"audit_entries on disk: {chain_bytes:.0f} bytes per entry (table, TOAST and indexes)"
    )
    verdict = "[green]intact[/]" if report.intact else f"[red]BROKEN[/]: {report.problems[:3]}"
    console.print(f"chain after the run: {report.entries} entries, {verdict}")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    console.print(f"{os.cpu_count()} CPUs, load average {load}")
    if not report.intact:
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=10.0, help="per run")
    parser.add_argument(
        "--unsafe", action="store_true", help="fsync=off, synchronous_commit=off (upper bound)"
    )
    args = parser.parse_args(argv)
    run(args, Console(width=120))


if __name__ == "__main__":
    main()
