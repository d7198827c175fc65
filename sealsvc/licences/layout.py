"""The licence page laid out once, for every output format: what goes where, not how to paint it.

A template's declarative elements (see :mod:`sealsvc.licences.templates`) become a
:class:`PageLayout`: a list of marks with every decision already taken — which font
face and size each line of text is set in (fields that do not fit shrink, then are
refused), where each wrapped line starts once aligned, the advance of every character,
the QR code's module runs, the rings of the emblem. The PDF backend
(:mod:`sealsvc.licences.render`) and the OFD backend (:mod:`sealsvc.licences.render_ofd`)
only paint these marks, so the two files of one licence cannot drift apart: there is no
second layout to keep in sync.

Units are PDF points with the origin at the page's lower-left corner, the space the
templates' millimetres have always been converted to; the PDF backend uses the numbers
as they are (so its output is byte-for-byte what it was before this split) and the OFD
backend converts them to OFD's millimetres from the upper-left corner. Widths come from
the TrueType ``hmtx`` metrics through reportlab's font registry (:func:`pdfmetrics.stringWidth`),
the same numbers the PDF viewer uses to place each glyph.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache, partial

from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from sealsvc.errors import InvalidInput
from sealsvc.licences.metadata import LicenceMetadata
from sealsvc.licences.qr import QUIET_ZONE, QrCode
from sealsvc.licences.templates import (
    IDENTIFIER_FIELD,
    EmblemElement,
    FieldElement,
    LineElement,
    NumberElement,
    RectElement,
    Template,
    TextElement,
)
from sealsvc.sealimage import SealFont, SealImageError, load_font
from sealsvc.sealimage.fonts import DEFAULT_FONTS

__all__ = [
    "EmblemMark",
    "FrameMark",
    "LicencePage",
    "LineMark",
    "Mark",
    "PageLayout",
    "QrMark",
    "TextRun",
    "faces",
    "lay_out",
    "wrap_text",
]

_NO_LINE_START = set("，。、；：？！）》」』〕】,.;:?!)%》”’")
"""Characters that must not begin a line (禁则): they stay with the previous line."""

EMBLEM_RED = "#c8102e"
"""Fill of the emblem placeholder's disc."""


@dataclass(frozen=True)
class LicencePage:
    """What a rendering needs besides the template: the identity of this licence."""

    number: str
    version: int
    data: Mapping[str, str]
    qr: QrCode
    """The verification QR code (its text is the verification URL)."""
    issued_at: datetime
    identifier: str | None = None
    """The GB/T 36904 identifier, shown by a field element bound to ``@identifier``."""
    metadata: LicenceMetadata | None = None
    """The GB/T 36903 record: XMP metadata in the PDF, ``CustomDatas`` in the OFD."""


# --- marks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextRun:
    """One line of text in one face and size, its start already aligned."""

    text: str
    x: float
    """Left end of the baseline."""
    y: float
    """The baseline."""
    face: str
    """``song`` or ``hei``: a key of :func:`faces`."""
    font_name: str
    """The face's name in reportlab's font registry, where its metrics are."""
    size: float
    """Font size in points."""
    char_space: float
    """Extra space after each character (PDF ``Tc``), points."""
    colour: str

    @cached_property
    def advances(self) -> tuple[float, ...]:
        """Distance from each character's origin to the next one's, ``char_space`` included:
        what OFD's ``DeltaX`` lists and what a PDF viewer derives from the font's widths.
        Computed when asked (the PDF backend never asks: the viewer does it)."""
        return tuple(
            char_width(ch, self.font_name, self.size) + self.char_space for ch in self.text
        )

    @property
    def width(self) -> float:
        """From the first character's origin to the end of the last one's advance."""
        return sum(self.advances) - (self.char_space if self.text else 0.0)


@dataclass(frozen=True)
class FrameMark:
    """A rectangle outline, doubled inside for certificate frames (see :class:`RectElement`)."""

    colour: str
    rects: tuple[tuple[float, float, float, float, float], ...]
    """(x, y, width, height, line width) of each outline, outer first."""


@dataclass(frozen=True)
class LineMark:
    x1: float
    y1: float
    x2: float
    y2: float
    line_width: float
    colour: str


@dataclass(frozen=True)
class EmblemMark:
    """The emblem placeholder's rings (its 国徽 caption is a :class:`TextRun` after it)."""

    cx: float
    cy: float
    colour: str
    """Stroke colour of both rings."""
    rings: tuple[tuple[float, float, str | None], ...]
    """(radius, line width, fill colour or None) of each circle, painted in order."""


@dataclass(frozen=True)
class QrMark:
    """The QR symbol: a white square with the dark module runs on it."""

    left: float
    bottom: float
    size: float
    """Side of the square, quiet zone included."""
    runs: tuple[tuple[float, float, float, float], ...]
    """(x, y, width, height) of each horizontal run of dark modules."""


