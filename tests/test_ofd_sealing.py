"""Sealing OFD with registered SM2 seals (sealsvc.ofd_sealing): real seals, keys, CAs, TSA.

Every sealed file is checked three ways: our container check (every ``Reference`` digest,
:func:`ofd.signatures.check_references`), the SES layers (:func:`pki.ses.check_signature`,
and the service's verifier with our CAs as trust anchors), and — where ``shared/ofdrw``
exists beside the repository — ofdrw's ``ofd_check``, which must PASS what we write and
FAIL a tampered copy.  Refusals (revoked, suspended, RSA seals) must be audited, and a seal
use must leave exactly one ``seal.use`` entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.licence_ofd_render import (
    easyofd_png as _easyofd,
)
from helpers.licence_ofd_render import (
    first_seal_box as _stamp_box,
)
from helpers.licence_ofd_render import (
    seal_red_pixels as _red,
)
from helpers.licence_ofd_render import (
    template_licence_ofd as _licence,
)
from helpers.ofd_check import needs_ofd_check
from helpers.ofd_check import run_ofd_check as _ofd_check
from helpers.ofd_documents import unsigned_ofd
from helpers.ofd_seal_checks import verify_all_seals as _verify_all
from helpers.pki_fixtures import openssl
from helpers.ses_openssl import layers_by_asn1parse, layers_by_our_parser, openssl_verifies
from sqlalchemy import select
from typer.testing import Result

from ofd.package import OfdPackage
from ofd.signatures import (
    check_references,
    read_signature,
    read_signatures,
)
from pki import ses
from sealsvc import seals, ses_seals
from sealsvc.anchors import find_text as find_text_in_pdf
from sealsvc.context import ServiceContext
from sealsvc.errors import Conflict, InvalidInput, SealNotUsable
from sealsvc.licences import load_template, render_licence
from sealsvc.models import AuditEntry
from sealsvc.ofd_sealing import PROVIDER, OfdSealResult, seal_ofd
from sealsvc.pades import MM, Placement

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context, seal_context

ACTOR = "test:ofd-sealing"
REPO = Path(__file__).resolve().parents[1]
THIRD_PARTY = REPO / "tests/data/ofd-samples/v4signed.ofd"


@pytest.fixture
def context(sqlite_seal_context: ServiceContext) -> ServiceContext:
    """Real CAs, with their PEM files under ``ca/`` (the verifier's trust anchors)."""
    with sqlite_seal_context.database.session(read_only=True) as session:
        sqlite_seal_context.ca.export_files(session)
    return sqlite_seal_context


def _issue(context: ServiceContext, algorithm: str = "sm2", kind: str = "行政审批专用章") -> str:
    return seals.issue(
        context, department="ZZ-FTZ", kind=kind, algorithm=algorithm, actor=ACTOR
    ).code


def _entries(context: ServiceContext, code: str, action: str) -> list[dict]:
    with context.database.session(read_only=True) as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.seal_code == code, AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        ).all()
        return [{"seq": r.seq, "document_hash": r.document_hash, **json.loads(r.details)}
                for r in rows]  # fmt: skip


def _seal(
    context: ServiceContext,
    data: bytes,
    code: str,
    placement: Placement | None = None,
    *,
    timestamp: bool = True,
    **options,
) -> OfdSealResult:
    return seal_ofd(
        context, data, code, placement or Placement(), timestamp=timestamp, actor=ACTOR, **options
    )


def test_a_licence_ofd_sealed_with_a_registered_seal(context: ServiceContext) -> None:
    code = _issue(context)
    data, _ = _licence("business_licence")
    spot = load_template("business_licence").spec.seals[0]
    placement = Placement(page=spot.page, x_mm=spot.x_mm, y_mm=spot.y_mm)
    result = _seal(context, data, code, placement, details={"key_id": "k1"})
    sealed = OfdPackage.read(result.ofd)
    assert _verify_all(context, sealed) == {"Doc_0/Signs/Sign_0/Signature.xml": code}
    (entry,) = read_signatures(sealed).entries
    assert entry.type == "Seal"
    signature = read_signature(sealed, entry)
    assert signature.provider == PROVIDER
    (annot,) = signature.stamp_annots
    # the picture in the seal object is 42 mm; the template's spot is the stamp's centre
    with context.database.session(read_only=True) as session:
        picture = ses.parse_seal(ses_seals.current(session, code).der).picture
    assert (picture.width_mm, picture.height_mm) == (42, 42)
    assert annot.boundary == pytest.approx(_stamp_box("business_licence"))
    assert ses.parse_signature(sealed[signature.signed_value_path]).time_stamp_token is not None
    # the pages are unchanged: the stamp is drawn by readers from the seal object
    original = OfdPackage.read(data)
    assert all(sealed[path] == original[path] for path in original if path != "OFD.xml")

    [used] = _entries(context, code, "seal.use")
    assert used["seq"] == result.audit_seq and used["format"] == "ses"
    assert used["container"] == "ofd" and used["input_sha256"] == result.input_sha256
    assert used["property_info"] == "/Doc_0/Signs/Sign_0/Signature.xml"
    assert used["key_id"] == "k1" and used["time_stamped"] is True
    assert result.signature_path == "Doc_0/Signs/Sign_0/Signature.xml"


