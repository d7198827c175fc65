"""Check a PDF's PDF/A-2b/-3b claim against the file (ISO 19005-2/-3, GB/T 23286 family).

Licences are PDF/A-2b by construction (:mod:`sealsvc.licences.pdfa`); an archive must
not take a claim on trust, and veraPDF (Java) is not at hand, so this checks the
requirements of level B that decide whether a file stays readable alone for decades:

* the XMP packet exists, is not filtered and claims part 2 or 3 with a conformance
  level (A, B or U each include B);
* no encryption; a trailer ``/ID``; the binary comment after the header;
* an output intent ``GTS_PDFA1`` with an ICC profile;
* every font used by a page, an annotation appearance or a form XObject is embedded
  (Type 3 fonts are drawn by the file itself);
* no JavaScript, no Launch/ImportData/ResetForm/Movie/Sound actions anywhere, no
  document or page additional-actions; embedded files only in a PDF/A-3 claim.

It does not check colour spaces, transparency or XMP/Info agreement in full: those are
veraPDF's, and a file of our own renderer satisfies them by construction.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = ["PdfaReport", "check_pdfa"]

_FORBIDDEN_ACTIONS = frozenset(
    {"/JavaScript", "/Launch", "/ImportData", "/ResetForm", "/Movie", "/Sound", "/Rendition"}
)
_MAX_OBJECTS = 100_000
_PART = re.compile(rb"pdfaid:part(?:>|=\")\s*(\d)")
_CONFORMANCE = re.compile(rb"pdfaid:conformance(?:>|=\")\s*([ABUabu])")


@dataclass(frozen=True)
class PdfaReport:
    """The claim read from the XMP and every requirement the file misses."""

    claim: str | None
    """``PDF/A-2B`` etc., ``None`` when the file claims none."""
    problems: tuple[str, ...] = field(default=())

    @property
    def conforms(self) -> bool:
        return self.claim is not None and not self.problems


def _claim(reader: PdfFileReader, problems: list[str]) -> str | None:
    metadata = reader.root.get("/Metadata")
    if metadata is None:
        problems.append("no XMP metadata stream in the catalog")
        return None
    stream = metadata.get_object()
    if stream.get("/Filter"):  # an empty array, as reportlab writes, filters nothing
        problems.append("the XMP metadata stream is filtered (PDF/A wants it readable as is)")
    xmp = stream.read_data(DecodePurpose.XMP_METADATA)
    part, conformance = _PART.search(xmp), _CONFORMANCE.search(xmp)
    if part is None or conformance is None:
        problems.append("the XMP packet claims no PDF/A part and conformance (pdfaid)")
        return None
    claim = f"PDF/A-{part.group(1).decode()}{conformance.group(1).decode().upper()}"
    if part.group(1) not in (b"2", b"3"):
        problems.append(f"{claim} is not PDF/A-2 or -3")
    return claim


def _walk(reader: PdfFileReader, problems: list[str], part: str | None) -> None:
    """Every object reachable from the catalog: fonts, actions, embedded files."""
    seen: set[int] = set()
    stack: list[object] = [reader.root]
    unembedded: set[str] = set()
    while stack and len(seen) < _MAX_OBJECTS:
        item = stack.pop()
        if isinstance(item, generic.IndirectObject):
            key = hash((item.idnum, item.generation))
            if key in seen:
                continue
            seen.add(key)
            item = item.get_object()
        if isinstance(item, generic.ArrayObject):
            stack.extend(item)
            continue
        if not isinstance(item, generic.DictionaryObject):
            continue
        kind = item.get("/Type")
        if kind == "/Font" and item.get("/Subtype") not in ("/Type0", "/Type3"):
            descriptor = item.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else None
            if descriptor is None or not any(
                k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")
            ):
                unembedded.add(str(item.get("/BaseFont", "?")).lstrip("/"))
        action = item.get("/S")
        if action in _FORBIDDEN_ACTIONS:
            problems.append(f"a {str(action).lstrip('/')} action")
        if "/JS" in item and action != "/JavaScript":
            problems.append("JavaScript (/JS)")
        if kind in ("/Catalog", "/Page") and "/AA" in item:
            problems.append(f"additional actions (/AA) on the {str(kind).lstrip('/').lower()}")
        if "/EmbeddedFiles" in item and part != "3":
            problems.append("embedded files (allowed in PDF/A-3 only)")
        if "/JavaScript" in item and kind != "/Action":
            problems.append("a JavaScript name tree")
        for key, value in item.items():
            if key not in ("/Parent", "/P", "/Prev"):
                stack.append(value)
    problems.extend(f"font {name} is not embedded" for name in sorted(unembedded))


def check_pdfa(pdf: bytes) -> PdfaReport:
    """The report on ``pdf``; a file that cannot be read fails with the reason."""
    problems: list[str] = []
    head = pdf[:1024]
    if not re.match(rb"%PDF-[12]\.\d\r?\n?%[\x80-\xff]{4}", head.replace(b"\r\n", b"\n")):
        problems.append("the header is not followed by a binary comment of four bytes > 127")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        if reader.encrypted or "/Encrypt" in reader.trailer:
            return PdfaReport(None, ("the file is encrypted",))
        if "/ID" not in reader.trailer:
            problems.append("no /ID in the trailer")
        claim = _claim(reader, problems)
        intents = reader.root.get("/OutputIntents")
        intents = [] if intents is None else intents.get_object()
        if not any(
            i.get_object().get("/S") == "/GTS_PDFA1" and "/DestOutputProfile" in i.get_object()
            for i in intents
        ):
            problems.append("no GTS_PDFA1 output intent with an ICC profile")
        _walk(reader, problems, claim[6] if claim else None)
    except Exception as exc:  # a hostile file: any parser error is the file's problem
        return PdfaReport(None, (f"the PDF cannot be read: {type(exc).__name__}: {exc}",))
    return PdfaReport(claim, tuple(dict.fromkeys(problems)))
