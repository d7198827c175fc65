"""The one harness for tests that need the service as deployed: ``sealctl serve`` running.

:class:`ServerProcess` is a real ``sealctl --data-dir D serve`` process on a free localhost
port, with the options the suites vary: uvicorn workers, a database URL, environment
overrides, extra ``serve`` options, a public base URL, a passphrase file, a first start
that bootstraps (admin token and demo seals parsed from its output) or not.

* :meth:`ServerProcess.start` waits until ``/healthz`` answers; a server that exits or
  stays silent fails the test with the tail of its log.
* :meth:`ServerProcess.stop` sends SIGTERM to the server's process group, then SIGKILL if
  it has not exited within 15 s, and reaps it; :meth:`ServerProcess.kill9` is the power
  cut of the crash tests (SIGKILL to supervisor and workers at once). A server can be
  started again on the same data directory after either.
* Every server is started with a parent-death signal (``prctl(PR_SET_PDEATHSIG)``): when
  the test process dies — even by SIGKILL — its servers get SIGTERM and uvicorn takes its
  workers down with it, instead of orphans loading a machine shared by several runs.

``running_server(data_dir, **options)`` is the same as a context manager. The API suites'
session server (``live_server`` of :mod:`helpers.api_fixtures`), the reliability, cluster,
browser, base-URL and secrets tests and ``bench/api_bench.py`` all use this module.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from helpers.local import TEST_PASSPHRASE, free_port
from sealsvc import bootstrap

if TYPE_CHECKING:
    from helpers.reliability_helpers import Forker
    from sealsvc.context import ServiceContext

__all__ = [
    "SEALCTL",
    "DemoSeal",
    "HasDemoSeals",
    "ServerDidNotStart",
    "ServerProcess",
    "die_with_parent",
    "running_server",
    "server_environ",
]

SEALCTL = Path(sys.executable).with_name("sealctl")
DEMO_LINE = re.compile(r"demo seal (\d{14})\s+(\S+) (\S+) \((\w+)\)")
"""A demo seal as the first start prints it: code, text, kind, algorithm."""
TOKEN = re.compile(r"^(sk_[0-9a-f]{16}_[A-Za-z0-9_-]{43})$", re.MULTILINE)
"""The admin API key the first start prints, alone on its line."""
LOG_TAIL = 60
"""Lines of the server's log quoted when it fails to start."""
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass(frozen=True)
class DemoSeal:
    department: str
    code: str
    text: str
    kind: str
    algorithm: str
    """``rsa2048`` or ``sm2`` as the registry names it."""


def demo_seals_from(printed: list[tuple[str, str, str, str]]) -> list[DemoSeal]:
    """Demo seals as (code, text, kind, algorithm), in the order bootstrap issues them."""
    assert len(printed) == len(bootstrap.DEMO_SEALS), printed
    return [
        DemoSeal(department, *seal)
        for (department, _, _), seal in zip(bootstrap.DEMO_SEALS, printed, strict=True)
    ]


class HasDemoSeals:
    """A bootstrapped service (in-process or a server) and the demo seals it issued."""

    demo_seals: list[DemoSeal]

    def demo_seal(self, department: str, algorithm: str = "rsa") -> DemoSeal:
        """The demo seal of ``department`` whose algorithm starts with ``algorithm``."""
        return next(
            s
            for s in self.demo_seals
            if s.department == department and s.algorithm.startswith(algorithm)
        )


def server_environ(url: str) -> dict[str, str]:
    """This process's environment without any ``SEALSVC_*`` of the caller's, plus the test
    passphrase and ``url`` as the public base URL (wide ``COLUMNS``: one line per row)."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SEALSVC_") and k not in ("COLUMNS", "LINES")
    }
    environ.update(SEALSVC_PASSPHRASE=TEST_PASSPHRASE, SEALSVC_BASE_URL=url, COLUMNS="300")
    return environ


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """In a child (``preexec_fn``, or right after ``fork``): get ``signum`` when the parent
    thread dies. SIGTERM rather than SIGKILL for servers: the death signal reaches only the
    uvicorn supervisor, which on SIGTERM stops its workers; killed, it would orphan them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


class ServerDidNotStart(AssertionError):
    """``sealctl serve`` exited, or did not answer ``/healthz``, within the start timeout."""


