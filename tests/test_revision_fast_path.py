"""The revision index's fast path gives pyHanko's verdict, never a milder one.

:func:`sealsvc.verification.pdf_signatures._review` takes a revision from
:class:`~sealsvc.verification.revisions.RevisionIndex` when the index recognises it (a
DSS update, one new signature or document time-stamp field) and leaves every other one
to pyHanko's ``DEFAULT_DIFF_POLICY``.  Each test feeds the same signed revisions to both
— :func:`_review` and pyHanko's own loop, ``DEFAULT_DIFF_POLICY.apply`` from the signed
revision to each later one, with the signature's DocMDP and FieldMDP — and requires the
same level (or both refusing).  The documents: certified B-LTA licences (XMP metadata
rewritten by every update, as the service's licences are), the third-party PDFs of
``tests/data/pdf-interop``, and hand-made incremental updates that change what a seal
protects, alone and inside a DSS update.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.pdf_fixtures import certified_no_changes_pdf, chinese_pdf
from helpers.verify_corpus import TestServices, services_for
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    DiffResult,
    ModificationLevel,
    SuspiciousModification,
)
from pyhanko.sign.validation.dss import DocumentSecurityStore

from pki.pdf_signer import KeyHandleSigner
from sealsvc.pades import Level, TsaTimeStamper
from sealsvc.verification import DocumentVerdict, verify
from sealsvc.verification import pdf_signatures as pdfsig

INTEROP = Path(__file__).parent / "data" / "pdf-interop"
XMP = (
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF'
    ' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description'
    ' rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt>'
    '<rdf:li xml:lang="x-default">营业执照</rdf:li></rdf:Alt></dc:title>'
    '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
).encode()
SUSPICIOUS = "SUSPICIOUS"


REFUSALS = (*pdfsig.PARSE_ERRORS, NotImplementedError, AssertionError, RecursionError)
"""What :func:`pdf_signatures.modifications` reads as a refusal from either analysis."""


def _verdict(result: DiffResult | SuspiciousModification) -> str:
    if isinstance(result, SuspiciousModification):
        return SUSPICIOUS
    return result.modification_level.name


def _pyhanko(pdf: bytes, index: int) -> str:
    """pyHanko's own loop (``StandardDiffPolicy.review_file``) for signature ``index``."""
    document = pdfsig.read_document(pdf)
    embedded = document.signatures[index].embedded
    assert embedded is not None
    reader = document.reader
    base = reader.get_historical_resolver(embedded.signed_revision)
    level = ModificationLevel.NONE
    for revision in range(embedded.signed_revision + 1, document.revisions):
        try:
            result = DEFAULT_DIFF_POLICY.apply(
                base,
                reader.get_historical_resolver(revision),
                field_mdp_spec=embedded.fieldmdp,
                doc_mdp=embedded.docmdp_level,
            )
        except (SuspiciousModification, *REFUSALS):
            return SUSPICIOUS
        level = max(level, result.modification_level)
    return level.name


def _ours(pdf: bytes, index: int) -> str:
    document = pdfsig.read_document(pdf)
    embedded = document.signatures[index].embedded
    assert embedded is not None
    embedded.coverage = embedded.evaluate_signature_coverage()
    try:
        return _verdict(pdfsig._review(document, embedded))
    except REFUSALS:
        return SUSPICIOUS


def _same_verdicts(pdf: bytes) -> list[str]:
    """Our verdict per signature that covers its whole revision, each checked against
    pyHanko's."""
    document = pdfsig.read_document(pdf)
    verdicts = []
    for index, found in enumerate(document.signatures):
        embedded = found.embedded
        if embedded is None:
            continue
        coverage = embedded.evaluate_signature_coverage()
        if coverage != pdfsig.SignatureCoverageLevel.ENTIRE_REVISION:
            continue
        ours = _ours(pdf, index)
        assert ours == _pyhanko(pdf, index), (found.field_name, ours)
        verdicts.append(ours)
    return verdicts


def _write(pdf: bytes, change: Callable[[IncrementalPdfFileWriter], None]) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _with_xmp(writer: IncrementalPdfFileWriter) -> None:
    stream = generic.StreamObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Metadata"),
            generic.NameObject("/Subtype"): generic.NameObject("/XML"),
        },
        stream_data=XMP,
    )
    writer.root["/Metadata"] = writer.add_object(stream)
    writer.update_root()


