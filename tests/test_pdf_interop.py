"""Signed PDFs from other software (EU DSS and pyHanko test suites): never claim tampering
that did not happen, and always claim it when it did.

The files and what independent tools say about them are in
``tests/data/pdf-interop/README.md``.  None of their roots are ours, so they are verified
without trust anchors: the best verdict is INDETERMINATE.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate

from sealsvc.verification import DocumentVerdict, TrustAnchors, ValidationReport, verify
from sealsvc.verification.algorithm_policy import digest_problem
from sealsvc.verification.pdf_signatures import read_document

DATA = Path(__file__).parent / "data" / "pdf-interop"
NO_ANCHORS = TrustAnchors(())
TAMPERED = "篡改"

UNTOUCHED = [
    "pades-lta-dss-indirect-arrs-test.pdf",
    "Signature-P-BG_BOR-2.pdf",
    "pkcs7_sha1.pdf",
    "lt-short.pdf",
    "Signature-P-DE_SCI-4.pdf",
    "BadEncodedCMS.pdf",
    "encrypted.pdf",
    "adbe_ocsp_signed.pdf",
]
"""Files whose signed content nobody changed."""

CHANGED = ["modified_after_signature.pdf", "pdf-removed-pages.pdf", "dss-2236_hide.pdf"]
"""Files changed after signing in a way a reader sees."""

BEST_WITHOUT_ANCHORS = {
    AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND,
    AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
}
"""What a signature from a foreign root can reach at best: no path, or a weak algorithm."""

_REPORTS: dict[str, ValidationReport] = {}


def report_of(name: str) -> ValidationReport:
    """Each file is verified once per test session (lt-short.pdf takes seconds)."""
    if name not in _REPORTS:
        _REPORTS[name] = verify((DATA / name).read_bytes(), trust=NO_ANCHORS)
    return _REPORTS[name]


@pytest.mark.parametrize("name", UNTOUCHED)
def test_untouched_file_is_never_called_tampered(name: str) -> None:
    report = report_of(name)
    assert report.signatures, "the signatures were not read"
    assert report.verdict is not DocumentVerdict.TOTAL_FAILED, report.message
    for signature in report.signatures:
        assert signature.sub_indication is not AdESFailure.HASH_FAILURE, signature.message
        assert TAMPERED not in signature.sentence
    assert TAMPERED not in report.sentence


@pytest.mark.parametrize("name", CHANGED)
def test_changed_file_fails_with_a_readable_reason(name: str) -> None:
    report = report_of(name)
    assert report.verdict is DocumentVerdict.TOTAL_FAILED
    assert report.sub_indication is AdESFailure.HASH_FAILURE
    assert TAMPERED in report.sentence
    assert "changed" in report.message
    assert "endstream" not in report.message  # the parser's words are no explanation


def test_removed_page_is_named() -> None:
    assert "page count changed from 3 to 1" in report_of("pdf-removed-pages.pdf").message


@pytest.mark.parametrize(
    "name", ["pades-lta-dss-indirect-arrs-test.pdf", "Signature-P-BG_BOR-2.pdf"]
)
def test_dss_with_indirect_arrays_is_read(name: str) -> None:
    report = report_of(name)
    assert all(s.integrity is not None and s.integrity.digest_matches for s in report.signatures)
    assert {s.sub_indication for s in report.signatures} == {
        AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND
    }


def test_adbe_pkcs7_sha1_signs_the_embedded_hash() -> None:
    sha1 = report_of("pkcs7_sha1.pdf").signatures[0]
    assert sha1.integrity is not None
    assert sha1.integrity.digest_matches and sha1.integrity.signature_valid


def test_adbe_pkcs7_sha1_detects_a_changed_byte_range() -> None:
    pdf = bytearray((DATA / "pkcs7_sha1.pdf").read_bytes())
    offset = pdf.index(b"/Producer")  # inside the first signed byte range
    pdf[offset + 1 : offset + 2] = b"p"
    report = verify(bytes(pdf), trust=NO_ANCHORS)
    first = report.signatures[0]
    assert first.sub_indication is AdESFailure.HASH_FAILURE


def test_ltv_updates_rewriting_vri_are_allowed() -> None:
    report = report_of("lt-short.pdf")
    assert len(report.signatures) == 25
    for signature in report.signatures:
        assert signature.modifications is not None and signature.modifications.allowed


def test_copy_of_page_resources_is_no_change() -> None:
    first = report_of("Signature-P-DE_SCI-4.pdf").signatures[0]
    assert first.modifications is not None
    assert first.modifications.later_revisions > 0 and first.modifications.allowed


def test_encrypted_with_empty_user_password_is_verified() -> None:
    (signature,) = report_of("encrypted.pdf").signatures
    assert signature.integrity is not None and signature.integrity.digest_matches
    assert signature.sub_indication is AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND


def test_broken_signature_timestamp_is_a_warning(capfd: pytest.CaptureFixture[str]) -> None:
    report = verify((DATA / "BadEncodedCMS.pdf").read_bytes(), trust=NO_ANCHORS)
    (signature,) = report.signatures
    assert signature.integrity is not None and signature.integrity.signature_valid
    assert signature.sub_indication in BEST_WITHOUT_ANCHORS  # (the file uses SHA-1)
    assert signature.message.strip()
    assert signature.timestamp is not None and not signature.timestamp.valid
    assert any("time-stamp" in w and "EC key" in w for w in signature.warnings)
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("name", [*UNTOUCHED, *CHANGED, "Signature-P-HU_NET-2.pdf"])
def test_messages_are_sentences_not_python_internals(name: str) -> None:
    report = report_of(name)
    for text in [report.message, *(s.message for s in report.signatures)]:
        assert text.strip() and not text.rstrip().endswith(":")
        for internal in ("module '", "has no attribute", "object is not", "Error", "Traceback"):
            assert internal not in text


def test_digest_algorithm_that_is_a_signature_algorithm_is_named() -> None:
    report = report_of("Signature-P-HU_NET-2.pdf")
    assert report.sub_indication is AdESFailure.FORMAT_FAILURE
    assert "1.2.840.113549.1.1.11 is not a digest algorithm" in report.message
    assert TAMPERED not in report.sentence


def test_pyhanko_diff_tracebacks_stay_off_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    verify((DATA / "modified_after_signature.pdf").read_bytes(), trust=NO_ANCHORS)
    assert "Traceback" not in capfd.readouterr().err


def test_sha1_is_flagged_by_the_algorithm_policy() -> None:
    report = report_of("pkcs7_sha1.pdf")
    assert report.sub_indication is AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE
    for signature in report.signatures:
        assert signature.sub_indication is AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE
        assert "SHA-1" in signature.message


def test_algorithm_policy_has_dates() -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    assert digest_problem("sha1", datetime(2008, 6, 1, tzinfo=UTC), now) is None
    assert "SHA-1" in (digest_problem("sha1", datetime(2010, 1, 1, tzinfo=UTC), now) or "")
    assert "SHA-1" in (digest_problem("sha1", None, now) or "")
    assert digest_problem("sha256", None, now) is None
    assert digest_problem("sm3", None, now) is None


def test_adbe_revocation_info_archival_is_revocation_evidence() -> None:
    """Trusting the file's CA on the signing day, the archived OCSP answer decides."""
    pdf = (DATA / "adbe_ocsp_signed.pdf").read_bytes()
    (found,) = read_document(pdf).signatures
    assert found.embedded is not None
    (ca,) = [
        c.chosen
        for c in found.embedded.signed_data["certificates"]
        if c.chosen.subject.native["common_name"] == "InfoCert Firma Qualificata 2"
    ]
    # No DSS and no fetching: the signed attribute is the only revocation data.
    report = verify(pdf, trust=TrustAnchors((ca,)), now=datetime(2018, 11, 13, 16, tzinfo=UTC))
    (signature,) = report.signatures
    assert signature.revocation is not None
    assert (signature.revocation.status, signature.revocation.kind) == ("good", "ocsp")
    assert report.verdict is DocumentVerdict.TOTAL_PASSED


