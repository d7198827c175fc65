"""The seal maker (制章者) of GB/T 38540 seals: certificate profile, key, creation, rotation,
and revision 0005 upgrading a database that already holds seals and certificates.

The maker certificate is checked with ``openssl`` against the SM2 issuing CA (nobody here
wrote it); the migration runs on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from alembic import command
from click.testing import Result
from helpers.pki_fixtures import SM2_DISTID, openssl
from sqlalchemy import insert, select, update

from pki.certificates import POLICY_SEAL, POLICY_SEAL_MAKER, Profile, load_certificate
from pki.chain import validate_path
from sealsvc.context import ServiceContext
from sealsvc.db import Database, alembic_config
from sealsvc.models import AuditEntry, Certificate, Department, Seal, utcnow

pytest_plugins = ("helpers.seal_fixtures",)  # seal_context, sqlite_seal_context

Sealctl = Callable[..., Result]


def _maker(context: ServiceContext) -> Certificate:
    with context.database.session(read_only=True) as session:
        row = context.ca.seal_maker(session)
        session.expunge(row)
        return row


def test_init_creates_an_sm2_seal_maker_with_its_own_policy(seal_context: ServiceContext) -> None:
    row = _maker(seal_context)
    certificate = load_certificate(row.der)
    assert (row.hierarchy, row.profile, row.status) == ("sm2", "seal_maker", "valid")
    assert certificate.subject.native["common_name"] == "郑州市电子印章制章系统（开发测试用）"
    assert set(certificate.key_usage_value.native) == {"digital_signature", "non_repudiation"}
    policies = [p["policy_identifier"].dotted for p in certificate.certificate_policies_value]
    assert policies == [POLICY_SEAL_MAKER] and POLICY_SEAL not in policies
    assert certificate.basic_constraints_value.native["ca"] is False
    assert row.not_after - row.not_before > timedelta(days=9 * 365)  # outlives seal certs
    # Its key is in the key store and is the certificate's.
    info = seal_context.keystore.info(row.key_id)
    assert info.algorithm.value == "sm2"
    assert info.public_key_info.dump() == certificate.public_key.dump()
    with seal_context.database.session(read_only=True) as session:
        issuing = seal_context.ca.current(session, "sm2", Profile.ISSUING_CA)
        root = seal_context.ca.current(session, "sm2", Profile.ROOT_CA)
        keys = [
            json.loads(e.details)["key_id"]
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "key.generate"))
        ]
        issued = [
            json.loads(e.details)["serial"]
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "cert.issue"))
        ]
    assert row.key_id in keys and row.serial in issued
    # Our one path engine and openssl agree it chains to the SM2 root.
    path = validate_path(
        certificate,
        [load_certificate(issuing.der)],
        [load_certificate(root.der)],
        row.not_before + timedelta(minutes=6),
    )
    assert len(path.path) == 3


def test_openssl_verifies_the_maker_certificate(sqlite_seal_context: ServiceContext) -> None:
    row = _maker(sqlite_seal_context)
    ca_dir = sqlite_seal_context.settings.data_dir
    (ca_dir / "maker.der").write_bytes(row.der)
    converted = openssl("x509", "-inform", "DER", "-in", ca_dir / "maker.der")
    (ca_dir / "maker.pem").write_text(converted.stdout)
    with sqlite_seal_context.database.session(read_only=True) as session:
        sqlite_seal_context.ca.export_files(session)
    result = openssl(
        "verify", "-vfyopt", SM2_DISTID, "-partial_chain",
        "-CAfile", sqlite_seal_context.settings.ca_dir / "sm2-issuing.pem", ca_dir / "maker.pem",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = openssl("x509", "-noout", "-text", "-in", ca_dir / "maker.pem").stdout
    assert "Digital Signature, Non Repudiation" in text and POLICY_SEAL_MAKER in text


def test_issue_cert_rotates_the_seal_maker(
    sqlite_seal_context: ServiceContext, sealctl: Sealctl
) -> None:
    old = _maker(sqlite_seal_context)
    result = sealctl(
        "ca", "issue-cert", "--profile", "seal_maker", "-H", "sm2",
        "--cn", "郑州市电子印章制章系统", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    issued = json.loads(result.stdout)
    new = _maker(sqlite_seal_context)
    assert new.serial == issued["serial"] != old.serial
    assert new.key_id != old.key_id and issued["profile"] == "seal_maker"
    shown = json.loads(sealctl("ca", "show", "--json").stdout)["certificates"]
    assert [c["serial"] for c in shown if c["profile"] == "seal_maker"] == [new.serial]
    with sqlite_seal_context.database.session(read_only=True) as session:
        still = session.get_one(Certificate, old.id)
        assert still.status == "valid"  # what the old key made keeps verifying


def test_the_seal_maker_is_sm2_only(sqlite_seal_context: ServiceContext, sealctl: Sealctl) -> None:
    result = sealctl(
        "ca", "issue-cert", "--profile", "seal_maker", "-H", "rsa", "--cn", "制章", "--json"
    )
    assert result.exit_code == 1
    assert "SM2 only" in result.stderr and "Traceback" not in result.stderr


def test_revision_0005_upgrades_a_database_with_seals(database: Database) -> None:
    """The profile CHECK is rebuilt under rows other tables point at (SQLite batch mode)."""
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0004")
    # Rows as revision 0004 has them: Core inserts name only the columns it had (the
    # models carry columns later revisions add).
    with database.session() as session:
        department_id = session.execute(
            insert(Department)
            .values(code="ZZ-T01", name="测试局", kind="department")
            .returning(Department.id)
        ).scalar_one()
        seal_id = session.execute(
            insert(Seal)
            .values(
                code="41010001000001", text="测试局", kind="公章", department_id=department_id,
                algorithm="sm2", key_id="k", valid_until=utcnow(), version=1,
            )
            .returning(Seal.id)
        ).scalar_one()  # fmt: skip
        certificate_id = session.execute(
            insert(Certificate)
            .values(
                serial="1", hierarchy="sm2", profile="seal", key_id="k", subject="CN=t",
                der=b"der-1", not_before=utcnow(), not_after=utcnow(), seal_id=seal_id,
            )
            .returning(Certificate.id)
        ).scalar_one()  # fmt: skip
        session.execute(
            update(Seal).where(Seal.id == seal_id).values(current_certificate_id=certificate_id)
        )
    database.migrate()
    assert database.current_revision() == database.head_revision()
    with database.session() as session:
        seal = session.scalars(select(Seal)).one()
        assert seal.current_certificate.serial == "1"
        session.add(
            Certificate(
                serial="2",
                hierarchy="sm2",
                profile="seal_maker",
                key_id="m",
                subject="CN=m",
                der=b"der-2",
                not_before=utcnow(),
                not_after=utcnow(),
            )
        )
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0004")
    with database.session(read_only=True) as session:
        assert session.scalars(select(Certificate.profile)).all() == ["seal"]
