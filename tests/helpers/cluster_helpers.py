"""A sealsvc cluster on this machine: one PostgreSQL, two nodes, HAProxy in front.

* :class:`Cluster` — two ``sealctl serve`` nodes (:class:`helpers.server.ServerProcess`,
  real processes in their own process groups, so ``kill -9`` is a power cut) on one
  PostgreSQL database, each with its **own, initially empty data directory** and port, the
  master passphrase from one file (``SEALSVC_PASSPHRASE_FILE``, as deployed).  Node A's
  first start creates the development set-up in the database; node B joins it
  (``--no-bootstrap``).  Every URL the service writes (certificates' CRL/OCSP addresses,
  QR codes) is the proxy's: the one public base URL of the cluster.
  :meth:`Cluster.sealctl` is an officer's ``sealctl`` on a third machine: a third empty
  data directory, the same database and passphrase file.
* :class:`HaProxy` — ``haproxy -f docs/deploy/haproxy.cfg`` (the configuration the
  deployment guide ships, addresses from the environment) in the foreground, with its
  health checks on ``/readyz``; :meth:`HaProxy.states` reads its stats CSV.

Import as ``from helpers.cluster_helpers import ...``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from helpers.local import TEST_PASSPHRASE, PostgresServer, free_port
from helpers.server import SEALCTL, ServerProcess, die_with_parent

__all__ = [
    "CLIENT_ADDRESS",
    "HAPROXY_CONFIG",
    "PROXY_ADDRESS",
    "Cluster",
    "HaProxy",
    "running_cluster",
]

HAPROXY_CONFIG = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "haproxy.cfg"
PROXY_ADDRESS = "127.0.0.1"
"""Where HAProxy's connections to the nodes come from: the one address whose
``X-Forwarded-For`` the nodes believe.  Clients of the tests connect from
:data:`CLIENT_ADDRESS`, another loopback address, so the audit log can tell them apart."""
CLIENT_ADDRESS = "127.0.0.2"


@dataclass
class HaProxy:
    """HAProxy running ``config`` in the foreground, in front of ``nodes``."""

    nodes: list[str]
    """``host:port`` of each node, in the order of the config's ``SEALSVC_NODE<n>``."""
    log: Path
    config: Path = HAPROXY_CONFIG
    port: int = field(default_factory=free_port)
    stats_port: int = field(default_factory=free_port)
    _process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def environ(self) -> dict[str, str]:
        environ = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin"),
            "SEALSVC_PROXY_BIND": f"127.0.0.1:{self.port}",
            "SEALSVC_PROXY_STATS": f"127.0.0.1:{self.stats_port}",
        }
        environ.update({f"SEALSVC_NODE{i}": node for i, node in enumerate(self.nodes, 1)})
        return environ

    def start(self) -> None:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        checked = subprocess.run(
            [haproxy, "-c", "-f", str(self.config)],
            env=self.environ,
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        with self.log.open("ab") as sink:
            self._process = subprocess.Popen(
                [haproxy, "-db", "-f", str(self.config)],
                env=self.environ,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,  # only prctl: safe between fork and exec
            )

    def states(self) -> dict[str, str]:
        """Each node's health as HAProxy sees it: ``UP``, ``DOWN``, ``UP 1/2`` …"""
        answer = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5)
        rows = csv.DictReader(io.StringIO(answer.text.lstrip("# ")))
        return {
            row["svname"]: row["status"]
            for row in rows
            if row["pxname"] == "nodes" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def wait_for(self, expected: dict[str, str], timeout: float = 30) -> None:
        """Wait until the health checks have brought the named nodes to ``expected``."""
        deadline = time.monotonic() + timeout
        seen: dict[str, str] = {}
        while time.monotonic() < deadline:
            assert self._process is not None and self._process.poll() is None, self.log.read_text()
            with contextlib.suppress(httpx.TransportError):
                seen = self.states()
                if all(seen.get(name) == state for name, state in expected.items()):
                    return
            time.sleep(0.2)
        raise AssertionError(f"HAProxy sees {seen}, not {expected}, after {timeout} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(timeout=15)


@dataclass
class Cluster:
    """Two nodes on one PostgreSQL database, HAProxy in front (see the module docstring)."""

    root: Path
    database_url: str
    passphrase_file: Path
    nodes: list[ServerProcess]
    proxy: HaProxy

    @property
    def a(self) -> ServerProcess:
        return self.nodes[0]

    @property
    def b(self) -> ServerProcess:
        return self.nodes[1]

    @property
    def admin_token(self) -> str:
        """The admin API key node A's first start printed: valid on every node."""
        return self.a.admin_token

    def client(self, node: ServerProcess | HaProxy, timeout: float = 120) -> httpx.Client:
        """A client of ``node`` (or the proxy) with the admin key, from :data:`CLIENT_ADDRESS`."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
        return httpx.Client(
            base_url=node.url, headers=headers, timeout=timeout, transport=transport
        )

    @property
    def officer_environ(self) -> dict[str, str]:
        """The environment of :meth:`sealctl`: database, passphrase file, public URL."""
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SEALSVC_")}
        environ.update(
            SEALSVC_DATABASE_URL=self.database_url,
            SEALSVC_PASSPHRASE_FILE=str(self.passphrase_file),
            SEALSVC_BASE_URL=self.proxy.url,
            COLUMNS="300",
        )
        return environ

    def sealctl(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """``sealctl`` on a third machine: its own empty data directory, the shared database."""
        officer = self.root / "officer"
        officer.mkdir(mode=0o700, exist_ok=True)
        return subprocess.run(
            [str(SEALCTL), "--data-dir", str(officer), *args],
            env=self.officer_environ,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@contextmanager
def running_cluster(
    server: PostgresServer, root: Path, database: str, workers: int = 1
) -> Iterator[Cluster]:
    """A fresh database ``database`` on ``server``, two nodes of ``workers`` processes each
    and HAProxy; all stopped on exit (the database dropped)."""
    server.execute(f'CREATE DATABASE "{database}"')
    url = server.url(database)
    root.mkdir(parents=True, exist_ok=True)
    passphrase_file = root / "passphrase"
    passphrase_file.write_text(TEST_PASSPHRASE + "\n")
    passphrase_file.chmod(0o600)
    ports = [free_port(), free_port()]
    proxy = HaProxy([f"127.0.0.1:{port}" for port in ports], log=root / "haproxy.log")
    nodes = [
        ServerProcess(
            root / f"node-{name}" / "data",
            database_url=url,
            port=port,
            workers=workers,
            passphrase_file=passphrase_file,
            base_url=proxy.url,
            bootstrap=name == "a",
            serve_options=("--forwarded-allow-ips", PROXY_ADDRESS),
        )
        for name, port in zip("ab", ports, strict=True)
    ]
    cluster = Cluster(root, url, passphrase_file, nodes, proxy)
    try:
        for node in nodes:  # A first: it creates the CAs, B finds them in the database
            node.start()
        proxy.start()
        proxy.wait_for({"node1": "UP", "node2": "UP"})
        yield cluster
    finally:
        proxy.stop()
        for node in nodes:
            node.stop()
        server.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