Mark = TextRun | FrameMark | LineMark | EmblemMark | QrMark


@dataclass(frozen=True)
class PageLayout:
    """A licence page ready to paint, with the document metadata both formats carry."""

    width: float
    height: float
    marks: tuple[Mark, ...]
    faces: Mapping[str, SealFont]
    title: str
    author: str
    subject: str
    keywords: str
    issued_at: datetime
    document_id: str
    """A UUID derived from the QR text and version: the same licence gets the same ID."""
    metadata: LicenceMetadata | None = None
    """The licence's GB/T 36903 record, which each format writes in its own way."""


# --- fonts and text --------------------------------------------------------------------------


def faces() -> dict[str, SealFont]:
    """song = the configured seal font (a Ming face by default); hei = WenQuanYi Zen Hei."""
    song = load_font()
    try:
        hei = load_font(DEFAULT_FONTS[1][0], DEFAULT_FONTS[1][1])
    except SealImageError:
        hei = song
    return {"song": song, "hei": hei}


def _tokens(text: str) -> list[str]:
    """Break units: each CJK character alone, runs of Latin letters/digits kept whole."""
    tokens: list[str] = []
    for ch in text:
        if (
            tokens
            and ch.isascii()
            and ch.isalnum()
            and tokens[-1][-1:].isascii()
            and (tokens[-1][-1:].isalnum())
        ):
            tokens[-1] += ch
        else:
            tokens.append(ch)
    return tokens


@lru_cache(maxsize=1 << 16)
def char_width(token: str, font_name: str, size: float) -> float:
    """:func:`stringWidth` of a character or word, remembered: a page measures the same
    characters at the same sizes thousands of times (wrapping, and re-wrapping a long field
    at smaller sizes until it fits), a tenth of issuing a licence uncached. Exact: the
    same call, once. Fonts are registered once per process under names of their files."""
    return stringWidth(token, font_name, size)


