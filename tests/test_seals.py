"""Seal registry and lifecycle (sealsvc.seals) on SQLite and on a real PostgreSQL server.

Every test runs twice (``seal_context`` is parametrized over both backends) on a data
directory with real CA keys, real certificates and CRLs; CRLs and certificates are checked
with ``openssl``, which nobody here wrote.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from helpers.pki_fixtures import openssl
from sqlalchemy import select
from sqlalchemy.orm import Session

from pki.certificates import Profile, certificate_pem, load_certificate
from pki.crl import load_crl
from pki.errors import KeyStoreError
from sealsvc import departments, seals
from sealsvc.context import ServiceContext
from sealsvc.errors import Conflict, InvalidInput, InvalidTransition, NotFound, SealNotUsable
from sealsvc.models import AuditEntry, Certificate, Seal, SealStatus, utcnow

pytest_plugins = ("helpers.seal_fixtures",)  # seal_context

ACTOR = "test:seals"
FTZ_TEXT = "中国（河南）自由贸易试验区郑州片区管理委员会"


def _issue(context: ServiceContext, **options: object) -> seals.SealView:
    arguments: dict = {"department": "ZZ-FTZ", "kind": "行政审批专用章", "actor": ACTOR}
    arguments.update(options)
    return seals.issue(context, **arguments)


def _material(context: ServiceContext, code: str, **options: object) -> seals.SealSigningMaterial:
    with context.database.session(read_only=True) as session:
        return seals.signing_material(session, code, **options)


def _actions(context: ServiceContext, code: str) -> list[str]:
    with context.database.session(read_only=True) as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.seal_code == code)
                .order_by(AuditEntry.seq)
            )
        )


def _crl_text(context: ServiceContext, hierarchy: str = "rsa") -> str:
    result = openssl(
        "crl", "-text", "-noout", "-in", context.settings.ca_dir / f"{hierarchy}-issuing.crl"
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _crl_entry(text: str, serial: str) -> str | None:
    """The ``Serial Number:`` block of ``serial`` in ``openssl crl -text`` output, if listed."""
    hex_serial = format(int(serial), "X")
    hex_serial = hex_serial if len(hex_serial) % 2 == 0 else "0" + hex_serial
    match = re.search(
        rf"Serial Number: {hex_serial}\n(.*?)(?=Serial Number:|Signature Algorithm)", text, re.S
    )
    return match.group(1) if match else None


def _assert_key_matches(context: ServiceContext, material: seals.SealSigningMaterial) -> None:
    certificate = load_certificate(material.certificate_der)
    stored = context.keystore.info(material.key_id).public_key_info
    assert certificate.public_key.dump() == stored.dump()


# --- issue ----------------------------------------------------------------------------------


def test_issue_rsa_seal_code_subject_chain_and_audit(
    seal_context: ServiceContext, tmp_path: Path
) -> None:
    view = _issue(seal_context)
    assert re.fullmatch(r"41010005\d{6}", view.code) and view.code.endswith("000001")
    assert (view.status, view.algorithm, view.hierarchy) == (SealStatus.ACTIVE, "rsa2048", "rsa")
    assert view.text == FTZ_TEXT and view.department_code == "ZZ-FTZ"

    material = _material(seal_context, view.code)
    _assert_key_matches(seal_context, material)
    assert material.key_id == view.key_id and material.department_code == "ZZ-FTZ"
    assert material.appearance == seals.SealAppearance(FTZ_TEXT, "行政审批专用章", view.code)
    with seal_context.database.session(read_only=True) as session:
        ca_set = seal_context.ca.ca_set(session, "rsa")
        assert material.chain_ders == (ca_set.issuing.der, ca_set.root.der)

    # openssl: the subject and the chain to the RSA root
    seal_pem = tmp_path / "seal.pem"
    seal_pem.write_bytes(certificate_pem(load_certificate(material.certificate_der)))
    (tmp_path / "issuing.pem").write_bytes(
        certificate_pem(load_certificate(material.chain_ders[0]))
    )
    (tmp_path / "root.pem").write_bytes(certificate_pem(load_certificate(material.chain_ders[1])))
    subject = openssl(
        "x509", "-in", seal_pem, "-noout", "-subject", "-nameopt", "utf8,sep_multiline"
    )
    lines = {line.strip() for line in subject.stdout.splitlines()[1:]}
    assert lines == {
        "C=CN",
        "ST=河南省",
        "L=郑州市",
        f"O={FTZ_TEXT}",
        f"CN={FTZ_TEXT}行政审批专用章",
        f"serialNumber={view.code}",
    }
    verified = openssl(
        "verify", "-CAfile", tmp_path / "root.pem", "-untrusted", tmp_path / "issuing.pem", seal_pem
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr

    assert _actions(seal_context, view.code) == ["key.generate", "cert.issue", "seal.issue"]


def test_issue_sm2_public_seal_and_code_sequence(seal_context: ServiceContext) -> None:
    first = _issue(seal_context, department="郑州市市场监督管理局", kind="公章", algorithm="sm2")
    second = _issue(seal_context, department="郑州市市场监督管理局", kind="公章", algorithm="sm2")
    assert first.code.endswith("01000001") and second.code.endswith("01000002")
    assert (first.hierarchy, first.algorithm) == ("sm2", "sm2")
    # a 公章 is named by its text alone
    assert first.current_certificate.subject.startswith(
        "CN=郑州市市场监督管理局,O=郑州市市场监督管理局,"
    )
    material = _material(seal_context, first.code)
    assert material.hierarchy == "sm2"
    _assert_key_matches(seal_context, material)
    algorithm = load_certificate(material.certificate_der)["signature_algorithm"]
    assert algorithm["algorithm"].dotted == "1.2.156.10197.1.501"  # SM2-with-SM3, by the SM2 CA


BAD_ISSUES = [
    ({"kind": "私章"}, InvalidInput, "unknown seal kind"),
    ({"algorithm": "dsa"}, InvalidInput, "unknown seal algorithm"),
    ({"department": "ZZ-NOPE"}, NotFound, "no department"),
    ({"text": "名" * 31}, InvalidInput, "at most 30 fit"),
    ({"validity": timedelta(0)}, InvalidInput, "positive"),
]


def test_issue_refuses_bad_input_and_deactivated_departments_without_leaving_a_key(
    seal_context: ServiceContext,
) -> None:
    keys_before = {info.key_id for info in seal_context.keystore.list()}
    for options, error, message in BAD_ISSUES:
        with pytest.raises(error, match=message):
            _issue(seal_context, **options)
    with seal_context.database.session() as session:
        departments.deactivate(session, "ZZ-P08", actor=ACTOR)
    with pytest.raises(InvalidTransition, match="ZZ-P08 is deactivated"):
        _issue(seal_context, department="ZZ-P08", kind="业务专用章")
    assert {info.key_id for info in seal_context.keystore.list()} == keys_before
    with seal_context.database.session(read_only=True) as session:
        assert session.scalars(select(Seal)).all() == []


def test_failed_issue_deletes_its_key_and_leaves_no_rows(
    seal_context: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys_before = {info.key_id for info in seal_context.keystore.list()}
    real_issue = seal_context.ca.issue

    def issue_then_fail(*args: object, **kwargs: object) -> Certificate:
        real_issue(*args, **kwargs)  # the certificate row is flushed, then the disk "fails"
        raise OSError("simulated failure after the certificate was issued")

    monkeypatch.setattr(seal_context.ca, "issue", issue_then_fail)
    with pytest.raises(OSError, match="simulated"):
        _issue(seal_context)
    assert {info.key_id for info in seal_context.keystore.list()} == keys_before
    with seal_context.database.session(read_only=True) as session:
        assert session.scalars(select(Seal)).all() == []
        assert (
            session.scalars(select(AuditEntry).where(AuditEntry.seal_code.is_not(None))).all() == []
        )


def test_reconcile_orphan_keys_deletes_only_old_unreferenced_keys(
    seal_context: ServiceContext,
) -> None:
    view = _issue(seal_context, algorithm="sm2")
    orphan = seal_context.keystore.generate("sm2", label="seal crashed before commit")
    keys_before = {info.key_id for info in seal_context.keystore.list()}

    assert seals.reconcile_orphan_keys(seal_context, actor=ACTOR) == []  # too young
    later = utcnow() + timedelta(minutes=11)
    assert seals.reconcile_orphan_keys(seal_context, actor=ACTOR, now=later) == [orphan.key_id]

    remaining = {info.key_id for info in seal_context.keystore.list()}
    assert remaining == keys_before - {orphan.key_id}
    assert view.key_id in remaining
    with pytest.raises(KeyStoreError):
        seal_context.keystore.info(orphan.key_id)
    _material(seal_context, view.code)  # the seal and every CA key are untouched
    with seal_context.database.session(read_only=True) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "key.delete")).one()
        assert orphan.key_id in entry.details
    assert seals.reconcile_orphan_keys(seal_context, actor=ACTOR, now=later) == []


def test_reconcile_removes_stale_temporaries_of_interrupted_key_writes(
    sqlite_seal_context: ServiceContext,
) -> None:
    """Key files exist on SQLite only: on PostgreSQL the key store is in the database."""
    seal_context = sqlite_seal_context
    keys_dir = seal_context.settings.keys_dir
    stale = keys_dir / ".0123.key.crashed.tmp"
    fresh = keys_dir / ".4567.key.writing.tmp"
    stale.write_bytes(b"half a key file")
    fresh.write_bytes(b"a write in progress")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    seals.reconcile_orphan_keys(seal_context, actor=ACTOR)
    assert not stale.exists() and fresh.exists()
    fresh.unlink()


# --- suspend, resume, revoke ----------------------------------------------------------------


def test_revoked_and_held_serials_on_the_crl_with_reasons(seal_context: ServiceContext) -> None:
    revoked = _issue(seal_context)
    held = _issue(seal_context, kind="业务专用章")
    seals.revoke(seal_context, revoked.code, reason="key_compromise", actor=ACTOR)
    suspended = seals.suspend(seal_context, held.code, actor=ACTOR)
    assert suspended.status is SealStatus.SUSPENDED
    assert suspended.current_certificate.status == "on_hold"
    with pytest.raises(SealNotUsable, match=f"seal {held.code} is suspended"):
        _material(seal_context, held.code)

    text = _crl_text(seal_context)
    revoked_entry = _crl_entry(text, revoked.current_certificate.serial)
    held_entry = _crl_entry(text, held.current_certificate.serial)
    assert revoked_entry is not None and "Key Compromise" in revoked_entry
    assert held_entry is not None and "Certificate Hold" in held_entry

    resumed = seals.resume(seal_context, held.code, actor=ACTOR)
    assert resumed.status is SealStatus.ACTIVE and resumed.current_certificate.status == "valid"
    _assert_key_matches(seal_context, _material(seal_context, held.code))
    assert _actions(seal_context, held.code)[-2:] == ["seal.suspend", "seal.resume"]
    text = _crl_text(seal_context)
    assert _crl_entry(text, held.current_certificate.serial) is None
    assert _crl_entry(text, revoked.current_certificate.serial) is not None

    # the registry keeps the same CRL the files show
    with seal_context.database.session(read_only=True) as session:
        issuing = seal_context.ca.current(session, "rsa", Profile.ISSUING_CA)
        latest = load_crl(seal_context.ca.latest_crl(session, issuing).der)
    listed = {
        entry["user_certificate"].native
        for entry in latest["tbs_cert_list"]["revoked_certificates"]
    }
    assert listed == {int(revoked.current_certificate.serial)}


def test_revoke_is_final(seal_context: ServiceContext) -> None:
    view = _issue(seal_context, algorithm="sm2")
    for reason in ("stolen", "certificate_hold"):  # a hold is `suspend`, not a revocation
        with pytest.raises(InvalidInput, match="unknown revocation reason"):
            seals.revoke(seal_context, view.code, reason=reason, actor=ACTOR)
    result = seals.revoke(seal_context, view.code, reason="cessation_of_operation", actor=ACTOR)
    assert (
        result.status is SealStatus.REVOKED and result.revocation_reason == "cessation_of_operation"
    )
    assert result.current_certificate.status == "revoked"
    entry = _crl_entry(_crl_text(seal_context, "sm2"), view.current_certificate.serial)
    assert entry is not None and "Cessation Of Operation" in entry
    with pytest.raises(SealNotUsable, match=f"seal {view.code} is revoked"):
        _material(seal_context, view.code)
    for transition in (seals.resume, seals.suspend, seals.rotate, seals.renew):
        with pytest.raises(InvalidTransition, match="revoked"):
            transition(seal_context, view.code, actor=ACTOR)
    with pytest.raises(InvalidTransition, match="already revoked"):
        seals.revoke(seal_context, view.code, reason="key_compromise", actor=ACTOR)
    with pytest.raises(InvalidTransition, match="revoked"):
        seals.use_generated_image(seal_context, view.code, actor=ACTOR)
    assert _actions(seal_context, view.code).count("seal.revoke") == 1


def test_illegal_transitions_of_active_and_suspended_seals(seal_context: ServiceContext) -> None:
    view = _issue(seal_context, algorithm="sm2")
    with pytest.raises(InvalidTransition, match=r"cannot resume seal .*: it is active"):
        seals.resume(seal_context, view.code, actor=ACTOR)
    seals.suspend(seal_context, view.code, actor=ACTOR)
    for transition in (seals.suspend, seals.rotate, seals.renew):
        with pytest.raises(InvalidTransition, match="it is suspended; resume it first"):
            transition(seal_context, view.code, actor=ACTOR)
    # a suspended seal may still be revoked; its held certificate becomes revoked
    result = seals.revoke(seal_context, view.code, reason="key_compromise", actor=ACTOR)
    assert result.current_certificate.status == "revoked"
    with pytest.raises(NotFound, match="no seal with code"):
        seals.suspend(seal_context, "41010099999999", actor=ACTOR)


# --- rotate and renew -----------------------------------------------------------------------


def test_rotate_supersedes_the_old_certificate_and_keeps_the_old_key(
    seal_context: ServiceContext,
) -> None:
    view = _issue(seal_context)
    old = view.current_certificate
    rotated = seals.rotate(seal_context, view.code, actor=ACTOR)

    new = rotated.current_certificate
    assert new.serial != old.serial and new.key_id != old.key_id == view.key_id
    assert rotated.key_id == new.key_id
    [old_after] = [c for c in rotated.certificates if c.serial == old.serial]
    assert old_after.status == "superseded" and old_after.superseded_at is not None
    assert old_after.revoked_at is None and not old_after.current

    material = _material(seal_context, view.code)
    assert (material.key_id, material.certificate_serial) == (new.key_id, new.serial)
    _assert_key_matches(seal_context, material)
    seal_context.keystore.info(old.key_id)  # the old key stays: nothing to revoke, nothing lost
    with seal_context.database.session(read_only=True) as session:
        shown = seals.show(session, view.code)
        stored_old = session.scalars(
            select(Certificate).where(Certificate.serial == old.serial)
        ).one()
        assert stored_old.status == "superseded" and stored_old.der
    assert [c.serial for c in shown.certificates] == [old.serial, new.serial]
    assert _actions(seal_context, view.code)[-3:] == ["key.generate", "cert.issue", "seal.rotate"]

    # superseded is not revoked, until the seal is: then every key it ever had is
    revoked = seals.revoke(seal_context, view.code, reason="key_compromise", actor=ACTOR)
    assert [c.status for c in revoked.certificates] == ["revoked", "revoked"]
    assert {c.revocation_reason for c in revoked.certificates} == {"key_compromise"}
    assert {c.revoked_at for c in revoked.certificates} == {revoked.revoked_at}
    text = _crl_text(seal_context)
    for serial in (old.serial, new.serial):
        assert "Key Compromise" in (_crl_entry(text, serial) or "")


def _revocations(context: ServiceContext, code: str) -> list[dict]:
    """Details of the seal's ``cert.revoke`` audit entries, in order."""
    with context.database.session(read_only=True) as session:
        return [
            json.loads(entry.details)
            for entry in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.seal_code == code, AuditEntry.action == "cert.revoke")
                .order_by(AuditEntry.seq)
            )
        ]


