"""SES_Signature with a registered SM2 seal (sealsvc.ses_signing) and its verification
(sealsvc.verification.ses): the real lifecycle (revoke, suspend), tampering, third-party seals.

Everything is real: the seal's key in the key store, our SM2 CAs, TSA, OCSP and CRLs
answered in-process as for PDFs; the SM2 layers of what we sign are checked with the
``openssl`` CLI over the bytes our parser extracts and over bytes ``asn1parse`` extracts.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import core, x509
from helpers.ses_fixtures import sample_signatures
from helpers.ses_openssl import layers_by_asn1parse, layers_by_our_parser, openssl_verifies
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESStatus
from sqlalchemy import select

from pki import ses
from pki.algorithms import SignatureScheme
from pki.asn1 import ses as asn1
from pki.certificates import load_certificate
from pki.chain import RevocationJudge
from pki.clock import now_utc
from pki.sm2 import sm3
from sealsvc import seals, ses_seals, ses_signing
from sealsvc.context import ServiceContext
from sealsvc.errors import Conflict, InvalidInput, NotFound, SealNotUsable
from sealsvc.models import AuditEntry, CertificateStatus
from sealsvc.trust_services import TrustServices
from sealsvc.verification.service import service_anchors
from sealsvc.verification.ses import SesVerification, SesVerifier, verify_ses
from sealsvc.verification.validator import clear_caches

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

ACTOR = "test:ses-signing"
XML = b'<?xml version="1.0" encoding="UTF-8"?><ofd:Signature ID="1"/>'
PATH = "/Doc_0/Signs/Sign_0/Signature.xml"


@pytest.fixture
def context(sqlite_seal_context: ServiceContext) -> ServiceContext:
    """Real CAs, with their PEM files under ``ca/`` (the verifier's trust anchors)."""
    with sqlite_seal_context.database.session(read_only=True) as session:
        sqlite_seal_context.ca.export_files(session)
    return sqlite_seal_context


def _issue(context: ServiceContext, algorithm: str = "sm2") -> str:
    view = seals.issue(
        context, department="ZZ-FTZ", kind="行政审批专用章", algorithm=algorithm, actor=ACTOR
    )
    return view.code


def _sign(context: ServiceContext, code: str, *, timestamp: bool = True, **options) -> bytes:
    result = ses_signing.sign_hash(
        context, code, sm3(XML), PATH, timestamp=timestamp, actor=ACTOR, **options
    )
    return result.der


def _verify(
    context: ServiceContext, der: bytes, data: bytes | None = XML, *, later: bool = False
) -> SesVerification:
    """Verify now, or (``later``) a few seconds on: a hold or revocation takes effect at the
    next whole second after it commits (see ``sealsvc.seals``)."""
    now = now_utc() + timedelta(seconds=3) if later else None
    return SesVerifier(context).verify(der, data, now=now)


def _entries(context: ServiceContext, code: str, action: str) -> list[dict]:
    with context.database.session(read_only=True) as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.seal_code == code, AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        ).all()
        return [{"document_hash": r.document_hash, **json.loads(r.details)} for r in rows]


def test_our_signature_verifies_total_passed(context: ServiceContext) -> None:
    code = _issue(context)
    result = ses_signing.sign_hash(
        context, code, sm3(XML), PATH, timestamp=True, actor=ACTOR, details={"key_id": "k1"}
    )
    signature = ses.parse_signature(result.der)
    with context.database.session(read_only=True) as session:
        stored = ses_seals.current(session, code)
        certificate = seals.get(session, code).current_certificate
    assert signature.seal.der == stored.der and signature.signer_certificate == certificate.der
    assert (signature.property_info, signature.data_hash) == (PATH, sm3(XML))
    assert signature.time_stamp_token is not None
    [used] = _entries(context, code, "seal.use")
    assert used["document_hash"] == result.sha256 and used["format"] == "ses"
    assert used["ses_seal_sha256"] == stored.sha256 and used["time_stamped"] is True
    assert used["data_hash_sm3"] == sm3(XML).hex() and used["key_id"] == "k1"

    verified = _verify(context, result.der)
    assert verified.passed, verified.to_dict()
    report = verified.report
    assert report.indication is AdESStatus.PASSED and report.sub_indication is None
    assert all(layer.status is ses.LayerStatus.PASSED for layer in verified.layers)
    assert report.best_signature_time is not None and report.timestamp.valid
    assert report.chain.trusted and verified.maker_chain.trusted
    assert report.revocation.status == "good" and verified.maker_revocation.status == "good"
    assert report.registry.seal_code == code and verified.seal_registry.known_object
    assert "印章有效" in report.sentence
    assert verified.to_dict()["indication"] == "TOTAL_PASSED"


