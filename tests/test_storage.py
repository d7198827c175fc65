"""Storage: migrations vs models, transactions, constraints — on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm.exc import StaleDataError

from sealsvc import audit
from sealsvc.config import ConfigError, Settings
from sealsvc.db import Database, alembic_config, migration_heads, normalise_url, open_database
from sealsvc.models import (
    AuditEntry,
    AuditHead,
    Base,
    Certificate,
    Department,
    Seal,
    SealStatus,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _department(code: str = "ZZ-T01", name: str = "测试局", **extra: object) -> Department:
    return Department(code=code, name=name, kind="department", **extra)


def _certificate(serial: int, hierarchy: str = "rsa", der: bytes | None = None) -> Certificate:
    return Certificate(
        serial=str(serial),
        hierarchy=hierarchy,
        profile="seal",
        key_id="k1",
        subject="CN=test",
        der=der or f"der-{hierarchy}-{serial}".encode(),
        not_before=NOW,
        not_after=NOW + timedelta(days=365),
    )


def _seal(code: str, algorithm: str, department: Department) -> Seal:
    return Seal(
        code=code,
        text="测试局",
        kind="公章",
        department=department,
        algorithm=algorithm,
        key_id="k",
        valid_until=NOW,
    )


def test_migrations_create_exactly_the_models(database: Database) -> None:
    assert database.current_revision() == database.head_revision()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert set(inspect(connection).get_table_names()) >= set(Base.metadata.tables)


def test_downgrade_to_base_and_upgrade_again(database: Database) -> None:
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert database.current_revision() is None
    database.migrate()
    with database.session() as session:
        assert session.get(AuditHead, 1).seq == 0  # the migration seeds the chain head


def test_migrating_twice_is_a_no_op(database: Database) -> None:
    database.migrate()
    assert database.current_revision() == database.head_revision()


def test_rolled_back_transaction_leaves_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"), database.session() as session:
        session.add(_department())
        audit.append(session, action="dept.add", actor="test", department_code="ZZ-T01")
        session.flush()
        raise RuntimeError("boom")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Department)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
        assert session.get(AuditHead, 1).seq == 0


def test_committed_transaction_is_visible_to_a_new_session(database: Database) -> None:
    with database.session() as session:
        session.add(_department())
    with database.session(read_only=True) as session:
        stored = session.scalars(select(Department)).one()
    assert (stored.code, stored.name, stored.active) == ("ZZ-T01", "测试局", True)


def test_department_code_is_unique(database: Database) -> None:
    with database.session() as session:
        session.add(_department())
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(_department(name="另一个局"))


def test_name_is_unique_among_active_departments_only(database: Database) -> None:
    with database.session() as session:
        session.add(_department(active=False))
        session.add(_department(code="ZZ-T02"))  # same name, the first one is inactive
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(_department(code="ZZ-T03"))


def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(
            Seal(
                code="41010000000001",
                text="x",
                kind="公章",
                department_id=999,
                algorithm="sm2",
                key_id="k",
                valid_until=NOW,
            )
        )


def test_check_constraints_reject_unknown_values(database: Database) -> None:
    with database.session() as session:
        session.add(_department())
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(Department(code="ZZ-T09", name="y", kind="ministry"))


def test_certificate_serials_keep_160_bits_and_are_unique_per_hierarchy(
    database: Database,
) -> None:
    big = 2**159 + 12345
    with database.session() as session:
        session.add(_certificate(big, "rsa"))
        session.add(_certificate(big, "sm2"))  # another hierarchy may reuse a serial
    with database.session() as session:
        stored = session.scalars(select(Certificate).where(Certificate.hierarchy == "rsa")).one()
        assert stored.serial_number == big
        assert stored.sha256 == hashlib.sha256(stored.der).hexdigest()
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(_certificate(big, "rsa", der=b"other der"))


def test_seal_and_current_certificate_reference_each_other(database: Database) -> None:
    with database.session() as session:
        department = _department()
        seal = _seal("41010000000001", "sm2", department)
        certificate = _certificate(7, "sm2")
        certificate.seal = seal
        seal.current_certificate = certificate
        session.add_all([department, seal, certificate])
    with database.session() as session:
        stored = session.scalars(select(Seal)).one()
        assert stored.current_certificate.serial == "7"
        assert stored.certificates == [stored.current_certificate]
        assert (stored.status, stored.image_source, stored.version) == ("active", "generated", 1)


def test_concurrent_seal_changes_are_refused_by_the_version_column(database: Database) -> None:
    with database.session() as session:
        department = _department()
        seal = _seal("41010000000002", "rsa2048", department)
        session.add_all([department, seal])
    with database.session(read_only=True) as session:
        stale = session.scalars(select(Seal)).one()
    with database.session() as session:
        session.scalars(select(Seal)).one().status = SealStatus.SUSPENDED
    with pytest.raises(StaleDataError), database.session() as session:
        stale = session.merge(stale, load=False)
        stale.status = SealStatus.REVOKED
    with database.session() as session:
        assert session.scalars(select(Seal)).one().status == "suspended"


def test_timestamps_are_stored_as_utc_and_naive_ones_refused(database: Database) -> None:
    beijing = timezone(timedelta(hours=8))
    with database.session() as session:
        session.add(_department(created_at=NOW.astimezone(beijing)))
    with database.session() as session:
        stored = session.scalars(select(Department)).one().created_at
    assert stored == NOW and stored.tzinfo == UTC and stored.microsecond == 678901
    with pytest.raises(StatementError, match="naive"), database.session() as session:
        session.add(_department(code="ZZ-T02", name="z", created_at=datetime(2026, 1, 1)))


def test_sqlite_connections_are_configured(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with db.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA busy_timeout").scalar() >= 10000
    finally:
        db.dispose()


def test_open_database_creates_the_data_dir_and_migrates(tmp_path) -> None:
    settings = Settings.load(tmp_path / "new" / "data", environ={})
    with open_database(settings) as db:
        assert db.current_revision() == db.head_revision()
    assert (tmp_path / "new" / "data" / "sealsvc.db").is_file()


def test_migration_heads_read_from_the_scripts_are_alembics() -> None:
    from alembic.script import ScriptDirectory

    assert migration_heads() == frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def test_open_database_upgrades_a_database_behind_the_scripts(database_url: str, tmp_path) -> None:
    settings = Settings.load(tmp_path, environ={"SEALSVC_DATABASE_URL": database_url})
    with open_database(settings) as db, db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0010")
    with open_database(settings) as db:
        assert db.current_revision() == db.head_revision()
        assert "enterprises" in inspect(db.engine).get_table_names()


def test_open_database_at_the_head_does_not_load_alembic(tmp_path) -> None:
    """The check ``sealctl`` pays on every start is one query, not Alembic's import."""
    open_database(Settings.load(tmp_path, environ={})).dispose()  # creates and migrates
    probe = f"""
import sys
from sealsvc.config import Settings
from sealsvc.db import open_database
open_database(Settings.load({str(tmp_path)!r}, environ={{}})).dispose()
print(sorted({{name.split(".")[0] for name in sys.modules}} & {{"alembic", "mako"}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuchdb://x", "unusable database URL"),
        ("postgresql://nobody@127.0.0.1:1/none", "cannot open database"),
    ],
)
def test_unusable_databases_are_config_errors(tmp_path, url: str, message: str) -> None:
    settings = Settings.load(tmp_path, environ={"SEALSVC_DATABASE_URL": url})
    with pytest.raises(ConfigError, match=message):
        open_database(settings)


def test_postgres_urls_use_psycopg() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"


def test_postgres_server_is_really_postgres(database: Database) -> None:
    with database.engine.connect() as connection:
        if database.is_sqlite:
            assert connection.exec_driver_sql("select sqlite_version()").scalar()
        else:
            version = connection.execute(text("show server_version_num")).scalar()
            assert int(version) >= 150000