def test_revoke_covers_every_key_but_not_expired_certificates(
    seal_context: ServiceContext,
) -> None:
    """Issue (30 days), rotate, renew, rotate; 40 days later revoke: the first certificate has
    expired and stays superseded, the other three (two keys) are revoked, each audited."""
    now = utcnow()
    view = _issue(seal_context, algorithm="sm2", validity=timedelta(days=30))
    seals.rotate(seal_context, view.code, actor=ACTOR, now=now)
    seals.renew(seal_context, view.code, actor=ACTOR, now=now)
    rotated = seals.rotate(seal_context, view.code, actor=ACTOR, now=now)
    first, *later = (c.serial for c in rotated.certificates)
    assert len({c.key_id for c in rotated.certificates}) == 3

    at = now + timedelta(days=40)
    revoked = seals.revoke(
        seal_context, view.code, reason="affiliation_changed", actor=ACTOR, now=at
    )
    assert [c.status for c in revoked.certificates] == [
        "superseded",
        "revoked",
        "revoked",
        "revoked",
    ]
    audited = _revocations(seal_context, view.code)
    assert [a["serial"] for a in audited] == later
    assert {(a["reason"], a["hierarchy"], a["revoked_at"]) for a in audited} == {
        ("affiliation_changed", "sm2", at.isoformat())
    }
    assert [a["key_id"] for a in audited] == [c.key_id for c in revoked.certificates[1:]]
    text = _crl_text(seal_context, "sm2")
    assert _crl_entry(text, first) is None
    assert all("Affiliation Changed" in (_crl_entry(text, s) or "") for s in later)


