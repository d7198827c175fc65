"""The seal as an RGBA PNG with a transparent background, painted with Pillow.

Pillow draws without anti-aliasing, so the seal is painted as a coverage mask at up to four
times the target resolution and scaled down; the mask becomes the alpha channel of a solid
seal-red image. Glyphs are rendered upright and then mapped by the same affine transform the
PDF painter applies (translate, rotate, compress horizontally).
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageChops, ImageDraw

from sealsvc.sealimage.design import SealDesign
from sealsvc.sealimage.errors import SealImageError
from sealsvc.sealimage.fonts import SealFont, load_font
from sealsvc.sealimage.layout import SEAL_RED, Glyph, layout

__all__ = ["render_png"]

_DPI_RANGE = (50, 1200)
_MAX_SUPERSAMPLED = 4096  # side of the working mask, in pixels


def _paint_glyph(mask: Image.Image, font: SealFont, g: Glyph, scale: float) -> None:
    """Render ``g`` upright, then map it onto ``mask`` (``scale`` px per mm, y down)."""
    em = max(1, round(g.size * scale))
    side = 2 * em
    tile = Image.new("L", (side, side), 0)
    ImageDraw.Draw(tile).text(
        (em, em),
        g.char,
        font=font.pillow(em),
        fill=255,
        anchor="ms",
        stroke_width=g.embolden * scale,
        stroke_fill=255,
    )
    cos, sin = math.cos(math.radians(g.rotation)), math.sin(math.radians(g.rotation))
    half = mask.width / 2
    p0, q0 = half + g.x * scale, half - g.y * scale  # the glyph's anchor on the mask

    def forward(p: float, q: float) -> tuple[float, float]:
        u, v = p - em, q - em
        return p0 + cos * g.hscale * u + sin * v, q0 - sin * g.hscale * u + cos * v

    corners = [forward(p, q) for p in (0, side) for q in (0, side)]
    x0 = max(0, math.floor(min(c[0] for c in corners)))
    y0 = max(0, math.floor(min(c[1] for c in corners)))
    x1 = min(mask.width, math.ceil(max(c[0] for c in corners)))
    y1 = min(mask.height, math.ceil(max(c[1] for c in corners)))
    if x1 <= x0 or y1 <= y0:
        return
    dx, dy = x0 - p0, y0 - q0
    inverse = (
        cos / g.hscale,
        -sin / g.hscale,
        em + (cos * dx - sin * dy) / g.hscale,
        sin,
        cos,
        em + sin * dx + cos * dy,
    )
    patch = tile.transform(
        (x1 - x0, y1 - y0), Image.Transform.AFFINE, inverse, resample=Image.Resampling.BICUBIC
    )
    box = (x0, y0, x1, y1)
    mask.paste(ImageChops.lighter(mask.crop(box), patch), box)


def render_png(design: SealDesign, dpi: int = 300, *, font: SealFont | None = None) -> bytes:
    """The seal as an RGBA PNG, ``diameter_mm`` at ``dpi`` across, transparent outside the ink."""
    low, high = _DPI_RANGE
    if not low <= dpi <= high:
        raise SealImageError(f"dpi {dpi} is outside {low}-{high}")
    font = font or load_font()
    geometry = layout(design, font)
    size = round(geometry.diameter / 25.4 * dpi)
    factor = max(1, min(4, _MAX_SUPERSAMPLED // size))
    big = size * factor
    scale = big / geometry.diameter
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    draw.ellipse((0, 0, big - 1, big - 1), outline=255, width=round(geometry.ring_width * scale))
    half = big / 2
    draw.polygon([(half + x * scale, half - y * scale) for x, y in geometry.star], fill=255)
    for g in geometry.glyphs:
        _paint_glyph(mask, font, g, scale)
    alpha = mask.resize((size, size), Image.Resampling.BOX) if factor > 1 else mask
    image = Image.new("RGBA", (size, size), (*SEAL_RED, 0))
    image.putalpha(alpha)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True, dpi=(dpi, dpi))
    return out.getvalue()
