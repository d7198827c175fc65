"""PAdES sealing on real bytes, checked by tools that did not produce them.

* RSA at B-B, B-T, B-LT and B-LTA: pyHanko's validator (intact, valid, trusted; the
  signature and document time-stamps; for B-LT/B-LTA *only* with what the DSS holds and
  hard-fail revocation checking) and poppler's ``pdfsig`` with an NSS trust store.
* SM2 (which neither tool can check): the CMS is taken apart by hand — ByteRange coverage,
  SM3 over the signed bytes by ``openssl dgst``, the signature over the DER of the signed
  attributes by ``gmssl`` and by ``openssl pkeyutl``.
* Joint seals by three departments on one certified document.
* Placement by position, anchor text, existing field and invisible; one rendered page.
* Every malformed or unacceptable document → :class:`InvalidInput`, never another type.
"""

from __future__ import annotations

import functools
import hashlib
import io
import random
import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import cms
from helpers.pdf_fixtures import (
    ANCHOR,
    EMPTY_FIELD,
    certified_no_changes_pdf,
    chinese_pdf,
    encrypted_pdf,
    pdf_with_broken_xref,
    pdf_with_empty_field,
    pdf_with_media_box,
    reportlab_seal_pdf,
)
from helpers.pki_fixtures import (
    SM2_DISTID,
    Hierarchy,
    build_hierarchy,
    empty_crls,
    gmssl_verify,
    issue_leaf,
    openssl,
    write_pem,
    write_public_key,
)
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    FormUpdatingRule,
    GenericFieldModificationRule,
    ModificationLevel,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
)
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    validate_pdf_signature,
    validate_pdf_timestamp,
)
from pyhanko_certvalidator import ValidationContext

from pki.ocsp import CertStatus, OcspResponder, build_request
from pki.tsa import TimeStampAuthority
from sealsvc.errors import InvalidInput
from sealsvc.pades import (
    MM,
    Level,
    Placement,
    RevocationMaterial,
    SealingMaterial,
    SealOptions,
    TsaTimeStamper,
    seal_pdf,
)

AT = Placement(page=1, x_mm=100, y_mm=150)


# --------------------------------------------------------------------------- material


@dataclass(frozen=True)
class Pki:
    hierarchy: Hierarchy
    material: SealingMaterial
    revocation: RevocationMaterial


@functools.cache
def pki(family: str) -> Pki:
    """Seal material with a real TSA, CRLs of both CAs and an OCSP answer for the seal."""
    h = build_hierarchy(family)
    tsa = TimeStampAuthority(h.tsa, h.tsa_key, [h.issuing, h.root])
    crls = empty_crls(h)
    responder = OcspResponder(h.ocsp, h.ocsp_key, h.issuing, lambda serial: CertStatus("good"))
    ocsp_response = responder.respond(build_request(h.seal, h.issuing, hash_algo="sha256"))
    from asn1crypto import ocsp

    revocation = RevocationMaterial(
        certificates=(h.tsa, h.ocsp),
        crls=crls,
        ocsp_responses=(ocsp.OCSPResponse.load(ocsp_response),),
    )
    material = SealingMaterial(
        key=h.seal_key,
        certificate=h.seal,
        chain=(h.issuing, h.root),
        stamp_pdf=reportlab_seal_pdf(),
        timestamper=TsaTimeStamper(tsa.respond),
        validation_data=lambda: revocation,
    )
    return Pki(h, material, revocation)


@functools.cache
def sealed(family: str, level: Level) -> bytes:
    return seal_pdf(chinese_pdf(1), pki(family).material, SealOptions(level=level, placement=AT))


def context(h: Hierarchy, dss: DocumentSecurityStore | None = None) -> ValidationContext:
    """Trust only our root, never fetch; with a DSS, use only its content and hard-fail."""
    if dss is not None:
        return dss.as_validation_context(
            {"trust_roots": [h.root], "allow_fetching": False, "revocation_mode": "hard-fail"}
        )
    return ValidationContext(trust_roots=[h.root], other_certs=[h.issuing], allow_fetching=False)


# --------------------------------------------------------------------------- RSA, pyHanko


