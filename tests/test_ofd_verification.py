"""Verifying OFD (issue 17 §4): the PDF report for OFD, on our seals and on other issuers'.

* Our licences as OFD, sealed with a registered SM2 seal (``sealsvc.ofd_sealing.seal_ofd``:
  real key store, SM2 CAs, TSA, OCSP and CRLs answered in-process), verify TOTAL_PASSED
  through the service's ``DocumentVerifier``, with the same sentence as a PDF, the seal
  found in our registry, joint seals too;
* ``tests/data/ofd-samples`` (other issuers' files) get the verdict their README's table
  implies — integrity and SES layers as listed, INDETERMINATE for trust, since their CAs
  are not ours — and a copy with one byte of a page's ``Content.xml`` changed is
  TOTAL_FAILED / HASH_FAILURE;
* the same report through ``sealctl verify`` (told OFD by content) and ``POST /v1/verify``
  (``application/ofd``, or detected in a multipart upload).

The tampering corpus is ``test_ofd_tamper.py``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from helpers.ofd_verify_fixtures import (
    ACTOR,
    NUMBER,
    check,
    licence_ofd,
    one_byte_changed,
    prepared,
    seal_ofd,
    sm2_seal,
)
from helpers.pki_fixtures import empty_crls
from helpers.ses_fixtures import sm2
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate

from ofd.package import OfdPackage, is_ofd
from ofd.signatures import (
    read_signature,
    read_signatures,
)
from sealsvc.context import ServiceContext
from sealsvc.ofd_sealing import sign_ofd
from sealsvc.verification import DocumentVerdict, TrustAnchors
from sealsvc.verification.ofd import (
    licence_number_in_ofd,
    read_ofd_package,
    render_face,
    verify_ofd,
)
from sealsvc.verification.report import JSON_SCHEMA, ValidationReport

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context, seal_context

SAMPLES = Path(__file__).resolve().parent / "data" / "ofd-samples"
PAGE = "Doc_0/Pages/Page_0/Content.xml"
"""x, y, width, height in mm from the page's top-left: where our test stamps go."""


# --- making sealed OFDs with real seals ---------------------------------------------------


def _schema_valid(report: ValidationReport) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(report.to_dict(), JSON_SCHEMA)


# --- our seals ------------------------------------------------------------------------------


def test_our_sealed_licence_ofd_verifies_with_the_pdf_report(seal_context: ServiceContext) -> None:
    context = prepared(seal_context)
    code = sm2_seal(context)
    sealed = seal_ofd(context, licence_ofd(), code)
    result = check(context, sealed)
    report = result.report
    assert report.verdict is DocumentVerdict.TOTAL_PASSED, report.message
    (signature,) = report.signatures
    assert signature.field_name == "Doc_0/Signs/Sign_0/Signature.xml"
    assert signature.registry is not None and signature.registry.seal_code == code
    assert signature.signer is not None and signature.signer.algorithm == "SM2"
    assert signature.integrity is not None and signature.integrity.digest_matches
    assert signature.integrity.digest_algorithm == "sm3" and signature.integrity.signature_valid
    assert signature.modifications is not None and signature.modifications.level == "NONE"
    assert signature.timestamp is not None and signature.timestamp.valid
    assert signature.best_signature_time == signature.timestamp.time
    assert signature.chain is not None and signature.chain.trusted
    assert signature.revocation is not None and signature.revocation.status == "good"
    # the PDF's sentence, word for word
    assert report.sentence.startswith(f"本文件由{signature.signer.organization}于 ")
    assert report.sentence.endswith("加盖电子印章，盖章后未被修改，印章有效。")
    assert result.accepted and result.licence is None  # no licence of that number registered
    _schema_valid(report)


