"""The HTTP service under test: in-process (``TestClient``) and as a real uvicorn server.

* ``api_world`` (module scope) — a data directory set up by the real first-start bootstrap
  (dev CAs, seed departments, demo seals, admin key), the app from ``create_app`` on it with
  a small upload limit (:data:`MAX_PDF_BYTES`), a ``TestClient``, and helpers to issue
  further seals and API keys straight through ``sealsvc``.
* :func:`run_server` — ``sealctl --data-dir DIR serve --port P`` in a subprocess on a free
  localhost port with ``SEALSVC_BASE_URL`` = the server's own URL, the admin token and demo
  seal codes parsed from its output, ready once ``/healthz`` answers, terminated on exit.
  The benchmark uses it too. ``live_server`` is one such server for the whole session.

Import from a test module (pytest puts ``tests/`` on ``sys.path``)::

    pytest_plugins = ("helpers.api_fixtures",)
"""

from __future__ import annotations

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

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from helpers.local import TEST_PASSPHRASE, free_port
from sealsvc import apikeys, audit, bootstrap, seals
from sealsvc.config import Settings
from sealsvc.context import ServiceContext

__all__ = [
    "MAX_PDF_BYTES",
    "ApiWorld",
    "DemoSeal",
    "LiveServer",
    "api_world",
    "live_server",
    "run_server",
]

MAX_PDF_BYTES = 64 * 1024
"""Upload limit of ``api_world``: above every test PDF, small enough to cross cheaply."""
ACTOR = "test:api"
SEALCTL = Path(sys.executable).with_name("sealctl")


@dataclass(frozen=True)
class DemoSeal:
    department: str
    code: str
    text: str
    kind: str
    algorithm: str
    """``rsa2048`` or ``sm2`` as the registry names it."""


def _demo_seals(printed: list[tuple[str, str, str, str]]) -> list[DemoSeal]:
    """Demo seals as (code, text, kind, algorithm), in the order bootstrap issues them."""
    assert len(printed) == len(bootstrap.DEMO_SEALS), printed
    return [
        DemoSeal(department, *seal)
        for (department, _, _), seal in zip(bootstrap.DEMO_SEALS, printed, strict=True)
    ]


class _DemoSeals:
    demo_seals: list[DemoSeal]

    def demo_seal(self, department: str, algorithm: str = "rsa") -> DemoSeal:
        """The demo seal of ``department`` whose algorithm starts with ``algorithm``."""
        return next(
            s
            for s in self.demo_seals
            if s.department == department and s.algorithm.startswith(algorithm)
        )


@dataclass
class ApiWorld(_DemoSeals):
    """One bootstrapped data directory and the app serving it."""

    settings: Settings
    context: ServiceContext
    app: FastAPI
    client: TestClient
    admin_token: str
    demo_seals: list[DemoSeal]

    def api_key(self, *, department: str | None, scopes: set[str], rate: int = 600) -> str:
        with self.context.database.session() as session:
            _, token = apikeys.create_api_key(
                session,
                name=f"test {sorted(scopes)}",
                scopes=scopes,
                department=department,
                actor=ACTOR,
                rate_per_minute=rate,
            )
        return token

    def revoke_api_key(self, token: str) -> None:
        key_id = token.split("_")[1]
        with self.context.database.session() as session:
            apikeys.revoke_api_key(session, key_id, actor=ACTOR)

    def issue_seal(self, department: str, kind: str = "公章", algorithm: str = "rsa") -> str:
        """A fresh seal for tests that change a seal's state."""
        view = seals.issue(
            self.context, department=department, kind=kind, algorithm=algorithm, actor=ACTOR
        )
        return view.code

    def audit_entries(self, seal_code: str, action: str = "seal.use") -> list[dict]:
        with self.context.database.session(read_only=True) as session:
            entries = audit.query(session, seal_code=seal_code, action=action)
            return [audit.entry_to_dict(e) for e in entries]


@pytest.fixture(scope="module")
def api_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    data_dir = tmp_path_factory.mktemp("api") / "data"
    environ = {"SEALSVC_PASSPHRASE": TEST_PASSPHRASE, "SEALSVC_MAX_PDF_BYTES": str(MAX_PDF_BYTES)}
    settings = Settings.load(data_dir, environ)
    context = ServiceContext(settings)
    result = bootstrap.ensure_initialised(context)
    assert result.created and result.admin_token
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield ApiWorld(
            settings=settings,
            context=context,
            app=app,
            client=client,
            admin_token=result.admin_token,
            demo_seals=_demo_seals(
                [(s["code"], s["text"], s["kind"], s["algorithm"]) for s in result.seals]
            ),
        )
    app.state.context.close()
    context.close()


# --- a real server --------------------------------------------------------------------------


_DEMO_LINE = re.compile(r"demo seal (\d{14})\s+(\S+) (\S+) \((\w+)\)")
_TOKEN = re.compile(r"^(sk_[0-9a-f]{16}_[A-Za-z0-9_-]{43})$", re.MULTILINE)


@dataclass
class LiveServer(_DemoSeals):
    """A running ``sealctl serve`` and what its first start printed."""

    url: str
    data_dir: Path
    environ: dict[str, str]
    admin_token: str
    demo_seals: list[DemoSeal]
    log: Path
    process: subprocess.Popen = field(repr=False)

    def client(self, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def sealctl(self, *args: str) -> subprocess.CompletedProcess:
        """Another ``sealctl`` process on the same data directory."""
        return subprocess.run(
            [str(SEALCTL), "--data-dir", str(self.data_dir), *args],
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=120,
        )


def _server_environ(url: str) -> dict[str, str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SEALSVC_") and k not in ("COLUMNS", "LINES")
    }
    environ.update(SEALSVC_PASSPHRASE=TEST_PASSPHRASE, SEALSVC_BASE_URL=url, COLUMNS="300")
    return environ


def _wait_ready(process: subprocess.Popen, url: str, log: Path, timeout: float) -> str:
    """The server's first-start output once ``/healthz`` answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"sealctl serve exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return log.read_text()
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"sealctl serve did not answer within {timeout} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def run_server(
    data_dir: Path,
    *,
    workers: int = 1,
    timeout: float = 90,
    extra_environ: Mapping[str, str] | None = None,
) -> Iterator[LiveServer]:
    """``sealctl serve`` on an empty ``data_dir`` (first start), stopped on exit;
    ``extra_environ`` adds settings such as a PKCS#11 token's."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ = {**_server_environ(url), **(extra_environ or {})}
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"serve-{port}.log"
    argv = [str(SEALCTL), "--data-dir", str(data_dir), "serve", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*argv, "--workers", str(workers)],
            env=environ,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        output = _wait_ready(process, url, log, timeout)
        token = _TOKEN.search(output)
        if token is None:
            raise RuntimeError(f"no admin token in the server's output:\n{output}")
        yield LiveServer(
            url=url,
            data_dir=data_dir,
            environ=environ,
            admin_token=token.group(1),
            demo_seals=_demo_seals(_DEMO_LINE.findall(output)),
            log=log,
            process=process,
        )
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with run_server(tmp_path_factory.mktemp("live") / "data") as server:
        yield server
