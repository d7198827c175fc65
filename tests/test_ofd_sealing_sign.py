"""GM/T 0099 ``Type="Sign"`` signatures (sealsvc.ofd_sealing.sign_ofd): a GB/T 35275
SignedData over SM3(``Signature.xml``), made with a key that is not a registered seal.

Checked by :func:`pki.cms.verify_signed_data`, by the ``openssl`` CLI — ``asn1parse`` (GB/T
35275's OIDs, the message digest = ``dgst -sm3`` of ``Signature.xml``) and ``pkeyutl`` for
the SM2 signature over the signed attributes (``openssl cms -verify`` cannot be told the
SM2 signer ID, so it cannot check an SM2 SignerInfo at all) — and by ofdrw's ``ofd_check``
(PASS ours, alone and after a seal; FAIL a tampered copy).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asn1crypto import pem
from helpers.licence_ofd_render import template_licence_ofd as _licence
from helpers.ofd_check import needs_ofd_check
from helpers.ofd_check import run_ofd_check as _ofd_check
from helpers.ofd_documents import unsigned_ofd
from helpers.pki_fixtures import build_hierarchy, openssl
from helpers.ses_fixtures import sm2
from helpers.ses_openssl import openssl_verifies
from sqlalchemy import select

from ofd.package import OfdPackage
from ofd.signatures import check_references, read_signature, read_signatures
from pki import cms
from sealsvc import seals
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput
from sealsvc.models import AuditEntry
from sealsvc.ofd_sealing import SIGN_ACTION, OfdSignResult, seal_ofd, sign_ofd
from sealsvc.pades import Placement

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

ACTOR = "test:ofd-sign"


def _sign(context: ServiceContext, data: bytes, **options) -> OfdSignResult:
    hierarchy = sm2()
    return sign_ofd(
        context,
        data,
        hierarchy.seal_key,
        hierarchy.seal.dump(),
        chain=(hierarchy.issuing.dump(),),
        actor=ACTOR,
        now=hierarchy.valid_at,
        **options,
    )


def _signed_value(package: OfdPackage, index: int = -1) -> tuple[bytes, bytes, str]:
    """(Signature.xml, SignedValue.dat, Type) of signature ``index``, its References intact."""
    entry = read_signatures(package).entries[index]
    signature = read_signature(package, entry)
    assert check_references(package, signature).intact
    return signature.signature_xml, package[signature.signed_value_path], entry.type


def test_a_type_sign_signature_verifies_and_is_audited(
    sqlite_seal_context: ServiceContext,
) -> None:
    data, _ = _licence("business_licence")
    result = _sign(sqlite_seal_context, data, details={"idp": "test-idp", "token_id": "t1"})
    package = OfdPackage.read(result.ofd)
    signature_xml, value, kind = _signed_value(package)
    assert kind == "Sign" and result.signature_path == "Doc_0/Signs/Sign_0/Signature.xml"
    content_info = cms.Gbt35275ContentInfo.load(value)
    assert content_info["content_type"].dotted == "1.2.156.10197.6.1.4.2.2"
    signed_data = content_info["content"]
    assert signed_data["encap_content_info"]["content_type"].dotted == "1.2.156.10197.6.1.4.2.1"
    assert len(signed_data["certificates"]) == 2  # the signer's and its issuer's
    signer = cms.verify_signed_data(content_info, signature_xml)
    assert signer.certificate.dump() == sm2().seal.dump()
    with pytest.raises(cms.SignatureInvalid, match="message digest"):
        cms.verify_signed_data(content_info, signature_xml + b" ")
    assert b"<ofd:SignatureMethod>1.2.156.10197.1.501<" in signature_xml
    with sqlite_seal_context.database.session(read_only=True) as session:
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == SIGN_ACTION))
        details = json.loads(entry.details)
        assert (entry.seq, entry.document_hash) == (result.audit_seq, result.output_sha256)
    assert details["certificate_serial"] == str(sm2().seal.serial_number)
    assert details["idp"] == "test-idp" and details["signature_type"] == "Sign"
    assert details["input_sha256"] == result.input_sha256


def test_openssl_reads_and_verifies_the_signed_data(
    sqlite_seal_context: ServiceContext, tmp_path: Path
) -> None:
    """``asn1parse`` finds GB/T 35275's OIDs and the message digest, which equals
    ``openssl dgst -sm3`` of Signature.xml; ``pkeyutl`` (told the SM2 ID) verifies the
    signature over the signed attributes with the certificate's key (openssl x509)."""
    package = OfdPackage.read(_sign(sqlite_seal_context, unsigned_ofd().to_bytes()).ofd)
    signature_xml, value, _ = _signed_value(package)
    (tmp_path / "SignedValue.dat").write_bytes(value)
    (tmp_path / "Signature.xml").write_bytes(signature_xml)
    lines = openssl("asn1parse", "-inform", "DER", "-in", tmp_path / "SignedValue.dat")
    assert lines.returncode == 0, lines.stderr
    rows = lines.stdout.splitlines()
    assert "OBJECT" in rows[1] and rows[1].endswith(":1.2.156.10197.6.1.4.2.2")
    assert any(row.endswith(":1.2.156.10197.6.1.4.2.1") for row in rows)  # eContentType
    digest_row = rows[next(i for i, r in enumerate(rows) if r.endswith(":messageDigest")) + 2]
    digest = openssl("dgst", "-sm3", "-r", tmp_path / "Signature.xml").stdout.split()[0]
    assert digest_row.endswith(f"[HEX DUMP]:{digest.upper()}"), (digest_row, digest)

    signer_info = cms.Gbt35275ContentInfo.load(value)["content"]["signer_infos"][0]
    (tmp_path / "attrs.der").write_bytes(signer_info["signed_attrs"].untag().dump())
    (tmp_path / "signature.der").write_bytes(signer_info["signature"].native)
    (tmp_path / "cert.pem").write_bytes(pem.armor("CERTIFICATE", sm2().seal.dump()))
    key = openssl("x509", "-in", tmp_path / "cert.pem", "-pubkey", "-noout")
    (tmp_path / "key.pem").write_text(key.stdout)
    layer = (tmp_path / "key.pem", tmp_path / "attrs.der", tmp_path / "signature.der")
    assert openssl_verifies(*layer)
    (tmp_path / "attrs.der").write_bytes(signer_info["signed_attrs"].untag().dump()[:-1] + b"\0")
    assert not openssl_verifies(*layer)


