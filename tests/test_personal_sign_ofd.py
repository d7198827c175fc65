"""An applicant's OFD signature (issue #18 §2–§3): GM/T 0099 ``Type="Sign"`` with an event
certificate, whose GB/T 35275 SignerInfo carries our TSA's token over the signature value
(CAdES-T), so the signature stays valid after the certificate's ten minutes.

Everything is real: the identity provider's signed token, the SM2 personal CA, the event
key, our TSA and OCSP in-process, the verifier the API runs.  The token's imprint is
checked with ``openssl dgst -sm3`` and the TSA's SM2 signature with ``openssl pkeyutl``
and gmssl (OpenSSL 3.0's ``ts``/``cms -verify`` cannot check SM2); ofdrw's ``ofd_check``
passes the signed file when it is present (CI has it).
"""

from __future__ import annotations

import io
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, x509
from asn1crypto.core import OctetString
from helpers.idp_fixtures import AUDIENCE, ID_NUMBER, TestProvider
from helpers.licence_ofd_render import template_licence_ofd
from helpers.ofd_check import OFD_CHECK, needs_ofd_check, run_ofd_check
from helpers.personal_sign_fixtures import signature_png
from helpers.sm2_crosscheck import gmssl_sm2_verifies, openssl_sm2_verifies
from PIL import Image
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate

from ofd.package import OfdPackage
from ofd.signatures import read_signature, read_signatures
from pki import cms as gbt_cms
from sealsvc import identity, seals
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput
from sealsvc.identity import verify_id_token
from sealsvc.models import AuditEntry
from sealsvc.ofd_attributes import APPEARANCE_ATTRIBUTE
from sealsvc.ofd_sealing import seal_ofd
from sealsvc.pades import Level, Placement
from sealsvc.personal_signing import (
    PersonalSignResult,
    sign_as_person,
    signature_appearance_png,
)
from sealsvc.verification import ValidationReport
from sealsvc.verification.ofd import render_face
from sealsvc.verification.service import DocumentVerifier

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

ACTOR = "test:person-ofd"


@pytest.fixture
def provider(tmp_path: Path) -> TestProvider:
    return TestProvider(tmp_path)


@pytest.fixture
def context(sqlite_seal_context: ServiceContext, provider: TestProvider) -> ServiceContext:
    with sqlite_seal_context.database.session() as session:
        identity.add_provider(
            session, name="ywtb", issuer=provider.issuer, audience=AUDIENCE,
            jwks=str(provider.jwks_file), actor=ACTOR,
        )  # fmt: skip
        sqlite_seal_context.ca.export_files(session)
    return sqlite_seal_context


def _applicant_signs(context: ServiceContext, provider: TestProvider) -> PersonalSignResult:
    applicant = verify_id_token(context, provider.token(sub="u-42"), actor=ACTOR)
    data, _ = template_licence_ofd("business_licence")
    return sign_as_person(
        context, data, applicant, placement=Placement(x_mm=60, y_mm=40, size_mm=30),
        role="申请人", signature_image_png=None, actor=ACTOR,
    )  # fmt: skip


def _signed_value(document: bytes) -> tuple[OfdPackage, str, gbt_cms.Gbt35275ContentInfo]:
    package = OfdPackage.read(document)
    (entry,) = read_signatures(package).entries
    assert entry.type == "Sign"
    path = read_signature(package, entry).signed_value_path
    return package, path, gbt_cms.Gbt35275ContentInfo.load(package[path])


def _signer_certificate(value: gbt_cms.Gbt35275ContentInfo) -> x509.Certificate:
    signed_data = value["content"]
    serial = signed_data["signer_infos"][0]["sid"].chosen["serial_number"].native
    (certificate,) = [
        c.chosen for c in signed_data["certificates"] if c.chosen.serial_number == serial
    ]
    return certificate


def _verify(context: ServiceContext, document: bytes, at: datetime | None) -> ValidationReport:
    """The service's verdict now, or with the verifier's clock moved to ``at``."""
    verifier = (
        DocumentVerifier(context) if at is None else DocumentVerifier(context, clock=lambda: at)
    )
    return verifier.check(document).report


