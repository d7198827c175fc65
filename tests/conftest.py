"""Shared fixtures: a data directory and settings, the CLI, and real databases.

Fixtures for everyone:

* ``data_dir`` — an empty data directory (``tmp_path / "data"``).
* ``settings`` — :class:`sealsvc.config.Settings` for ``data_dir`` with SQLite, a test
  passphrase in ``SEALSVC_PASSPHRASE`` and no ``SEALSVC_DATABASE_URL``; the environment
  variables are set for the test (so code that calls ``Settings.load()`` sees the same).
* ``database_url`` — parametrized ``sqlite`` / ``postgres``: a test that uses it (or
  ``database``, ``settings_on_each_db``) runs once per backend. The PostgreSQL variant gets
  a fresh, empty database on a real PostgreSQL 15 server that this file starts.
* ``database`` — a :class:`sealsvc.db.Database` on ``database_url``, migrated to head.
* ``settings_on_each_db`` — ``settings`` with ``SEALSVC_DATABASE_URL`` = ``database_url``.
* ``sealctl`` — runs the CLI in-process: ``sealctl("dept", "list", "--json")`` returns
  click's ``Result`` (``exit_code``, ``stdout``, ``stderr``) with ``--data-dir`` = ``data_dir``
  and the environment of ``settings`` (or ``settings_on_each_db`` if the test uses it).

The PostgreSQL server (``postgres_server``, session scope) runs from
``/usr/lib/postgresql/15/bin`` (or ``SEALSVC_PG_BINDIR``) in a temporary directory with
trust authentication on 127.0.0.1 and a free port; as root it runs as the ``postgres`` OS
user (PostgreSQL refuses to run as root). Without the binaries the postgres variants skip,
except under ``CI=true`` where a missing server is a failure: CI must test PostgreSQL.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from sealsvc.config import Settings
from sealsvc.db import Database

pytest_plugins = ["pytester", "helpers.crosschecks"]

# The helpers package (fixtures, builders, plugins) is registered before any of it is
# imported, so pytest rewrites its asserts as it does the tests'.
pytest.register_assert_rewrite("helpers")

from helpers.local import TEST_PASSPHRASE, PostgresServer  # noqa: E402
from helpers.postgres import (  # noqa: E402
    PostgresStartError,
    PostgresUnavailable,
    running_postgres,
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL 15 server for the whole test session (see the module docstring)."""
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        # A failure in CI (tests/helpers/crosschecks.py: the reason names PostgreSQL).
        pytest.skip(str(exc))
    except PostgresStartError as exc:
        pytest.fail(str(exc))


_database_numbers = itertools.count(1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh database on the test server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sealsvc.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"sealsvc_test_{os.getpid()}_{next(_database_numbers)}"
    server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.url(name)
    finally:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A :class:`Database` on ``database_url``, migrated to the newest schema."""
    db = Database(database_url)
    db.migrate()
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data directory for one test."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for ``data_dir`` on SQLite with the test passphrase (also set in the env)."""
    monkeypatch.setenv("SEALSVC_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SEALSVC_PASSPHRASE", TEST_PASSPHRASE)
    for name in ("SEALSVC_PASSPHRASE_FILE", "SEALSVC_DATABASE_URL", "SEALSVC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return Settings.load(data_dir)


@pytest.fixture
def settings_on_each_db(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """``settings`` with ``SEALSVC_DATABASE_URL`` = ``database_url`` (runs once per backend)."""
    monkeypatch.setenv("SEALSVC_DATABASE_URL", database_url)
    return Settings.load(settings.data_dir)


@pytest.fixture
def sealctl(request: pytest.FixtureRequest, settings: Settings) -> Callable[..., Result]:
    """Run ``sealctl`` in-process with ``--data-dir`` and the test environment."""
    from sealsvc.cli.main import app

    if "settings_on_each_db" in request.fixturenames:
        request.getfixturevalue("settings_on_each_db")
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        argv = ["--data-dir", str(settings.data_dir), *args]
        return runner.invoke(app, argv, input=input, env=dict(os.environ))

    return run