def test_joint_seals_both_pass_and_the_first_notes_the_second(
    sqlite_seal_context: ServiceContext,
) -> None:
    context = prepared(sqlite_seal_context)
    first, second = sm2_seal(context), sm2_seal(context, "合同专用章")
    joint = seal_ofd(context, seal_ofd(context, licence_ofd(), first), second)
    report = check(context, joint).report
    assert report.verdict is DocumentVerdict.TOTAL_PASSED, report.message
    one, two = report.signatures
    assert {one.registry.seal_code, two.registry.seal_code} == {first, second}
    assert one.modifications.later_revisions == 1 and one.modifications.level == "FORM_FILLING"
    assert two.modifications.later_revisions == 0 and two.modifications.level == "NONE"
    assert "盖章后仅追加了允许的后续签章" in one.sentence
    assert report.sentence.startswith("本文件共加盖 2 枚电子印章")


def test_without_revocation_data_our_seal_is_try_later(sqlite_seal_context: ServiceContext) -> None:
    """``verify_ofd`` alone, with our anchors but no fetcher: the engine cannot settle
    revocation, so our seal cannot pass — the same rule as for PDFs."""
    context = prepared(sqlite_seal_context)
    sealed = seal_ofd(context, licence_ofd(), sm2_seal(context)).to_bytes()
    anchors = TrustAnchors.from_files(sorted(context.settings.ca_dir.glob("*-root.pem")))
    report = verify_ofd(sealed, trust=anchors, intermediates=_issuing(context))
    assert report.verdict is DocumentVerdict.INDETERMINATE
    assert report.sub_indication is AdESIndeterminate.TRY_LATER


def _issuing(context: ServiceContext):
    from sealsvc.verification.ses import SesVerifier

    return SesVerifier(context).intermediates()


def test_licence_number_and_face_come_from_the_ofd(sqlite_seal_context: ServiceContext) -> None:
    context = prepared(sqlite_seal_context)
    sealed = seal_ofd(context, licence_ofd(), sm2_seal(context)).to_bytes()
    assert is_ofd(sealed) and not is_ofd(b"%PDF-1.7\n") and not is_ofd(b"PK\x03\x04xx")
    assert licence_number_in_ofd(read_ofd_package(sealed)) == NUMBER
    assert read_ofd_package(b"garbage") is None and licence_number_in_ofd(None) is None
    png = render_face(sealed)
    assert png is not None and png.startswith(b"\x89PNG")
    package = OfdPackage.read(sealed)
    (stamp,) = read_signature(package, read_signatures(package).entries[0]).stamp_annots
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(png)).convert("RGB")
    # the stamp: red ink inside the StampAnnot's boundary (96 dpi)
    scale = 96 / 25.4
    x, y, width, height = (round(v * scale) for v in stamp.boundary)
    box = image.crop((x, y, x + width, y + height))
    assert _red(box) > width * height // 20
    assert _red(image.crop((0, 0, width, height))) == 0  # the top-left corner: no stamp


def _red(image) -> int:
    """Pixels of seal-red ink in an RGB image."""
    data = image.tobytes()
    return sum(
        1 for r, g, b in zip(data[0::3], data[1::3], data[2::3], strict=True)
        if r > 180 and g < 90 and b < 90
    )  # fmt: skip


# --- other issuers' files (tests/data/ofd-samples, README table) ----------------------------


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def _verify_sample(data: bytes) -> ValidationReport:
    return verify_ofd(data, trust=TrustAnchors(()))


def test_v4signed_einvoice_is_intact_and_untrusted() -> None:
    report = _verify_sample(_sample("v4signed.ofd"))
    (signature,) = report.signatures
    assert report.verdict is DocumentVerdict.INDETERMINATE
    assert signature.sub_indication is AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND
    assert signature.integrity.digest_matches and signature.integrity.signature_valid
    assert "全国统一发票监制章" in signature.signer.common_name
    _schema_valid(report)


