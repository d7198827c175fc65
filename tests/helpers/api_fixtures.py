"""The HTTP service under test: in-process (``TestClient``) and as one real server.

* ``api_world`` (module scope) — a data directory set up by the real first-start bootstrap
  (dev CAs, seed departments, demo seals, admin key), the app from ``create_app`` on it with
  a small upload limit (:data:`MAX_PDF_BYTES`), a ``TestClient``, and helpers to issue
  further seals and API keys straight through ``sealsvc``.
* ``live_server`` (session scope) — one first-started ``sealctl serve`` in a real process
  (:func:`helpers.server.running_server`): ``SEALSVC_BASE_URL`` = its own URL, the admin
  token and demo seals parsed from its output, stopped at the end of the session.

Import from a test module (pytest puts ``tests/`` on ``sys.path``)::

    pytest_plugins = ("helpers.api_fixtures",)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from helpers.local import TEST_PASSPHRASE
from helpers.server import DemoSeal, HasDemoSeals, ServerProcess, demo_seals_from, running_server
from sealsvc import apikeys, audit, bootstrap, seals
from sealsvc.config import Settings
from sealsvc.context import ServiceContext

__all__ = [
    "MAX_PDF_BYTES",
    "ApiWorld",
    "api_world",
    "live_server",
]

MAX_PDF_BYTES = 64 * 1024
"""Upload limit of ``api_world``: above every test PDF, small enough to cross cheaply."""
ACTOR = "test:api"


@dataclass
class ApiWorld(HasDemoSeals):
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
            demo_seals=demo_seals_from(
                [(s["code"], s["text"], s["kind"], s["algorithm"]) for s in result.seals]
            ),
        )
    app.state.context.close()
    context.close()


# --- a real server --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One first-started ``sealctl serve`` for the whole session (see :mod:`helpers.server`)."""
    with running_server(tmp_path_factory.mktemp("live") / "data") as server:
        yield server
