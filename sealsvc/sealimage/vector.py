"""The seal as vector graphics on a reportlab canvas, and as a one-page PDF.

The PDF is the appearance pyHanko stamps on sealed documents (:func:`render_pdf` for a
drawn seal, :func:`scan_pdf` for an uploaded scan); licences call :func:`draw` on their
own page. Nothing is painted behind the seal, so the page shows through; reportlab
embeds the subset of the TrueType font the seal uses.
"""

from __future__ import annotations

import io

from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from sealsvc.sealimage.fonts import SealFont, load_font
from sealsvc.sealimage.layout import SEAL_RED, Border, SealLayout
from sealsvc.sealimage.shapes import Design, geometry

__all__ = ["draw", "render_pdf", "scan_pdf"]


def _border(canvas: Canvas, shape: SealLayout) -> None:
    """The border, stroked on the middle of its width so its outer edge is the seal's size."""
    canvas.setLineWidth(shape.ring_width)
    inset = shape.ring_width / 2
    half_w, half_h = shape.width / 2 - inset, shape.height / 2 - inset
    if shape.border is Border.CIRCLE:
        canvas.circle(0, 0, half_w, stroke=1, fill=0)
    elif shape.border is Border.ELLIPSE:
        canvas.ellipse(-half_w, -half_h, half_w, half_h, stroke=1, fill=0)
    else:
        canvas.rect(-half_w, -half_h, 2 * half_w, 2 * half_h, stroke=1, fill=0)


def draw(
    canvas: Canvas,
    design: Design,
    center_x: float,
    center_y: float,
    diameter_pt: float | None = None,
    *,
    font: SealFont | None = None,
) -> None:
    """Draw the seal centred at (center_x, center_y), ``diameter_pt`` across (its width, for
    an oval or square seal).

    The default size is the design's true size, as the seal appears on paper.
    """
    font = font or load_font()
    shape = geometry(design, font)
    scale = (diameter_pt / shape.width) if diameter_pt else mm  # points per layout mm
    canvas.saveState()
    try:
        red = tuple(c / 255 for c in SEAL_RED)
        canvas.setFillColorRGB(*red)
        canvas.setStrokeColorRGB(*red)
        canvas.translate(center_x, center_y)
        canvas.scale(scale, scale)
        _border(canvas, shape)
        if shape.star:
            star = canvas.beginPath()
            star.moveTo(*shape.star[0])
            for point in shape.star[1:]:
                star.lineTo(*point)
            star.close()
            canvas.drawPath(star, stroke=0, fill=1)
        canvas.setLineJoin(1)
        for g in shape.glyphs:
            canvas.saveState()
            canvas.translate(g.x, g.y)
            canvas.rotate(g.rotation)
            canvas.scale(g.hscale, 1)
            canvas.setLineWidth(2 * g.embolden)  # a stroke is centred on the outline
            text = canvas.beginText()
            text.setTextRenderMode(2)  # fill, then stroke
            text.setFont(font.name, g.size)
            text.setTextOrigin(-canvas.stringWidth(g.char, font.name, g.size) / 2, 0)
            text.textOut(g.char)
            canvas.drawText(text)
            canvas.restoreState()
    finally:
        canvas.restoreState()


def render_pdf(design: Design, *, font: SealFont | None = None) -> bytes:
    """A one-page PDF exactly the seal's size, transparent around the seal."""
    font = font or load_font()
    width, height = design.width_mm * mm, design.height_mm * mm
    out = io.BytesIO()
    # the seal's own font as the initial font, so the page references no unembedded Helvetica
    canvas = Canvas(
        out, pagesize=(width, height), invariant=True, pageCompression=1, initialFontName=font.name
    )
    canvas.setTitle(design.title)
    draw(canvas, design, width / 2, height / 2, font=font)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def scan_pdf(png: bytes, side_mm: float, title: str) -> bytes:
    """A one-page PDF ``side_mm`` square with an uploaded scan centred on it.

    The scan's transparency is kept (``mask="auto"``), so the document shows through
    around the seal as it does around a drawn one.
    """
    side = side_mm * mm
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(side, side), invariant=True, pageCompression=1)
    canvas.setTitle(title)
    canvas.drawImage(
        ImageReader(io.BytesIO(png)),
        0,
        0,
        side,
        side,
        mask="auto",
        preserveAspectRatio=True,
        anchor="c",
    )
    canvas.showPage()
    canvas.save()
    return out.getvalue()