def _tail(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines()
    return "\n".join(lines[-LOG_TAIL:])


@dataclass
class ServerProcess(HasDemoSeals):
    """``sealctl serve`` on ``data_dir`` (see the module docstring); restartable."""

    data_dir: Path
    database_url: str | None = None
    workers: int = 1
    port: int = field(default_factory=free_port)
    env: Mapping[str, str | None] = field(default_factory=dict)
    """Environment overrides, applied last; ``None`` removes a variable."""
    serve_options: tuple[str, ...] = ()
    """More ``sealctl serve`` options (``--forwarded-allow-ips …``, ``--log-level debug``)."""
    base_url: str | None = None
    """The public URL (a cluster's proxy) if not the server's own."""
    bootstrap: bool = True
    """``False`` for a data directory or database already initialised: nothing printed."""
    passphrase_file: Path | None = None
    """Give the passphrase as ``SEALSVC_PASSPHRASE_FILE`` (as deployed), not in the environment."""
    forker: Forker | None = field(default=None, repr=False)
    """Fork the server from this pre-imported process instead of exec'ing ``sealctl``."""
    admin_token: str = ""
    demo_seals: list[DemoSeal] = field(default_factory=list)
    output: str = ""
    """What the server had printed when it became ready (the first start's set-up report)."""
    starts: int = 0
    _log: Path | None = field(default=None, repr=False)
    _process: subprocess.Popen | None = field(default=None, repr=False)
    _pid: int | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """The log (stdout and stderr) of the current or last start."""
        assert self._log is not None, "the server was never started"
        return self._log

    @property
    def pid(self) -> int:
        """The server's (supervisor's) process id, while it runs."""
        pid = self._pid if self.forker is not None else self._process and self._process.pid
        assert pid is not None, "the server is not running"
        return pid

    @property
    def environ(self) -> dict[str, str]:
        environ = server_environ(self.base_url or self.url)
        environ["SEALSVC_DATA_DIR"] = str(self.data_dir)
        if self.passphrase_file is not None:
            del environ["SEALSVC_PASSPHRASE"]
            environ["SEALSVC_PASSPHRASE_FILE"] = str(self.passphrase_file)
        if self.database_url:
            environ["SEALSVC_DATABASE_URL"] = self.database_url
        for name, value in self.env.items():
            if value is None:
                environ.pop(name, None)
            else:
                environ[name] = value
        return environ

    def context(self) -> ServiceContext:
        """A fresh in-process context on the same data directory and database."""
        from sealsvc.config import Settings
        from sealsvc.context import ServiceContext

        return ServiceContext(Settings.load(self.data_dir, self.environ))

    def start(self, timeout: float = 90) -> None:
        """Start and wait for ``/healthz``. The first start on an empty data directory
        bootstraps (unless ``bootstrap=False``) and must print the admin token and demo
        seals; later starts, or a first start on an initialised one, print neither."""
        fresh = self.bootstrap and not (self.data_dir.is_dir() and any(self.data_dir.iterdir()))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.data_dir.parent / f"serve-{self.port}-{self.starts}.log"
        args = ["--data-dir", str(self.data_dir), "serve", "--port", str(self.port)]
        args += ["--workers", str(self.workers), *self.serve_options]
        if self.starts or not self.bootstrap:
            args.append("--no-bootstrap")  # initialised by the first start (or another node)
        if self.forker is not None:
            self._pid = self.forker.start(args, self._log)
        else:
            with self._log.open("wb") as sink:
                self._process = subprocess.Popen(
                    [str(SEALCTL), *args],
                    env=self.environ,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group: kill9 reaches the workers
                    preexec_fn=die_with_parent,  # only prctl: safe between fork and exec
                )
        self.output = self._wait_ready(timeout)
        token = TOKEN.search(self.output) if self.starts == 0 else None
        if token is not None:
            self.admin_token = token.group(1)
            self.demo_seals = demo_seals_from(DEMO_LINE.findall(self.output))
        elif fresh:
            self.stop()
            raise ServerDidNotStart(f"no admin token in the first start's output:\n{self.output}")
        self.starts += 1

    def _wait_ready(self, timeout: float) -> str:
        """The server's output once ``/healthz`` answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise ServerDidNotStart(
                    f"sealctl serve exited with {self._process.returncode}; its log ends:\n"
                    + _tail(self.log)
                )
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self.log.read_text(errors="replace")
            time.sleep(0.05)
        self.stop()
        raise ServerDidNotStart(
            f"sealctl serve did not answer {self.url}/healthz within {timeout} s; its log ends:\n"
            + _tail(self.log)
        )

    def kill9(self) -> None:
        """SIGKILL the whole process group (supervisor and workers), no clean-up at all."""
        if self.forker is not None and self._pid is not None:
            self.forker.wait(self._pid, timeout=0)
            self._pid = None
        elif self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._wait_port_free()

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after 15 s; reaped either way."""
        if self.forker is not None:
            self.kill9()
            return
        if self._process is None or self._process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill9()

    def _wait_port_free(self) -> None:
        """Orphaned workers die with their group; wait until nothing answers any more."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/healthz", timeout=0.2)
            except httpx.TransportError:
                return
            time.sleep(0.05)
        raise AssertionError(f"something still answers on {self.url} after kill -9")

    def client(self, timeout: float = 60, **kwargs: Any) -> httpx.Client:
        """An HTTP client of this server with the admin API key."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout, **kwargs)

    def sealctl(self, *args: str) -> subprocess.CompletedProcess:
        """Another ``sealctl`` process on the same data directory."""
        return subprocess.run(
            [str(SEALCTL), "--data-dir", str(self.data_dir), *args],
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=120,
        )


@contextmanager
def running_server(
    data_dir: Path, *, timeout: float = 90, **options: Any
) -> Iterator[ServerProcess]:
    """A started :class:`ServerProcess` (``options`` are its fields), stopped on exit."""
    server = ServerProcess(data_dir, **options)
    server.start(timeout)
    try:
        yield server
    finally:
        server.stop()
