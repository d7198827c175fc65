"""A seal's stamp, made in one place: the PDF the sealing service places and the PNG an
SM2 seal object carries, each drawn from the seal's data or taken from its uploaded scan.

Drawing takes about a second, so both are cached per appearance (the sealing service asks
for the stamp on every request; the seal registry draws before it takes a write lock).
"""

from __future__ import annotations

from functools import lru_cache

from sealsvc.sealimage.design import STAMP_SIDE_MM, SealAppearance, seal_name
from sealsvc.sealimage.fonts import load_font
from sealsvc.sealimage.raster import render_png
from sealsvc.sealimage.shapes import geometry
from sealsvc.sealimage.vector import render_pdf, scan_pdf

__all__ = ["check_drawable", "stamp_pdf", "stamp_png"]


def check_drawable(appearance: SealAppearance) -> None:
    """Refuse (:class:`~sealsvc.sealimage.SealImageError`) a seal that cannot be drawn: a
    text too long, or a character the seal font lacks."""
    geometry(appearance.design, load_font())


@lru_cache(maxsize=64)
def stamp_pdf(appearance: SealAppearance) -> bytes:
    """The visible stamp as a one-page PDF: the vector drawing at its true size (42 mm for
    a seal without an image design), or else the uploaded scan placed on a 42 mm square
    page (transparent paper kept)."""
    if appearance.image_png is None:
        return render_pdf(appearance.design)
    name = seal_name(appearance.text, appearance.kind)
    return scan_pdf(appearance.image_png, STAMP_SIDE_MM, name)


@lru_cache(maxsize=64)
def stamp_png(appearance: SealAppearance) -> bytes:
    """The seal's image as PNG: the uploaded scan, or drawn from its data at 300 dpi."""
    if appearance.image_png is not None:
        return appearance.image_png
    return render_png(appearance.design)