@pytest.mark.parametrize("level", list(Level))
def test_rsa_seal_validates_in_pyhanko(level: Level) -> None:
    h = pki("rsa").hierarchy
    reader = PdfFileReader(io.BytesIO(sealed("rsa", level)))
    dss = DocumentSecurityStore.read_dss(reader) if level.needs_validation_data else None
    signature = reader.embedded_signatures[0]
    status = validate_pdf_signature(
        signature, context(h, dss), ts_validation_context=context(h, dss)
    )

    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.bottom_line
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    if level is Level.B_B:
        assert status.timestamp_validity is None
    else:
        ts = status.timestamp_validity
        assert ts is not None and ts.intact and ts.valid and ts.trusted
    if dss is not None:
        assert len(dss.crls) == 2 and len(dss.ocsps) == 1
        subjects = {c.subject.dump() for c in dss.load_certs()}
        assert {c.subject.dump() for c in (h.seal, h.issuing, h.root, h.tsa, h.ocsp)} <= subjects
        assert status.modification_level <= ModificationLevel.LTA_UPDATES
    if level is Level.B_LTA:
        assert len(reader.embedded_signatures) == 2
        doc_ts = validate_pdf_timestamp(reader.embedded_signatures[1], context(h, dss))
        assert doc_ts.intact and doc_ts.valid and doc_ts.trusted


def test_b_lt_without_the_dss_cannot_prove_revocation_status() -> None:
    """The hard-fail check above is meaningful: without the DSS it fails."""
    h = pki("rsa").hierarchy
    reader = PdfFileReader(io.BytesIO(sealed("rsa", Level.B_B)))
    strict = ValidationContext(
        trust_roots=[h.root],
        other_certs=[h.issuing],
        allow_fetching=False,
        revocation_mode="hard-fail",
        crls=[],
        ocsps=[],
    )
    status = validate_pdf_signature(reader.embedded_signatures[0], strict)
    assert status.intact and status.valid and not status.trusted


ACROBAT_POLICY = StandardDiffPolicy(
    global_rules=DEFAULT_DIFF_POLICY.global_rules,
    form_rule=FormUpdatingRule(
        field_rules=[
            SigFieldCreationRule(allow_new_visible_after_certify=True),
            SigFieldModificationRule(),
            GenericFieldModificationRule(),
        ]
    ),
)
"""pyHanko's default diff policy with Acrobat's (and ISO 32000's P=2) rule: after a
certification, signing may add new *visible* signature fields.  pyHanko's default refuses
that ("stricter than Acrobat"), so a verifier built on pyHanko must use this policy, or
joint seals on a certified document must go into fields created before certification."""


def test_joint_seals_of_three_departments_stay_valid() -> None:
    h = pki("rsa").hierarchy
    base = pki("rsa").material
    pdf = chinese_pdf(1)
    departments = [(h.seal, h.seal_key)] + [
        issue_leaf(h, common_name=name)
        for name in ("深圳市财政局业务专用章", "深圳市税务局审批专用章")
    ]
    for number, (cert, key) in enumerate(departments):
        material = SealingMaterial(
            key=key,
            certificate=cert,
            chain=(h.issuing, h.root),
            stamp_pdf=base.stamp_pdf,
            timestamper=base.timestamper,
        )
        placement = Placement(page=1, x_mm=40 + 55 * number, y_mm=40)
        pdf = seal_pdf(
            pdf, material, SealOptions(level=Level.B_T, placement=placement, certify=number == 0)
        )

    reader = PdfFileReader(io.BytesIO(pdf))
    assert [s.field_name for s in reader.embedded_signatures] == ["Seal1", "Seal2", "Seal3"]
    for signature in reader.embedded_signatures:
        status = validate_pdf_signature(
            signature, context(h), ts_validation_context=context(h), diff_policy=ACROBAT_POLICY
        )
        assert status.bottom_line, status.pretty_print_details()
        assert status.docmdp_ok
        assert status.modification_level <= ModificationLevel.FORM_FILLING
    assert reader.embedded_signatures[0].docmdp_level.value == 2
    assert pdfsig(pdf).count("Signature is Valid.") == 3


# --------------------------------------------------------------------------- RSA, pdfsig