def test_what_cannot_be_compared_is_indeterminate_not_tampered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no budget to compare revisions, the routine update is unclassifiable."""
    from sealsvc.verification import effects

    monkeypatch.setattr(effects, "_MAX_NODES", 1)
    report = verify((DATA / "Signature-P-DE_SCI-4.pdf").read_bytes(), trust=NO_ANCHORS)
    first = report.signatures[0]
    assert first.modifications is not None and first.modifications.level == "UNCLASSIFIED"
    assert first.sub_indication is AdESIndeterminate.GENERIC
    assert any("cannot be classified" in w for w in first.warnings)
    assert report.verdict is DocumentVerdict.INDETERMINATE
    assert TAMPERED not in report.sentence and TAMPERED not in first.sentence


def test_docs_table_is_what_sealsvc_says() -> None:
    """docs/pdf-interop.md is generated (scripts/pdf_interop_table.py); it must stay true."""
    table = (Path(__file__).parent.parent / "docs" / "pdf-interop.md").read_text("utf-8")
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 12
    for cells in rows:
        name, verdict = cells[0].removeprefix("| "), cells[3]
        report = report_of(name)
        expected = report.verdict.value
        if report.sub_indication is not None:
            expected += f" / {report.sub_indication.standard_name}"
        assert verdict == expected, name


def _update(name: str, change) -> bytes:
    """``name`` with one incremental update made by ``change(writer)``."""
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    out = io.BytesIO((DATA / name).read_bytes())
    writer = IncrementalPdfFileWriter(out)
    change(writer)
    writer.write_in_place()
    return out.getvalue()


def test_script_added_on_opening_is_a_visible_change() -> None:
    from pyhanko.pdf_utils import generic

    def add_script(writer) -> None:
        action = generic.DictionaryObject(
            {
                generic.NameObject("/S"): generic.NameObject("/JavaScript"),
                generic.NameObject("/JS"): generic.TextStringObject("app.alert('x')"),
            }
        )
        writer.root[generic.NameObject("/OpenAction")] = writer.add_object(action)
        writer.update_root()

    report = verify(_update("pades-lta-dss-indirect-arrs-test.pdf", add_script), trust=NO_ANCHORS)
    assert report.verdict is DocumentVerdict.TOTAL_FAILED
    assert "the action run on opening changed" in report.message


def test_copy_of_page_resources_under_a_new_number_is_no_change() -> None:
    """The DE_SCI case made on purpose: the page's resources rewritten as a copy."""
    from pyhanko.pdf_utils import generic

    def copy_resources(writer) -> None:
        page_ref = writer.root["/Pages"]["/Kids"][0]
        page = page_ref.get_object()
        resources = page["/Resources"]
        page[generic.NameObject("/Resources")] = writer.add_object(
            generic.DictionaryObject(dict(resources.items()))
        )
        writer.update_container(page)

    pdf = _update("pades-lta-dss-indirect-arrs-test.pdf", copy_resources)
    report = verify(pdf, trust=NO_ANCHORS)
    for signature in report.signatures:
        assert signature.modifications is not None and signature.modifications.allowed
        assert signature.sub_indication is not AdESFailure.HASH_FAILURE


