"""Find where a text such as "（盖章）" or the issuing authority's name sits on a page.

Approval systems often cannot say where the seal goes in millimetres, but every licence
has the line the seal must cover.  pdfminer.six reads the glyph positions (through the
fonts' ToUnicode maps, so CJK text works); we match within each text line, so a phrase
split across lines is not found — the anchor must be a phrase as printed.

pdfminer inflates streams without any limit and interprets page content at ~0.15-0.5 MB/s
(pure Python), so a hostile upload — a 1 MB FlateDecode bomb holding 1 GB of zeros —
would hold a worker for an hour and gigabytes of memory.  Before pdfminer sees a file,
:func:`_check_searchable` walks what it will read (pages, their content, resources,
fonts, form XObjects) with pyHanko under :data:`SEARCH_DECODE_LIMITS` and refuses the
search when a stream inflates beyond them or the page content exceeds
:data:`MAX_SEARCHED_CONTENT`: the caller can still place the seal by position.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from pdfminer.high_level import extract_pages
from pdfminer.layout import LAParams, LTChar, LTItem, LTTextContainer, LTTextLine
from pdfminer.pdfparser import PDFSyntaxError
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodeLimits, DocumentDecodeBudget, StreamDecodeLimits
from pyhanko.pdf_utils.misc import PdfDecodeLimitError
from pyhanko.pdf_utils.reader import PdfFileReader

from sealsvc.errors import InvalidInput

__all__ = ["MAX_SEARCHED_CONTENT", "SEARCH_DECODE_LIMITS", "find_text"]

_MIB = 1024 * 1024
MAX_SEARCHED_CONTENT = 4 * _MIB
"""Most decoded page content (content streams and form XObjects) searched for an anchor.

A 100-page licence has ~0.5 MiB; pdfminer needs ~30 s for 4 MiB of drawing operators."""
SEARCH_DECODE_LIMITS = DecodeLimits(
    per_stream=StreamDecodeLimits(max_output_size=32 * _MIB),
    document_budget=DocumentDecodeBudget(base_allowance=128 * _MIB, max_ratio=20),
)
"""What one stream (32 MiB) and the whole file (128 MiB, or 20x its size) may inflate to
while pdfminer reads it: fonts and colour profiles included, images excluded (pdfminer
never decodes those)."""
_MAX_OBJECTS = 200_000
"""Most objects walked; far above any licence (a 100-page one has ~1,000)."""


def _lines(element: LTItem) -> Iterator[LTTextLine]:
    if isinstance(element, LTTextLine):
        yield element
    elif isinstance(element, LTTextContainer) or hasattr(element, "__iter__"):
        for child in element:
            yield from _lines(child)


def find_text(pdf: bytes, anchor: str) -> tuple[int, float, float]:
    """Page index and centre (points) of the first occurrence of ``anchor``.

    Whitespace is ignored on both sides, because PDF producers insert spaces between CJK
    glyphs inconsistently.
    """
    wanted = "".join(anchor.split())
    if not wanted:
        raise InvalidInput("the anchor text is empty")
    _check_searchable(pdf)
    try:
        pages = extract_pages(io.BytesIO(pdf), laparams=LAParams())
        for page_index, page in enumerate(pages):
            for line in _lines(page):
                chars = [c for c in line if isinstance(c, LTChar) and c.get_text().strip()]
                text = "".join(c.get_text() for c in chars)
                start = text.find(wanted)
                if start < 0:
                    continue
                hit = chars[start : start + len(wanted)]
                x0 = min(c.x0 for c in hit)
                x1 = max(c.x1 for c in hit)
                y0 = min(c.y0 for c in hit)
                y1 = max(c.y1 for c in hit)
                return page_index, (x0 + x1) / 2, (y0 + y1) / 2
    except PDFSyntaxError as exc:
        raise InvalidInput(f"the PDF text cannot be read: {exc}") from None
    raise InvalidInput(f"the anchor text {anchor!r} does not occur in the PDF")


def _check_searchable(pdf: bytes) -> None:
    """Refuse (InvalidInput) a PDF pdfminer could not search in bounded time and memory.

    Walks everything reachable from the page tree once (a visited set, so loops end),
    inflating every non-image stream under :data:`SEARCH_DECODE_LIMITS` — pyHanko stops a
    bomb at the cap instead of inflating it — and adds up the page content.  Structural
    errors are left to pdfminer, whose errors the sealing code already reports.
    """
    refusal = "the PDF is too large to search for the anchor text ({}); place the seal by position"
    reader = PdfFileReader(io.BytesIO(pdf), strict=False, decode_limits=SEARCH_DECODE_LIMITS)
    content = 0
    seen: set[generic.Reference] = set()
    todo: list[tuple[generic.PdfObject, bool]] = [(reader.root.raw_get("/Pages"), False)]
    try:
        while todo:
            item, is_content = todo.pop()
            if isinstance(item, generic.IndirectObject):
                if item.reference in seen:
                    continue
                if len(seen) >= _MAX_OBJECTS:
                    raise InvalidInput(refusal.format(f"over {_MAX_OBJECTS} objects"))
                seen.add(item.reference)
                item = item.get_object()
            if isinstance(item, generic.StreamObject):
                if item.get("/Subtype") == "/Image":
                    continue
                size = len(item.data)
                if is_content or item.get("/Subtype") == "/Form":
                    content += size
                    if content > MAX_SEARCHED_CONTENT:
                        raise InvalidInput(
                            refusal.format(f"over {MAX_SEARCHED_CONTENT // _MIB} MiB of content")
                        )
            if isinstance(item, generic.DictionaryObject):
                todo.extend(
                    (item.raw_get(key), key == "/Contents") for key in item if key != "/Parent"
                )
            elif isinstance(item, generic.ArrayObject):
                todo.extend((value, is_content) for value in item)
    except PdfDecodeLimitError as exc:
        raise InvalidInput(refusal.format(str(exc).rstrip("."))) from None
