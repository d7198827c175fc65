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

from sealsvc.sealimage.errors import SealImageError
from sealsvc.sealimage.fonts import SealFont, load_font
from sealsvc.sealimage.layout import SEAL_RED, Border, Glyph
from sealsvc.sealimage.shapes import Design, geometry

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
    p0, q0 = mask.width / 2 + g.x * scale, mask.height / 2 - g.y * scale  # the glyph's anchor

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


def render_png(design: Design, dpi: int = 300, *, font: SealFont | None = None) -> bytes:
    """The seal as an RGBA PNG, its true size at ``dpi``, transparent outside the ink."""
    low, high = _DPI_RANGE
    if not low <= dpi <= high:
        raise SealImageError(f"dpi {dpi} is outside {low}-{high}")
    font = font or load_font()
    shape = geometry(design, font)
    size = (round(shape.width / 25.4 * dpi), round(shape.height / 25.4 * dpi))
    factor = max(1, min(4, _MAX_SUPERSAMPLED // max(size)))
    big = (size[0] * factor, size[1] * factor)
    scale = big[0] / shape.width
    mask = Image.new("L", big, 0)
    draw = ImageDraw.Draw(mask)
    box = (0, 0, big[0] - 1, big[1] - 1)
    ring = round(shape.ring_width * scale)
    if shape.border is Border.SQUARE:
        draw.rectangle(box, outline=255, width=ring)
    else:
        draw.ellipse(box, outline=255, width=ring)
    if shape.star:
        cx, cy = big[0] / 2, big[1] / 2
        draw.polygon([(cx + x * scale, cy - y * scale) for x, y in shape.star], fill=255)
    for g in shape.glyphs:
        _paint_glyph(mask, font, g, scale)
    alpha = mask.resize(size, Image.Resampling.BOX) if factor > 1 else mask
    image = Image.new("RGBA", size, (*SEAL_RED, 0))
    image.putalpha(alpha)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True, dpi=(dpi, dpi))
    return out.getvalue()
