"""Find where a text such as "（盖章）" or the issuing authority's name sits on a page.

Approval systems often cannot say where the seal goes in millimetres, but every licence
has the line the seal must cover.  pdfminer.six reads the glyph positions (through the
fonts' ToUnicode maps, so CJK text works); we match within each text line, so a phrase
split across lines is not found — the anchor must be a phrase as printed.
"""

from __future__ import annotations

import io

from pdfminer.high_level import extract_pages
from pdfminer.layout import LAParams, LTChar, LTTextContainer, LTTextLine
from pdfminer.pdfparser import PDFSyntaxError

from sealsvc.errors import InvalidInput

__all__ = ["find_text"]


def _lines(element):
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