@pytest.fixture(scope="module")
def nss_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An NSS database that trusts the RSA root, knows the issuing CA and holds both CRLs.

    Without the CRLs NSS cannot settle revocation (there is no network) and pdfsig says
    "Unknown issue with Certificate" even with -no-ocsp.
    """
    directory = tmp_path_factory.mktemp("nss")
    h = pki("rsa").hierarchy
    run = functools.partial(subprocess.run, check=True, capture_output=True, timeout=60)
    run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"])
    for name, cert, trust in (("root", h.root, "CT,C,C"), ("issuing", h.issuing, ",,")):
        pem = write_pem(directory, f"{name}.pem", cert)
        run(["certutil", "-A", "-d", f"sql:{directory}", "-n", name, "-t", trust, "-i", pem])
    for number, crl in enumerate(pki("rsa").revocation.crls):
        path = directory / f"{number}.crl"
        path.write_bytes(crl.dump())
        run(["crlutil", "-I", "-d", f"sql:{directory}", "-t", "1", "-i", path])
    return f"sql:{directory}"


def pdfsig(pdf: bytes, *options: str) -> str:
    """pdfsig's report (it needs a seekable file; no OCSP: there is no network)."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(pdf)
        file.flush()
        result = subprocess.run(
            ["pdfsig", "-no-ocsp", *options, file.name],
            capture_output=True,
            timeout=60,
            check=False,
        )
    return result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8", "replace")


@pytest.mark.parametrize("level", list(Level))
def test_rsa_seal_is_valid_and_trusted_in_pdfsig(level: Level, nss_db: str) -> None:
    report = pdfsig(sealed("rsa", level), "-nssdir", nss_db)
    first = report.split("Signature #2")[0]  # B-LTA: #2 is the document time-stamp
    assert "Signature Type: ETSI.CAdES.detached" in first
    assert "Signature Validation: Signature is Valid." in first, report
    assert "Certificate Validation: Certificate is Trusted." in first, report
    assert "Total document signed" in first or level is not Level.B_B


def test_pdfsig_without_trust_store_does_not_trust_our_root(tmp_path: Path) -> None:
    subprocess.run(
        ["certutil", "-N", "-d", f"sql:{tmp_path}", "--empty-password"], check=True, timeout=60
    )
    report = pdfsig(sealed("rsa", Level.B_B), "-nssdir", f"sql:{tmp_path}")
    assert "Signature is Valid." in report
    assert "Certificate is Trusted." not in report


# --------------------------------------------------------------------------- SM2, by hand


@dataclass(frozen=True)
class SignatureParts:
    byte_range: tuple[int, int, int, int]
    signed_bytes: bytes
    signed_data: cms.SignedData


