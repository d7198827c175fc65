"""Our own OFD page rendering (:mod:`ofd.raster`), for the licence face on web pages.

The licence OFD drawn by us must look like the licence PDF drawn by poppler: ink in the
same 5 mm cells of the page, and a QR code that zbar decodes to the verification URL.
Others' files draw too (with a fallback font for the fonts they do not embed), and
hostile pages stay bounded.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from helpers.licence_ofd_render import licence_page as _page
from PIL import Image

from ofd.errors import OfdFormatError, OfdLimitExceeded
from ofd.model import Box, ImageObject, MultiMedia, Page, PathObject, TextObject
from ofd.raster import render_page
from ofd.reader import read_ofd
from sealsvc.licences import load_template, render_licence
from sealsvc.licences.render_ofd import render_licence_ofd
from sealsvc.sealimage.fonts import DEFAULT_FONTS

SAMPLES = Path(__file__).parent / "data" / "ofd-samples"
DPI = 200


def _cells(image: Image.Image, cell_mm: float = 5) -> dict[tuple[int, int], int]:
    """Dark pixels per ``cell_mm`` square of the page."""
    grey = image.convert("L")
    side = DPI / 25.4 * cell_mm
    return {
        (i, j): sum(
            grey.crop(
                (round(i * side), round(j * side), round((i + 1) * side), round((j + 1) * side))
            ).histogram()[:128]
        )
        for i in range(int(grey.width / side))
        for j in range(int(grey.height / side))
    }


def test_licence_face_matches_the_pdf_and_its_qr_code_scans(tmp_path: Path) -> None:
    template = load_template("business_licence")
    page = _page("business_licence", template.validate_data(template.example))
    ours = render_page(read_ofd(render_licence_ofd(template, page)).pages[0], dpi=DPI)
    ours.save(tmp_path / "ofd.png")
    (tmp_path / "licence.pdf").write_bytes(render_licence(template, page))
    subprocess.run(
        ["pdftoppm", "-png", "-r", str(DPI), "-singlefile", tmp_path / "licence.pdf",
         tmp_path / "pdf"], check=True,
    )  # fmt: skip
    theirs = Image.open(tmp_path / "pdf.png")
    assert ours.size == theirs.size
    a, b = _cells(ours), _cells(theirs)
    inked = [cell for cell, dark in b.items() if dark >= 100]
    assert len(inked) > 500
    differing = [c for c in a if (a[c] >= 100 and b[c] < 10) or (b[c] >= 100 and a[c] < 10)]
    assert differing == [], "ink where the PDF has none, or none where it has"
    decoded = subprocess.run(
        ["zbarimg", "-q", "--raw", str(tmp_path / "ofd.png")],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    assert decoded == page.qr.text


def test_others_files_draw_with_a_fallback_for_fonts_they_do_not_embed() -> None:
    document = read_ofd((SAMPLES / "v4signed.ofd").read_bytes())
    (page,) = document.pages
    name = next(
        o for o in page.objects if isinstance(o, TextObject) and o.text == "科游迈利有限公司"
    )
    assert name.font.data is None  # the invoice relies on the reader's 宋体

    def ink(image: Image.Image) -> int:
        scale = 96 / 25.4
        box = name.boundary
        crop = (box.x * scale, box.y * scale, (box.x + box.width) * scale,
                (box.y + box.height) * scale)  # fmt: skip
        return sum(image.convert("L").crop(tuple(round(v) for v in crop)).histogram()[:128])

    without = ink(render_page(page))  # (a template line runs through the box)
    assert ink(render_page(page, fallback_font=DEFAULT_FONTS[0][0])) > without + 300


def test_hostile_pages_are_bounded_or_refused() -> None:
    with pytest.raises(OfdLimitExceeded, match="not drawable"):
        render_page(Page(100_000, 100_000))
    with pytest.raises(OfdFormatError, match="unknown path operator"):
        render_page(Page(10, 10, (PathObject(Box(0, 0, 5, 5), "M 0 0 X 1 1"),)))
    with pytest.raises(OfdFormatError, match="middle of an operator"):
        render_page(Page(10, 10, (PathObject(Box(0, 0, 5, 5), "M 0 0 B 1 1 2"),)))
    bomb = io.BytesIO()
    Image.new("1", (8_000, 8_000)).save(bomb, format="PNG")  # 64 Mpx in 10 kB
    not_png = MultiMedia("PNG", b"\x89PNG but not really")
    objects = (
        ImageObject(Box(0, 0, 5, 5), MultiMedia("PNG", bomb.getvalue())),
        ImageObject(Box(0, 0, 5, 5), not_png),
    )
    image = render_page(Page(10, 10, objects))  # left out, as a missing image would be
    assert image.getextrema() == ((255, 255), (255, 255), (255, 255))
