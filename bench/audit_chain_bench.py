"""Audit entries per second on one PostgreSQL with one writer and with several at once.

    python bench/audit_chain_bench.py --url postgresql://user@host/db [--rows 400] [--writers 1,2,4]

Every sealing and every lifecycle change appends one entry to the one hash chain, under the
row lock of its head (``sealsvc.audit``): the chain is what several nodes must share most
tightly, so its rate bounds the cluster's sealing rate whatever the nodes add.  Each
writer is a separate process (a node, as far as PostgreSQL can tell) with its own
connection; each appends ``rows / writers`` entries, one transaction each (as a seal
does), after all have imported and connected (only the appends are timed).  The chain is
verified afterwards.  The database is migrated if needed; entries are added to whatever
log it holds, so use a scratch database.  The load average is printed with the table:
the rate depends on what else the machine runs and on the disk's flush latency.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

from sqlalchemy import text

from sealsvc import audit
from sealsvc.db import Database


def _writer(url: str, count: int, start: multiprocessing.Barrier, out: multiprocessing.Queue):
    database = Database(url)
    with database.session(read_only=True) as session:  # connect before the clock starts
        session.execute(text("SELECT 1"))
    start.wait()
    began = time.perf_counter()
    for item in range(count):
        with database.session() as session:
            audit.append(session, action="bench.append", actor=f"bench:{os.getpid()}",
                         details={"i": item})  # fmt: skip
    out.put(time.perf_counter() - began)
    database.dispose()


def run(url: str, rows: int, writers: int) -> float:
    """Entries per second: all writers' entries over the slowest writer's time."""
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(writers), context.Queue()
    per = rows // writers
    processes = [
        context.Process(target=_writer, args=(url, per, start, out)) for _ in range(writers)
    ]
    for process in processes:
        process.start()
    times = [out.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    return per * writers / max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="a scratch PostgreSQL database")
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--writers", default="1,2,4")
    arguments = parser.parse_args()
    database = Database(arguments.url)
    database.migrate()
    print(f"load average: {os.getloadavg()[0]:.1f}  ({os.cpu_count()} cores)")
    print(f"{'writers':>8} {'entries':>8} {'entries/s':>10}")
    for writers in (int(w) for w in arguments.writers.split(",")):
        rate = run(arguments.url, arguments.rows, writers)
        print(f"{writers:>8} {arguments.rows // writers * writers:>8} {rate:>10.0f}")
    with database.session(read_only=True) as session:
        report = audit.verify(session)
    print(f"chain verifies: {report.intact} ({report.entries} entries)")
    database.dispose()


if __name__ == "__main__":
    main()