def test_sign_and_verify_on_both_backends(seal_context: ServiceContext) -> None:
    """The registry reads and the audit transaction on SQLite and on PostgreSQL."""
    with seal_context.database.session(read_only=True) as session:
        seal_context.ca.export_files(session)
    code = _issue(seal_context)
    der = _sign(seal_context, code)
    assert _verify(seal_context, der).passed
    seals.rotate(seal_context, code, actor=ACTOR)
    assert _verify(seal_context, der).passed  # the superseded key's signature stays valid
    rotated = ses.parse_signature(_sign(seal_context, code))
    assert rotated.seal.der != ses.parse_signature(der).seal.der
    assert len(_entries(seal_context, code, "seal.use")) == 2


def test_a_rotation_between_the_two_reads_is_a_conflict(
    seal_context: ServiceContext, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL reads each statement afresh: a rotation committing between reading the
    seal's key and its seal object must not give a signature whose seal lists another key."""
    if database_url.startswith("sqlite"):
        pytest.skip("a SQLite read transaction keeps one snapshot: both reads agree")
    code = _issue(seal_context)
    real_current = ses_seals.current_for_signing

    def rotated_meanwhile(session, wanted: str):
        monkeypatch.setattr(ses_seals, "current_for_signing", real_current)
        seals.rotate(seal_context, wanted, actor="test:other-node")
        return real_current(session, wanted)

    monkeypatch.setattr(ses_seals, "current_for_signing", rotated_meanwhile)
    with pytest.raises(Conflict, match="changed while signing; try again"):
        _sign(seal_context, code, timestamp=False)
    assert _entries(seal_context, code, "seal.use") == []
    assert ses.parse_signature(_sign(seal_context, code, timestamp=False)).seal.certificates == (
        _current_certificate(seal_context, code),
    )


def _current_certificate(context: ServiceContext, code: str) -> bytes:
    with context.database.session(read_only=True) as session:
        return seals.get(session, code).current_certificate.der


def test_after_a_seal_maker_rotation_both_makers_seals_verify(context: ServiceContext) -> None:
    old_seal = _issue(context)
    with context.database.session() as session:
        old_maker = context.ca.seal_maker(session).der
        new_maker = context.ca.create_seal_maker(session, actor=ACTOR).der
    new_seal = _issue(context)
    before, after = _sign(context, old_seal), _sign(context, new_seal)
    assert ses.parse_signature(before).seal.maker_certificate == old_maker
    assert ses.parse_signature(after).seal.maker_certificate == new_maker
    assert _verify(context, before).passed and _verify(context, after).passed
    seals.renew(context, old_seal, actor=ACTOR)  # its next seal object is the new maker's
    assert ses.parse_signature(_sign(context, old_seal)).seal.maker_certificate == new_maker


def test_without_a_time_stamp_it_verifies_too(context: ServiceContext) -> None:
    code = _issue(context)
    verified = _verify(context, _sign(context, code, timestamp=False))
    assert verified.passed, verified.to_dict()
    assert verified.report.timestamp is None and verified.report.best_signature_time is None


@pytest.mark.parametrize("extract", [layers_by_our_parser, layers_by_asn1parse])
def test_openssl_verifies_the_maker_and_signer_layers(
    context: ServiceContext, extract, tmp_path: Path
) -> None:
    der = _sign(context, _issue(context))
    layers = extract(der, tmp_path)
    assert set(layers) == {"maker", "signer"}
    for name, layer in layers.items():
        assert openssl_verifies(layer.public_key, layer.message, layer.signature), name


def test_data_and_hash_are_checked(context: ServiceContext) -> None:
    der = _sign(context, _issue(context))
    other = _verify(context, der, XML.replace(b"1", b"2"))
    assert other.report.sub_indication is AdESFailure.HASH_FAILURE
    assert other.report.indication is AdESStatus.FAILED and "篡改" in other.report.sentence
    missing = _verify(context, der, None)
    assert missing.report.sub_indication is AdESIndeterminate.SIGNED_DATA_NOT_FOUND
    with pytest.raises(InvalidInput, match="32 bytes"):
        ses_signing.sign_hash(
            context, "41010005000001", b"short", PATH, timestamp=False, actor=ACTOR
        )


def test_any_damaged_signature_gets_a_report_never_an_exception(context: ServiceContext) -> None:
    der = _sign(context, _issue(context))
    anchors = service_anchors(context.settings.ca_dir)
    rng = random.Random(38540)
    indications = set()
    for _ in range(80):
        damaged = bytearray(der)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        cut = damaged[: rng.randrange(len(damaged) + 1)] if rng.random() < 0.2 else damaged
        verified = verify_ses(bytes(cut), XML, trust=anchors)
        assert verified.report.sentence and not verified.passed
        json.dumps(verified.to_dict(), ensure_ascii=False)
        indications.add(verified.report.sub_indication.standard_name)
    assert {"FORMAT_FAILURE", "SIG_CRYPTO_FAILURE"} <= indications


def _tampered(der: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new) and der.count(old) >= 1
    return der.replace(old, new, 1)


def test_tampered_fields_fail_the_right_layer(context: ServiceContext) -> None:
    code = _issue(context)
    der = _sign(context, code, timestamp=False)
    signature = ses.parse_signature(der)
    seal = signature.seal
    valid_end = seal.valid_end.strftime("%Y%m%d%H%M%SZ").encode()
    cases = {
        "name": (seal.name.encode(), seal.name.replace("管理委员会", "管理委员公").encode()),
        "validity": (valid_end, b"2099" + valid_end[4:]),
        "cert_list": (seal.certificates[0][-8:], bytes(8)),  # certList precedes the signer cert
        "picture": (seal.picture.data[40:56], bytes(16)),
        "data_hash": (sm3(XML), bytes(32)),
        "property_info": (PATH.encode(), PATH.replace("Sign_0", "Sign_9").encode()),
    }
    failed_layer = {
        "name": ses.Layer.MAKER_SIGNATURE,
        "validity": ses.Layer.MAKER_SIGNATURE,
        "cert_list": ses.Layer.MAKER_SIGNATURE,
        "picture": ses.Layer.MAKER_SIGNATURE,
        "data_hash": ses.Layer.SIGNER_SIGNATURE,
        "property_info": ses.Layer.SIGNER_SIGNATURE,
    }
    for field, (old, new) in cases.items():
        verified = _verify(context, _tampered(der, old, new))
        layers = {r.layer: r for r in verified.layers}
        assert layers[failed_layer[field]].status is ses.LayerStatus.FAILED, field
        assert verified.report.sub_indication is AdESFailure.SIG_CRYPTO_FAILURE, field
        assert verified.report.indication is AdESStatus.FAILED, field
        if failed_layer[field] is ses.Layer.MAKER_SIGNATURE:
            assert "制章者" in verified.report.sentence, field
    # a changed certList also fails the certList layer; a changed dataHash the data layer
    cert_list = _verify(context, _tampered(der, *cases["cert_list"]))
    assert {r.layer: r for r in cert_list.layers}[ses.Layer.CERT_LIST].reason is (
        ses.Reason.NOT_IN_CERT_LIST
    )
    hashed = _verify(context, _tampered(der, *cases["data_hash"]))
    assert {r.layer: r for r in hashed.layers}[ses.Layer.DATA_HASH].reason is (
        ses.Reason.HASH_MISMATCH
    )
    unreadable = _verify(context, der[:-20])
    assert unreadable.report.sub_indication is AdESFailure.FORMAT_FAILURE
    assert unreadable.version is None


def _maker_made_seal(context: ServiceContext, code: str, **overrides) -> bytes:
    """A seal object our maker signs with other content (as a rogue maker operator could)."""
    with context.database.session(read_only=True) as session:
        maker = context.ca.seal_maker(session)
        parsed = ses.parse_seal(ses_seals.current(session, code).der)
        maker_der, key = maker.der, context.ca.signer(maker)
    arguments = {
        "es_id": parsed.es_id,
        "seal_type": parsed.seal_type,
        "name": parsed.name,
        "signer_certificates": list(parsed.certificates),
        "created": parsed.created,
        "valid_start": parsed.valid_start,
        "valid_end": parsed.valid_end,
        "picture": parsed.picture,
        "maker_certificate": maker_der,
        "maker": key,
        **overrides,
    }
    return ses.make_seal(**arguments)


def _thief_sign(context: ServiceContext, code: str, seal: bytes, trust=None) -> bytes:
    """Sign with the seal's key straight from the key store, around the registry: what a
    holder of a stolen key does (sign_hash would refuse)."""
    with context.database.session(read_only=True) as session:
        row = seals.get(session, code)
        key_id, certificate = row.key_id, row.current_certificate.der
    stamp = None
    if trust is not None:
        tsa = trust.tsa("sm2")
        stamp = lambda value: tsa.stamp(sm3(value), "sm3").dump()  # noqa: E731
    return ses.sign_ses(
        seal=seal,
        signer_certificate=certificate,
        signer=context.keystore.signer(key_id),
        data_hash=sm3(XML),
        property_info=PATH,
        signing_time=now_utc(),
        timestamper=stamp,
    )


def _with_seal(context: ServiceContext, code: str, der: bytes, seal: bytes) -> bytes:
    """``der`` with another seal object in its TBS_Sign, signed again with the seal's key:
    pki.ses.sign_ses (rightly) refuses to make such a signature, a forger does not."""
    original = asn1.SESSignature.load(der)
    tbs = asn1.TBSSign(
        {
            "version": 4,
            "eseal": asn1.SESeal.load(seal),
            "time_info": original["to_sign"]["time_info"],
            "data_hash": original["to_sign"]["data_hash"],
            "property_info": original["to_sign"]["property_info"],
        }
    )
    with context.database.session(read_only=True) as session:
        key_id = seals.get(session, code).key_id
    value = context.keystore.signer(key_id).sign(tbs.dump(), SignatureScheme.SM2_SM3)
    return asn1.SESSignature(
        {
            "to_sign": tbs,
            "cert": original["cert"],
            "signature_alg_id": original["signature_alg_id"],
            "signature": value,
        }
    ).dump()


def test_a_signer_outside_the_cert_list_and_outside_the_validity(context: ServiceContext) -> None:
    code, other = _issue(context), _issue(context)
    with context.database.session(read_only=True) as session:
        other_certificate = seals.get(session, other).current_certificate.der
    foreign = _maker_made_seal(context, code, signer_certificates=[other_certificate])
    verified = _verify(
        context, _with_seal(context, code, _sign(context, code, timestamp=False), foreign)
    )
    assert verified.report.sub_indication is AdESIndeterminate.SIG_CONSTRAINTS_FAILURE
    assert "证书列表" in verified.report.sentence
    ended = now_utc() - timedelta(days=1)
    expired = _maker_made_seal(
        context, code, valid_start=ended - timedelta(days=30), valid_end=ended
    )
    verified = _verify(context, _thief_sign(context, code, expired))
    layer = {r.layer: r for r in verified.layers}[ses.Layer.VALIDITY]
    assert layer.reason is ses.Reason.SEAL_EXPIRED
    assert verified.report.sub_indication is ses.Reason.SEAL_EXPIRED.sub_indication
    assert "有效期" in verified.report.sentence
    # our maker made them, but not for the registry: warned, never silently trusted
    assert verified.seal_registry is not None and not verified.seal_registry.known_object


def test_a_seal_holder_cannot_act_as_seal_maker(context: ServiceContext) -> None:
    """A seal's key signs a seal object of its own naming another seal: the certificate
    chains to our root, but it is no seal-maker certificate."""
    mine, theirs = _issue(context), _issue(context)
    with context.database.session(read_only=True) as session:
        row = seals.get(session, mine)
        certificate, key = row.current_certificate.der, context.keystore.signer(row.key_id)
        name = ses.parse_seal(ses_seals.current(session, theirs).der).name
    forged = ses.make_seal(
        es_id=theirs,
        seal_type=1,
        name=name,
        signer_certificates=[certificate],
        created=now_utc(),
        valid_start=now_utc() - timedelta(minutes=1),
        valid_end=now_utc() + timedelta(days=1),
        picture=ses.SealPicture("png", b"\x89PNG\r\n\x1a\n", 42, 42),
        maker_certificate=certificate,
        maker=key,
    )
    der = _thief_sign(context, mine, forged)
    verified = _verify(context, der)
    assert all(r.status is not ses.LayerStatus.FAILED for r in verified.layers)
    assert verified.maker_chain.trusted
    assert verified.report.sub_indication is AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE
    assert "seal-maker" in verified.report.message and "制章者" in verified.report.sentence
    # it is the maker policy that stops it: without one, every other check passes
    anchors = service_anchors(context.settings.ca_dir)
    with context.database.session(read_only=True) as session:
        issuing = seals.get(session, mine).current_certificate.issuer.der
    unguarded = verify_ses(
        der, XML, trust=anchors, intermediates=[load_certificate(issuing)], now=now_utc()
    )
    assert unguarded.report.sub_indication is AdESIndeterminate.TRY_LATER  # no CRL/OCSP given


def test_a_revoked_seal(context: ServiceContext) -> None:
    code = _issue(context)
    stamped, plain = _sign(context, code), _sign(context, code, timestamp=False)
    seals.revoke(context, code, reason="key_compromise", actor=ACTOR)
    # time-stamped before the revocation: proof it is older, still valid
    assert _verify(context, stamped, later=True).passed
    # no proof of time: the seal may have been used after the revocation
    no_poe = _verify(context, plain, later=True)
    assert no_poe.report.sub_indication is AdESIndeterminate.REVOKED_NO_POE
    # used after the revocation (with the key, around the registry), time-stamped: fails
    later = TrustServices(context, clock=lambda: now_utc() + timedelta(seconds=5))
    with context.database.session(read_only=True) as session:
        seal = ses_seals.current(session, code).der
    after = _verify(context, _thief_sign(context, code, seal, trust=later), later=True)
    assert after.report.sub_indication is AdESFailure.REVOKED
    assert after.report.indication is AdESStatus.FAILED
    # and the service refuses it, audited as a refused seal use
    with pytest.raises(SealNotUsable, match="revoked"):
        _sign(context, code, details={"client": "127.0.0.1"})
    [refused] = _entries(context, code, "seal.refused")
    assert refused["refusal"] == "seal-not-usable" and refused["client"] == "127.0.0.1"


def test_a_revoked_seal_maker_certificate_is_found(context: ServiceContext) -> None:
    """The maker's certificate is checked like the signer's, with the same caches warm: a
    maker key compromised before the signing time fails every seal object it signed."""
    code = _issue(context)
    der = _sign(context, code)
    assert _verify(context, der).maker_revocation.status == "good"  # caches warm now
    with context.database.session() as session:
        maker = context.ca.seal_maker(session)
        maker.status = CertificateStatus.REVOKED.value
        maker.revoked_at = now_utc() - timedelta(hours=1)
        maker.revocation_reason = "key_compromise"
    verified = _verify(context, der, later=True)
    assert verified.report.indication is AdESStatus.FAILED
    assert verified.report.sub_indication is AdESFailure.REVOKED
    assert verified.report.message == "seal maker certificate: revoked"
    assert verified.maker_revocation.status == "revoked"
    assert verified.report.revocation.status == "good"  # the seal's own certificate is fine
    clear_caches()  # and from a cold start alike
    assert _verify(context, der, later=True).report.sub_indication is AdESFailure.REVOKED


def test_one_verification_sets_the_engine_up_once_per_revocation_item(
    context: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signer, seal maker and TSA under one CA: seven revocation statements (CRL and OCSP
    for each, the root's CRL for the CA) from three engine set-ups — the CA's CRL, the one
    OCSP answer about all three, the root's CRL — counted, cold, by instrumentation."""
    code = _issue(context)
    der = _sign(context, code)
    judges: list[RevocationJudge] = []
    asked: list[bytes] = []
    init, statement = RevocationJudge.__init__, RevocationJudge.statement

    def counting_init(self: RevocationJudge) -> None:
        init(self)
        judges.append(self)

    def counting_statement(self: RevocationJudge, certificate: x509.Certificate, *args, **kw):
        asked.append(certificate.dump())
        return statement(self, certificate, *args, **kw)

    monkeypatch.setattr(RevocationJudge, "__init__", counting_init)
    monkeypatch.setattr(RevocationJudge, "statement", counting_statement)
    clear_caches()
    verified = _verify(context, der)
    assert verified.passed, verified.report.message
    [judge] = judges  # one evidence pool, one judge, per verification
    assert len(asked) == 7 and len(set(asked)) == 4  # TSA, signer, maker, issuing CA
    assert judge.contexts_built == 3


def test_a_suspended_seal(context: ServiceContext) -> None:
    code = _issue(context)
    der = _sign(context, code)
    seals.suspend(context, code, actor=ACTOR)
    held = _verify(context, der, later=True)
    assert held.report.sub_indication is AdESIndeterminate.TRY_LATER
    assert "暂停" in held.report.sentence
    with pytest.raises(SealNotUsable, match="suspended"):
        _sign(context, code)
    assert len(_entries(context, code, "seal.refused")) == 1
    seals.resume(context, code, actor=ACTOR)
    assert _verify(context, der).passed


def test_rsa_and_unknown_seals_are_refused(context: ServiceContext) -> None:
    rsa = _issue(context, "rsa")
    with pytest.raises(ses_seals.NoSesSeal, match="SM2 seals only"):
        _sign(context, rsa)
    [refused] = _entries(context, rsa, "seal.refused")
    assert refused["refusal"] == "no-ses-seal"
    with pytest.raises(NotFound):
        _sign(context, "41010099999999")


def _v1_signature(context: ServiceContext, code: str) -> bytes:
    """A GM/T 0031-2014 (v1) signature over :data:`XML` with the seal's key and a v1 seal
    our maker signs, built from the v1 declarations (sealsvc itself makes v4 only)."""
    with context.database.session(read_only=True) as session:
        seal_row = seals.get(session, code)
        certificate, key_id = seal_row.current_certificate.der, seal_row.key_id
        maker = context.ca.seal_maker(session)
        maker_der, maker_key = maker.der, context.ca.signer(maker)
        current = ses.parse_seal(ses_seals.current(session, code).der)
    sm2_sm3 = core.ObjectIdentifier("1.2.156.10197.1.501")
    info = asn1.SESSealInfoV1(
        {
            "header": {"id": "ES", "version": 1, "vid": "sealsvc"},
            "es_id": code,
            "property": {
                "type": current.seal_type,
                "name": current.name,
                "cert_list": [core.Any.load(core.OctetString(certificate).dump())],
                "create_date": x509.Time(name="utc_time", value=current.created),
                "valid_start": x509.Time(name="utc_time", value=current.valid_start),
                "valid_end": x509.Time(name="utc_time", value=current.valid_end),
            },
            "picture": {"type": "png", "data": current.picture.data, "width": 42, "height": 42},
        }
    )
    signed_part = asn1.SealSignedPartV1(
        {"seal_info": info, "cert": maker_der, "signature_algorithm": sm2_sm3}
    )
    seal = asn1.SESealV1(
        {
            "eseal_info": info,
            "sign_info": {
                "cert": maker_der,
                "signature_algorithm": sm2_sm3,
                "sign_data": maker_key.sign(signed_part.dump(), SignatureScheme.SM2_SM3),
            },
        }
    )
    when = now_utc().strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    tbs = asn1.TBSSignV1(
        {
            "version": 1,
            "eseal": seal,
            "time_info": {"bits": when},
            "data_hash": {"bits": sm3(XML)},
            "property_info": PATH,
            "cert": certificate,
            "signature_algorithm": sm2_sm3,
        }
    )
    value = context.keystore.signer(key_id).sign(tbs.dump(), SignatureScheme.SM2_SM3)
    return asn1.SESSignatureV1({"to_sign": tbs, "signature": value}).dump()


def test_a_v1_signature_goes_through_the_same_checks(context: ServiceContext) -> None:
    code = _issue(context)
    der = _v1_signature(context, code)
    verified = _verify(context, der)
    assert verified.version == 1 and verified.es_id == code
    assert verified.passed, verified.to_dict()
    assert verified.report.chain.trusted and verified.maker_chain.trusted
    assert verified.report.revocation.status == "good"
    # not a seal object our registry holds: said, not silently trusted as one of ours
    assert not verified.seal_registry.known_object
    assert any("did not make this seal object" in w for w in verified.report.warnings)
    tampered = _verify(context, der.replace(sm3(XML), bytes(32), 1))
    assert tampered.report.sub_indication is AdESFailure.SIG_CRYPTO_FAILURE
    seals.revoke(context, code, reason="key_compromise", actor=ACTOR)
    revoked = _verify(context, der, later=True)
    assert revoked.report.sub_indication is AdESIndeterminate.REVOKED_NO_POE


EXPECTED_SAMPLES = {
    # label: (indication, sub-indication) — trust is never ours for another issuer's seal
    "v4signed.ofd:Sign_0": (AdESStatus.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND"),
    "h.ofd:Sign_0": (AdESStatus.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND"),
    "h.ofd:Sign_1": (AdESStatus.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND"),
    "SESV4SignDoc.ofd:Sign_0": (
        ses.Reason.SEAL_EXPIRED.sub_indication.status,
        ses.Reason.SEAL_EXPIRED.sub_indication.standard_name,
    ),
    "n.ofd:Sign_0": (AdESStatus.FAILED, "SIG_CRYPTO_FAILURE"),
    "testImageNotFound.ofd:Sign_0": (AdESStatus.FAILED, "FORMAT_FAILURE"),
    "testImageNotFound.ofd:Sign_1": (AdESStatus.FAILED, "FORMAT_FAILURE"),
}


@pytest.mark.parametrize("sample", sample_signatures(), ids=lambda s: s.label)
def test_third_party_seals(sample, context: ServiceContext) -> None:
    """Other issuers' seals (ofdrw's samples): the crypto layers as the README lists, and
    trust INDETERMINATE — we do not hold their roots."""
    verified = verify_ses(
        sample.signed_value,
        sample.signature_xml,
        trust=service_anchors(context.settings.ca_dir),
    )
    report = verified.report
    assert (report.indication, report.sub_indication.standard_name) == EXPECTED_SAMPLES[
        sample.label
    ], verified.to_dict()
    assert report.sentence and "Traceback" not in report.message
    if report.sub_indication.standard_name == "NO_CERTIFICATE_CHAIN_FOUND":
        assert all(r.status is not ses.LayerStatus.FAILED for r in verified.layers)
        assert not report.chain.trusted
    json.dumps(verified.to_dict(), ensure_ascii=False)  # JSON-ready, whatever the input