def _time_stamp(services: TestServices, pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    stamper = signers.PdfTimeStamper(TsaTimeStamper(services.tsa.respond))
    return stamper.timestamp_pdf(writer, "sha256").getvalue()


@pytest.fixture(scope="module")
def rsa() -> TestServices:
    return services_for("rsa")


@pytest.fixture(scope="module")
def licence(rsa) -> bytes:
    """A certified (DocMDP P=2) B-LTA licence whose catalog has XMP metadata."""
    return rsa.seal(_write(chinese_pdf(2), _with_xmp), level=Level.B_LTA, certify=True)


def test_certified_licence_takes_the_fast_path(licence):
    """The DSS and document time-stamp revisions of a licence are the index's, not
    pyHanko's: each rewrites the XMP stream and the information dictionary."""
    document = pdfsig.read_document(licence)
    seal, _stamp = document.signatures
    assert seal.embedded.docmdp_level is fields.MDPPerm.FILL_FORMS
    later = range(seal.embedded.signed_revision + 1, document.revisions)
    kinds = [
        "dss"
        if document.index.adds_only_validation_data(r)
        else document.index.adds_one_signature(r)
        for r in later
    ]
    assert kinds == ["dss", ModificationLevel.LTA_UPDATES], kinds
    metadata = document.reader.root.raw_get("/Metadata")
    for revision in later:
        resolver = document.reader.get_historical_resolver(revision)
        written = {r.idnum for r in resolver.explicit_refs_in_revision()}
        assert metadata.idnum in written
    assert _same_verdicts(licence) == ["LTA_UPDATES"]  # the time-stamp covers the file


def test_certified_no_changes_document_time_stamped(rsa):
    """P=1 allows no change but LTA updates: a DSS and a document time-stamp."""
    pdf = certified_no_changes_pdf("rsa")
    dss = _write(
        pdf,
        lambda w: DocumentSecurityStore.supply_dss_in_writer(
            w, None, certs=[rsa.hierarchy.issuing, rsa.hierarchy.root]
        ),
    )
    assert _same_verdicts(_time_stamp(rsa, dss))[0] == "LTA_UPDATES"


def test_approval_signature_on_a_p1_document(rsa, monkeypatch):
    """An approval seal added to a P=1 document (pyHanko's signer would refuse: its
    certification lookup is switched off while signing)."""
    monkeypatch.setattr("pyhanko.sign.validation.read_certification_data", lambda reader: None)
    h = rsa.hierarchy
    signer = KeyHandleSigner(h.seal_key, h.seal, [h.issuing])
    meta = signers.PdfSignatureMetadata(field_name="Later", subfilter=fields.SigSeedSubFilter.PADES)
    writer = IncrementalPdfFileWriter(io.BytesIO(certified_no_changes_pdf("rsa")))
    pdf = signers.PdfSigner(meta, signer).sign_pdf(writer).getvalue()
    monkeypatch.undo()
    assert _same_verdicts(pdf)[0] == "FORM_FILLING"
    assert _same_verdicts(_time_stamp(rsa, pdf))[0] == "FORM_FILLING"


@pytest.mark.parametrize("name", sorted(p.name for p in INTEROP.glob("*.pdf")))
def test_third_party_pdfs(name):
    """Files from other software (EU DSS, pyHanko's suite, Acrobat): whatever each holds."""
    try:
        pdfsig.read_document((INTEROP / name).read_bytes())
    except pdfsig.FormatProblem:
        pytest.skip("not readable without a password")
    _same_verdicts((INTEROP / name).read_bytes())


def _page(writer):
    return writer.root["/Pages"]["/Kids"][0].get_object()


def _page_content(writer):
    page = _page(writer)
    page["/Contents"] = writer.add_object(generic.StreamObject(stream_data=b"BT ET"))
    writer.update_container(page)


def _annotation(writer):
    page = _page(writer)
    note = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/Text"),
            generic.NameObject("/Rect"): generic.ArrayObject(
                map(generic.NumberObject, (0, 0, 9, 9))
            ),
            generic.NameObject("/Contents"): generic.TextStringObject("已作废"),
        }
    )
    annots = page.get("/Annots", generic.ArrayObject())
    annots.append(writer.add_object(note))
    page["/Annots"] = annots
    writer.update_container(page)