def test_rsa_keys_unreadable_certificates_and_broken_ofds_are_refused(
    sqlite_seal_context: ServiceContext,
) -> None:
    rsa = build_hierarchy("rsa")
    data = unsigned_ofd().to_bytes()
    with pytest.raises(InvalidInput, match="needs an SM2 key"):
        sign_ofd(sqlite_seal_context, data, rsa.seal_key, rsa.seal.dump(), actor=ACTOR)
    with pytest.raises(InvalidInput, match="does not match"):
        sign_ofd(sqlite_seal_context, data, sm2().tsa_key, sm2().seal.dump(), actor=ACTOR)
    with pytest.raises(InvalidInput, match="certificate cannot be used"):
        sign_ofd(sqlite_seal_context, data, sm2().seal_key, b"not a certificate", actor=ACTOR)
    with pytest.raises(InvalidInput, match="the OFD cannot be read"):
        _sign(sqlite_seal_context, b"PK\x03\x04 broken")
    with sqlite_seal_context.database.session(read_only=True) as session:
        assert (
            session.scalars(select(AuditEntry).where(AuditEntry.action == SIGN_ACTION)).all() == []
        )


@pytest.mark.slow
@needs_ofd_check
def test_ofd_check_passes_signed_and_sealed_then_signed_and_fails_tampered(
    sqlite_seal_context: ServiceContext, tmp_path: Path
) -> None:
    context = sqlite_seal_context
    data, _ = _licence("business_licence")
    signed = _sign(context, data, placement=Placement(x_mm=60, y_mm=40)).ofd
    code = seals.issue(
        context, department="ZZ-FTZ", kind="行政审批专用章", algorithm="sm2", actor=ACTOR
    ).code
    sealed = seal_ofd(context, data, code, Placement(), timestamp=False, actor=ACTOR).ofd
    sealed_then_signed = _sign(context, sealed).ofd
    package = OfdPackage.read(sealed_then_signed)
    assert [e.type for e in read_signatures(package).entries] == ["Seal", "Sign"]
    _signed_value(package, 0)  # the seal's References still hold
    page = bytearray(package["Doc_0/Pages/Page_0/Content.xml"])
    page[page.index(b"\xe9\x83\x91")] ^= 0x01
    files = {
        "signed": OfdPackage.read(signed),
        "sealed-then-signed": package,
        "tampered": package.with_files({"Doc_0/Pages/Page_0/Content.xml": bytes(page)}),
    }
    lines = _ofd_check(files, tmp_path)
    assert lines["signed"].startswith("PASS "), lines["signed"]
    assert lines["sealed-then-signed"].startswith("PASS "), lines["sealed-then-signed"]
    assert lines["tampered"].startswith("FAIL "), lines["tampered"]