def test_joint_seals_on_a_third_party_ofd_all_verify(seal_context: ServiceContext) -> None:
    """Two of our seals after another issuer's: each verifies, and the issuer's digests stay
    intact (on SQLite and on PostgreSQL)."""
    with seal_context.database.session(read_only=True) as session:
        seal_context.ca.export_files(session)
    first, second = _issue(seal_context), _issue(seal_context, kind="公章")
    original = THIRD_PARTY.read_bytes()
    once = _seal(seal_context, original, first, timestamp=False)
    twice = _seal(seal_context, once.ofd, second, Placement(x_mm=60, y_mm=40))
    sealed = OfdPackage.read(twice.ofd)
    theirs, *_ = read_signatures(sealed).entries
    assert check_references(sealed, read_signature(sealed, theirs)).intact
    assert _verify_all(seal_context, sealed, skip=1) == {
        "Doc_0/Signs/Sign_1/Signature.xml": first,
        "Doc_0/Signs/Sign_2/Signature.xml": second,
    }
    assert len(_entries(seal_context, first, "seal.use")) == 1
    assert len(_entries(seal_context, second, "seal.use")) == 1


def test_a_package_in_is_sealed_as_its_file_and_the_sealed_package_comes_out(
    context: ServiceContext,
) -> None:
    """Licence issuing hands seal_ofd the rendered package and the next seal the previous
    seal's package: the same as sealing the files' ZIP, and what comes out is the ZIP's files."""
    first, second = _issue(context), _issue(context, kind="公章")
    data, _ = _licence("business_licence")
    once = _seal(context, OfdPackage.read(data), first, trusted_input=True)
    assert once.input_sha256 == hashlib.sha256(OfdPackage.read(data).to_bytes()).hexdigest()
    assert dict(once.package) == dict(OfdPackage.read(once.ofd))
    assert once.package.to_bytes() == once.ofd
    twice = _seal(context, once.package, second, Placement(x_mm=60, y_mm=40), trusted_input=True)
    assert twice.input_sha256 == once.output_sha256
    assert dict(twice.package) == dict(OfdPackage.read(twice.ofd))
    assert _verify_all(context, OfdPackage.read(twice.ofd)) == {
        "Doc_0/Signs/Sign_0/Signature.xml": first,
        "Doc_0/Signs/Sign_1/Signature.xml": second,
    }


@pytest.mark.parametrize("change", ["revoke", "suspend"])
def test_revoked_and_suspended_seals_are_refused_and_audited(
    context: ServiceContext, change: str
) -> None:
    code = _issue(context)
    if change == "revoke":
        seals.revoke(context, code, reason="key_compromise", actor=ACTOR)
    else:
        seals.suspend(context, code, actor=ACTOR)
    expected = "revoked" if change == "revoke" else "suspended"
    with pytest.raises(SealNotUsable, match=expected):
        _seal(context, unsigned_ofd().to_bytes(), code, details={"client": "127.0.0.1"})
    [refused] = _entries(context, code, "seal.refused")
    assert refused["refusal"] == "seal-not-usable" and refused["client"] == "127.0.0.1"
    assert refused["container"] == "ofd"
    assert _entries(context, code, "seal.use") == []


