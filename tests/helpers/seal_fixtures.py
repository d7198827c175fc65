"""Data directories with both CA hierarchies and the seed departments, ready to issue seals.

Creating the CAs costs ~1.5 s (two RSA-3072 keys), too much per test on two backends.  So
each backend is initialised ONCE per session into a template (key store + SQLite file, or
a PostgreSQL template database, which holds the key store too) with the real
``CertificateAuthority.initialise`` and ``departments.import_seed``; every test then gets
a private copy: the key files copied into its data directory, and the database copied
(SQLite file) or cloned
(``CREATE DATABASE … TEMPLATE``) under the name conftest's ``database_url`` chose.

Use from a test module (pytest puts ``tests/`` on ``sys.path``)::

    from helpers.seal_fixtures import ca_templates, seal_context, sqlite_seal_context  # noqa: F401
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import make_url

from helpers.local import TEST_PASSPHRASE, PostgresServer
from sealsvc import departments
from sealsvc.config import Settings
from sealsvc.context import ServiceContext

__all__ = ["CaTemplate", "CaTemplates", "ca_templates", "seal_context", "sqlite_seal_context"]

ACTOR = "test:seal-fixtures"
_PG_TEMPLATE = "sealsvc_seal_template"


@dataclass(frozen=True)
class CaTemplate:
    """An initialised key store and database to copy from."""

    keys_dir: Path
    sqlite_file: Path | None = None
    pg_database: str | None = None


class CaTemplates:
    """Templates made on first use, one per backend."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._made: dict[str, CaTemplate] = {}

    def get(self, backend: str, server: PostgresServer | None = None) -> CaTemplate:
        if backend not in self._made:
            self._made[backend] = self._make(backend, server)
        return self._made[backend]

    def _make(self, backend: str, server: PostgresServer | None) -> CaTemplate:
        data_dir = self._root / backend
        if backend == "postgres":
            assert server is not None
            server.execute(f'CREATE DATABASE "{_PG_TEMPLATE}"')
            url = server.url(_PG_TEMPLATE)
        else:
            url = f"sqlite:///{data_dir / 'sealsvc.db'}"
        environ = {"SEALSVC_PASSPHRASE": TEST_PASSPHRASE, "SEALSVC_DATABASE_URL": url}
        context = ServiceContext(Settings.load(data_dir, environ))
        try:
            with context.database.session() as session:
                context.ca.initialise(session, actor=ACTOR, dev=True)
                departments.import_seed(session, actor=ACTOR)
        finally:
            context.close()  # a template database must have no open connections
        if backend == "postgres":
            return CaTemplate(keys_dir=context.settings.keys_dir, pg_database=_PG_TEMPLATE)
        return CaTemplate(keys_dir=context.settings.keys_dir, sqlite_file=data_dir / "sealsvc.db")


@pytest.fixture(scope="session")
def ca_templates(tmp_path_factory: pytest.TempPathFactory) -> CaTemplates:
    return CaTemplates(tmp_path_factory.mktemp("ca-templates"))


def _populate(
    settings: Settings, template: CaTemplate, server: PostgresServer | None = None
) -> ServiceContext:
    if template.keys_dir.exists():  # on PostgreSQL the key store is in the database
        shutil.copytree(template.keys_dir, settings.keys_dir)
    url = make_url(settings.database_url)
    if template.sqlite_file is not None:
        shutil.copyfile(template.sqlite_file, str(url.database))
    else:
        assert server is not None
        server.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        server.execute(
            f'CREATE DATABASE "{url.database}" TEMPLATE "{template.pg_database}" STRATEGY FILE_COPY'
        )
    return ServiceContext(settings)


@pytest.fixture
def seal_context(
    request: pytest.FixtureRequest,
    settings_on_each_db: Settings,
    database_url: str,
    ca_templates: CaTemplates,
) -> Iterator[ServiceContext]:
    """A :class:`ServiceContext` with CAs and departments, once on SQLite, once on PostgreSQL."""
    if database_url.startswith("sqlite"):
        context = _populate(settings_on_each_db, ca_templates.get("sqlite"))
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        template = ca_templates.get("postgres", server)
        context = _populate(settings_on_each_db, template, server)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def sqlite_seal_context(settings: Settings, ca_templates: CaTemplates) -> Iterator[ServiceContext]:
    """The same on SQLite only, in the data directory the ``sealctl`` fixture uses."""
    context = _populate(settings, ca_templates.get("sqlite"))
    try:
        yield context
    finally:
        context.close()
