"""Move a single-node data directory (SQLite + files) into a shared PostgreSQL database.

``sealctl migrate-storage`` (issue #19 §1): every table of the SQLite database, the key
store's documents (``keys/keystore.json`` and each ``<key_id>.key``) and the sealed
licence files (``licences/``) are copied into the target, byte for byte — keys are
never decrypted on the way, so no passphrase is needed.  Then everything is compared:
rows per table and a SHA-256 over each table's rows, the SHA-256 of every key envelope
and licence file, and every CA certificate and CRL exported under ``ca/`` against the
registry rows in the target.  A ``storage.migrate`` audit entry closes the copy.

Idempotent: a target that already holds exactly this data directory is verified and
reported, not copied again.  A target holding anything else is refused unless ``force``,
which empties it first.  The copy is one transaction: a failure leaves the target as it
was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from asn1crypto import pem
from sqlalchemy import ColumnElement, Connection, Table, delete, func, insert, select, text, update

from pki.keystore import DirectoryEnvelopes
from sealsvc import audit, stored_files
from sealsvc.config import ConfigError
from sealsvc.db import Database
from sealsvc.models import AuditHead, Base, KeyEnvelope, KeyStoreHeader, StoredFile, utcnow

__all__ = ["MigrationReport", "migrate_storage"]

_BATCH = 500
_GENESIS_SEQ = 0
_SHARED_TABLES = {KeyStoreHeader.__tablename__, KeyEnvelope.__tablename__, "stored_files"}
"""Filled from the data directory's files, not from the SQLite tables (empty there)."""