def test_an_rsa_seal_is_refused_with_409_and_audited(context: ServiceContext) -> None:
    code = _issue(context, "rsa")
    with pytest.raises(ses_seals.NoSesSeal, match="SM2 seals only") as caught:
        _seal(context, unsigned_ofd().to_bytes(), code)
    assert caught.value.status == 409
    [refused] = _entries(context, code, "seal.refused")
    assert refused["refusal"] == "no-ses-seal"
    assert _entries(context, code, "seal.use") == []


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7 not an OFD", "the OFD cannot be read"),
        (_zip({"../OFD.xml": b"<x/>"}), "'..'"),
        (_zip({"OFD.xml": b"\0" * (8 << 20)}), "decompression bomb"),
        (_zip({"OFD.xml": b'<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>'}), "the OFD cannot be"),
        (_zip({"Doc_0/Document.xml": b"<x/>"}), "OFD.xml"),
    ],
    ids=["not-a-zip", "traversal", "zip-bomb", "entities", "no-ofd-xml"],
)
def test_hostile_or_broken_uploads_are_clear_errors(
    context: ServiceContext, data: bytes, message: str
) -> None:
    code = _issue(context)
    with pytest.raises(InvalidInput, match=message):
        _seal(context, data, code)
    assert _entries(context, code, "seal.use") == []


