"""Render a licence as OFD (GB/T 33190), unsealed: the OFD backend of the page layout.

The page is the one :func:`sealsvc.licences.layout.lay_out` computed for the PDF, mark
for mark: each line of text becomes a ``TextObject`` whose ``DeltaX`` are the advances the
PDF viewer uses, frames, lines, the emblem's rings and the QR code's module runs become
``PathObject``\\ s. Both faces are embedded as subsets of exactly the characters printed
(:func:`ofd.fonts.embed_font`), so the file looks the same on a reader's machine without
those fonts. ``DocInfo`` carries the same title, author, subject, keywords, date and
document ID as the PDF's metadata, plus the licence's ``CustomDatas`` (its GB/T 36903
licence metadata as name/value pairs).

OFD measures in millimetres from the upper-left corner; the layout is in points from the
lower-left, so every y is flipped here and nowhere else.
"""

from __future__ import annotations

import uuid
from functools import lru_cache

from reportlab.lib.colors import HexColor
from reportlab.lib.units import mm

from ofd.fonts import embed_font
from ofd.model import Box, Colour, DocInfo, Document, Font, Page, PathObject, TextObject
from ofd.package import OfdPackage
from ofd.writer import build_ofd, circle_path, line_path, rect_path
from pki.clock import CHINA_TIME
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
from sealsvc.licences.templates import Template

__all__ = ["paint_ofd", "render_licence_ofd", "render_licence_package"]

_ASCENT = 1.0
"""Top of a text object's boundary above the baseline, in em (CJK glyphs fill the em)."""
_DESCENT = 0.3
"""Bottom of the boundary below the baseline, in em."""
WHITE: Colour = (255, 255, 255)
BLACK: Colour = (0, 0, 0)


def _rgb(colour: str) -> Colour:
    value = HexColor(colour)
    return (round(value.red * 255), round(value.green * 255), round(value.blue * 255))


@lru_cache(maxsize=16)
def _subset(path: str, index: int, characters: str) -> Font:
    """:func:`embed_font` for a sorted set of characters, remembered: the heading face of a
    template prints the same labels on every licence (its subset is the same, ~2 ms to
    make); the body face's characters change with the data, so it mostly misses. 16
    entries: a few templates' headings, and at most ~2 MB of body-face subsets."""
    return embed_font(path, index, characters)


class _Page:
    """Converts layout marks (points, y up) to OFD objects (mm, y down)."""

    def __init__(self, layout: PageLayout) -> None:
        self.layout = layout
        self.height = layout.height / mm
        self.objects: list[TextObject | PathObject] = []
        texts: dict[str, list[str]] = {}
        for mark in layout.marks:
            if isinstance(mark, TextRun):
                texts.setdefault(mark.face, []).append(mark.text)
        self.fonts: dict[str, Font] = {
            face: _subset(
                layout.faces[face].path,
                layout.faces[face].subfont_index,
                "".join(sorted(set("".join(lines)))),
            )
            for face, lines in texts.items()
        }

    def x(self, value: float) -> float:
        return value / mm

    def y(self, value: float) -> float:
        return self.height - value / mm

    def text(self, run: TextRun) -> None:
        size = run.size / mm
        left, baseline = self.x(run.x), self.y(run.y)
        width = run.width / mm
        self.objects.append(
            TextObject(
                boundary=Box(left, baseline - size * _ASCENT, width, size * (_ASCENT + _DESCENT)),
                font=self.fonts[run.face],
                size=size,
                text=run.text,
                x=0.0,
                y=size * _ASCENT,
                delta_x=tuple(advance / mm for advance in run.advances[:-1]),
                fill=_rgb(run.colour),
            )
        )

    def frame(self, mark: FrameMark) -> None:
        for x, y, w, h, line_width in mark.rects:
            pad = line_width / mm / 2
            box = Box(self.x(x) - pad, self.y(y + h) - pad, w / mm + 2 * pad, h / mm + 2 * pad)
            self.objects.append(
                PathObject(
                    box,
                    rect_path(pad, pad, w / mm, h / mm),
                    line_width=line_width / mm,
                    stroke=_rgb(mark.colour),
                )
            )

    def line(self, mark: LineMark) -> None:
        pad = mark.line_width / mm / 2
        x1, y1, x2, y2 = self.x(mark.x1), self.y(mark.y1), self.x(mark.x2), self.y(mark.y2)
        left, top = min(x1, x2) - pad, min(y1, y2) - pad
        box = Box(left, top, abs(x2 - x1) + 2 * pad, abs(y2 - y1) + 2 * pad)
        self.objects.append(
            PathObject(
                box,
                line_path(x1 - left, y1 - top, x2 - left, y2 - top),
                line_width=mark.line_width / mm,
                stroke=_rgb(mark.colour),
            )
        )

    def emblem(self, mark: EmblemMark) -> None:
        cx, cy = self.x(mark.cx), self.y(mark.cy)
        for radius, line_width, fill in mark.rings:
            r, pad = radius / mm, line_width / mm / 2
            extent = r + pad
            self.objects.append(
                PathObject(
                    Box(cx - extent, cy - extent, 2 * extent, 2 * extent),
                    circle_path(extent, extent, r),
                    line_width=line_width / mm,
                    stroke=_rgb(mark.colour),
                    fill=_rgb(fill) if fill is not None else None,
                )
            )

    def qr(self, mark: QrMark) -> None:
        left, top, size = self.x(mark.left), self.y(mark.bottom + mark.size), mark.size / mm
        box = Box(left, top, size, size)
        self.objects.append(PathObject(box, rect_path(0, 0, size, size), stroke=None, fill=WHITE))
        runs = " ".join(
            rect_path(self.x(x) - left, self.y(y + h) - top, w / mm, h / mm)
            for x, y, w, h in mark.runs
        )
        self.objects.append(PathObject(box, runs, stroke=None, fill=BLACK))


def paint_ofd(layout: PageLayout) -> OfdPackage:
    """The OFD package of a laid-out page; its GB/T 36903 metadata go into
    ``DocInfo/CustomDatas``."""
    page = _Page(layout)
    for mark in layout.marks:
        if isinstance(mark, TextRun):
            page.text(mark)
        elif isinstance(mark, FrameMark):
            page.frame(mark)
        elif isinstance(mark, LineMark):
            page.line(mark)
        elif isinstance(mark, EmblemMark):
            page.emblem(mark)
        else:
            page.qr(mark)
    info = DocInfo(
        doc_id=uuid.UUID(layout.document_id).hex,
        title=layout.title,
        author=layout.author,
        subject=layout.subject,
        creation_date=layout.issued_at.astimezone(CHINA_TIME).date(),
        keywords=tuple(k.strip() for k in layout.keywords.split(",") if k.strip()),
        creator="sealsvc",
        custom_datas=tuple(layout.metadata.pairs()) if layout.metadata else (),
    )
    return build_ofd(Document(info, (Page(layout.width / mm, page.height, tuple(page.objects)),)))


def render_licence_package(template: Template, page: LicencePage) -> OfdPackage:
    """The unsealed licence OFD for validated ``page.data`` as a package (same layout as
    the PDF): what issuing seals, without writing the ZIP and reading it back."""
    return paint_ofd(lay_out(template, page))


def render_licence_ofd(template: Template, page: LicencePage) -> bytes:
    """The unsealed licence OFD for validated ``page.data``, as the file."""
    return render_licence_package(template, page).to_bytes()