def test_revoking_again_revokes_what_an_earlier_revocation_left_valid(
    seal_context: ServiceContext,
) -> None:
    """A seal revoked before revocation covered superseded certificates (its old serial
    still good) is revoked again: the leftover is revoked, the seal keeps its first time."""
    view = _issue(seal_context)
    old = view.current_certificate.serial
    seals.rotate(seal_context, view.code, actor=ACTOR)
    first = seals.revoke(seal_context, view.code, reason="cessation_of_operation", actor=ACTOR)
    with seal_context.database.session() as session:  # the state the former revoke left
        row = session.scalars(select(Certificate).where(Certificate.serial == old)).one()
        row.status, row.revoked_at, row.revocation_reason = "superseded", None, None

    again = seals.revoke(seal_context, view.code, reason="key_compromise", actor=ACTOR)
    assert [c.status for c in again.certificates] == ["revoked", "revoked"]
    assert (again.revoked_at, again.revocation_reason) == (
        first.revoked_at,
        "cessation_of_operation",
    )
    assert "Key Compromise" in (_crl_entry(_crl_text(seal_context), old) or "")
    assert [a["serial"] for a in _revocations(seal_context, view.code)][-1:] == [old]
    with pytest.raises(InvalidTransition, match="already revoked"):
        seals.revoke(seal_context, view.code, reason="key_compromise", actor=ACTOR)