def test_pdf_needing_a_password_is_called_encrypted_not_damaged() -> None:
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    reader = PdfFileReader(io.BytesIO((DATA / "pdf-removed-pages.pdf").read_bytes()))
    writer = copy_into_new_writer(reader)
    writer.encrypt("owner-secret", "user-secret")
    out = io.BytesIO()
    writer.write(out)
    report = verify(out.getvalue(), trust=NO_ANCHORS)
    assert report.sub_indication is AdESFailure.FORMAT_FAILURE
    assert "encrypted" in report.message
    assert "加密" in report.sentence and "损坏" not in report.sentence


def test_freed_unknown_numbers_and_dangling_trailer_entry_are_no_change() -> None:
    """A no-op update: frees object numbers that never existed, /Info points nowhere."""
    import io
    import re

    from pyhanko.pdf_utils.reader import PdfFileReader

    pdf = (DATA / "pades-lta-dss-indirect-arrs-test.pdf").read_bytes()
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    size = int(reader.trailer["/Size"])
    prev = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    update = (
        b"\nxref\n0 1\n0000000000 65535 f\r\n%d 1\n0000000000 00001 f\r\n"
        b"trailer\n<< /Size %d /Root %d 0 R /Prev %d /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (size + 500, size + 501, reader.root_ref.idnum, prev, size + 400, len(pdf) + 1)
    )
    report = verify(pdf + update, trust=NO_ANCHORS)
    assert len(report.signatures) == 2
    for signature in report.signatures:
        assert signature.modifications is not None and signature.modifications.allowed
        assert signature.sub_indication is AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND
