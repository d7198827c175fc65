"""Nothing another node needs lives on one node's disk (issue #19 §1), on a real database.

The key store in the database must be the same store as the directory layout — the same
envelope bytes, openable by :class:`FileKeyStore` once written out as files — and shared:
a key generated through one node signs on another, and the passphrase verifier in the
database refuses a wrong passphrase on every node.  SQLite data directories keep files.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.local import TEST_PASSPHRASE, PostgresServer
from helpers.pdf_fixtures import chinese_pdf
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pki import algorithms
from pki.algorithms import KeyAlgorithm
from pki.certificates import Profile, random_serial
from pki.errors import KeyStoreError, WrongPassphrase
from pki.keystore import DirectoryEnvelopes, EnvelopeKeyStore, FileKeyStore
from sealsvc import audit, bootstrap, departments, seals, stored_files
from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.db import Database
from sealsvc.errors import SealNotUsable
from sealsvc.key_envelopes import DatabaseEnvelopes
from sealsvc.licences import (
    LicenceFileProblem,
    get_licence_pdf,
    issue_licence,
    load_template,
)
from sealsvc.models import AuditEntry, Certificate, KeyEnvelope, KeyStoreHeader, StoredFile
from sealsvc.pades import Level, SealOptions
from sealsvc.rate_limits import Bucket, DatabaseBuckets, Empty, refill_and_take
from sealsvc.sealing import Sealer
from sealsvc.verification.service import DocumentVerifier

pytest_plugins = ("helpers.seal_fixtures",)  # seal_context

ACTOR = "test:shared-storage"
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


# --- rate limits shared by the nodes ---------------------------------------------------------


@pytest.mark.postgres
def test_the_rate_limit_counts_requests_on_every_node_together(postgres_database_url: str):
    """10 a minute is 10 a minute whichever node the requests reach: 24 requests from
    threads on two nodes at once get exactly 10 tokens."""
    nodes = [Database(postgres_database_url), Database(postgres_database_url)]
    try:
        nodes[0].migrate()
        buckets = [DatabaseBuckets(node) for node in nodes]
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda i: buckets[i % 2].take("k1", 10), range(24)))
        assert sum(answer is None for answer in answers) == 10
        refused = [answer for answer in answers if answer is not None]
        assert sum(answer.first for answer in refused) == 1  # only one refusal is audited
        assert all(answer.retry_after >= 1 for answer in refused)
        assert buckets[1].take("another key", 10) is None  # buckets are per key
    finally:
        for node in nodes:
            node.dispose()


def test_the_bucket_refills_at_its_rate_and_ignores_a_clock_that_went_back():
    bucket, empty = refill_and_take(None, 60, now=1000.0)
    assert empty is None and bucket.tokens == 59
    drained = Bucket(0.2, 1000.0)
    bucket, empty = refill_and_take(drained, 60, now=1000.5)  # 0.7 tokens: refused
    assert empty == Empty(retry_after=1, first=True)
    bucket, empty = refill_and_take(bucket, 60, now=1000.6)
    assert empty is not None and not empty.first
    bucket, empty = refill_and_take(bucket, 60, now=1001.0)  # 1.2 tokens: granted
    assert empty is None and bucket.tokens == pytest.approx(0.2)
    bucket, empty = refill_and_take(bucket, 60, now=900.0)  # another node's clock is behind
    assert empty is not None and bucket.tokens == pytest.approx(0.2)


# --- one audit chain, one CRL sequence, unique serials: with writers on several nodes ----------

_APPENDER = """
import sys
from sealsvc import audit, bootstrap, departments, seals, stored_files
from sealsvc.db import Database
from sealsvc.errors import SealNotUsable

url, node, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
database = Database(url)
for item in range(count):
    with database.session() as session:
        audit.append(session, action="seal.use", actor=f"node:{node}", details={"i": item})