def test_sesv4signdoc_is_intact_but_outside_its_seal_validity() -> None:
    report = _verify_sample(_sample("SESV4SignDoc.ofd"))
    (signature,) = report.signatures
    assert not report.passed and report.verdict is DocumentVerdict.INDETERMINATE
    assert signature.sub_indication is AdESIndeterminate.EXPIRED
    assert "2022-04-22" in signature.message
    assert signature.integrity.digest_matches and signature.integrity.signature_valid
    assert "不在电子印章的有效期内" in signature.sentence


def test_n_ofd_v1_with_keyed_sm3_is_reported_not_crashed() -> None:
    report = _verify_sample(_sample("n.ofd"))
    (signature,) = report.signatures
    assert report.verdict is DocumentVerdict.INDETERMINATE
    assert signature.sub_indication is AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE
    assert "SM3 with a key" in signature.message
    assert not signature.integrity.digest_matches and signature.integrity.digest_algorithm is None
    assert any("signer signature does not verify" in w for w in signature.warnings)


def test_h_ofd_first_seal_broken_by_the_second_which_passes_integrity() -> None:
    report = _verify_sample(_sample("h.ofd"))
    first, second = report.signatures
    assert report.verdict is DocumentVerdict.TOTAL_FAILED
    assert first.sub_indication is AdESFailure.HASH_FAILURE
    assert "Doc_0/Signs/Signatures.xml was changed" in first.message
    assert "文件内容被篡改" in first.sentence
    assert second.sub_indication is AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND
    assert second.integrity.digest_matches and second.integrity.signature_valid


def test_type_sign_signatures_of_test_image_not_found_verify_up_to_trust() -> None:
    report = _verify_sample(_sample("testImageNotFound.ofd"))
    assert report.verdict is DocumentVerdict.INDETERMINATE
    assert len(report.signatures) == 2
    for signature in report.signatures:
        assert signature.sub_indication is AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND
        assert signature.integrity.digest_matches and signature.integrity.signature_valid
        assert signature.signer.algorithm == "SM2"
        assert signature.claimed_signing_time == datetime(2022, 11, 1, 9, 22, 33, tzinfo=UTC)
    # the first signature does not cover OFD.xml and Annotations.xml; the second does
    assert report.signatures[0].modifications.level == "FORM_FILLING"
    assert "OFD.xml" in report.signatures[0].warnings[0]


@pytest.mark.parametrize(
    "name", ["v4signed.ofd", "SESV4SignDoc.ofd", "h.ofd", "testImageNotFound.ofd"]
)
def test_one_byte_changed_in_a_sample_page_is_hash_failure(name: str) -> None:
    package = OfdPackage.read(_sample(name))
    tampered = one_byte_changed(package, "Doc_0/Pages/Page_0/Content.xml").to_bytes()
    report = _verify_sample(tampered)
    assert report.verdict is DocumentVerdict.TOTAL_FAILED
    assert report.sub_indication is AdESFailure.HASH_FAILURE
    deciding = next(s for s in report.signatures if not s.passed and s.indication.name == "FAILED")
    assert "Doc_0/Pages/Page_0/Content.xml was changed after signing" in deciding.message
    assert "文件内容被篡改" in deciding.sentence


def test_one_byte_changed_in_n_ofd_cannot_be_passed() -> None:
    """n.ofd's digests are keyed (the key is not in the file): a changed page cannot be
    told from an intact one, so it stays INDETERMINATE — never TOTAL_PASSED."""
    package = OfdPackage.read(_sample("n.ofd"))
    tampered = one_byte_changed(package, "Doc_0/Pages/Page_0/Content.xml").to_bytes()
    assert _verify_sample(tampered).verdict is DocumentVerdict.INDETERMINATE