@pytest.mark.parametrize("algorithm", ["rsa", "sm2"])
def test_rotate_revoke_old_revokes_the_old_key_in_the_same_change(
    seal_context: ServiceContext, algorithm: str
) -> None:
    view = _issue(seal_context, algorithm=algorithm)
    renewed = seals.renew(seal_context, view.code, actor=ACTOR)  # two certificates, one key
    keys_before = {k.key_id for k in seal_context.keystore.list()}
    with pytest.raises(InvalidInput, match="unknown revocation reason 'certificate_hold'"):
        seals.rotate(seal_context, view.code, revoke_old="certificate_hold", actor=ACTOR)
    assert {k.key_id for k in seal_context.keystore.list()} == keys_before  # nothing made

    rotated = seals.rotate(seal_context, view.code, revoke_old="key_compromise", actor=ACTOR)
    old = [c.serial for c in renewed.certificates]
    new = rotated.current_certificate
    assert rotated.status is SealStatus.ACTIVE and new.status == "valid"
    assert [c.status for c in rotated.certificates] == ["revoked", "revoked", "valid"]
    assert all(c.superseded_at is not None for c in rotated.certificates[:2])
    assert _material(seal_context, view.code).certificate_serial == new.serial
    text = _crl_text(seal_context, rotated.hierarchy)
    assert all("Key Compromise" in (_crl_entry(text, s) or "") for s in old)
    assert _crl_entry(text, new.serial) is None
    actions = _actions(seal_context, view.code)
    made = ["ses.make"] if algorithm == "sm2" else []  # the SM2 seal's new GB/T 38540 object
    assert actions[-5 - len(made) :] == [
        "key.generate",
        "cert.issue",
        *made,
        "cert.revoke",
        "cert.revoke",
        "seal.rotate",
    ]
    assert [a["serial"] for a in _revocations(seal_context, view.code)] == old


