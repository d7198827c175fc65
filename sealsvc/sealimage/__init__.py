"""The electronic seal's image: drawn from the seal's data, or a validated uploaded scan.

``draw``/``render_pdf`` paint vector graphics with reportlab, ``render_png`` paints pixels
with Pillow; both take every position from :func:`sealsvc.sealimage.shapes.geometry`
(round seals: :mod:`.layout`, oval 发票专用章: :mod:`.oval`, square name seals: :mod:`.name_seal`).
Names load from their modules when first used (:mod:`sealsvc.lazyimport`): the seal
registry imports this package, and a ``sealctl seal list`` draws nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sealsvc.lazyimport import lazy_exports

# Light, and imported at once: the function ``layout`` must not be shadowed by its module.
from sealsvc.sealimage.design import STAMP_SIDE_MM, SealAppearance, SealDesign, seal_name
from sealsvc.sealimage.errors import SealFontNotFound, SealImageError
from sealsvc.sealimage.layout import SEAL_RED, Border, SealLayout, layout
from sealsvc.sealimage.name_seal import NameSealDesign
from sealsvc.sealimage.oval import OvalSealDesign
from sealsvc.sealimage.shapes import Design, ImageSpec, geometry

if TYPE_CHECKING:
    from sealsvc.sealimage.appearance import check_drawable, stamp_pdf, stamp_png
    from sealsvc.sealimage.fonts import FONT_ENV, SealFont, load_font
    from sealsvc.sealimage.raster import render_png
    from sealsvc.sealimage.upload import load_uploaded_png
    from sealsvc.sealimage.vector import draw, render_pdf, scan_pdf

__getattr__ = lazy_exports(
    __name__,
    {
        "appearance": ["check_drawable", "stamp_pdf", "stamp_png"],
        "fonts": ["FONT_ENV", "SealFont", "load_font"],
        "raster": ["render_png"],
        "upload": ["load_uploaded_png"],
        "vector": ["draw", "render_pdf", "scan_pdf"],
    },
)

__all__ = [
    "FONT_ENV",
    "SEAL_RED",
    "STAMP_SIDE_MM",
    "Border",
    "Design",
    "ImageSpec",
    "NameSealDesign",
    "OvalSealDesign",
    "SealAppearance",
    "SealDesign",
    "SealFont",
    "SealFontNotFound",
    "SealImageError",
    "SealLayout",
    "check_drawable",
    "draw",
    "geometry",
    "layout",
    "load_font",
    "load_uploaded_png",
    "render_pdf",
    "render_png",
    "scan_pdf",
    "seal_name",
    "stamp_pdf",
    "stamp_png",
]
