"""Nothing another node needs lives on one node's disk (issue #19 §1), on a real database.

The key store in the database must be the same store as the directory layout — the same
envelope bytes, openable by :class:`FileKeyStore` once written out as files — and shared:
a key generated through one node signs on another, and the passphrase verifier in the
database refuses a wrong passphrase on every node.  SQLite data directories keep files.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TEST_PASSPHRASE, PostgresServer
from sqlalchemy import select

from pki import algorithms
from pki.algorithms import KeyAlgorithm
from pki.errors import KeyStoreError, WrongPassphrase
from pki.keystore import DirectoryEnvelopes, EnvelopeKeyStore, FileKeyStore
from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.db import Database
from sealsvc.key_envelopes import DatabaseEnvelopes
from sealsvc.models import KeyEnvelope, KeyStoreHeader

_numbers = itertools.count(1)
QUICK = (KeyAlgorithm.SM2, KeyAlgorithm.P256, KeyAlgorithm.RSA2048)


@pytest.fixture
def postgres_database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (several nodes share only a database)."""
    name = f"sealsvc_shared_{os.getpid()}_{next(_numbers)}"
    postgres_server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _node(database_url: str, data_dir: Path) -> ServiceContext:
    """A service context as one node builds it: its own (empty) data directory."""
    environ = {"SEALSVC_PASSPHRASE": TEST_PASSPHRASE, "SEALSVC_DATABASE_URL": database_url}
    return ServiceContext(Settings.load(data_dir, environ))


@pytest.mark.parametrize("algorithm", QUICK)
def test_a_key_made_on_one_node_signs_on_another(database: Database, algorithm: KeyAlgorithm):
    first = EnvelopeKeyStore.open_or_create_in(DatabaseEnvelopes(database), TEST_PASSPHRASE)
    other = Database(database.url)
    try:
        second = EnvelopeKeyStore.open_in(DatabaseEnvelopes(other), TEST_PASSPHRASE)
        info = first.generate(algorithm, label="seal 41010001000002")
        assert second.info(info.key_id) == info
        assert [i.key_id for i in second.list()] == [info.key_id]
        signature = second.signer(info.key_id).sign(b"licence bytes")
        algorithms.verify(
            info.public_key_info, b"licence bytes", signature, algorithm.default_scheme
        )
    finally:
        other.dispose()


def test_the_database_holds_the_very_bytes_of_the_directory_layout(
    database: Database, tmp_path: Path
):
    """Written out as files, the database's documents are a key store FileKeyStore opens:
    one envelope format, whatever keeps it."""
    store = EnvelopeKeyStore.open_or_create_in(DatabaseEnvelopes(database), TEST_PASSPHRASE)
    info = store.generate(KeyAlgorithm.SM2, label="moved")
    directory = DirectoryEnvelopes(tmp_path / "keys")
    directory.prepare()
    source = DatabaseEnvelopes(database)
    directory.create_header(source.read_header())
    for key_id in source.key_ids():
        directory.create_envelope(key_id, source.read_envelope(key_id))
    files = FileKeyStore.open(tmp_path / "keys", TEST_PASSPHRASE)
    assert files.info(info.key_id) == info
    signature = files.signer(info.key_id).sign(b"x")
    algorithms.verify(info.public_key_info, b"x", signature, KeyAlgorithm.SM2.default_scheme)
    with database.session(read_only=True) as session:
        stored = session.scalar(select(KeyEnvelope.document))
    on_disk = (tmp_path / "keys" / f"{info.key_id}.key").read_bytes()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(on_disk).digest()


def test_the_passphrase_verifier_in_the_database_refuses_a_wrong_passphrase(database: Database):
    EnvelopeKeyStore.create_in(DatabaseEnvelopes(database), TEST_PASSPHRASE)
    with pytest.raises(WrongPassphrase, match="wrong master passphrase"):
        EnvelopeKeyStore.open_in(DatabaseEnvelopes(database), "another node's typo")
    with pytest.raises(KeyStoreError, match="already initialised"):
        EnvelopeKeyStore.create_in(DatabaseEnvelopes(database), TEST_PASSPHRASE)
    # open_or_create on a second node opens the existing store instead of making another
    EnvelopeKeyStore.open_or_create_in(DatabaseEnvelopes(database), TEST_PASSPHRASE)
    with database.session(read_only=True) as session:
        assert len(session.scalars(select(KeyStoreHeader)).all()) == 1


def test_a_tampered_envelope_in_the_database_is_refused(database: Database):
    store = EnvelopeKeyStore.create_in(DatabaseEnvelopes(database), TEST_PASSPHRASE)
    info = store.generate(KeyAlgorithm.P256, label="original")
    with database.session() as session:
        row = session.get_one(KeyEnvelope, info.key_id)
        row.document = row.document.replace(b'"original"', b'"forged!!"')
    fresh = EnvelopeKeyStore.open_in(DatabaseEnvelopes(database), TEST_PASSPHRASE)
    with pytest.raises(KeyStoreError, match="authentication failed"):
        fresh.signer(info.key_id)
    fresh.delete(info.key_id)
    with pytest.raises(KeyStoreError, match="no key"):
        fresh.delete(info.key_id)


@pytest.mark.postgres
def test_on_postgresql_a_node_keeps_no_key_on_its_disk(postgres_database_url: str, tmp_path):
    node_a = _node(postgres_database_url, tmp_path / "a")
    node_b = _node(postgres_database_url, tmp_path / "b")
    try:
        info = node_a.keystore.generate(KeyAlgorithm.SM2, label="node a")
        assert node_b.keystore.info(info.key_id) == info
        assert not (tmp_path / "a" / "keys").exists()
        assert not (tmp_path / "b" / "keys").exists()
    finally:
        node_a.close()
        node_b.close()


def test_on_sqlite_the_key_store_stays_in_the_data_directory(settings: Settings):
    context = ServiceContext(settings)
    try:
        info = context.keystore.generate(KeyAlgorithm.SM2)
        assert (settings.keys_dir / f"{info.key_id}.key").is_file()
        with context.database.session(read_only=True) as session:
            assert session.scalars(select(KeyEnvelope)).all() == []
    finally:
        context.close()