def test_unsigned_and_unreadable_files() -> None:
    unsigned = OfdPackage.read(_sample("v4signed.ofd"))
    files = {p: unsigned[p] for p in unsigned if "/Signs/" not in p}
    files["OFD.xml"] = re.sub(rb"<ofd:Signatures>[^<]*</ofd:Signatures>", b"", unsigned["OFD.xml"])
    assert read_signatures(OfdPackage.from_files(files)).entries == ()
    report = _verify_sample(OfdPackage.from_files(files).to_bytes())
    assert (
        report.verdict is DocumentVerdict.NOT_SIGNED and report.sentence == "本文件未加盖电子印章。"
    )
    for garbage in (b"PK\x03\x04" + b"\x00" * 200 + b"OFD.xml", b"not a zip at all"):
        report = _verify_sample(garbage)
        assert report.verdict is DocumentVerdict.TOTAL_FAILED
        assert report.sub_indication is AdESFailure.FORMAT_FAILURE
        assert report.sentence == "文件不是有效的OFD文件或已损坏，无法验证电子印章。"


# --- sealctl verify and POST /v1/verify --------------------------------------------------------


def test_sealctl_verify_takes_an_ofd_by_content(
    sqlite_seal_context: ServiceContext, sealctl: Callable[..., Result], tmp_path: Path
) -> None:
    context = prepared(sqlite_seal_context)
    sealed = seal_ofd(context, licence_ofd(), sm2_seal(context))
    path = tmp_path / "licence.bin"  # the name says nothing: the content does
    path.write_bytes(sealed.to_bytes())
    result = sealctl("verify", "--json", str(path))
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["verdict"] == "TOTAL_PASSED" and answer["accepted"] is True
    assert answer["signatures"][0]["field_name"] == "Doc_0/Signs/Sign_0/Signature.xml"
    tampered = one_byte_changed(sealed, "Doc_0/Pages/Page_0/Content.xml")
    path.write_bytes(tampered.to_bytes())
    result = sealctl("verify", str(path))
    assert result.exit_code == 1
    assert "TOTAL_FAILED / HASH_FAILURE" in result.output