def _seal_field(writer):
    return writer.root["/AcroForm"]["/Fields"][0].get_object()


def _widget_moved(writer):
    field = _seal_field(writer)
    field["/Rect"] = generic.ArrayObject(map(generic.NumberObject, (0, 0, 300, 300)))
    writer.update_container(field)


def _field_value(writer):
    field = _seal_field(writer)
    field["/TU"] = generic.TextStringObject("另一个名称")
    writer.update_container(field)


def _catalog_action(writer):
    action = generic.DictionaryObject(
        {
            generic.NameObject("/S"): generic.NameObject("/JavaScript"),
            generic.NameObject("/JS"): generic.TextStringObject("app.alert(1)"),
        }
    )
    writer.root["/OpenAction"] = writer.add_object(action)
    writer.update_root()


def _perms(writer):
    """The certification's /Perms entry dropped (a reader then sees no DocMDP)."""
    del writer.root["/Perms"]
    writer.update_root()


def _dss_object_replaced(writer):
    dss = writer.root["/DSS"]
    ref = dss["/Certs"].raw_get(0)
    writer.mark_update(ref)
    writer.objects[(ref.generation, ref.idnum)] = generic.StreamObject(stream_data=b"\x30\x00")


def _xmp_broken(writer):
    ref = writer.root.raw_get("/Metadata")
    writer.mark_update(ref)
    writer.objects[(ref.generation, ref.idnum)] = generic.StreamObject(stream_data=b"not xml")


def _xmp_on_a_page(writer):
    page = _page(writer)
    page["/Metadata"] = writer.root.raw_get("/Metadata")
    writer.update_container(page)


def _info_reference(writer):
    info = writer.trailer["/Info"]
    info["/Extra"] = generic.ArrayObject([writer.add_object(generic.TextStringObject("x"))])
    writer.update_container(info)


CHANGES = {
    f.__name__.lstrip("_"): f
    for f in (
        _page_content,
        _annotation,
        _widget_moved,
        _field_value,
        _catalog_action,
        _perms,
        _dss_object_replaced,
        _xmp_broken,
        _xmp_on_a_page,
        _info_reference,
    )
}


def _with_dss(change, services: TestServices):
    def both(writer):
        change(writer)
        DocumentSecurityStore.supply_dss_in_writer(writer, None, certs=[services.hierarchy.tsa])

    return both


@pytest.mark.parametrize("name", sorted(CHANGES))
@pytest.mark.parametrize("form", ["alone", "inside a DSS update", "then time-stamped"])
def test_hand_made_updates(licence, rsa, name, form):
    """Each change to what the seal protects: alone, written in the same revision as a
    DSS update, and followed by a document time-stamp (which the index judges)."""
    change = CHANGES[name]
    pdf = _write(licence, _with_dss(change, rsa) if form == "inside a DSS update" else change)
    if form == "then time-stamped":
        pdf = _time_stamp(rsa, pdf)
    verdicts = _same_verdicts(pdf)
    # The time-stamp just before the change sees it (the seal's revision is older than
    # the DSS object replaced, which is new to it).
    assert verdicts[-1] == SUSPICIOUS, verdicts


def test_a_tampered_copy_after_the_intact_licence_fails(licence, rsa):
    """In one process, the caches warm from the intact licence: a copy with a changed
    signed byte, and one whose DSS update also rewrites the page, are still refused."""
    intact = verify(licence, trust=rsa.trust, allow_fetching=True, fetcher=rsa.fetch)
    assert intact.verdict is DocumentVerdict.TOTAL_PASSED, intact.message
    start = licence.index(b"/MediaBox")
    flipped = licence[:start] + b"/MediaBoy" + licence[start + len(b"/MediaBox") :]
    rewritten = _write(licence, _with_dss(_page_content, rsa))
    for tampered in (flipped, rewritten):
        report = verify(tampered, trust=rsa.trust, allow_fetching=True, fetcher=rsa.fetch)
        assert report.verdict is DocumentVerdict.TOTAL_FAILED, report.message