def test_a_suspended_seal_is_rotated_only_with_revoke_old(seal_context: ServiceContext) -> None:
    """Suspended on a suspicion, then rekeyed for it: the held certificate becomes revoked
    and the seal is active again with the new key."""
    view = _issue(seal_context)
    seals.suspend(seal_context, view.code, actor=ACTOR)
    with pytest.raises(InvalidTransition, match="it is suspended; resume it first"):
        seals.rotate(seal_context, view.code, actor=ACTOR)
    rotated = seals.rotate(seal_context, view.code, revoke_old="key_compromise", actor=ACTOR)
    assert rotated.status is SealStatus.ACTIVE
    old, new = rotated.certificates
    assert (old.status, old.revocation_reason, new.status) == ("revoked", "key_compromise", "valid")
    entry = _crl_entry(_crl_text(seal_context), old.serial)
    assert entry is not None and "Key Compromise" in entry and "Hold" not in entry
    _assert_key_matches(seal_context, _material(seal_context, view.code))


def test_renew_keeps_the_key_and_revoke_covers_the_renewed_certificate(
    seal_context: ServiceContext,
) -> None:
    view = _issue(seal_context, algorithm="sm2", validity=timedelta(days=30))
    renewed = seals.renew(seal_context, view.code, actor=ACTOR, validity=timedelta(days=400))
    old, new = renewed.certificates
    assert new.current and new.key_id == old.key_id == view.key_id and new.serial != old.serial
    assert old.status == "superseded"
    assert renewed.valid_until - view.valid_until > timedelta(days=300)
    assert _material(seal_context, view.code).certificate_serial == new.serial

    # the renewed-away certificate certifies the same key: revoking the seal revokes both
    revoked = seals.revoke(seal_context, view.code, reason="key_compromise", actor=ACTOR)
    assert [c.status for c in revoked.certificates] == ["revoked", "revoked"]
    text = _crl_text(seal_context, "sm2")
    assert _crl_entry(text, old.serial) is not None and _crl_entry(text, new.serial) is not None


# --- expiry ---------------------------------------------------------------------------------


def test_expiry_is_computed_from_time(seal_context: ServiceContext) -> None:
    short = _issue(seal_context, algorithm="sm2", validity=timedelta(days=10))
    long = _issue(seal_context, algorithm="sm2", kind="合同专用章")
    now = utcnow()
    with seal_context.database.session(read_only=True) as session:
        expiring = seals.list_seals(session, expiring_within=timedelta(days=30), now=now)
        assert [v.code for v in expiring] == [short.code]
        assert seals.list_seals(session, expiring_within=timedelta(days=5), now=now) == []
        later = now + timedelta(days=11)
        assert [v.code for v in seals.list_seals(session, status="expired", now=later)] == [
            short.code
        ]
        assert [v.code for v in seals.list_seals(session, status="active", now=later)] == [
            long.code
        ]
        assert seals.show(session, short.code, now=later).status is SealStatus.EXPIRED
        with pytest.raises(SealNotUsable, match=f"seal {short.code} is expired"):
            seals.signing_material(session, short.code, now=later)

    for transition in (seals.renew, seals.suspend):
        with pytest.raises(InvalidTransition, match="it is expired; rotate it"):
            transition(seal_context, short.code, actor=ACTOR, now=later)
    rotated = seals.rotate(seal_context, short.code, actor=ACTOR, now=later)  # new key, new life
    assert rotated.status is SealStatus.ACTIVE
    _material(seal_context, short.code, now=later)


