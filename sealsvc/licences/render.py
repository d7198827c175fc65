"""Render a licence from its template and validated data: a one-page PDF/A-2b, unsealed.

Everything on the page comes from the template's declarative layout (see
:mod:`sealsvc.licences.templates`); this module only knows how to paint each kind of
element. Text is set in the CJK TrueType faces found by :func:`sealsvc.sealimage.load_font`
(the same loader the seal image uses), which reportlab embeds as subsets. Seals are not
painted here: PAdES sealing puts each seal's stamp on the page at the template's spots.

Rendering is deterministic: reportlab's invariant mode, dates from the issue time and a
document ID derived from the licence, so the same input gives the same bytes.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.colors import HexColor
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from sealsvc.errors import InvalidInput
from sealsvc.licences.metadata import LicenceMetadata
from sealsvc.licences.pdfa import apply_pdfa
from sealsvc.licences.qr import QrCode, draw_qr
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

__all__ = ["LicencePage", "render_licence", "wrap_text"]

_NO_LINE_START = set("，。、；：？！）》」』〕】,.;:?!)%》”’")
"""Characters that must not begin a line (禁则): they stay with the previous line."""


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
    """The GB/T 36903 record, written into the XMP metadata."""


def _faces() -> dict[str, SealFont]:
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


def wrap_text(text: str, width: float, measure) -> list[str]:
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


class _Painter:
    def __init__(self, canvas: Canvas, faces: Mapping[str, SealFont]) -> None:
        self.canvas = canvas
        self.faces = faces

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
        canvas = self.canvas
        name = self.faces[face].name
        width = canvas.stringWidth(text, name, size) + char_space * max(len(text) - 1, 0)
        if align == "center":
            x -= width / 2
        elif align == "right":
            x -= width
        obj = canvas.beginText(x, y)
        obj.setFont(name, size)
        obj.setCharSpace(char_space)
        obj.setFillColor(HexColor(colour))
        obj.textOut(text)
        canvas.drawText(obj)

    def field(self, element: FieldElement, label: str, value: str) -> None:
        if element.label is not None:
            label_text = element.label
            label_font = self.faces[element.label_font].name
            spread = 0.0
            if element.label_width_mm and len(label_text) > 1:
                natural = self.canvas.stringWidth(label_text, label_font, element.size_pt)
                spread = max(0.0, (element.label_width_mm * mm - natural) / (len(label_text) - 1))
            self.text(
                label_text,
                (element.label_x_mm or 0) * mm,
                element.y_mm * mm,
                face=element.label_font,
                size=element.size_pt,
                char_space=spread,
            )
        name = self.faces[element.font].name
        width = element.width_mm * mm
        size = element.size_pt
        smallest = element.min_size_pt or size
        while True:
            lines = wrap_text(value, width, lambda s, z=size: self.canvas.stringWidth(s, name, z))
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
        canvas = self.canvas
        canvas.setStrokeColor(HexColor(element.colour))
        canvas.setLineWidth(element.line_width_pt)
        x, y, w, h = (
            v * mm for v in (element.x_mm, element.y_mm, element.width_mm, element.height_mm)
        )
        canvas.rect(x, y, w, h, stroke=1, fill=0)
        if element.double_gap_mm:
            gap = element.double_gap_mm * mm
            canvas.setLineWidth(element.line_width_pt / 3)
            canvas.rect(x + gap, y + gap, w - 2 * gap, h - 2 * gap, stroke=1, fill=0)

    def line(self, element: LineElement) -> None:
        canvas = self.canvas
        canvas.setStrokeColor(HexColor(element.colour))
        canvas.setLineWidth(element.line_width_pt)
        canvas.line(element.x1_mm * mm, element.y1_mm * mm, element.x2_mm * mm, element.y2_mm * mm)

    def emblem(self, element: EmblemElement) -> None:
        """A ringed disc with 国徽 written in it: marks the place of the national emblem."""
        canvas = self.canvas
        radius = element.diameter_mm * mm / 2
        cx, cy = element.x_mm * mm, element.y_mm * mm
        colour = HexColor(element.colour)
        canvas.setStrokeColor(colour)
        canvas.setFillColor(HexColor("#c8102e"))
        canvas.setLineWidth(radius * 0.12)
        canvas.circle(cx, cy, radius * 0.94, stroke=1, fill=1)
        canvas.setStrokeColor(colour)
        canvas.setLineWidth(radius * 0.03)
        canvas.circle(cx, cy, radius * 0.72, stroke=1, fill=0)
        self.text(
            "国徽",
            cx,
            cy - radius * 0.18,
            face="hei",
            size=radius * 0.55,
            align="center",
            colour=element.colour,
        )


def render_licence(template: Template, page: LicencePage) -> bytes:
    """The unsealed licence PDF for validated ``page.data`` (see :meth:`Template.validate_data`)."""
    faces = _faces()
    display = template.display(page.data)
    if page.identifier is not None:
        display[IDENTIFIER_FIELD] = page.identifier
    for key, value in display.items():
        try:
            faces["song"].check_covers(value)
        except SealImageError:
            label = template.label(key)
            raise InvalidInput(
                f"{label} ({key}) has characters no installed font can print"
            ) from None
    spec = template.spec
    out = io.BytesIO()
    canvas = Canvas(
        out,
        pagesize=(spec.page.width_mm * mm, spec.page.height_mm * mm),
        invariant=True,
        pageCompression=1,
        initialFontName=faces["song"].name,
        lang="zh-CN",
    )
    painter = _Painter(canvas, faces)
    for element in spec.elements:
        if isinstance(element, TextElement):
            painter.text(
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
            value = display.get(element.field)
            if value:
                painter.field(element, template.label(element.field), value)
        elif isinstance(element, NumberElement):
            suffix = f"（第{page.version}版）" if page.version > 1 else ""
            painter.text(
                f"{element.prefix}{page.number}{suffix}",
                element.x_mm * mm,
                element.y_mm * mm,
                face=element.font,
                size=element.size_pt,
                align=element.align,
            )
        elif isinstance(element, RectElement):
            painter.rect(element)
        elif isinstance(element, LineElement):
            painter.line(element)
        else:
            painter.emblem(element)
    qr = spec.qr
    draw_qr(canvas, page.qr, qr.x_mm * mm, qr.y_mm * mm, qr.size_mm * mm)
    if qr.caption:
        painter.text(
            qr.caption,
            qr.x_mm * mm,
            (qr.y_mm - qr.size_mm / 2 - 4) * mm,
            face="song",
            size=8,
            align="center",
        )
    issuer = page.data.get(spec.issuer_field, "")
    apply_pdfa(
        canvas,
        title=f"{spec.title} {page.number}",
        author=issuer,
        subject=f"{spec.title}（电子证照）编号 {page.number} 第{page.version}版",
        keywords=f"{template.name}, {page.number}",
        at=page.issued_at,
        document_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{page.qr.text}#v{page.version}")),
        custom=page.metadata.xmp_schema() if page.metadata else None,
    )
    canvas.showPage()
    canvas.save()
    return out.getvalue()
