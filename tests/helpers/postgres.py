"""A throw-away PostgreSQL server in a temporary directory, for tests and benchmarks.

conftest's ``postgres_server`` fixture runs one for the whole test session; the cluster
benchmarks start their own with PostgreSQL's durable defaults.  As root the server runs
as the ``postgres`` OS user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.local import PostgresServer, free_port

__all__ = [
    "FAST_UNSAFE_SETTINGS",
    "PG_BINDIR",
    "PostgresStartError",
    "PostgresUnavailable",
    "running_postgres",
]

INITDB_OPTIONS = ("-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
# A throw-away server: durability off (it is deleted after the run), small WAL.
FAST_UNSAFE_SETTINGS = (
    "-c fsync=off -c full_page_writes=off -c synchronous_commit=off "
    "-c wal_level=minimal -c max_wal_senders=0"
)
PG_BINDIR = Path(os.environ.get("SEALSVC_PG_BINDIR", "/usr/lib/postgresql/15/bin"))


def _as_server_user(argv: list[str]) -> list[str]:
    """PostgreSQL will not run as root: run its tools as the ``postgres`` OS user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (the message says where it looked)."""


class PostgresStartError(RuntimeError):
    """The PostgreSQL server did not start (the message holds its log)."""


@contextmanager
def running_postgres(settings: str = FAST_UNSAFE_SETTINGS) -> Iterator[PostgresServer]:
    """A fresh PostgreSQL server in a temporary directory, stopped and deleted on exit.

    ``settings`` are ``-c`` options: the tests' fast, non-durable ones by default; the
    benchmarks pass ``""`` to measure with PostgreSQL's durable defaults (``fsync=on``).
    """
    initdb, pg_ctl = PG_BINDIR / "initdb", PG_BINDIR / "pg_ctl"
    if not (initdb.exists() and pg_ctl.exists()):
        raise PostgresUnavailable(
            f"PostgreSQL server binaries not found in {PG_BINDIR} (apt-get install postgresql)"
        )
    root = Path(tempfile.mkdtemp(prefix="sealsvc-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, log = root / "data", root / "server.log"
    port = free_port()
    run = {"check": True, "capture_output": True, "text": True, "cwd": root}
    subprocess.run(
        _as_server_user(
            [str(initdb), "-D", str(data), "-A", "trust", "-U", "postgres", *INITDB_OPTIONS]
        ),
        **run,
    )
    options = f"-h 127.0.0.1 -p {port} -k {root} -c max_connections=200 {settings}"
    try:
        subprocess.run(
            _as_server_user(
                [str(pg_ctl), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]
            ),
            **run,
        )
    except subprocess.CalledProcessError as exc:
        server_log = log.read_text() if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresStartError(f"PostgreSQL did not start: {exc.stderr}\n{server_log}") from None
    try:
        yield PostgresServer(host="127.0.0.1", port=port, user="postgres")
    finally:
        subprocess.run(
            _as_server_user([str(pg_ctl), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