def test_list_filters(seal_context: ServiceContext) -> None:
    ftz = _issue(seal_context, algorithm="sm2")
    market = _issue(seal_context, department="ZZ-D26", kind="公章", algorithm="sm2")
    seals.suspend(seal_context, market.code, actor=ACTOR)
    with seal_context.database.session(read_only=True) as session:
        assert [v.code for v in seals.list_seals(session)] == sorted([ftz.code, market.code])
        assert [v.code for v in seals.list_seals(session, department="ZZ-FTZ")] == [ftz.code]
        assert [v.code for v in seals.list_seals(session, status="suspended")] == [market.code]
        assert seals.list_seals(session, status="revoked") == []
        with pytest.raises(InvalidInput, match="unknown seal status"):
            seals.list_seals(session, status="broken")
        with pytest.raises(NotFound):
            seals.list_seals(session, department="ZZ-NOPE")


# --- concurrency ----------------------------------------------------------------------------


def test_signing_material_during_rotations_never_mixes_key_and_certificate(
    seal_context: ServiceContext,
) -> None:
    view = _issue(seal_context, algorithm="sm2")
    keystore = seal_context.keystore  # opened once, before the threads share it
    rotations = 6
    done = threading.Event()
    errors: list[BaseException] = []
    seen: set[str] = set()
    reads = 0
    lock = threading.Lock()

    def reader() -> None:
        nonlocal reads
        try:
            while not done.is_set():
                material = _material(seal_context, view.code)
                certificate = load_certificate(material.certificate_der)
                stored = keystore.info(material.key_id).public_key_info
                assert certificate.public_key.dump() == stored.dump(), "key/certificate mismatch"
                with lock:
                    seen.add(material.key_id)
                    reads += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(rotations):
            seals.rotate(seal_context, view.code, actor=ACTOR)
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    assert reads > rotations and len(seen) >= 2
    final = _material(seal_context, view.code)
    _assert_key_matches(seal_context, final)
    with seal_context.database.session(read_only=True) as session:
        assert len(seals.show(session, view.code).certificates) == rotations + 1


def test_a_change_that_lost_a_race_is_a_conflict_and_drops_its_key(
    seal_context: ServiceContext, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite takes the write lock at BEGIN: writers queue, no update is lost")
    view = _issue(seal_context, algorithm="sm2")
    keys_before = {info.key_id for info in seal_context.keystore.list()}
    real_get = seals.get
    raced: list[seals.SealView | None] = []

    def get_then_race(session: Session, code: str) -> Seal:
        seal = real_get(session, code)
        if not raced:  # another node renews the seal after we have read it
            raced.append(None)
            raced[0] = seals.renew(seal_context, code, actor="test:other-node")
        return seal

    monkeypatch.setattr(seals, "get", get_then_race)
    with pytest.raises(Conflict, match="changed concurrently; try again"):
        seals.rotate(seal_context, view.code, actor=ACTOR)
    monkeypatch.undo()
    assert {info.key_id for info in seal_context.keystore.list()} == keys_before
    material = _material(seal_context, view.code)
    assert raced[0] is not None
    assert material.certificate_serial == raced[0].current_certificate.serial
    with seal_context.database.session() as session:  # the sealing service's final check
        assert seals.signing_material(session, view.code, lock=True).key_id == view.key_id