def test_size_limit_and_placement_errors(
    context: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _issue(context)
    data = unsigned_ofd().to_bytes()
    with monkeypatch.context() as patch:
        small = dataclasses.replace(context.settings, max_pdf_bytes=len(data) - 1)
        patch.setattr(context, "settings", small)
        with pytest.raises(InvalidInput, match=r"the OFD is \d+ bytes; the limit is"):
            _seal(context, data, code)
        assert _seal(context, data, code, trusted_input=True).ofd  # licences are not uploads
    with pytest.raises(InvalidInput, match="page 3 does not exist"):
        _seal(context, data, code, Placement(page=3))
    with pytest.raises(InvalidInput, match="does not fit on page 1"):
        _seal(context, data, code, Placement(x_mm=10, y_mm=100))
    with pytest.raises(InvalidInput, match="no signature fields"):
        _seal(context, data, code, Placement(field="Seal1"))


def test_position_is_the_centre_from_the_lower_left_and_invisible_has_no_stamp(
    context: ServiceContext,
) -> None:
    code = _issue(context)
    data = unsigned_ofd().to_bytes()
    placed = OfdPackage.read(_seal(context, data, code, Placement(page=2, x_mm=100, y_mm=50)).ofd)
    signature = read_signature(placed, read_signatures(placed).entries[0])
    (annot,) = signature.stamp_annots
    assert annot.page_ref == "11"  # the second page's ID
    assert annot.boundary == pytest.approx((79, 297 - 50 - 21, 42, 42))
    default = OfdPackage.read(_seal(context, data, code).ofd)
    (annot,) = read_signature(default, read_signatures(default).entries[0]).stamp_annots
    assert annot.boundary == pytest.approx((210 * 0.72 - 21, 297 * 0.82 - 21, 42, 42))
    hidden = OfdPackage.read(_seal(context, data, code, Placement(invisible=True)).ofd)
    signature = read_signature(hidden, read_signatures(hidden).entries[0])
    assert signature.stamp_annots == () and check_references(hidden, signature).intact


@pytest.mark.slow
@needs_ofd_check
def test_ofd_check_passes_our_sealed_ofds_and_fails_a_tampered_one(
    context: ServiceContext, tmp_path: Path
) -> None:
    first, second = _issue(context), _issue(context, kind="公章")
    data, _ = _licence("business_licence")
    licence = _seal(context, data, first).ofd
    joint = _seal(context, licence, second, Placement(x_mm=60, y_mm=40), timestamp=False).ofd
    third_party = _seal(context, THIRD_PARTY.read_bytes(), first).ofd
    sealed = OfdPackage.read(licence)
    page = bytearray(sealed["Doc_0/Pages/Page_0/Content.xml"])
    page[page.index(b"\xe9\x83\x91")] ^= 0x01  # the first 郑 of the page, one bit
    files = {
        "licence": sealed,
        "joint": OfdPackage.read(joint),
        "third-party": OfdPackage.read(third_party),
        "tampered": sealed.with_files({"Doc_0/Pages/Page_0/Content.xml": bytes(page)}),
    }
    lines = _ofd_check(files, tmp_path)
    for name in ("licence", "joint", "third-party"):
        assert lines[name].startswith("PASS "), lines[name]
    assert lines["tampered"].startswith("FAIL "), lines["tampered"]


def test_easyofd_draws_the_stamp_from_the_seal_object(
    context: ServiceContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An independent reader (easyofd) shows the seal's picture where the StampAnnot puts it,
    and only there: the picture comes from the SESeal our registry made."""
    data, _ = _licence("business_licence")
    spot = load_template("business_licence").spec.seals[0]
    result = _seal(
        context, data, _issue(context), Placement(x_mm=spot.x_mm, y_mm=spot.y_mm), timestamp=False
    )
    image = _easyofd(result.ofd, tmp_path, monkeypatch)
    image.save(tmp_path / "easyofd-sealed.png")
    box = _stamp_box("business_licence")
    assert _red(image, box, 297) > 2000, "no seal picture in the stamp's spot"
    elsewhere = (box[0] - 100, box[1], box[2], box[3])
    assert _red(image, elsewhere, 297) < 50


def test_anchor_text_centres_the_stamp_where_the_pdf_has_that_text(
    context: ServiceContext,
) -> None:
    """The licence's OFD and PDF come from one layout: the stamp centred on 登记机关 in the
    OFD sits where pdfminer finds 登记机关 in the PDF (to within a millimetre)."""
    data, page = _licence("business_licence")
    template = load_template("business_licence")
    page_index, x_pt, y_pt = find_text_in_pdf(render_licence(template, page), "登 记 机 关")
    result = _seal(context, data, _issue(context), Placement(anchor="登记机关"), timestamp=False)
    sealed = OfdPackage.read(result.ofd)
    (annot,) = read_signature(sealed, read_signatures(sealed).entries[0]).stamp_annots
    x, y, width, height = annot.boundary
    assert page_index == 0 and (width, height) == (42, 42)
    assert x + width / 2 == pytest.approx(x_pt / MM, abs=1.0)
    assert y + height / 2 == pytest.approx(template.spec.page.height_mm - y_pt / MM, abs=1.0)


def test_anchor_text_found_across_text_codes_and_pages_or_refused(
    context: ServiceContext,
) -> None:
    """第2页 is on the second page, written here one TextCode per character; a text that
    does not occur, or only blanks, is a clear InvalidInput."""
    code = _issue(context)
    package = unsigned_ofd()
    split = package["Doc_0/Pages/Page_1/Content.xml"].replace(
        b'<ofd:TextCode X="0" Y="5">\xe7\xac\xac2\xe9\xa1\xb5</ofd:TextCode>',
        b'<ofd:TextCode X="0" Y="5">\xe7\xac\xac</ofd:TextCode>'
        b'<ofd:TextCode X="5" Y="5">2</ofd:TextCode>'
        b'<ofd:TextCode X="10" Y="5">\xe9\xa1\xb5</ofd:TextCode>',
    )
    assert split != package["Doc_0/Pages/Page_1/Content.xml"]
    data = package.with_files({"Doc_0/Pages/Page_1/Content.xml": split}).to_bytes()
    sealed = OfdPackage.read(_seal(context, data, code, Placement(anchor="第 2 页")).ofd)
    (annot,) = read_signature(sealed, read_signatures(sealed).entries[0]).stamp_annots
    assert annot.page_ref == "11"
    # the text's box is x 20-35 mm (three 5 mm characters), baseline 25 mm from the top
    assert annot.boundary == pytest.approx((27.5 - 21, 25 - 0.38 * 5 - 21, 42, 42))
    with pytest.raises(InvalidInput, match="'（盖章）' does not occur in the OFD"):
        _seal(context, data, code, Placement(anchor="（盖章）"))
    with pytest.raises(InvalidInput, match="anchor text is empty"):
        _seal(context, data, code, Placement(anchor=" \u3000"))
    assert _entries(context, code, "seal.refused") == []


def _one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def test_sealctl_sign_seals_an_ofd(
    context: ServiceContext, sealctl: Callable[..., Result], tmp_path: Path
) -> None:
    """``sealctl sign`` tells an OFD by its content (here named .zip), seals it at B-B with
    the stamp on an anchor, writes it and prints the summary; errors are one line, exit 1."""
    code = _issue(context)
    source, out = tmp_path / "in.zip", tmp_path / "out.ofd"
    source.write_bytes(unsigned_ofd().to_bytes())
    run = sealctl(
        "sign", str(source), "--seal", code, "--level", "B-B", "--anchor", "第2页",
        "-o", str(out), "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stdout + run.stderr
    summary = json.loads(run.stdout)
    sealed = OfdPackage.read(out.read_bytes())
    assert summary["format"] == "ofd" and summary["level"] == "B-B"
    assert summary["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert _verify_all(context, sealed) == {"Doc_0/Signs/Sign_0/Signature.xml": code}
    signature = read_signature(sealed, read_signatures(sealed).entries[0])
    assert ses.parse_signature(sealed[signature.signed_value_path]).time_stamp_token is None
    assert signature.stamp_annots[0].page_ref == "11"
    [used] = _entries(context, code, "seal.use")
    assert used["seq"] == summary["audit_seq"] and used["level"] == "B-B"

    again = tmp_path / "again.ofd"
    for options, message in (
        (["--level", "B-LTA"], "level B-LTA is not available for OFD"),
        (["--certify"], "certify: PDF signature properties"),
        (["--field", "Seal1"], "an OFD has no signature fields (--field)"),
        (["--at", "5,5"], "does not fit on page 1"),
    ):
        error = _one_line_error(
            sealctl("sign", str(out), "--seal", code, "-o", str(again), *options)
        )
        assert message in error, error
    rsa = _issue(context, "rsa", kind="公章")
    error = _one_line_error(sealctl("sign", str(out), "--seal", rsa, "-o", str(again)))
    assert "SM2 seals only" in error
    broken = tmp_path / "broken.ofd"
    broken.write_bytes(b"PK\x03\x04 not really")
    error = _one_line_error(sealctl("sign", str(broken), "--seal", code, "-o", str(again)))
    assert "the OFD cannot be read" in error
    assert not again.exists()


def test_a_seal_that_would_break_an_intact_earlier_signature_is_refused(
    context: ServiceContext,
) -> None:
    """testImageNotFound.ofd's second signature covers Signatures.xml, which a new one must
    change: refused before anything is signed.  h.ofd's first seal covers it too but is
    already broken by its second, so h.ofd can still be sealed."""
    code = _issue(context)
    sample = REPO / "tests/data/ofd-samples/testImageNotFound.ofd"
    with pytest.raises(
        InvalidInput, match=r"covers Doc_0/Signs/Signatures\.xml, .* would break it"
    ):
        _seal(context, sample.read_bytes(), code)
    assert _entries(context, code, "seal.use") == []
    sealed = OfdPackage.read(
        _seal(context, (REPO / "tests/data/ofd-samples/h.ofd").read_bytes(), code).ofd
    )
    assert _verify_all(context, sealed, skip=2) == {"Doc_0/Signs/Sign_2/Signature.xml": code}


def test_a_rotation_after_reading_the_seal_object_is_a_conflict(
    context: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seal.esl is written before the SES_Signature is made: if the seal rotates in between,
    the signature carries the new SESeal and the file would name the old one — refused."""
    code = _issue(context)
    real_current = ses_seals.current_for_signing

    def rotated_after_reading(session, wanted: str):
        monkeypatch.setattr(ses_seals, "current_for_signing", real_current)
        row = real_current(session, wanted)
        seals.rotate(context, wanted, actor="test:other-node")
        return row

    monkeypatch.setattr(ses_seals, "current_for_signing", rotated_after_reading)
    with pytest.raises(Conflict, match="changed while sealing; try again"):
        _seal(context, unsigned_ofd().to_bytes(), code, timestamp=False)
    sealed = OfdPackage.read(_seal(context, unsigned_ofd().to_bytes(), code).ofd)
    assert _verify_all(context, sealed) == {"Doc_0/Signs/Sign_0/Signature.xml": code}


@pytest.mark.parametrize("extract", [layers_by_our_parser, layers_by_asn1parse])
def test_openssl_verifies_both_ses_layers_of_a_sealed_ofd(
    context: ServiceContext, extract, tmp_path: Path
) -> None:
    """The maker's and the signer's SM2 signatures inside SignedValue.dat, checked by
    ``openssl pkeyutl`` over bytes found by our parser and by ``openssl asn1parse`` alone."""
    sealed = OfdPackage.read(_seal(context, unsigned_ofd().to_bytes(), _issue(context)).ofd)
    signature = read_signature(sealed, read_signatures(sealed).entries[0])
    layers = extract(sealed[signature.signed_value_path], tmp_path)
    assert set(layers) == {"maker", "signer"}
    for name, layer in layers.items():
        assert openssl_verifies(layer.public_key, layer.message, layer.signature), name
    (tmp_path / "Signature.xml").write_bytes(signature.signature_xml)
    digest = openssl("dgst", "-sm3", "-r", tmp_path / "Signature.xml").stdout.split()[0]
    assert ses.parse_signature(sealed[signature.signed_value_path]).data_hash.hex() == digest
