"""End to end: an OFD sealed with a real SES_Signature, checked by us and by ofdrw's validator.

``make_signed_value`` here is :func:`pki.ses.sign_ses` with a seal made by a test seal maker
(tests/ses_fixtures.py), ``dataHash`` = SM3 of the ``Signature.xml`` bytes, ``propertyInfo``
= its path, time-stamped by the SM2 test TSA — what sealing an OFD will do in sealsvc.

``ofd_check`` (ofdrw's ``OFDValidator``, the reference of the Chinese OFD ecosystem) lives in
``shared/ofdrw`` beside the repository (CI has it); without it those tests skip and say so.
It must PASS what we write and FAIL tampered copies; what it does not check (the maker's
signature, chains, validity, time-stamps) is checked here with :func:`pki.ses.check_signature`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.ofd_check import REPO, needs_ofd_check
from helpers.ofd_check import run_ofd_check as _ofd_check
from helpers.ofd_documents import PROVIDER, unsigned_ofd
from helpers.ses_fixtures import SesSigner, sm2

from ofd.package import OfdPackage
from ofd.signatures import (
    DigestStatus,
    SignatureType,
    StampPlacement,
    add_signature,
    check_references,
    read_signature,
    read_signatures,
)
from pki import cms, ses
from pki.sm2 import sm3


def _seal(package: OfdPackage, signer: SesSigner, page: int = 0) -> OfdPackage:
    return add_signature(
        package,
        signer,
        provider=PROVIDER,
        signature_time=sm2().valid_at,
        stamps=[StampPlacement(page, (140, 230, 40, 40))],
        seal=signer.seal,
    )


def _check_all(package: OfdPackage) -> list[tuple[bool, bool, ses.SesCheck]]:
    """Our checks per signature: References intact, Seal.esl is the seal signed with, and
    every SES layer."""
    results = []
    for entry in read_signatures(package).entries:
        signature = read_signature(package, entry)
        parsed = ses.parse_signature(package[signature.signed_value_path])
        assert parsed.property_info == "/" + entry.path
        results.append(
            (
                check_references(package, signature).intact,
                package[signature.seal_path] == parsed.seal.der,
                ses.check_signature(parsed, signature.signature_xml),
            )
        )
    return results


def test_sealed_ofd_carries_a_real_ses_signature_that_verifies() -> None:
    sealed = _seal(unsigned_ofd(), SesSigner())
    [(intact, same_seal, check)] = _check_all(sealed)
    assert intact and same_seal
    assert check.ok, check.failures
    assert check[ses.Layer.DATA_HASH].passed and check[ses.Layer.TIME_STAMP].passed
    assert check[ses.Layer.MAKER_SIGNATURE].passed and check.time_stamped


def test_joint_seals_both_verify() -> None:
    sealed = _seal(_seal(unsigned_ofd(), SesSigner()), SesSigner("44030000000002"), page=1)
    results = _check_all(sealed)
    assert len(results) == 2
    for intact, same_seal, check in results:
        assert intact and same_seal and check.ok, check.failures


def _gmt0099_signed_value(signature_xml: bytes, signature_path: str) -> bytes:
    """A GM/T 0099 signed value: detached GB/T 35275 SignedData, messageDigest SM3(xml)."""
    hierarchy = sm2()
    return cms.build_gbt35275_signed_data(
        hierarchy.seal_key,
        hierarchy.seal,
        certificates=[hierarchy.seal],
        content_digest=sm3(signature_xml),
        signing_time=hierarchy.valid_at,
    ).dump()


def _signed_gmt0099(package: OfdPackage) -> OfdPackage:
    return add_signature(
        package,
        _gmt0099_signed_value,
        provider=PROVIDER,
        signature_time=sm2().valid_at,
        signature_type=SignatureType.SIGN,
    )


def test_type_sign_signature_carries_sm3_of_its_signature_xml() -> None:
    signed = _signed_gmt0099(unsigned_ofd())
    (entry,) = read_signatures(signed).entries
    signature = read_signature(signed, entry)
    assert entry.type == "Sign" and check_references(signed, signature).intact
    content_info = cms.Gbt35275ContentInfo.load(signed[signature.signed_value_path])
    assert content_info["content_type"].dotted == "1.2.156.10197.6.1.4.2.2"
    attributes = content_info["content"]["signer_infos"][0]["signed_attrs"]
    (digest,) = [a["values"][0].native for a in attributes if a["type"].native == "message_digest"]
    assert digest == sm3(signature.signature_xml)
    signer = cms.verify_signed_data(content_info, signature.signature_xml)
    assert signer.certificate.dump() == sm2().seal.dump()


def _tampered(sealed: OfdPackage) -> dict[str, OfdPackage]:
    """Copies of a sealed OFD changed the ways an attacker would, by name."""
    (entry,) = read_signatures(sealed).entries
    signature = read_signature(sealed, entry)
    page = bytearray(sealed["Doc_0/Pages/Page_0/Content.xml"])
    page[-30] ^= 0x01
    other = _seal(unsigned_ofd(), SesSigner())
    assert signature.seal_path is not None
    return {
        "page": sealed.with_files({"Doc_0/Pages/Page_0/Content.xml": bytes(page)}),
        "signature-xml": sealed.with_files(
            {
                entry.path: signature.signature_xml.replace(
                    b"<ofd:SignatureDateTime>", b"<ofd:SignatureDateTime>1"
                )
            }
        ),
        "swapped-signed-value": sealed.with_files(
            {signature.signed_value_path: other[signature.signed_value_path]}
        ),
        "wrong-data-hash": sealed.with_files(
            {
                signature.signed_value_path: ses.sign_ses(
                    seal=sealed[signature.seal_path],
                    signer_certificate=sm2().seal.dump(),
                    signer=sm2().seal_key,
                    data_hash=sm3(b"another Signature.xml"),
                    property_info="/" + entry.path,
                    signing_time=sm2().valid_at,
                )
            }
        ),
    }


def test_tampered_copies_fail_our_checks() -> None:
    tampered = _tampered(_seal(unsigned_ofd(), SesSigner()))
    [(intact, same_seal, check)] = _check_all(tampered["page"])
    assert not intact and same_seal and check.ok  # only the page digest fails
    [(intact, same_seal, check)] = _check_all(tampered["signature-xml"])
    assert intact and same_seal
    assert [r.layer for r in check.failures] == [ses.Layer.DATA_HASH]
    # another signing's value: its seal is not the Seal.esl this signature covers
    [(intact, same_seal, check)] = _check_all(tampered["swapped-signed-value"])
    assert intact and not same_seal
    assert [r.layer for r in check.failures] == [ses.Layer.DATA_HASH]
    [(intact, same_seal, check)] = _check_all(tampered["wrong-data-hash"])
    assert intact and same_seal
    assert [r.layer for r in check.failures] == [ses.Layer.DATA_HASH]
    page = tampered["page"]
    result = check_references(page, read_signature(page, read_signatures(page).entries[0]))
    assert [c.path for c in result.checks if c.status is DigestStatus.MISMATCH] == [
        "Doc_0/Pages/Page_0/Content.xml"
    ]


@pytest.mark.slow
@needs_ofd_check
def test_ofd_check_passes_ours_and_fails_tampered_copies(tmp_path: Path) -> None:
    single = _seal(unsigned_ofd(), SesSigner())
    joint = _seal(single, SesSigner("44030000000002"), page=1)
    legacy_third_party = _seal(
        OfdPackage.read((REPO / "tests/data/ofd-samples/v4signed.ofd").read_bytes()), SesSigner()
    )
    sign = _signed_gmt0099(unsigned_ofd())
    seal_then_sign = _signed_gmt0099(single)
    files = {
        "single": single,
        "joint": joint,
        "v4signed-plus-ours": legacy_third_party,
        "type-sign": sign,
        "seal-then-sign": seal_then_sign,
    }
    files.update({f"tampered-{k}": v for k, v in _tampered(single).items()})
    page = bytearray(sign["Doc_0/Pages/Page_1/Content.xml"])
    page[-30] ^= 0x01
    files["tampered-type-sign"] = sign.with_files({"Doc_0/Pages/Page_1/Content.xml": bytes(page)})
    lines = _ofd_check(files, tmp_path)
    for name in ("single", "joint", "v4signed-plus-ours", "type-sign", "seal-then-sign"):
        assert lines[name].startswith("PASS "), lines[name]
    for name, line in lines.items():
        if name.startswith("tampered-"):
            assert line.startswith("FAIL "), line
    assert "文件被篡改" in lines["tampered-page"]  # ofdrw: "file was tampered with"