def take_apart(pdf: bytes) -> SignatureParts:
    """The one signature of ``pdf``, read with regular expressions and asn1crypto only."""
    ranges = re.findall(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert len(ranges) == 1
    a, b, c, d = (int(v) for v in ranges[0])
    hole = pdf[a + b : c]
    assert re.fullmatch(rb"<[0-9a-fA-F]+>", hole), "the hole must be exactly /Contents"
    der = bytes.fromhex(hole[1:-1].decode())
    content_info = cms.ContentInfo.load(der.rstrip(b"\0"))
    return SignatureParts((a, b, c, d), pdf[a : a + b] + pdf[c : c + d], content_info["content"])


def signed_attributes(signer_info: cms.SignerInfo) -> dict[str, object]:
    return {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}


def message_digest(parts: SignatureParts) -> bytes:
    return signed_attributes(parts.signed_data["signer_infos"][0])["message_digest"].native


def sm3_by_openssl(data: bytes, tmp_path: Path) -> bytes:
    path = tmp_path / "signed.bin"
    path.write_bytes(data)
    result = openssl("dgst", "-sm3", "-binary", "-out", tmp_path / "digest.bin", path)
    assert result.returncode == 0, result.stderr
    return (tmp_path / "digest.bin").read_bytes()


@pytest.mark.parametrize("level", [Level.B_B, Level.B_T])
def test_sm2_seal_checks_out_with_openssl_and_gmssl(level: Level, tmp_path: Path) -> None:
    h = pki("sm2").hierarchy
    pdf = sealed("sm2", level)
    parts = take_apart(pdf)
    a, _, c, d = parts.byte_range
    assert a == 0 and c + d == len(pdf), "the signature must cover the whole file"
    assert re.search(rb"/SubFilter\s*/ETSI\.CAdES\.detached", pdf)

    signer_info = parts.signed_data["signer_infos"][0]
    assert signer_info["digest_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.401"
    assert parts.signed_data["digest_algorithms"][0]["algorithm"].dotted == "1.2.156.10197.1.401"
    assert signer_info["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    attrs = signed_attributes(signer_info)
    assert {"content_type", "message_digest", "signing_certificate_v2"} <= set(attrs)
    # GB/T 35275 puts the signing time into the SM2 SignerInfo as a signed attribute
    # (RSA PAdES baseline signatures leave it out, per ETSI EN 319 142-1); /M carries it too.
    signing_time = attrs["signing_time"].native
    assert abs((signing_time - datetime.now(UTC)).total_seconds()) < 300
    assert re.search(rb"/M\s*\(D(:|\\072)\d{14}", pdf)  # pyHanko escapes ':' as \072
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert ess["issuer_serial"]["serial_number"].native == h.seal.serial_number

    assert sm3_by_openssl(parts.signed_bytes, tmp_path) == message_digest(parts)

    # RFC 5652 §5.4: the signature covers the attributes re-tagged as a SET OF (0x31).
    signed_attrs = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    signature = signer_info["signature"].native
    assert gmssl_verify(h.seal.public_key, signed_attrs, signature)
    (tmp_path / "attrs.der").write_bytes(signed_attrs)
    (tmp_path / "sig.der").write_bytes(signature)
    public = write_public_key(tmp_path, "seal.pub.pem", h.seal.public_key)
    verify = ("pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt", SM2_DISTID)
    result = openssl(*verify, "-pubin", "-inkey", public, "-in", tmp_path / "attrs.der",
                     "-sigfile", tmp_path / "sig.der")  # fmt: skip
    assert result.returncode == 0 and "Signature Verified Successfully" in result.stdout

    (tmp_path / "attrs.der").write_bytes(signed_attrs[:-1] + bytes([signed_attrs[-1] ^ 1]))
    result = openssl(*verify, "-pubin", "-inkey", public, "-in", tmp_path / "attrs.der",
                     "-sigfile", tmp_path / "sig.der")  # fmt: skip
    assert result.returncode != 0, "openssl must reject altered attributes"

    if level is Level.B_T:
        token = signer_info["unsigned_attrs"][0]["values"][0]
        tst = token["content"]["encap_content_info"]["content"].parsed
        assert tst["message_imprint"]["hash_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.401"
        # The token covers this signature value: its imprint is SM3 over it, per openssl.
        imprint = tst["message_imprint"]["hashed_message"].native
        assert imprint == sm3_by_openssl(signature, tmp_path)
        tsa_signer = token["content"]["signer_infos"][0]
        assert tsa_signer["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_every_time_stamped_seal_gets_a_token_of_its_own(family: str, tmp_path: Path) -> None:
    """Nothing on the B-T path is served from a cache: the same document sealed twice gets
    two tokens with their own serials and nonces, each over its own signature value."""
    material = pki(family).material
    options = SealOptions(level=Level.B_T, placement=AT)
    seen: list[tuple[int, int]] = []
    for _ in range(2):
        signer_info = take_apart(seal_pdf(chinese_pdf(1), material, options)).signed_data[
            "signer_infos"
        ][0]
        token = signer_info["unsigned_attrs"][0]["values"][0]
        tst = token["content"]["encap_content_info"]["content"].parsed
        signature = signer_info["signature"].native
        if family == "rsa":
            expected = hashlib.sha256(signature).digest()
        else:
            expected = sm3_by_openssl(signature, tmp_path)
        assert tst["message_imprint"]["hashed_message"].native == expected
        seen.append((tst["serial_number"].native, tst["nonce"].native))
    assert seen[0][0] != seen[1][0] and seen[0][1] != seen[1][1]


def test_sm2_flipped_byte_inside_the_byte_range_breaks_the_digest(tmp_path: Path) -> None:
    pdf = bytearray(sealed("sm2", Level.B_B))
    parts = take_apart(bytes(pdf))
    pdf[parts.byte_range[1] // 2] ^= 0x01
    tampered = take_apart(bytes(pdf))
    assert sm3_by_openssl(tampered.signed_bytes, tmp_path) != message_digest(tampered)


# --------------------------------------------------------------------------- placement


def widget(pdf: bytes, field_name: str) -> tuple[int, tuple[float, ...]]:
    """Page index and /Rect of the signature widget called ``field_name``."""
    reader = PdfFileReader(io.BytesIO(pdf))
    for index in range(int(reader.root["/Pages"]["/Count"])):
        page = reader.find_page_for_modification(index)[0].get_object()
        for annot in page.get("/Annots", []):
            annot = annot.get_object()
            if annot.get("/T") == field_name:
                return index, tuple(float(v) for v in annot["/Rect"])
    raise AssertionError(f"no widget {field_name}")


def seal_b_b(pdf: bytes, placement: Placement) -> bytes:
    return seal_pdf(pdf, pki("rsa").material, SealOptions(level=Level.B_B, placement=placement))


def centre(rect: tuple[float, ...]) -> tuple[float, float]:
    return (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2


def test_seal_by_position_on_a_later_page() -> None:
    pdf = seal_b_b(chinese_pdf(5), Placement(page=3, x_mm=120, y_mm=80, size_mm=40))
    page, rect = widget(pdf, "Seal1")
    assert page == 2
    assert centre(rect) == pytest.approx((120 * MM, 80 * MM), abs=1)
    assert rect[2] - rect[0] == pytest.approx(40 * MM, abs=1)


def test_seal_by_page_alone_goes_to_the_lower_right() -> None:
    pdf = seal_b_b(chinese_pdf(2), Placement(page=2))
    page, rect = widget(pdf, "Seal1")
    assert page == 1
    assert centre(rect) == pytest.approx((595.276 * 0.72, 841.89 * 0.18), abs=1)


def test_seal_by_anchor_text_covers_the_text(tmp_path: Path) -> None:
    pdf = chinese_pdf(3)
    sealed_pdf = seal_b_b(pdf, Placement(anchor=ANCHOR))
    page, rect = widget(sealed_pdf, "Seal1")
    assert page == 2  # the anchor is on the last page
    # Where poppler (not pdfminer, which the anchor search uses) sees the text.
    bbox = subprocess.run(
        ["pdftotext", "-bbox", "-f", "3", "-l", "3", "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    word = re.search(
        r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">' + ANCHOR, bbox
    )
    assert word is not None
    x0, y0, x1, y1 = (float(v) for v in word.groups())
    height = 841.89  # A4; pdftotext measures y from the top
    assert centre(rect) == pytest.approx(((x0 + x1) / 2, height - (y0 + y1) / 2), abs=4)


def test_seal_into_existing_empty_field() -> None:
    pdf = pdf_with_empty_field()
    before = widget(pdf, EMPTY_FIELD)
    after_pdf = seal_b_b(pdf, Placement(field=EMPTY_FIELD))
    assert widget(after_pdf, EMPTY_FIELD) == before
    reader = PdfFileReader(io.BytesIO(after_pdf))
    assert [s.field_name for s in reader.embedded_signatures] == [EMPTY_FIELD]


def test_invisible_seal_has_a_zero_rect() -> None:
    pdf = seal_b_b(chinese_pdf(1), Placement(invisible=True))
    _, rect = widget(pdf, "Seal1")
    assert rect == (0, 0, 0, 0)
    assert "Signature is Valid." in pdfsig(pdf, "-nocert")


def test_rendered_page_shows_the_seal_where_asked(tmp_path: Path) -> None:
    """Render at 60 dpi; the seal's red must be at its centre and nowhere far from it."""
    from sealsvc.sealimage import SealDesign, render_pdf

    stamp = render_pdf(SealDesign("深圳市市场监督管理局", "行政审批专用章", "4403000012345"))
    material = SealingMaterial(
        key=pki("rsa").material.key,
        certificate=pki("rsa").material.certificate,
        chain=pki("rsa").material.chain,
        stamp_pdf=stamp,
    )
    pdf = seal_pdf(chinese_pdf(1), material, SealOptions(level=Level.B_B, placement=AT))
    (tmp_path / "sealed.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
         tmp_path / "sealed.pdf", tmp_path / "page"],
        check=True, timeout=60,
    )  # fmt: skip
    image = Image.open(tmp_path / "page.png").convert("RGB")
    scale = 60 / 72
    cx, cy = 100 * MM * scale, image.height - 150 * MM * scale
    radius = 21 * MM * scale

    def red(x: float, y: float, r: float) -> int:
        return sum(
            1
            for px in range(int(x - r), int(x + r))
            for py in range(int(y - r), int(y + r))
            if (p := image.getpixel((px, py)))[0] > 150 and p[1] < 110 and p[2] < 110
        )

    assert red(cx, cy, radius) > 200, "the seal should be drawn around its centre"
    assert red(cx, cy - 3 * radius, radius) == 0, "nothing red above the seal"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("make_pdf", "placement", "message"),
    [
        (lambda: b"Hello, not a PDF", AT, "not a PDF"),
        (lambda: b"", AT, "not a PDF"),
        (encrypted_pdf, AT, "encrypted"),
        (pdf_with_broken_xref, AT, "cannot be parsed"),
        (lambda: chinese_pdf(1)[:-2000], AT, "cannot be parsed"),
        (lambda: certified_no_changes_pdf("rsa"), AT, "no changes allowed"),
        (lambda: chinese_pdf(2), Placement(page=3, x_mm=10, y_mm=10), "page 3 does not exist"),
        (lambda: pdf_with_media_box("0 0 595"), AT, "MediaBox that is not four numbers"),
        (lambda: pdf_with_media_box("0 0 595 842 0"), AT, "MediaBox that is not four numbers"),
        (lambda: pdf_with_media_box("0 0 /W /H"), Placement(page=1), "not four numbers"),
        (chinese_pdf, Placement(field="不存在"), "no signature field named '不存在'"),
        (chinese_pdf, Placement(anchor="（签字）"), "'（签字）' does not occur"),
    ],
    ids=["text", "empty", "encrypted", "broken-xref", "truncated", "docmdp-p1", "page",
         "media-box-3", "media-box-5", "media-box-names", "field", "anchor"],
)  # fmt: skip
def test_bad_documents_are_refused_clearly(make_pdf, placement: Placement, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        seal_b_b(make_pdf(), placement)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x_mm": 10, "y_mm": 10, "anchor": ANCHOR}, "choose one of"),
        ({"anchor": ANCHOR, "field": "x"}, "choose one of"),
        ({"invisible": True, "field": "x"}, "choose one of"),
        ({"x_mm": 10}, "needs both X and Y"),
        ({"page": 0}, "start at 1"),
        ({"size_mm": 500}, "between 5 and 100 mm"),
    ],
)
def test_invalid_placements_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Placement(**kwargs)


def test_filled_field_and_second_certification_are_refused() -> None:
    once = seal_b_b(pdf_with_empty_field(), Placement(field=EMPTY_FIELD))
    with pytest.raises(InvalidInput, match="already signed"):
        seal_b_b(once, Placement(field=EMPTY_FIELD))
    with pytest.raises(InvalidInput, match="only the first seal can certify"):
        seal_pdf(once, pki("rsa").material, SealOptions(level=Level.B_B, certify=True))


def test_levels_without_their_services_are_refused() -> None:
    bare = SealingMaterial(
        key=pki("rsa").material.key,
        certificate=pki("rsa").material.certificate,
        chain=pki("rsa").material.chain,
        stamp_pdf=None,
    )
    with pytest.raises(InvalidInput, match="needs a time-stamp authority"):
        seal_pdf(chinese_pdf(1), bare, SealOptions(level=Level.B_T))
    lt_without_data = SealingMaterial(
        **{**bare.__dict__, "timestamper": pki("rsa").material.timestamper}
    )
    with pytest.raises(InvalidInput, match="needs revocation data"):
        seal_pdf(chinese_pdf(1), lt_without_data, SealOptions(level=Level.B_LT))


def hostile_inputs() -> list[bytes]:
    rng = random.Random(20250601)
    base = pdf_with_empty_field()
    cases = [b"%PDF-1.7\n" + rng.randbytes(rng.randrange(0, 4000)) for _ in range(10)]
    cases += [
        base[:cut] for cut in (9, 50, 700, 5000, len(base) // 2, len(base) - 400, len(base) - 1)
    ]
    cases += [base[: len(base) // 2] + base[-300:]]  # a cut body with an intact trailer
    for _ in range(60):
        mutated = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(mutated))
            if rng.random() < 0.6:
                mutated[at] = rng.randrange(256)
            else:
                del mutated[at : at + rng.randint(1, 40)]
        cases.append(bytes(mutated))
    return cases


def test_hostile_inputs_raise_only_invalid_input() -> None:
    placements = [
        AT,
        Placement(anchor=ANCHOR),
        Placement(field=EMPTY_FIELD),
        Placement(invisible=True),
    ]
    refused = 0
    for number, pdf in enumerate(hostile_inputs()):
        try:
            seal_b_b(pdf, placements[number % len(placements)])
        except InvalidInput as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 300
            refused += 1
    assert refused > 20  # most of them are broken beyond repair