database.dispose()
"""


@pytest.mark.postgres
def test_audit_writers_in_several_processes_keep_one_chain(postgres_database_url: str):
    """Four processes — four nodes as far as PostgreSQL can tell — append at once: the
    chain head is read under its row lock, so the log stays one gap-free chain."""
    database = Database(postgres_database_url)
    database.migrate()
    nodes, per_node = 4, 40
    try:
        started = time.monotonic()
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", _APPENDER, postgres_database_url, str(n), str(per_node)]
            )
            for n in range(nodes)
        ]
        assert [writer.wait(timeout=120) for writer in writers] == [0] * nodes
        elapsed = time.monotonic() - started
        with database.session(read_only=True) as session:
            seqs = list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
            actors = [row.actor for row in session.scalars(select(AuditEntry))]
            report = audit.verify(session)
        assert seqs == list(range(1, nodes * per_node + 1))
        assert sorted(set(actors)) == [f"node:{n}" for n in range(nodes)]
        assert report.intact, report.as_dict()
        interleaved = sum(a != b for a, b in itertools.pairwise(actors))
        assert interleaved > nodes  # the writers really ran at the same time
        print(f"{nodes * per_node} audit rows by {nodes} processes in {elapsed:.2f} s")
    finally:
        database.dispose()


def test_crls_issued_at_once_by_two_nodes_get_consecutive_numbers(seal_context: ServiceContext):
    """Two nodes re-issuing the same CA's CRL at the same moment queue on the advisory
    lock (PostgreSQL) or the write lock (SQLite) instead of colliding on the number."""
    other = ServiceContext(seal_context.settings)
    contexts = [seal_context, other, seal_context, other]
    barrier = threading.Barrier(len(contexts))

    def publish(context: ServiceContext) -> int:
        barrier.wait()
        with context.database.session() as session:
            return context.ca.publish_crl(
                session, "sm2", Profile.ISSUING_CA, actor=ACTOR
            ).crl_number

    try:
        with ThreadPoolExecutor(max_workers=len(contexts)) as pool:
            numbers = sorted(pool.map(publish, contexts))
    finally:
        other.close()
    assert numbers == list(range(numbers[0], numbers[0] + len(contexts)))
    with seal_context.database.session(read_only=True) as session:
        assert audit.verify(session).intact


def test_serial_numbers_need_no_coordination_between_nodes(database: Database):
    """Certificate and time-stamp serials are 125 random bits (pki.certificates.random_serial):
    10**12 serials collide with probability ~1e-14, so nodes draw them independently; the
    registry's unique (hierarchy, serial) refuses a collision rather than storing it."""
    serials = {random_serial() for _ in range(20_000)}
    assert len(serials) == 20_000
    assert all(s.bit_length() == 127 for s in serials)  # bit 126 set, 125 random below
    assert len({s & ((1 << 125) - 1) for s in serials}) == 20_000
    row = {"hierarchy": "sm2", "profile": "seal", "key_id": "0" * 40, "subject": "x"}
    with pytest.raises(IntegrityError), database.session() as session:
        for der in (b"a", b"b"):
            session.add(Certificate(serial="42", der=der, **_times(), **row))
            session.flush()


def _times() -> dict[str, datetime]:
    now = datetime.now(UTC)
    return {"not_before": now, "not_after": now + timedelta(days=1)}


# --- no stale state: two nodes on one PostgreSQL -------------------------------------------