def test_an_applicants_ofd_signature_outlives_its_event_certificate(
    context: ServiceContext, provider: TestProvider
) -> None:
    result = _applicant_signs(context, provider)
    assert result.format == "ofd" and result.event
    _, _, value = _signed_value(result.document)
    certificate = _signer_certificate(value)
    assert certificate.subject.native["common_name"] == "张三丰"
    assert certificate.not_valid_after - certificate.not_valid_before <= timedelta(minutes=15)
    assert ID_NUMBER.encode() not in result.document

    now = _verify(context, result.document, None)
    assert now.verdict.value == "TOTAL_PASSED", now.to_json()
    later = certificate.not_valid_after + timedelta(hours=2)
    report = _verify(context, result.document, later)
    assert report.verdict.value == "TOTAL_PASSED", report.to_json()
    (signature,) = report.signatures
    assert signature.timestamp is not None and signature.timestamp.valid
    assert signature.best_signature_time < certificate.not_valid_after < later
    assert signature.chain.validated_at == signature.best_signature_time
    assert signature.person is not None and signature.person.certificate == "event"
    assert signature.person.name == "张*丰" and "张*丰" in signature.sentence

    with context.database.session(read_only=True) as session:
        entry = (
            session.query(AuditEntry)
            .filter(AuditEntry.action == "person.sign")
            .order_by(AuditEntry.seq.desc())
            .first()
        )
        assert entry is not None and ID_NUMBER not in entry.details
        details = json.loads(entry.details)
    assert (details["format"], details["level"], details["event_certificate"]) == (
        "ofd",
        "B-T",
        True,
    )


def _with_token(document: bytes, token: cms.ContentInfo) -> bytes:
    """The signed OFD with the SignerInfo's time-stamp token replaced (an unsigned
    attribute: the signature over Signature.xml still verifies)."""
    package, path, value = _signed_value(document)
    changed = gbt_cms.with_signature_time_stamp(value, token)
    return package.with_files({path: changed.dump()}).to_bytes()


def test_a_tampered_time_stamp_proves_nothing(
    context: ServiceContext, provider: TestProvider
) -> None:
    """A token whose TSTInfo was altered (its signature breaks), or a genuine token of
    another signature (its imprint does not match): no proof of existence, so once the
    event certificate has expired the signature cannot be shown to be valid."""
    result = _applicant_signs(context, provider)
    _, _, value = _signed_value(result.document)
    token = value["content"]["signer_infos"][0]["unsigned_attrs"][0]["values"][0]
    later = _signer_certificate(value).not_valid_after + timedelta(hours=2)

    der = token.dump()
    gen_time = token["content"]["encap_content_info"]["content"].parsed["gen_time"].dump()
    at = der.index(gen_time) + len(gen_time) - 2  # a digit of the seconds
    altered = cms.ContentInfo.load(der[:at] + bytes([der[at] ^ 1]) + der[at + 1 :])
    other = _applicant_signs(context, provider)
    _, _, other_value = _signed_value(other.document)
    foreign = other_value["content"]["signer_infos"][0]["unsigned_attrs"][0]["values"][0]

    for tampered, problem in ((altered, "signature"), (foreign, "does not cover")):
        document = _with_token(result.document, tampered)
        fresh = _verify(context, document, None)  # certificate still valid: a warning
        assert fresh.verdict.value == "TOTAL_PASSED", fresh.to_json()
        assert any("time-stamp not usable" in w for w in fresh.signatures[0].warnings)
        report = _verify(context, document, later)
        assert report.verdict.value == "INDETERMINATE", report.to_json()
        (signature,) = report.signatures
        assert signature.sub_indication is AdESIndeterminate.OUT_OF_BOUNDS_NO_POE
        assert signature.timestamp is not None and not signature.timestamp.valid
        assert problem in (signature.timestamp.problem or "")
    # the untouched document still verifies at that moment
    assert _verify(context, result.document, later).verdict.value == "TOTAL_PASSED"