@dataclass
class MigrationReport:
    """What was compared, and whether source and target agree on all of it."""

    source: str
    target: str
    copied: bool
    """False when the target already held this data directory (nothing was written)."""

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per table: ``rows`` in source and target and ``sha256`` over the rows of each."""

    files: list[dict[str, Any]] = field(default_factory=list)
    """Per key envelope, licence file, CA certificate and CRL: kind, name, the SHA-256 in
    the data directory and in the target (of the DER, for PEM files)."""

    audit_intact: bool = False

    @property
    def matches(self) -> bool:
        tables = all(t["source"] == t["target"] for t in self.tables.values())
        files = all(f["source_sha256"] == f["target_sha256"] for f in self.files)
        return tables and files and self.audit_intact

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "matches": self.matches}


def migrate_storage(
    data_dir: Path, target: Database, *, actor: str, force: bool = False
) -> MigrationReport:
    """Copy ``data_dir`` into ``target`` (migrated to the newest schema), compare, audit."""
    sqlite_file = data_dir / "sealsvc.db"
    if not sqlite_file.is_file():
        raise ConfigError(f"no SQLite database in {data_dir} to migrate (sealsvc.db is missing)")
    if not target.is_shared:
        raise ConfigError("the target must be a PostgreSQL database (--to postgresql://…)")
    source = Database(f"sqlite:///{sqlite_file}")
    try:
        source.migrate()
        target.migrate()
        report = _compare(source, target, data_dir, copied=False)
        if report.matches:
            return report
        with target.engine.begin() as connection:
            if not _is_empty(connection):
                if not force:
                    raise ConfigError(
                        f"the target database {_where(target)} is not empty: use --force to "
                        "replace its contents with this data directory"
                    )
                _empty(connection)
            with source.engine.connect() as reading:
                deferred = [
                    statement
                    for table in _tables()
                    for statement in _copy_table(reading, connection, table)
                ]
            for statement in deferred:
                connection.execute(statement)
            for table in _tables():
                _reset_sequence(connection, table)
            _copy_files(connection, data_dir)
        report = _compare(source, target, data_dir, copied=True)
        if report.matches:
            with target.session() as session:
                audit.append(
                    session,
                    action="storage.migrate",
                    actor=actor,
                    details={
                        "source": str(data_dir),
                        "tables": {n: t["source"]["rows"] for n, t in report.tables.items()},
                        "files": len(report.files),
                    },
                )
        return report
    finally:
        source.dispose()


# --- copying ----------------------------------------------------------------------------------


def _tables() -> list[Table]:
    """The schema's tables, parents first (the data directory's files are added apart)."""
    return [t for t in Base.metadata.sorted_tables if t.name not in _SHARED_TABLES]


def _table(model: type[Base]) -> Table:
    """A model's table: SQLAlchemy types ``__table__`` as any FromClause (a class may map a
    join or a select); every model here maps one table, kept in the metadata by name."""
    return Base.metadata.tables[model.__tablename__]


def _deferred_columns(table: Table) -> list[str]:
    """Foreign keys inserted as NULL and set afterwards: those to the table itself (an
    issuer certificate, a previous licence) and the cycle seals ↔ certificates."""
    return [fk.parent.name for fk in table.foreign_keys if fk.use_alter or fk.column.table is table]


def _copy_table(reading: Connection, writing: Connection, table: Table) -> list[Any]:
    """Insert ``table``'s rows with their deferred foreign keys NULL; return the updates
    that set them, to run once every table is in."""
    if table.name == AuditHead.__tablename__:
        writing.execute(delete(table))  # the target's genesis head, replaced by the source's
    deferred = _deferred_columns(table)
    # kept as they are: an UPDATE would otherwise refresh them (seals.updated_at)
    kept = [c.name for c in table.columns if c.onupdate is not None]
    later: list[Any] = []
    rows = reading.execute(select(table).order_by(*table.primary_key.columns))
    for batch in _batches(row._asdict() for row in rows):
        if deferred:
            later.extend(
                update(table)
                .where(*(c == row[c.name] for c in table.primary_key.columns))
                .values({name: row[name] for name in (*deferred, *kept)})
                for row in batch
                if any(row[name] is not None for name in deferred)
            )
            batch = [{**row, **dict.fromkeys(deferred)} for row in batch]
        writing.execute(insert(table), batch)
    return later


def _pk(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    return {column.name: row[column.name] for column in table.primary_key.columns}


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _reset_sequence(writing: Connection, table: Table) -> None:
    """Rows came with their ids: the id sequence must continue after the largest."""
    (column,) = table.primary_key.columns if len(table.primary_key.columns) == 1 else (None,)
    if column is None or column.autoincrement is False or column.type.python_type is not int:
        return
    # Table and column names come from the model's metadata, never from input.
    sequence = f"pg_get_serial_sequence('{table.name}', '{column.name}')"
    largest = f"(SELECT MAX({column.name}) FROM {table.name})"  # noqa: S608
    writing.execute(text(f"SELECT setval({sequence}, COALESCE({largest}, 0) + 1, false)"))


def _copy_files(writing: Connection, data_dir: Path) -> None:
    keys = DirectoryEnvelopes(data_dir / "keys")
    header = keys.read_header() if keys.directory.is_dir() else None
    if header is not None:
        writing.execute(insert(_table(KeyStoreHeader)), [{"id": 1, "document": header}])
        for key_id in keys.key_ids():
            writing.execute(
                insert(_table(KeyEnvelope)),
                [{"key_id": key_id, "document": keys.read_envelope(key_id)}],
            )
    for path in _licence_files(data_dir):
        content = path.read_bytes()
        writing.execute(
            insert(_table(StoredFile)),
            [
                {
                    "kind": stored_files.LICENCE,
                    "name": path.name,
                    "content": content,
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "stored_at": utcnow(),
                }
            ],
        )


def _is_empty(connection: Connection) -> bool:
    """No row anywhere but the genesis audit head the migrations write."""
    for table in Base.metadata.sorted_tables:
        query = select(func.count()).select_from(table)
        if table.name == AuditHead.__tablename__:
            query = query.where(table.c.seq != _GENESIS_SEQ)
        if connection.execute(query).scalar_one():
            return False
    return True


def _empty(connection: Connection) -> None:
    """Delete every row (children first; the seals ↔ certificates cycle cut first)."""
    for table in Base.metadata.sorted_tables:
        deferred = _deferred_columns(table)
        if deferred:
            connection.execute(update(table).values(dict.fromkeys(deferred)))
    for table in reversed(Base.metadata.sorted_tables):
        connection.execute(delete(table))
    connection.execute(
        insert(_table(AuditHead)),
        [{"id": 1, "seq": _GENESIS_SEQ, "entry_hash": audit.GENESIS_HASH}],
    )


# --- comparing --------------------------------------------------------------------------------


def _compare(
    source: Database, target: Database, data_dir: Path, *, copied: bool
) -> MigrationReport:
    report = MigrationReport(source=str(data_dir), target=_where(target), copied=copied)
    with source.engine.connect() as src, target.engine.connect() as dst:
        source_head = src.execute(select(_table(AuditHead).c.seq)).scalar_one()
        for table in _tables():
            if table.name == AuditHead.__tablename__:
                continue  # checked by the chain: verify() compares the head with the entries
            condition: ColumnElement[bool] | None = None
            if table.name == "audit_entries":
                condition = table.c.seq <= source_head  # the target's own later entries aside
            report.tables[table.name] = {
                "source": _digest(src, table, None),
                "target": _digest(dst, table, condition),
            }
        for kind, name, source_sha, target_sha in _file_pairs(dst, data_dir):
            report.files.append(
                {
                    "kind": kind,
                    "name": name,
                    "source_sha256": source_sha,
                    "target_sha256": target_sha,
                }
            )
    with target.session(read_only=True) as session:
        report.audit_intact = audit.verify(session).intact
    return report


def _digest(
    connection: Connection, table: Table, condition: ColumnElement[bool] | None
) -> dict[str, Any]:
    """Rows and a SHA-256 over them in primary-key order, each value in a form both
    backends give alike (``repr`` of the Python value, times in UTC)."""
    query = select(table).order_by(*table.primary_key.columns)
    if condition is not None:
        query = query.where(condition)
    digest, rows = hashlib.sha256(), 0
    for row in connection.execute(query):
        digest.update(repr(tuple(_plain(v) for v in row)).encode() + b"\n")
        rows += 1
    return {"rows": rows, "sha256": digest.hexdigest()}


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview):
        return bytes(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _file_pairs(
    dst: Connection, data_dir: Path
) -> Iterator[tuple[str, str, str | None, str | None]]:
    """(kind, name, SHA-256 in the data directory, SHA-256 in the target); ``None`` where
    a side lacks the file (a key envelope may also vanish from the directory meanwhile)."""
    keys = DirectoryEnvelopes(data_dir / "keys")
    if keys.directory.is_dir() and keys.read_header() is not None:
        header = dst.execute(select(KeyStoreHeader.document)).scalar_one_or_none()
        yield "keystore", "keystore.json", _sha(keys.read_header()), _sha(header)
        for key_id in keys.key_ids():
            envelope = dst.execute(
                select(KeyEnvelope.document).where(KeyEnvelope.key_id == key_id)
            ).scalar_one_or_none()
            yield "key", f"{key_id}.key", _sha(keys.read_envelope(key_id)), _sha(envelope)
    for path in _licence_files(data_dir):
        stored = dst.execute(
            select(StoredFile.sha256).where(
                StoredFile.kind == stored_files.LICENCE, StoredFile.name == path.name
            )
        ).scalar_one_or_none()
        yield "licence", path.name, _sha(path.read_bytes()), stored
    ca_dir = data_dir / "ca"
    registry = {
        _sha(der)
        for table in (Base.metadata.tables["certificates"], Base.metadata.tables["crls"])
        for der in dst.execute(select(table.c.der)).scalars()
    }
    exported = (
        sorted(ca_dir.glob("*.pem")) + sorted(ca_dir.glob("*.crl")) if ca_dir.is_dir() else []
    )
    for path in exported:
        digest = _sha(_der(path.read_bytes()))
        kind = "crl" if path.suffix == ".crl" else "ca-certificate"
        yield kind, f"ca/{path.name}", digest, digest if digest in registry else None


def _licence_files(data_dir: Path) -> list[Path]:
    """The sealed licence files (not the temporaries an interrupted write may leave)."""
    directory = data_dir / "licences"
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


def _der(data: bytes) -> bytes:
    return pem.unarmor(data)[2] if pem.detect(data) else data


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _where(database: Database) -> str:
    return database.url.render_as_string(hide_password=True)
