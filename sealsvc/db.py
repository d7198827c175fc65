"""The database: one engine per URL, one transaction per state change, schema by migration.

Two backends and the same code on both:

* **SQLite** (the embedded default, a file in the data directory). Every connection gets
  ``foreign_keys=ON`` (SQLite's default is off, which would let a seal point at a department
  that does not exist), WAL journalling (readers do not block the writer) and a busy
  timeout (a second CLI or service process waits instead of failing with "database is
  locked"). A writing transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock
  up front, so two writers queue on the busy timeout rather than both reading the audit
  chain head and then one failing to upgrade its lock half-way (``SQLITE_BUSY``, which the
  busy timeout does not cover).
* **PostgreSQL** (several service nodes): ``SEALSVC_DATABASE_URL=postgresql+psycopg://…``;
  plain ``postgresql://`` and ``postgres://`` URLs are mapped to the psycopg 3 driver, the
  one installed.

The schema is created and changed only by the Alembic migrations in
``sealsvc/migrations`` (:meth:`Database.migrate`), never by ``create_all``: a data directory
made by an older release is upgraded in place by the same scripts that made a new one.
Alembic itself is imported only when a migration is due: importing it costs more than a
whole ``sealctl seal list`` may take, so :func:`open_database` first compares the
database's ``alembic_version`` with the revisions the migration scripts declare
(:func:`migration_heads`, read from the files) and skips Alembic when they agree.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sealsvc import datadir
from sealsvc.config import ConfigError, Settings

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "Database",
    "migration_heads",
    "normalise_url",
    "open_database",
]

BUSY_TIMEOUT_SECONDS = 30
"""How long a SQLite writer waits for another writer's transaction before giving up."""

_READ_ONLY = "sealsvc_read_only"
_MIGRATIONS = Path(__file__).with_name("migrations")
"""The Alembic scripts, shipped inside the package."""


def normalise_url(url: str | URL) -> URL:
    """``url`` with PostgreSQL mapped to the psycopg 3 driver (the only one installed)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class Database:
    """An engine and a session factory for one database URL.

    ``session()`` is the unit of work: everything done inside one ``with`` block commits
    together or not at all. Callers that change state also append their audit entry inside
    the same block (see :mod:`sealsvc.audit`), so the log never records a change that did
    not happen, nor misses one that did.
    """

    def __init__(self, url: str | URL, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = create_engine(
                self.url, echo=echo, connect_args={"timeout": BUSY_TIMEOUT_SECONDS}
            )
            _configure_sqlite(self.engine)
        else:
            self.engine = create_engine(self.url, echo=echo, pool_pre_ping=True)
        self._read_only_engine = self.engine.execution_options(**{_READ_ONLY: True})
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_only_sessions = sessionmaker(self._read_only_engine, expire_on_commit=False)

    @property
    def is_shared(self) -> bool:
        """Whether several nodes may share this database (PostgreSQL): then everything
        another node needs — key store, licence files, rate limits — is kept in it, and
        the data directory holds only what may be lost (issue #19)."""
        return not self.is_sqlite

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises.

        ``read_only=True`` is a hint for SQLite (a deferred ``BEGIN`` that does not queue
        behind writers); it does not stop writes. Objects stay usable after the block
        (``expire_on_commit=False``) so a command can print what it just stored.
        """
        factory = self._read_only_sessions if read_only else self._sessions
        with factory() as session, session.begin():
            yield session

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (default: the newest) with the Alembic scripts."""
        from alembic import command

        with self.engine.begin() as connection:
            config = alembic_config(connection)
            command.upgrade(config, revision)

    def migrate_if_behind(self) -> None:
        """:meth:`migrate` unless the database is already at the scripts' head.

        One read-only query instead of Alembic's import and its write transaction
        (``BEGIN IMMEDIATE`` on SQLite) on every start; any doubt — no version table, an
        unreadable script, a revision the scripts do not know — goes to Alembic, which
        upgrades or says what is wrong.
        """
        heads = migration_heads()
        if heads is None or self._stamped_revisions() != heads:
            self.migrate()

    def _stamped_revisions(self) -> frozenset[str] | None:
        """The revisions in the database's ``alembic_version`` table, ``None`` without one."""
        try:
            with self._read_only_engine.connect() as connection:
                rows = connection.execute(text("SELECT version_num FROM alembic_version"))
                return frozenset(row[0] for row in rows)
        except DBAPIError:
            return None

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at, ``None`` if it was never migrated."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        """The newest revision the installed migration scripts know."""
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(alembic_config()).get_current_head()

    def dispose(self) -> None:
        """Close pooled connections (tests and short-lived CLI processes)."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    """A programmatic Alembic config (no ``alembic.ini``) pointing at the bundled scripts.

    With ``connection`` the migration runs on it, inside the caller's transaction.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def open_database(settings: Settings, *, echo: bool = False) -> Database:
    """The service's database, migrated to the newest schema.

    Creates the data directory and the SQLite file (private modes, see
    :mod:`sealsvc.datadir`) only if ``settings.may_create``; upgrading an up-to-date
    database is a no-op, so every CLI command and service start may call this. An unusable
    URL, an unreachable server or an unwritable directory is a
    :class:`~sealsvc.config.ConfigError` naming the database (the password hidden), not a
    driver traceback.
    """
    try:
        database = Database(settings.database_url, echo=echo)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigError(f"unusable database URL: {exc}") from None
    sqlite_file = None
    if database.is_sqlite and database.url.database not in (None, "", ":memory:"):
        sqlite_file = Path(database.url.database)
    try:
        datadir.prepare(settings, sqlite_file)
        database.migrate_if_behind()
    except ConfigError:
        database.dispose()
        raise
    except (OSError, OperationalError) as exc:
        database.dispose()
        where = database.url.render_as_string(hide_password=True)
        reason = getattr(exc, "orig", None) or exc
        raise ConfigError(f"cannot open database {where}: {reason}") from None
    return database


_REVISION_ASSIGNMENT = re.compile(r"^(down_revision|revision)\b[^=\n]*=(.*)$", re.MULTILINE)


@cache
def migration_heads() -> frozenset[str] | None:
    """The head revisions of the bundled migration scripts, read from their files.

    Alembic's own answer (``ScriptDirectory.get_heads``) needs Alembic and Mako imported;
    the scripts' one-line ``revision = "…"`` / ``down_revision = …`` assignments say the
    same (``tests/test_storage.py`` checks the two agree). ``None`` when a script does not
    declare both on one line each: then the caller asks Alembic rather than guess.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (_MIGRATIONS / "versions").glob("*.py"):
        found = dict(_REVISION_ASSIGNMENT.findall(script.read_text(encoding="utf-8")))
        try:
            revision = ast.literal_eval(found["revision"].strip())
            down = ast.literal_eval(found["down_revision"].strip())
        except (KeyError, ValueError, SyntaxError):
            return None
        revisions.add(revision)
        parents.update((down,) if isinstance(down, str) else down or ())
    return frozenset(revisions - parents) or None


def _configure_sqlite(engine: Engine) -> None:
    """Pragmas on every connection; explicit ``BEGIN [IMMEDIATE]`` instead of pysqlite's.

    pysqlite would otherwise start transactions lazily before the first DML statement and
    never before a SELECT, which breaks both the write-lock-first rule and transactional
    DDL; SQLAlchemy documents this recipe ("Serializable isolation / Savepoints /
    Transactional DDL").
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
            cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(_READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