def test_api_verify_takes_ofd_raw_and_multipart(sqlite_seal_context: ServiceContext) -> None:
    from api.app import create_app

    context = prepared(sqlite_seal_context)
    sealed = seal_ofd(context, licence_ofd(), sm2_seal(context)).to_bytes()
    app = create_app(context.settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        raw = client.post("/v1/verify", content=sealed, headers={"Content-Type": "application/ofd"})
        form = client.post(
            "/v1/verify", files={"file": ("licence.ofd", sealed, "application/octet-stream")}
        )
        garbage = client.post(
            "/v1/verify",
            content=b"PK\x03\x04" + b"\xff" * 64 + b"OFD.xml",
            headers={"Content-Type": "application/ofd"},
        )
        page = client.post("/verify", files={"file": ("licence.ofd", sealed, "application/ofd")})
    app.state.context.close()
    assert raw.status_code == 200 and form.status_code == 200
    assert raw.json()["verdict"] == form.json()["verdict"] == "TOTAL_PASSED"
    assert raw.json()["sentence"] == form.json()["sentence"]
    assert garbage.status_code == 200 and garbage.json()["sub_indication"] == "FORMAT_FAILURE"
    assert page.status_code == 200 and "验证通过" in page.text
    assert 'src="data:image/png;base64,' in page.text
    assert "img-src 'self' data:" in page.headers["content-security-policy"]


def test_our_type_sign_signature_passes_and_a_changed_page_fails(
    sqlite_seal_context: ServiceContext,
) -> None:
    """A GM/T 0099 signature as ``ofd_sealing.sign_ofd`` makes it (GB/T 35275 SignedData),
    judged through pki.cms and the path/revocation engine: the test SM2 hierarchy as the
    only anchor, its CRLs as the revocation data."""
    hierarchy = sm2()
    signed = sign_ofd(
        sqlite_seal_context, licence_ofd(), hierarchy.seal_key, hierarchy.seal.dump(),
        chain=(hierarchy.issuing.dump(),), actor=ACTOR, now=hierarchy.valid_at,
    ).ofd  # fmt: skip
    issuing_crl, root_crl = empty_crls(hierarchy)
    crls = {hierarchy.urls.crl: issuing_crl.dump(), hierarchy.root_urls.crl: root_crl.dump()}

    def fetcher(url: str, request: bytes | None) -> bytes:
        if request is None and url in crls:
            return crls[url]
        raise ValueError(f"not fetched in this test: {url}")

    def verified(data: bytes) -> ValidationReport:
        return verify_ofd(
            data, trust=TrustAnchors((hierarchy.root,)), now=hierarchy.valid_at, fetcher=fetcher
        )

    report = verified(signed)
    assert report.verdict is DocumentVerdict.TOTAL_PASSED, report.message
    (signature,) = report.signatures
    assert signature.signer.sha256 == hashlib.sha256(hierarchy.seal.dump()).hexdigest()
    assert signature.chain.trusted and signature.revocation.status == "good"
    assert signature.integrity.digest_matches and signature.integrity.signature_valid
    tampered = one_byte_changed(OfdPackage.read(signed), PAGE).to_bytes()
    assert verified(tampered).sub_indication is AdESFailure.HASH_FAILURE
    # its SignedData moved under another Signature.xml: the digest no longer matches
    package = OfdPackage.read(signed)
    (entry,) = read_signatures(package).entries
    xml = package[entry.path].replace(b"<ofd:SignatureDateTime>", b"<ofd:SignatureDateTime>1")
    report = verified(package.with_files({entry.path: xml}).to_bytes())
    assert report.sub_indication is AdESFailure.HASH_FAILURE
    assert "not SM3 of Signature.xml" in report.signatures[0].message


def test_mangled_samples_always_get_a_report(caplog: pytest.LogCaptureFixture) -> None:
    """Bytes flipped, files cut short, XML broken in every part of other issuers' files:
    a report every time (never an exception), and nothing the verifier did not foresee
    (it logs a warning for an unexpected exception)."""
    rnd = random.Random(17)
    for sample in sorted(SAMPLES.glob("*.ofd")):
        package = OfdPackage.read(sample.read_bytes())
        names = sorted(package)
        for _ in range(15):
            name = rnd.choice(names)
            content = bytearray(package[name])
            if rnd.random() < 0.5 and content:
                for _ in range(rnd.randint(1, 4)):
                    content[rnd.randrange(len(content))] = rnd.randrange(256)
            else:
                content = content[: rnd.randrange(len(content) + 1)] + b"<"
            mangled = package.with_files({name: bytes(content)}).to_bytes()
            report = _verify_sample(mangled)
            assert report.verdict is not DocumentVerdict.TOTAL_PASSED, name
            render_face(mangled)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_sealctl_verify_without_a_database_builds_paths_from_the_ca_files(
    sqlite_seal_context: ServiceContext, sealctl: Callable[..., Result], tmp_path: Path
) -> None:
    """A data directory holding only ``ca/`` (a verifier's copy): the SES signature carries
    only the leaves, so the issuing CA comes from ``ca/*-issuing.pem``; revocation cannot
    be settled offline, so our seal is INDETERMINATE / TRY_LATER — not untrusted."""
    context = prepared(sqlite_seal_context)
    sealed = seal_ofd(context, licence_ofd(), sm2_seal(context)).to_bytes()
    copy = tmp_path / "verifier"
    shutil.copytree(context.settings.ca_dir, copy / "ca")
    path = tmp_path / "licence.ofd"
    path.write_bytes(sealed)
    result = sealctl("--data-dir", str(copy), "verify", "--json", str(path))
    assert result.exit_code == 1, result.output
    (signature,) = json.loads(result.output)["signatures"]
    assert signature["chain"]["trusted"] and len(signature["chain"]["path"]) == 3
    assert signature["sub_indication"] == "TRY_LATER"
