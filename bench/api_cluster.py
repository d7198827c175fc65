"""``api_bench.py --nodes 2``: one node, then two at once, then both behind HAProxy.

    python bench/api_bench.py --nodes 2 [--workers 1] [--requests 60] [--concurrency 8]

Starts what ``tests/test_cluster.py`` starts — a PostgreSQL 15 server (durable defaults
here: ``fsync=on``), two ``sealctl serve`` nodes with their own empty data directories,
``--workers N`` each, and HAProxy with ``docs/deploy/haproxy.cfg`` — and measures, in the
same run, with the same load generator as ``api_bench.py``:

* ``POST /v1/seals/{code}/sign`` (B-T) and ``POST /v1/verify`` of documents the service
  has not seen ("new docs", what a citizen's upload costs);
* on node A alone; on A and B at the same time (per node and total); and through the
  proxy (HAProxy spreads the connections over both nodes).

The two nodes, PostgreSQL, HAProxy and the load generator share this machine's cores,
so two nodes cannot double one node's rate here: the "per CPU-s" column (requests per CPU
second of the nodes' processes) is the figure that carries over to a machine per node.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from api_bench import WARM_UP, Call, _Load, _load, _once, _percentile
from helpers.cluster_helpers import Cluster, running_cluster
from helpers.pdf_fixtures import chinese_pdf
from helpers.postgres import running_postgres
from rich.console import Console
from rich.table import Table

from sealsvc.licences import load_template

__all__ = ["NodeRow", "run_nodes"]

LEVEL = "B-T"


@dataclass(frozen=True)
class NodeRow:
    """One load's figures: a node's share, a total, or the proxy's."""

    endpoint: str
    setup: str
    """``1 node``, ``2 nodes`` or ``HAProxy``."""
    node: str
    """``A``, ``B``, ``total`` or ``both``."""
    requests: int
    errors: int
    rate: float
    per_cpu_second: float
    p50_ms: float
    p99_ms: float


def _row(endpoint: str, setup: str, node: str, loads: list[_Load]) -> NodeRow:
    latencies = [x for load in loads for x in load.tally.latencies] or [float("nan")]
    requests = len(latencies) + sum(sum(load.tally.failures.values()) for load in loads)
    cpu = sum(sum(load.server_cpu.values()) for load in loads)
    return NodeRow(
        endpoint=endpoint,
        setup=setup,
        node=node,
        requests=requests,
        errors=sum(sum(load.tally.failures.values()) for load in loads),
        rate=requests / max(load.wall for load in loads),
        per_cpu_second=requests / cpu if cpu else float("nan"),
        p50_ms=1000 * statistics.median(latencies),
        p99_ms=1000 * _percentile(latencies, 0.99),
    )


async def _together(*loads) -> list[_Load]:
    return list(await asyncio.gather(*loads))


def _bench_key(cluster: Cluster) -> str:
    created = cluster.sealctl(
        "apikey", "create", "--name", "bench", "--scopes", "sign,licence", "--dept", "ZZ-D26",
        "--rate", "100000000", "--json",
    )  # fmt: skip
    if created.returncode != 0:
        raise RuntimeError(created.stderr)
    return json.loads(created.stdout)["token"]


def _sealed(sign: Call, count: int) -> list[bytes]:
    documents = []
    for _ in range(count):
        status, body = asyncio.run(_once(sign))
        if status != 200:
            raise RuntimeError(f"sealing a document to verify answered {status}")
        documents.append(body)
    return documents


def _measure(
    endpoint: str,
    cluster: Cluster,
    calls: dict[str, Callable[[], Call | Iterator[Call]]],
    count: int,
    concurrency: int,
) -> list[NodeRow]:
    """A alone, A and B together, then the proxy; ``calls`` keyed ``a``, ``b``, ``proxy``
    make each load's request (or a fresh iterator of documents no load has sent)."""
    a, b = cluster.a.pid, cluster.b.pid
    alone = asyncio.run(_load(calls["a"](), (a,), count, concurrency))
    both = asyncio.run(
        _together(
            _load(calls["a"](), (a,), count, concurrency),
            _load(calls["b"](), (b,), count, concurrency),
        )
    )
    proxied = asyncio.run(_load(calls["proxy"](), (a, b), 2 * count, 2 * concurrency))
    return [
        _row(endpoint, "1 node", "A", [alone]),
        _row(endpoint, "2 nodes", "A", [both[0]]),
        _row(endpoint, "2 nodes", "B", [both[1]]),
        _row(endpoint, "2 nodes", "total", both),
        _row(endpoint, "HAProxy", "both", [proxied]),
    ]


