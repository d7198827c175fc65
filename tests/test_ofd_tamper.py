"""The OFD tampering corpus, like the PDF one: each attack on a sealed OFD and its verdict.

Every file is sealed for real (a registered SM2 seal through ``sealsvc.ses_signing``, our
TSA, OCSP and CRLs answered in-process) and checked through the service's
``DocumentVerifier`` — what ``POST /v1/verify``, ``sealctl verify`` and the citizens' page
answer.  Where ofdrw's ``ofd_check`` checks the layer an attack touches (References digests,
``Seal.esl`` = the seal inside, ``dataHash``, the signer's signature), it must FAIL the copy
we fail; where it does not (revocation, the registry, files no Reference names) it passes
what we refuse, which is why ours must check them.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from helpers.ofd_check import needs_ofd_check
from helpers.ofd_check import run_ofd_check as _ofd_check
from helpers.ofd_documents import unsigned_ofd
from helpers.ofd_verify_fixtures import (
    ACTOR,
    check,
    licence_ofd,
    one_byte_changed,
    prepared,
    seal_ofd,
    sm2_seal,
)
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate

from ofd.package import OfdPackage
from pki.clock import now_utc
from pki.sm2 import sm3
from sealsvc import seals, ses_signing
from sealsvc.context import ServiceContext
from sealsvc.licences import annul_licence, issue_licence, load_template
from sealsvc.pades import Level
from sealsvc.verification import DocumentVerdict
from sealsvc.verification.service import DocumentVerifier

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

SIGN_0 = "Doc_0/Signs/Sign_0"
PAGE = "Doc_0/Pages/Page_0/Content.xml"


@pytest.fixture
def context(sqlite_seal_context: ServiceContext) -> ServiceContext:
    return prepared(sqlite_seal_context)


@pytest.fixture
def code(context: ServiceContext) -> str:
    return sm2_seal(context)


@pytest.fixture
def sealed(context: ServiceContext, code: str) -> OfdPackage:
    return seal_ofd(context, licence_ofd(), code)


def _verdict(context: ServiceContext, package: OfdPackage):
    report = check(context, package).report
    return report.verdict, report.sub_indication, report


def _resigned(context: ServiceContext, code: str, package: OfdPackage, xml: bytes) -> OfdPackage:
    """``package`` whose Sign_0/Signature.xml is ``xml``, sealed again over it by ``code``
    (a well-formed seal over a Signature.xml that says something it should not)."""
    der = ses_signing.sign_hash(
        context, code, sm3(xml), f"/{SIGN_0}/Signature.xml", timestamp=True, actor=ACTOR
    ).der
    return package.with_files({f"{SIGN_0}/Signature.xml": xml, f"{SIGN_0}/SignedValue.dat": der})


def tampered_copies(
    context: ServiceContext, code: str, sealed: OfdPackage
) -> dict[str, OfdPackage]:
    """The attacks, by name (each the sealed licence changed one way)."""
    signature_xml = sealed[f"{SIGN_0}/Signature.xml"]
    listing = sealed["Doc_0/Signs/Signatures.xml"]
    other_document = seal_ofd(context, licence_ofd("YYZZ-OFD-TEST-0002"), code)
    other_seal = seal_ofd(context, licence_ofd(), sm2_seal(context, "合同专用章"))
    return {
        "changed-page": one_byte_changed(sealed, PAGE),
        "removed-signature": OfdPackage.from_files(
            {
                **{p: sealed[p] for p in sealed if not p.startswith(SIGN_0 + "/")},
                "Doc_0/Signs/Signatures.xml": re.sub(rb"<ofd:Signature [^>]*/>", b"", listing),
            }
        ),
        "missing-file": OfdPackage.from_files(
            {p: sealed[p] for p in sealed if p != "Doc_0/PublicRes.xml"}
        ),
        "swapped-signed-value": sealed.with_files(
            {f"{SIGN_0}/SignedValue.dat": other_document[f"{SIGN_0}/SignedValue.dat"]}
        ),
        "swapped-other-seal": sealed.with_files(
            {f"{SIGN_0}/SignedValue.dat": other_seal[f"{SIGN_0}/SignedValue.dat"]}
        ),
        "wrong-data-hash": seal_ofd(context, licence_ofd(), code, data=b"another Signature.xml"),
        "truncated-signed-value": sealed.with_files(
            {f"{SIGN_0}/SignedValue.dat": sealed[f"{SIGN_0}/SignedValue.dat"][:100]}
        ),
        "garbage-signed-value": sealed.with_files({f"{SIGN_0}/SignedValue.dat": b"\x00" * 64}),
        "unknown-check-method": sealed.with_files(
            {
                f"{SIGN_0}/Signature.xml": signature_xml.replace(
                    b'CheckMethod="1.2.156.10197.1.401"', b'CheckMethod="MD5"'
                )
            }
        ),
        "stamp-on-missing-page": _resigned(
            context, code, sealed, re.sub(rb'PageRef="[^"]*"', b'PageRef="999"', signature_xml)
        ),
    }


EXPECTED = {
    "changed-page": (DocumentVerdict.TOTAL_FAILED, AdESFailure.HASH_FAILURE),
    "removed-signature": (DocumentVerdict.NOT_SIGNED, None),
    "missing-file": (DocumentVerdict.TOTAL_FAILED, AdESFailure.HASH_FAILURE),
    "swapped-signed-value": (DocumentVerdict.TOTAL_FAILED, AdESFailure.HASH_FAILURE),
    "swapped-other-seal": (DocumentVerdict.TOTAL_FAILED, AdESFailure.HASH_FAILURE),
    "wrong-data-hash": (DocumentVerdict.TOTAL_FAILED, AdESFailure.HASH_FAILURE),
    "truncated-signed-value": (DocumentVerdict.TOTAL_FAILED, AdESFailure.FORMAT_FAILURE),
    "garbage-signed-value": (DocumentVerdict.TOTAL_FAILED, AdESFailure.FORMAT_FAILURE),
    "unknown-check-method": (DocumentVerdict.TOTAL_FAILED, AdESFailure.HASH_FAILURE),
    "stamp-on-missing-page": (DocumentVerdict.TOTAL_FAILED, AdESFailure.FORMAT_FAILURE),
}
"""Attack → (document verdict, its sub-indication)."""


def test_each_attack_gets_its_indication(
    context: ServiceContext, code: str, sealed: OfdPackage
) -> None:
    assert _verdict(context, sealed)[0] is DocumentVerdict.TOTAL_PASSED
    copies = tampered_copies(context, code, sealed)
    assert set(copies) == set(EXPECTED)
    for name, package in copies.items():
        verdict, sub, report = _verdict(context, package)
        assert (verdict, sub) == EXPECTED[name], (name, report.message)
    details = {name: _verdict(context, p)[2] for name, p in copies.items()}
    assert "was changed after signing" in details["changed-page"].message
    assert "文件内容被篡改" in details["changed-page"].sentence
    assert "missing" in details["missing-file"].message
    assert "Seal.esl is not the seal inside" in details["swapped-other-seal"].message
    assert "所签内容被篡改" in details["wrong-data-hash"].sentence
    assert "所签内容被篡改" in details["unknown-check-method"].sentence
    assert "page ID '999'" in details["stamp-on-missing-page"].message


def test_a_file_added_unreferenced_is_a_warning_and_a_shown_one_a_modification(
    context: ServiceContext, code: str, sealed: OfdPackage
) -> None:
    added = sealed.with_files({"Doc_0/Res/notes.txt": b"added after sealing"})
    verdict, _, report = _verdict(context, added)
    assert verdict is DocumentVerdict.TOTAL_PASSED
    (signature,) = report.signatures
    assert any("Doc_0/Res/notes.txt" in w for w in signature.warnings)
    assert signature.modifications.allowed and "notes.txt" in signature.modifications.detail
    assert signature.integrity.coverage == "REFERENCED_FILES"

    # A page names an image that was not in the package when it was sealed: adding it
    # later changes what the page shows, though no signed file changed.
    package = unsigned_ofd()
    package = package.with_files(
        {
            "Doc_0/PublicRes.xml": package["Doc_0/PublicRes.xml"].replace(
                b"/>",
                b'><ofd:MultiMedias><ofd:MultiMedia ID="30" Type="Image">'
                b"<ofd:MediaFile>later.png</ofd:MediaFile></ofd:MultiMedia>"
                b"</ofd:MultiMedias></ofd:Res>",
            )
        }
    )
    signed = seal_ofd(context, package, code)
    assert _verdict(context, signed)[0] is DocumentVerdict.TOTAL_PASSED
    shown = signed.with_files({"Doc_0/later.png": b"\x89PNG\r\n\x1a\n not really"})
    verdict, sub, report = _verdict(context, shown)
    assert (verdict, sub) == (DocumentVerdict.TOTAL_FAILED, AdESFailure.HASH_FAILURE)
    assert "Doc_0/later.png" in report.message
    assert report.signatures[0].modifications.level == "OTHER"


def test_a_later_seal_covers_what_it_added(
    context: ServiceContext, code: str, sealed: OfdPackage
) -> None:
    """A file added before a second seal, which covers it: the first seal says so, and
    both pass (like a PDF's later revision with another seal)."""
    added = sealed.with_files({"Doc_0/Res/annex.txt": b"annex"})
    joint = seal_ofd(context, added, sm2_seal(context, "合同专用章"))
    verdict, _, report = _verdict(context, joint)
    assert verdict is DocumentVerdict.TOTAL_PASSED, report.message
    first = report.signatures[0]
    assert any("annex.txt" in w and "later one" in w for w in first.warnings)


def test_revoked_seal(context: ServiceContext, code: str) -> None:
    """Revoked after sealing: a time-stamped seal stays valid (proof it is older); one
    without a time-stamp cannot be (REVOKED_NO_POE) — the PDF rules."""
    stamped = seal_ofd(context, licence_ofd(), code)
    untimed = seal_ofd(context, licence_ofd(), code, timestamp=False)
    seals.revoke(context, code, reason="key_compromise", actor=ACTOR)
    later = DocumentVerifier(context, clock=lambda: now_utc() + timedelta(seconds=3))
    report = later.check(untimed.to_bytes()).report
    assert report.verdict is DocumentVerdict.INDETERMINATE
    assert report.sub_indication is AdESIndeterminate.REVOKED_NO_POE
    report = later.check(stamped.to_bytes()).report
    assert report.verdict is DocumentVerdict.TOTAL_PASSED, report.message


def test_annulled_licence_is_not_accepted_whatever_its_seals(context: ServiceContext) -> None:
    code = sm2_seal(context)
    template = load_template("admin_permit_decision")
    record = issue_licence(context, template, template.example, [code], actor=ACTOR,
                           level=Level.B_T, number="XKJD-OFD-TEST-0001")  # fmt: skip
    ofd = seal_ofd(context, licence_ofd(record.number, "admin_permit_decision"), code)
    valid = check(context, ofd)
    assert valid.report.passed and valid.licence is not None
    assert valid.licence.status == "valid" and valid.licence.found_by == "metadata"
    assert valid.accepted
    annul_licence(context, record.number, "许可被撤销", kind="revoked", actor=ACTOR)
    annulled = check(context, ofd)
    assert annulled.report.passed  # the seals still hold ...
    assert annulled.licence.status == "annulled" and not annulled.accepted  # ... the licence not
    assert annulled.conclusion.startswith("印章有效，但该证照已于")
    assert "吊销" in annulled.conclusion


def test_hostile_packages_are_format_failures(context: ServiceContext, sealed: OfdPackage) -> None:
    listing = sealed["Doc_0/Signs/Signatures.xml"]
    outside = sealed.with_files(
        {
            "Doc_0/Signs/Signatures.xml": re.sub(
                rb'BaseLoc="[^"]*"', b'BaseLoc="../../../../etc/passwd"', listing
            )
        }
    )
    entity = sealed.with_files(
        {
            "Doc_0/Signs/Signatures.xml": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e '
            b'SYSTEM "file:///etc/passwd">]><ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016">'
            b"&e;</ofd:Signatures>"
        }
    )
    for package in (outside, entity):
        verdict, sub, report = _verdict(context, package)
        assert (verdict, sub) == (DocumentVerdict.TOTAL_FAILED, AdESFailure.FORMAT_FAILURE)
        assert "root:" not in report.message
    # a zip bomb: 64 MiB of zeros in a page, refused by its declared ratio before inflating
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sealed:
            archive.writestr(path, sealed[path])
        archive.writestr("Doc_0/Pages/Page_9/Content.xml", bytes(64 * 1024 * 1024))
    report = check(context, bomb.getvalue()).report
    assert report.sub_indication is AdESFailure.FORMAT_FAILURE and not report.signatures
    assert "decompression bomb" in report.message
    # a central directory naming ../ : refused before anything is decompressed
    data = sealed.to_bytes().replace(b"Doc_0/Res", b"../../Res")
    report = check(context, data).report
    assert report.sub_indication is AdESFailure.FORMAT_FAILURE


@pytest.mark.slow
@needs_ofd_check
def test_ofd_check_fails_the_copies_we_fail_where_it_checks_that_layer(
    context: ServiceContext, code: str, sealed: OfdPackage, tmp_path: Path
) -> None:
    copies = tampered_copies(context, code, sealed)
    files = {"sealed": sealed, **copies}
    files["added-unreferenced"] = sealed.with_files({"Doc_0/Res/notes.txt": b"x"})
    lines = _ofd_check(files, tmp_path)
    assert lines["sealed"].startswith("PASS "), lines["sealed"]
    # the layers ofdrw checks: References, Seal.esl, dataHash, the signer's signature
    for name in (
        "changed-page", "missing-file", "swapped-signed-value", "swapped-other-seal",
        "wrong-data-hash", "truncated-signed-value", "garbage-signed-value",
        "unknown-check-method", "removed-signature",
    ):  # fmt: skip
        assert lines[name].startswith("FAIL "), lines[name]
        assert not check(context, files[name]).report.passed
    # what it does not check: files no Reference names — ours warns (and would fail a shown
    # one) — and the stamp's page, which ours fails
    assert lines["added-unreferenced"].startswith("PASS ")
    assert lines["stamp-on-missing-page"].startswith("PASS ")
    assert not check(context, files["stamp-on-missing-page"]).report.passed
