"""``sealctl migrate-storage``: a single-node data directory into PostgreSQL, verifiably.

A real data directory — CAs, seals (one revoked, so CRLs list it), a sealed licence, the
PEM export under ``ca/`` — is moved into a fresh PostgreSQL database by the CLI.  The
report must match on every table, key envelope, licence file, CA file and CRL; then a
node with an EMPTY data directory on that database must use what was moved: seal with a
migrated key (decrypted there with the passphrase), serve the licence, continue the CRL
numbers and the audit chain.  Run again, it only verifies; a foreign non-empty target
is refused without ``--force``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.local import TEST_PASSPHRASE, PostgresServer
from helpers.pdf_fixtures import chinese_pdf
from sqlalchemy import func, select

from pki.certificates import Profile
from sealsvc import audit, seals
from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.db import Database
from sealsvc.licences import get_licence_pdf, issue_licence, load_template
from sealsvc.models import AuditEntry, Seal
from sealsvc.pades import Level, SealOptions
from sealsvc.sealing import Sealer

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

pytestmark = pytest.mark.postgres
ACTOR = "test:migrate-storage"
_numbers = itertools.count(1)


@pytest.fixture
def target_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"sealsvc_migrate_{os.getpid()}_{next(_numbers)}"
    postgres_server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def single_node(sqlite_seal_context: ServiceContext) -> dict[str, str]:
    """A data directory in use: seals, a revoked one, a licence, CRLs and the ca/ export."""
    context = sqlite_seal_context
    kept = seals.issue(context, department="郑州市市场监督管理局", kind="公章", actor=ACTOR).code
    gone = seals.issue(context, department="ZZ-FTZ", kind="行政审批专用章", actor=ACTOR).code
    seals.revoke(context, gone, reason="key_compromise", actor=ACTOR)
    template = load_template("business_licence")
    record = issue_licence(context, template, template.example, [kept], actor=ACTOR)
    with context.database.session() as session:
        context.ca.export_files(session)
    return {"kept": kept, "gone": gone, "licence": record.number, "sha": record.document_sha256}


def _pem(der_file: Path) -> Path:
    pem_file = der_file.with_suffix(".pem")
    subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-in", der_file, "-out", pem_file], check=True
    )
    return pem_file


def _run(sealctl, url: str, *extra: str) -> tuple[int, dict]:
    result = sealctl("migrate-storage", "--to", url, "--json", *extra)
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, {"output": result.output, "exception": repr(result.exception)}


def test_a_data_directory_moves_into_postgresql_and_a_new_node_serves_it(
    single_node: dict[str, str], sealctl, target_url: str, tmp_path: Path
):
    code, report = _run(sealctl, target_url)
    assert code == 0, report
    assert report["matches"] and report["copied"] and report["audit_intact"]
    assert report["tables"]["seals"]["source"]["rows"] >= 2
    assert all(t["source"] == t["target"] for t in report["tables"].values())
    kinds = {f["kind"] for f in report["files"]}
    assert kinds == {"keystore", "key", "licence", "ca-certificate", "crl"}
    assert all(f["source_sha256"] == f["target_sha256"] for f in report["files"])
    licence_file = next(f for f in report["files"] if f["kind"] == "licence")
    assert licence_file["source_sha256"] == single_node["sha"]
    again, second = _run(sealctl, target_url)  # idempotent: verifies, copies nothing
    assert again == 0 and second["matches"] and not second["copied"]
    assert second["tables"] == report["tables"] and second["files"] == report["files"]
    shown = sealctl("migrate-storage", "--to", target_url)
    print(shown.stdout)
    assert shown.exit_code == 0 and "already there, verified" in shown.stdout
    assert "audit chain in the target: intact" in shown.stdout

    node_dir = tmp_path / "new-node"
    node_dir.mkdir()
    environ = {"SEALSVC_PASSPHRASE": TEST_PASSPHRASE, "SEALSVC_DATABASE_URL": target_url}
    node = ServiceContext(Settings.load(node_dir, environ))
    try:
        sealed = Sealer(node).seal(
            chinese_pdf(), single_node["kept"], SealOptions(level=Level.B_B), actor=ACTOR
        )
        assert sealed.pdf.startswith(b"%PDF")
        served = get_licence_pdf(node, single_node["licence"])
        assert hashlib.sha256(served).hexdigest() == single_node["sha"]
        with node.database.session() as session:
            issuing = node.ca.current(session, "rsa", Profile.ISSUING_CA)
            before = node.ca.latest_crl(session, issuing)
            crl = node.ca.publish_crl(session, "rsa", Profile.ISSUING_CA, actor=ACTOR)
            assert crl.crl_number == before.crl_number + 1
            (tmp_path / "issuing.der").write_bytes(issuing.der)
            (tmp_path / "issuing.crl").write_bytes(crl.der)
        # the CA key moved as an envelope signs a CRL OpenSSL accepts
        checked = subprocess.run(
            ["openssl", "crl", "-inform", "DER", "-in", tmp_path / "issuing.crl", "-noout",
             "-CAfile", _pem(tmp_path / "issuing.der"), "-verify", "-text"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert "verify OK" in checked.stderr + checked.stdout
        assert f"X509v3 CRL Number: \n                {crl.crl_number}" in checked.stdout
        with node.database.session(read_only=True) as session:
            assert audit.verify(session).intact
            actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
            new_seal = session.scalar(select(func.max(Seal.id)))
        assert "storage.migrate" in actions
        view = seals.issue(node, department="ZZ-FTZ", kind="合同专用章", actor=ACTOR)
        with node.database.session(read_only=True) as session:
            assert session.scalar(select(Seal.id).where(Seal.code == view.code)) > new_seal
    finally:
        node.close()
    assert list(node_dir.iterdir()) == []  # nothing of the node's state on its disk

    # Once the nodes have worked on it, the target is theirs: no second copy over it.
    code, report = _run(sealctl, target_url)
    assert code == 1 and "is not empty: use --force" in report["output"]


def test_a_target_holding_something_else_is_refused_without_force(
    single_node: dict[str, str], sealctl, target_url: str
):
    other = Database(target_url)
    try:
        other.migrate()
        with other.session() as session:
            audit.append(session, action="test.other", actor="someone else")
    finally:
        other.dispose()
    code, report = _run(sealctl, target_url)
    assert code == 1
    assert "is not empty: use --force" in report["output"]
    code, report = _run(sealctl, target_url, "--force")
    assert code == 0 and report["matches"], report
    with Database(target_url) as target, target.session(read_only=True) as session:
        actions = set(session.scalars(select(AuditEntry.action)))
    assert "test.other" not in actions and "storage.migrate" in actions


def test_a_sqlite_target_is_refused(single_node: dict[str, str], sealctl, tmp_path: Path):
    code, report = _run(sealctl, f"sqlite:///{tmp_path / 'other.db'}")
    assert code == 1
    assert "must be a PostgreSQL database" in report["output"]
