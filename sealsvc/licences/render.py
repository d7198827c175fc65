"""Render a licence as a one-page PDF/A-2b, unsealed: the PDF backend of the page layout.

What goes where is decided once by :func:`sealsvc.licences.layout.lay_out` (the OFD
backend paints the same layout); this module paints those marks with reportlab. Text is
set in the CJK TrueType faces found by :func:`sealsvc.sealimage.load_font` (the same
loader the seal image uses), which reportlab embeds as subsets. Seals are not painted
here: PAdES sealing puts each seal's stamp on the page at the template's spots.

Rendering is deterministic: reportlab's invariant mode, dates from the issue time and a
document ID derived from the licence, so the same input gives the same bytes.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from reportlab import rl_config
from reportlab.lib.colors import HexColor
from reportlab.pdfgen.canvas import Canvas

from sealsvc.licences.layout import (
    EmblemMark,
    FrameMark,
    LicencePage,
    LineMark,
    PageLayout,
    QrMark,
    TextRun,
    lay_out,
)
from sealsvc.licences.pdfa import apply_pdfa
from sealsvc.licences.templates import Template

__all__ = ["LicencePage", "paint_pdf", "render_licence"]


def _paint(canvas: Canvas, layout: PageLayout) -> None:
    for mark in layout.marks:
        if isinstance(mark, TextRun):
            obj = canvas.beginText(mark.x, mark.y)
            obj.setFont(mark.font_name, mark.size)
            obj.setCharSpace(mark.char_space)
            obj.setFillColor(HexColor(mark.colour))
            obj.textOut(mark.text)
            canvas.drawText(obj)
        elif isinstance(mark, FrameMark):
            canvas.setStrokeColor(HexColor(mark.colour))
            for x, y, w, h, line_width in mark.rects:
                canvas.setLineWidth(line_width)
                canvas.rect(x, y, w, h, stroke=1, fill=0)
        elif isinstance(mark, LineMark):
            canvas.setStrokeColor(HexColor(mark.colour))
            canvas.setLineWidth(mark.line_width)
            canvas.line(mark.x1, mark.y1, mark.x2, mark.y2)
        elif isinstance(mark, EmblemMark):
            for radius, line_width, fill in mark.rings:
                canvas.setStrokeColor(HexColor(mark.colour))
                if fill is not None:
                    canvas.setFillColor(HexColor(fill))
                canvas.setLineWidth(line_width)
                canvas.circle(mark.cx, mark.cy, radius, stroke=1, fill=int(fill is not None))
        else:
            _paint_qr(canvas, mark)


def _paint_qr(canvas: Canvas, mark: QrMark) -> None:
    """White square, then every dark run as one filled path (sharp at any zoom)."""
    canvas.saveState()
    try:
        canvas.setFillColorRGB(1, 1, 1)
        canvas.rect(mark.left, mark.bottom, mark.size, mark.size, stroke=0, fill=1)
        canvas.setFillColorRGB(0, 0, 0)
        path = canvas.beginPath()
        for x, y, w, h in mark.runs:
            path.rect(x, y, w, h)
        canvas.drawPath(path, stroke=0, fill=1)
    finally:
        canvas.restoreState()


_PLAIN_FLATE = threading.Lock()


@contextmanager
def _flate_only() -> Iterator[None]:
    """Streams written in the block are Flate only, not ASCII85 over Flate.

    reportlab encodes every stream it writes as ASCII85 over Flate unless its global
    ``rl_config.useA85`` is off (it reads it as it writes each stream; no per-document
    setting).  ASCII85 makes the page content a quarter larger and costs every reader a
    decoding step in pure Python (the archive check's facts walk spent ~2 % of its time
    there); PDF/A needs no ASCII encoding.  The lock keeps concurrent renders from
    restoring each other's setting; other reportlab writers meanwhile get plain Flate,
    which is as valid.
    """
    with _PLAIN_FLATE:
        saved = rl_config.useA85
        rl_config.useA85 = 0
        try:
            yield
        finally:
            rl_config.useA85 = saved


def paint_pdf(layout: PageLayout) -> bytes:
    """The PDF/A-2b file of a laid-out page (streams in plain Flate: :func:`_flate_only`)."""
    with _flate_only():
        return _painted(layout)


def _painted(layout: PageLayout) -> bytes:
    out = io.BytesIO()
    canvas = Canvas(
        out,
        pagesize=(layout.width, layout.height),
        invariant=True,
        pageCompression=1,
        initialFontName=layout.faces["song"].name,
        lang="zh-CN",
    )
    _paint(canvas, layout)
    apply_pdfa(
        canvas,
        title=layout.title,
        author=layout.author,
        subject=layout.subject,
        keywords=layout.keywords,
        at=layout.issued_at,
        document_id=layout.document_id,
        custom=layout.metadata.xmp_schema() if layout.metadata else None,
    )
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def render_licence(template: Template, page: LicencePage) -> bytes:
    """The unsealed licence PDF for validated ``page.data`` (see :meth:`Template.validate_data`)."""
    return paint_pdf(lay_out(template, page))