def run_nodes(args: argparse.Namespace, console: Console) -> None:
    with tempfile.TemporaryDirectory(prefix="sealsvc-bench-") as tmp, running_postgres("") as pg:
        console.print(f"starting PostgreSQL, 2 nodes (--workers {args.workers}) and HAProxy …")
        with running_cluster(pg, Path(tmp), "api_bench", workers=args.workers) as cluster:
            code = cluster.a.demo_seal("ZZ-D26", args.algorithm).code
            headers = {
                "Authorization": f"Bearer {_bench_key(cluster)}",
                "Content-Type": "application/pdf",
            }
            path = f"/v1/seals/{code}/sign?level={LEVEL}"
            urls = {"a": cluster.a.url, "b": cluster.b.url, "proxy": cluster.proxy.url}
            signs = {k: Call.post(url, path, headers, chinese_pdf(1)) for k, url in urls.items()}
            console.print("sealing …")
            sign_calls = {k: (lambda call=call: call) for k, call in signs.items()}
            rows = _measure(f"sign {LEVEL}", cluster, sign_calls, args.requests, args.concurrency)
            # Unseen documents for every verify load (warm-up requests included).
            per_load = args.requests + WARM_UP
            console.print(f"sealing {6 * per_load} documents to verify …")
            documents = iter(_sealed(signs["proxy"], 6 * per_load))

            def unseen(key: str, loads: int = 1) -> Iterator[Call]:
                batch = [next(documents) for _ in range(loads * per_load)]
                return iter([Call.post(urls[key], "/v1/verify", headers, d) for d in batch])

            console.print("verifying …")
            verify_calls = {
                "a": lambda: unseen("a"),
                "b": lambda: unseen("b"),
                "proxy": lambda: unseen("proxy", 2),
            }
            rows += _measure(
                "verify, new docs", cluster, verify_calls, args.requests, args.concurrency
            )
            console.print(f"issuing {args.licences} licences through the proxy …")
            licence_seconds = _issue_licences(cluster.proxy.url, headers, code, args.licences)
            database_bytes = _database_bytes(cluster)
    _report(console, args, rows, database_bytes)
    console.print(
        f"licence issue (business_licence, {LEVEL}, one at a time through the proxy): "
        f"{licence_seconds * 1000:.0f} ms each (median of {args.licences})"
    )


def _issue_licences(url: str, headers: dict[str, str], code: str, count: int) -> float:
    """Issue ``count`` 营业执照 one after another; the median seconds per licence."""
    body = json.dumps(
        {
            "template": "business_licence",
            "data": load_template("business_licence").example,
            "seals": [code],
            "level": LEVEL,
        },
        ensure_ascii=False,
    ).encode()
    call = Call.post(url, "/v1/licences", {**headers, "Content-Type": "application/json"}, body)
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        status, answer = asyncio.run(_once(call))
        if status != 201:
            raise RuntimeError(f"licence issue answered {status}: {answer[:300]!r}")
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def _database_bytes(cluster: Cluster) -> dict[str, int]:
    """Rows and on-disk bytes (with TOAST and indexes) of the tables that grow with use."""
    import psycopg

    url = cluster.database_url.replace("postgresql+psycopg://", "postgresql://")
    sizes = {}
    with psycopg.connect(url) as connection:
        for table in ("audit_entries", "licences", "stored_files", "certificates"):
            row = connection.execute(
                f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}"  # noqa: S608  fixed table names
            ).fetchone()
            sizes[table] = row
    return sizes


def _report(console: Console, args, rows: list[NodeRow], database_bytes: dict) -> None:
    title = (
        f"sealsvc cluster: 2 nodes × {args.workers} worker(s) on one PostgreSQL "
        f"({args.algorithm}, concurrency {args.concurrency} per node)"
    )
    table = Table(title=title)
    columns = ("endpoint", "setup", "node", "requests", "errors", "req/s", "per CPU-s",
               "p50 ms", "p99 ms")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in columns[:3] else "right")
    for r in rows:
        table.add_row(
            r.endpoint, r.setup, r.node, str(r.requests), str(r.errors), f"{r.rate:.1f}",
            f"{r.per_cpu_second:.1f}", f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}",
        )  # fmt: skip
    console.print(table)
    for name, (count, size) in database_bytes.items():
        per_row = f"{size / count:.0f} bytes per row" if count else "empty"
        console.print(f"{name}: {count} rows, {size / 1024:.0f} KiB on disk, {per_row}")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    console.print(f"{os.cpu_count()} CPUs, load average {load}")
