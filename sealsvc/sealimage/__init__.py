"""The electronic seal's image: drawn from the seal's data, or a validated uploaded scan.

``draw``/``render_pdf`` paint vector graphics with reportlab, ``render_png`` paints pixels
with Pillow; both take every position from :func:`sealsvc.sealimage.shapes.geometry`
(round seals: :mod:`.layout`, oval 发票专用章: :mod:`.oval`, square name seals: :mod:`.name_seal`).
"""

from __future__ import annotations

from sealsvc.sealimage.design import SealDesign
from sealsvc.sealimage.errors import SealFontNotFound, SealImageError
from sealsvc.sealimage.fonts import FONT_ENV, SealFont, load_font
from sealsvc.sealimage.layout import SEAL_RED, Border, SealLayout, layout
from sealsvc.sealimage.name_seal import NameSealDesign
from sealsvc.sealimage.oval import OvalSealDesign
from sealsvc.sealimage.raster import render_png
from sealsvc.sealimage.shapes import Design, ImageSpec, geometry
from sealsvc.sealimage.upload import load_uploaded_png
from sealsvc.sealimage.vector import draw, render_pdf, scan_pdf

__all__ = [
    "FONT_ENV",
    "SEAL_RED",
    "Border",
    "Design",
    "ImageSpec",
    "NameSealDesign",
    "OvalSealDesign",
    "SealDesign",
    "SealFont",
    "SealFontNotFound",
    "SealImageError",
    "SealLayout",
    "draw",
    "geometry",
    "layout",
    "load_font",
    "load_uploaded_png",
    "render_pdf",
    "render_png",
    "scan_pdf",
]