def wrap_text(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Lines of ``text`` no wider than ``width`` (by ``measure(str) -> float``).

    CJK text may break between any two characters except before closing punctuation;
    Latin words and numbers are not split unless a single one is wider than the line.
    Widths add up token by token (no kerning in these fonts), so a paragraph of n
    characters costs n measurements, not n².
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current, used = "", 0.0
        for token in _tokens(paragraph):
            advance = measure(token)
            if not current or used + advance <= width or token in _NO_LINE_START:
                current, used = current + token, used + advance
                continue
            lines.append(current.rstrip())
            current = token.lstrip()
            used = measure(current)
        while used > width and len(current) > 1:  # one over-long word
            cut = len(current) - 1
            while cut > 1 and measure(current[:cut]) > width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
            used = measure(current)
        lines.append(current)
    return lines


class _Layout:
    """Collects the marks of one page, measuring text with the registered fonts."""

    def __init__(self, fonts: Mapping[str, SealFont]) -> None:
        self.fonts = fonts
        self.marks: list[Mark] = []

    def measure(self, text: str, face: str, size: float) -> float:
        return char_width(text, self.fonts[face].name, size)

    def text(
        self,
        text: str,
        x: float,
        y: float,
        *,
        face: str,
        size: float,
        align: str = "left",
        char_space: float = 0.0,
        colour: str = "#000000",
    ) -> None:
        name = self.fonts[face].name
        width = stringWidth(text, name, size) + char_space * max(len(text) - 1, 0)
        if align == "center":
            x -= width / 2
        elif align == "right":
            x -= width
        self.marks.append(TextRun(text, x, y, face, name, size, char_space, colour))

    def field(self, element: FieldElement, label: str, value: str) -> None:
        if element.label is not None:
            label_text = element.label
            spread = 0.0
            if element.label_width_mm and len(label_text) > 1:
                natural = self.measure(label_text, element.label_font, element.size_pt)
                spread = max(0.0, (element.label_width_mm * mm - natural) / (len(label_text) - 1))
            self.text(
                label_text,
                (element.label_x_mm or 0) * mm,
                element.y_mm * mm,
                face=element.label_font,
                size=element.size_pt,
                char_space=spread,
            )
        width = element.width_mm * mm
        size = element.size_pt
        smallest = element.min_size_pt or size
        while True:
            lines = wrap_text(value, width, partial(self.measure, face=element.font, size=size))
            if len(lines) <= element.lines_at(size):
                break
            if size - 0.5 < smallest:
                raise InvalidInput(
                    f"{label} ({element.field}) does not fit its box: {len(lines)} lines at "
                    f"{size:g} pt, at most {element.lines_at(size)}; shorten the text"
                )
            size -= 0.5
        step = size * element.leading
        for index, line in enumerate(lines):
            self.text(
                line,
                element.x_mm * mm,
                element.y_mm * mm - index * step,
                face=element.font,
                size=size,
                align=element.align,
                colour=element.colour,
            )

    def rect(self, element: RectElement) -> None:
        x, y, w, h = (
            v * mm for v in (element.x_mm, element.y_mm, element.width_mm, element.height_mm)
        )
        rects = [(x, y, w, h, element.line_width_pt)]
        if element.double_gap_mm:
            gap = element.double_gap_mm * mm
            rects.append((x + gap, y + gap, w - 2 * gap, h - 2 * gap, element.line_width_pt / 3))
        self.marks.append(FrameMark(element.colour, tuple(rects)))

    def line(self, element: LineElement) -> None:
        self.marks.append(
            LineMark(
                element.x1_mm * mm,
                element.y1_mm * mm,
                element.x2_mm * mm,
                element.y2_mm * mm,
                element.line_width_pt,
                element.colour,
            )
        )

    def emblem(self, element: EmblemElement) -> None:
        """A ringed disc with 国徽 written in it: marks the place of the national emblem."""
        radius = element.diameter_mm * mm / 2
        cx, cy = element.x_mm * mm, element.y_mm * mm
        rings = ((radius * 0.94, radius * 0.12, EMBLEM_RED), (radius * 0.72, radius * 0.03, None))
        self.marks.append(EmblemMark(cx, cy, element.colour, rings))
        self.text(
            "国徽",
            cx,
            cy - radius * 0.18,
            face="hei",
            size=radius * 0.55,
            align="center",
            colour=element.colour,
        )

    def qr(self, code: QrCode, center_x: float, center_y: float, size: float) -> None:
        """``code`` ``size`` points square, quiet zone included, centred on the point."""
        matrix = code.modules
        unit = size / (len(matrix) + 2 * QUIET_ZONE)
        left = center_x - size / 2
        top = center_y + size / 2
        runs = []
        for row_index, row in enumerate(matrix):
            y = top - (row_index + QUIET_ZONE + 1) * unit
            column = 0
            while column < len(row):
                if not row[column]:
                    column += 1
                    continue
                start = column
                while column < len(row) and row[column]:
                    column += 1
                runs.append((left + (start + QUIET_ZONE) * unit, y, (column - start) * unit, unit))
        self.marks.append(QrMark(left, top - size, size, tuple(runs)))


def lay_out(template: Template, page: LicencePage) -> PageLayout:
    """The page of the licence for validated ``page.data`` (see :meth:`Template.validate_data`).

    Raises :class:`InvalidInput` when a value has characters the font cannot print or does
    not fit its box even at the element's smallest size.
    """
    fonts = faces()
    display = template.display(page.data)
    if page.identifier is not None:
        display[IDENTIFIER_FIELD] = page.identifier
    for key, value in display.items():
        try:
            fonts["song"].check_covers(value)
        except SealImageError:
            label = template.label(key)
            raise InvalidInput(
                f"{label} ({key}) has characters no installed font can print"
            ) from None
    spec = template.spec
    layout = _Layout(fonts)
    for element in spec.elements:
        if isinstance(element, TextElement):
            layout.text(
                element.text,
                element.x_mm * mm,
                element.y_mm * mm,
                face=element.font,
                size=element.size_pt,
                align=element.align,
                char_space=element.char_space_pt,
                colour=element.colour,
            )
        elif isinstance(element, FieldElement):
            field_value = display.get(element.field)
            if field_value:
                layout.field(element, template.label(element.field), field_value)
        elif isinstance(element, NumberElement):
            suffix = f"（第{page.version}版）" if page.version > 1 else ""
            layout.text(
                f"{element.prefix}{page.number}{suffix}",
                element.x_mm * mm,
                element.y_mm * mm,
                face=element.font,
                size=element.size_pt,
                align=element.align,
            )
        elif isinstance(element, RectElement):
            layout.rect(element)
        elif isinstance(element, LineElement):
            layout.line(element)
        else:
            layout.emblem(element)
    qr = spec.qr
    layout.qr(page.qr, qr.x_mm * mm, qr.y_mm * mm, qr.size_mm * mm)
    if qr.caption:
        layout.text(
            qr.caption,
            qr.x_mm * mm,
            (qr.y_mm - qr.size_mm / 2 - 4) * mm,
            face="song",
            size=8,
            align="center",
        )
    return PageLayout(
        width=spec.page.width_mm * mm,
        height=spec.page.height_mm * mm,
        marks=tuple(layout.marks),
        faces=fonts,
        title=f"{spec.title} {page.number}",
        author=page.data.get(spec.issuer_field, ""),
        subject=f"{spec.title}（电子证照）编号 {page.number} 第{page.version}版",
        keywords=f"{template.name}, {page.number}",
        issued_at=page.issued_at,
        document_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{page.qr.text}#v{page.version}")),
        metadata=page.metadata,
    )