@pytest.fixture
def node_b(seal_context: ServiceContext, tmp_path: Path) -> Iterator[ServiceContext]:
    """A second node on ``seal_context``'s database, with an empty data directory."""
    data_dir = tmp_path / "node-b"
    data_dir.mkdir()
    context = _node(seal_context.settings.database_url, data_dir)
    try:
        yield context
    finally:
        context.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_seal_changed_on_one_node_is_in_force_on_the_other_at_its_next_request(
    seal_context: ServiceContext, node_b: ServiceContext
):
    """Node B keeps one sealer and one verifier (with their caches) through a rotation, a
    suspension and a revocation made on node A: each is in force at B's next request."""
    node_a, document = seal_context, chinese_pdf()
    options = SealOptions(level=Level.B_B)
    code = seals.issue(node_a, department="ZZ-FTZ", kind="行政审批专用章", actor=ACTOR).code
    sealer_b, verifier_b = Sealer(node_b), DocumentVerifier(node_b)
    first = sealer_b.seal(document, code, options, actor=ACTOR)
    assert verifier_b.check(first.pdf).report.verdict.value == "TOTAL_PASSED"

    seals.rotate(node_a, code, actor=ACTOR)
    second = sealer_b.seal(document, code, options, actor=ACTOR)
    assert second.certificate_serial != first.certificate_serial
    assert verifier_b.check(second.pdf).report.verdict.value == "TOTAL_PASSED"

    seals.suspend(node_a, code, actor=ACTOR)
    with pytest.raises(SealNotUsable, match="suspended"):
        sealer_b.seal(document, code, options, actor=ACTOR)
    assert verifier_b.check(second.pdf).report.verdict.value != "TOTAL_PASSED"
    seals.resume(node_a, code, actor=ACTOR)
    assert verifier_b.check(second.pdf).report.verdict.value == "TOTAL_PASSED"

    seals.revoke(node_a, code, reason="key_compromise", actor=ACTOR)
    with pytest.raises(SealNotUsable, match="revoked"):
        sealer_b.seal(document, code, options, actor=ACTOR)
    assert verifier_b.check(second.pdf).report.verdict.value != "TOTAL_PASSED"
    with node_b.database.session(read_only=True) as session:
        assert audit.verify(session).intact
    assert not (node_b.settings.data_dir / "keys").exists()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_licence_issued_on_one_node_is_served_by_the_other(
    seal_context: ServiceContext, node_b: ServiceContext
):
    code = seals.issue(node_b, department="郑州市市场监督管理局", kind="公章", actor=ACTOR).code
    template = load_template("business_licence")
    record = issue_licence(node_b, template, template.example, [code], actor=ACTOR, level=Level.B_B)
    served = get_licence_pdf(seal_context, record.number)
    assert hashlib.sha256(served).hexdigest() == record.document_sha256
    for node in (seal_context, node_b):
        assert not (node.settings.data_dir / "licences").exists()
    with seal_context.database.session() as session:
        row = session.get_one(StoredFile, (stored_files.LICENCE, record.file_name))
        assert row.sha256 == record.document_sha256
        row.content = row.content[:-1] + b"\x00"  # a damaged row is refused, not served
    with pytest.raises(LicenceFileProblem, match="does not match its record"):
        get_licence_pdf(node_b, record.number)


@pytest.mark.postgres
def test_nodes_started_together_on_an_empty_database_set_it_up_once(
    postgres_database_url: str, tmp_path: Path
):
    """Two first starts at once: one makes the CAs, the other waits on the CA lock and
    finds them made — one root per hierarchy, one key store, one chain."""
    nodes = [_node(postgres_database_url, tmp_path / name) for name in ("a", "b")]
    for node in nodes:
        node.settings.data_dir.mkdir()
    barrier = threading.Barrier(2)

    def start(node: ServiceContext) -> bool:
        node.database  # noqa: B018 - migrate before the race, as serve's probe does
        barrier.wait()
        return bootstrap.ensure_initialised(node).created

    try:
        nodes[0].database.migrate()
        with ThreadPoolExecutor(max_workers=2) as pool:
            created = sorted(pool.map(start, nodes))
        assert created == [False, True]
        with nodes[1].database.session(read_only=True) as session:
            roots = session.scalars(
                select(Certificate.hierarchy).where(Certificate.profile == "root_ca")
            ).all()
            assert sorted(roots) == ["rsa", "sm2"]
            assert len(session.scalars(select(KeyStoreHeader)).all()) == 1
            assert audit.verify(session).intact
    finally:
        for node in nodes:
            node.close()


@pytest.mark.postgres
def test_sealctl_on_a_third_machine_needs_no_data_directory(
    postgres_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """An officer's ``sealctl`` against the shared database: no data directory to copy."""
    from typer.testing import CliRunner

    from sealsvc.cli.main import app

    node = _node(postgres_database_url, tmp_path / "node")
    (tmp_path / "node").mkdir()
    try:
        with node.database.session() as session:
            node.ca.initialise(session, actor=ACTOR, dev=True)
            departments.import_seed(session, actor=ACTOR)
    finally:
        node.close()
    monkeypatch.setenv("SEALSVC_DATABASE_URL", postgres_database_url)
    monkeypatch.setenv("SEALSVC_PASSPHRASE", TEST_PASSPHRASE)
    elsewhere = tmp_path / "officer" / "data"
    runner = CliRunner()
    issued = runner.invoke(
        app,
        ["--data-dir", str(elsewhere), "seal", "issue", "--dept", "ZZ-D26", "--kind", "公章",
         "--alg", "sm2", "--json"],
    )  # fmt: skip
    assert issued.exit_code == 0, issued.output
    code = json.loads(issued.stdout)["code"]
    listed = runner.invoke(app, ["--data-dir", str(elsewhere), "seal", "list", "--json"])
    assert code in listed.stdout
    assert not (elsewhere / "keys").exists() and not (elsewhere / "sealsvc.db").exists()