def test_the_token_stamps_the_signature_value_for_openssl_and_gmssl(
    context: ServiceContext, provider: TestProvider
) -> None:
    """The token's imprint is ``openssl dgst -sm3`` of the SignerInfo's signature value,
    and the TSA's SM2 signature over the token's signed attributes verifies with
    ``openssl pkeyutl`` (told the SM2 ID) and gmssl."""
    result = _applicant_signs(context, provider)
    _, _, value = _signed_value(result.document)
    signer_info = value["content"]["signer_infos"][0]
    (attribute,) = signer_info["unsigned_attrs"]
    assert attribute["type"].dotted == "1.2.840.113549.1.9.16.2.14"  # signatureTimeStampToken
    token = attribute["values"][0]["content"]
    tst = token["encap_content_info"]["content"].parsed
    imprint = subprocess.run(
        ["openssl", "dgst", "-sm3", "-binary"],
        input=signer_info["signature"].native, capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert tst["message_imprint"]["hash_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.401"
    assert tst["message_imprint"]["hashed_message"].native == imprint

    tsa_info = token["signer_infos"][0]
    serial = tsa_info["sid"].chosen["serial_number"].native
    (tsa,) = [c.chosen for c in token["certificates"] if c.chosen.serial_number == serial]
    message = b"\x31" + tsa_info["signed_attrs"].dump()[1:]  # RFC 5652 §5.4
    tsa_signature = tsa_info["signature"].native
    assert openssl_sm2_verifies(tsa.public_key, message, tsa_signature)
    assert gmssl_sm2_verifies(tsa.public_key, message, tsa_signature)
    assert not openssl_sm2_verifies(tsa.public_key, message[:-1] + b"\0", tsa_signature)


@needs_ofd_check
def test_ofd_check_passes_the_time_stamped_signature(
    context: ServiceContext, provider: TestProvider, tmp_path: Path
) -> None:
    result = _applicant_signs(context, provider)
    lines = run_ofd_check({"signed": OfdPackage.read(result.document)}, tmp_path)
    assert lines["signed"].startswith("PASS "), lines["signed"]


def test_levels_an_ofd_signature_is_not_made_at(
    context: ServiceContext, provider: TestProvider
) -> None:
    data, _ = template_licence_ofd("business_licence")
    for level, refusal in (
        (Level.B_B, "applicant's OFD signature needs level B-T"),
        (Level.B_LT, "no OFD counterpart"),
    ):
        applicant = verify_id_token(context, provider.token(), actor=ACTOR)
        with pytest.raises(InvalidInput, match=refusal):
            sign_as_person(
                context, data, applicant, placement=Placement(), level=level, role="申请人",
                signature_image_png=None, actor=ACTOR,
            )  # fmt: skip


# --- the appearance: the handwriting, the name and the time, in the StampAnnot box ----------

_EMPTY = (172.0, 137.0, 16.0, 11.0)
"""A part of the licence page with nothing printed on it (mm from the upper left)."""


def _ink(png: bytes, box: tuple[float, float, float, float], page_mm: float = 297) -> int:
    """Dark pixels inside ``box`` of a page rendering."""
    image = Image.open(io.BytesIO(png)).convert("L")
    scale = image.width / page_mm
    x, y, w, h = (round(v * scale) for v in box)
    return sum(image.crop((x, y, x + w, y + h)).histogram()[:128])


def _appearance(value: gbt_cms.Gbt35275ContentInfo) -> bytes | None:
    for attribute in value["content"]["signer_infos"][0]["signed_attrs"]:
        if attribute["type"].dotted == APPEARANCE_ATTRIBUTE:
            return attribute["values"][0].parsed.native
    return None


def test_the_handwriting_is_the_signed_appearance_in_the_stamp_box(
    context: ServiceContext, provider: TestProvider
) -> None:
    """The picture (handwriting, name, time: :func:`signature_appearance_png`, the PDF's
    layout) is a signed attribute, so it is drawn where the StampAnnot says and cannot be
    swapped without breaking the signature."""
    data, _ = template_licence_ofd("business_licence")
    applicant = verify_id_token(context, provider.token(sub="u-7"), actor=ACTOR)
    centre = (_EMPTY[0] + _EMPTY[2] / 2, 210 - _EMPTY[1] - _EMPTY[3] / 2)  # from lower left
    result = sign_as_person(
        context, data, applicant, placement=Placement(x_mm=centre[0], y_mm=centre[1], size_mm=30),
        role="申请人", signature_image_png=signature_png(), actor=ACTOR,
    )  # fmt: skip
    package, path, value = _signed_value(result.document)
    (entry,) = read_signatures(package).entries
    (stamp,) = read_signature(package, entry).stamp_annots
    assert stamp.boundary == pytest.approx((centre[0] - 15, 210 - centre[1] - 15, 30, 30), abs=0.01)
    picture = Image.open(io.BytesIO(_appearance(value)))
    assert picture.format == "PNG" and picture.size == (354, 354)  # 30 mm at 300 dpi
    assert picture.mode == "RGBA" and picture.getpixel((0, 0))[3] == 0  # transparent paper

    before, after = render_face(data), render_face(result.document)
    assert before is not None and after is not None
    assert _ink(before, _EMPTY) == 0 and _ink(after, _EMPTY) > 100

    other = signature_appearance_png("李四", datetime.now(UTC), None, 30)
    swapped = gbt_cms.Gbt35275ContentInfo.load(value.dump())
    for attribute in swapped["content"]["signer_infos"][0]["signed_attrs"]:
        if attribute["type"].dotted == APPEARANCE_ATTRIBUTE:
            attribute["values"] = [OctetString(other)]
    forged = package.with_files({path: swapped.dump(force=True)}).to_bytes()
    report = _verify(context, forged, None)
    assert report.verdict.value == "TOTAL_FAILED", report.to_json()
    assert report.signatures[0].sub_indication is AdESFailure.SIG_CRYPTO_FAILURE


def test_an_invisible_ofd_signature_has_no_appearance(
    context: ServiceContext, provider: TestProvider
) -> None:
    data, _ = template_licence_ofd("business_licence")
    applicant = verify_id_token(context, provider.token(sub="u-8"), actor=ACTOR)
    result = sign_as_person(
        context, data, applicant, placement=Placement(invisible=True), role="申请人",
        signature_image_png=signature_png(), actor=ACTOR,
    )  # fmt: skip
    package, _, value = _signed_value(result.document)
    (entry,) = read_signatures(package).entries
    assert read_signature(package, entry).stamp_annots == ()
    assert _appearance(value) is None
    assert _verify(context, result.document, None).verdict.value == "TOTAL_PASSED"


# --- a sign-off chain as OFD: 经办人 → 审核人 → 签发人, then the 行政审批专用章 -----------------

_CHAIN = (("u-31", "李小明", "经办人"), ("u-32", "王芳", "审核人"), ("u-33", "欧阳建国", "签发人"))


def _approval_ofd(context: ServiceContext, provider: TestProvider) -> bytes:
    """Three persons sign (time-stamped, each with its handwriting and role), then the
    approval seal goes on (B-T): four signatures of one OFD, each leaving the others intact."""
    data, _ = template_licence_ofd("business_licence")
    for number, (subject, name, role) in enumerate(_CHAIN):
        person = verify_id_token(context, provider.token(sub=subject, name=name), actor=ACTOR)
        data = sign_as_person(
            context, data, person, placement=Placement(x_mm=40 + 45 * number, y_mm=30, size_mm=30),
            role=role, signature_image_png=signature_png(), actor=ACTOR,
        ).document  # fmt: skip
    code = seals.issue(
        context, department="ZZ-FTZ", kind="行政审批专用章", algorithm="sm2", actor=ACTOR
    ).code
    return seal_ofd(
        context, data, code, Placement(x_mm=230, y_mm=40), timestamp=True, actor=ACTOR
    ).ofd


def test_an_approval_ofd_verifies_with_the_roles_in_order(
    context: ServiceContext, provider: TestProvider, tmp_path: Path
) -> None:
    approval = _approval_ofd(context, provider)
    package = OfdPackage.read(approval)
    assert [e.type for e in read_signatures(package).entries] == ["Sign", "Sign", "Sign", "Seal"]
    report = _verify(context, approval, None)
    assert report.verdict.value == "TOTAL_PASSED", report.to_json()
    people = [(s.person.name, s.person.role) for s in report.signatures if s.person is not None]
    assert people == [("李*明", "经办人"), ("王*", "审核人"), ("欧**国", "签发人")]
    seal = report.signatures[-1]
    assert seal.person is None and "加盖电子印章" in seal.sentence and seal.timestamp.valid
    assert all(s.modifications.allowed for s in report.signatures)
    assert ID_NUMBER not in report.to_json() and ID_NUMBER.encode() not in approval
    if OFD_CHECK is not None:
        lines = run_ofd_check({"approval": package}, tmp_path)
        assert lines["approval"].startswith("PASS "), lines["approval"]
    else:
        pytest.skip("ofd_check not found beside the repository: the verdict above was checked")
