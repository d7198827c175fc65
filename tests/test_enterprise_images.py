"""The shapes of an enterprise seal set: the oval 发票专用章 and the square 名章.

Geometry is checked on the layout (every glyph inside the border, none overlapping
another, the customary reading order of a name seal); the painters are checked against
each other with poppler (pdftoppm draws the vector seal, Pillow paints the PNG: the same
pixels), and the sizes with pdfinfo and the PNG's own dpi.
"""

from __future__ import annotations

import io
import math
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from sealsvc.enterprise.catalogue import CATALOGUE, resolve_kinds
from sealsvc.errors import InvalidInput
from sealsvc.sealimage import (
    Border,
    ImageSpec,
    NameSealDesign,
    OvalSealDesign,
    SealImageError,
    geometry,
    load_font,
    render_pdf,
    render_png,
)

CREDIT_CODE = "91410100MA9GH7K2XR"
NAMES = [
    "郑州中原智链信息科技有限公司",
    "郑州云帆科技有限公司",
    "河南省郑州市某某某某某某某某某某贸易有限公司",
]


@pytest.fixture(scope="module")
def font():
    return load_font()


def _overlap(a, b) -> bool:
    """Separating-axis test for two convex polygons."""
    for poly in (a, b):
        for i, p in enumerate(poly):
            q = poly[i - 1]
            axis = (q[1] - p[1], p[0] - q[0])
            pa = [axis[0] * x + axis[1] * y for x, y in a]
            pb = [axis[0] * x + axis[1] * y for x, y in b]
            if max(pa) <= min(pb) or max(pb) <= min(pa):
                return False
    return True


@pytest.mark.parametrize("name", NAMES)
def test_the_oval_keeps_every_glyph_inside_and_apart(font, name: str) -> None:
    design = OvalSealDesign(name, CREDIT_CODE)
    shape = geometry(design, font)
    assert (shape.width, shape.height, shape.border) == (40.0, 30.0, Border.ELLIPSE)
    assert shape.star == ()
    a, b = 20.0 - shape.ring_width, 15.0 - shape.ring_width
    for glyph in shape.glyphs:
        for x, y in glyph.outline:
            assert (x / a) ** 2 + (y / b) ** 2 < 1, (glyph.char, x, y)
    for i, first in enumerate(shape.glyphs):
        for second in shape.glyphs[i + 1 :]:
            assert not _overlap(first.outline, second.outline), (first.char, second.char)
    # the credit code runs straight through the centre, 发票专用章 straight below it
    middle = [g for g in shape.glyphs if g.rotation == 0 and abs(g.y) < 2]
    assert "".join(g.char for g in middle) == CREDIT_CODE
    below = [g for g in shape.glyphs if g.rotation == 0 and g.y < -2]
    assert "".join(g.char for g in below) == "发票专用章"
    # the name along the upper arc in reading order: clockwise from the lower left
    arc = [g for g in shape.glyphs if g not in middle and g not in below]
    assert "".join(g.char for g in arc) == name
    angles = [math.degrees(math.atan2(g.y / b, g.x / a)) % 360 for g in arc]
    angles = [t - 360 if t > 270 else t for t in angles]  # the lower right end: below 0°
    assert angles == sorted(angles, reverse=True)
    assert min(g.y for g in arc) > -b / 2  # the name stays above the 发票专用章 line


@pytest.mark.parametrize(
    ("name", "cut"), [("王五", "王五之印"), ("王建国", "王建国印"), ("欧阳建国", "欧阳建国")]
)
def test_the_name_seal_reads_right_column_first(font, name: str, cut: str) -> None:
    shape = geometry(NameSealDesign(name), font)
    assert (shape.width, shape.height, shape.border) == (20.0, 20.0, Border.SQUARE)
    assert "".join(g.char for g in shape.glyphs) == cut
    (c1, c2, c3, c4) = shape.glyphs
    assert c1.x > 0 < c1.y and c2.x > 0 > c2.y  # right column, top then bottom
    assert c3.x < 0 < c3.y and c4.x < 0 > c4.y  # then the left column
    inner = 10.0 - shape.ring_width
    for glyph in shape.glyphs:
        assert all(abs(x) < inner and abs(y) < inner for x, y in glyph.outline), glyph.char
    for i, first in enumerate(shape.glyphs):
        for second in shape.glyphs[i + 1 :]:
            assert not _overlap(first.outline, second.outline)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: NameSealDesign("王"), "2 to 4 characters"),
        (lambda: NameSealDesign("欧阳王建国"), "2 to 4 characters"),
        (lambda: NameSealDesign("王 五"), "2 to 4 characters"),
        (lambda: NameSealDesign("王五", side_mm=60), "outside"),
        (lambda: OvalSealDesign("某公司", CREDIT_CODE, width_mm=30, height_mm=40), "wider"),
        (lambda: OvalSealDesign("某公司", ""), "must not be empty"),
        (lambda: ImageSpec(Border.ELLIPSE, 40, 30).design("某公司", "发票专用章", "1"), "middle"),
    ],
)
def test_bad_designs_are_refused(make, needle: str) -> None:
    with pytest.raises(SealImageError, match=needle):
        make()


def _dark(png: bytes | Path) -> Image.Image:
    image = Image.open(io.BytesIO(png) if isinstance(png, bytes) else png).convert("RGBA")
    on_white = Image.new("RGBA", image.size, "white")
    on_white.alpha_composite(image)
    return on_white.convert("L").point(lambda v: 255 if v < 200 else 0)


@pytest.mark.parametrize(
    "design",
    [OvalSealDesign(NAMES[0], CREDIT_CODE), NameSealDesign("王建国")],
    ids=["oval", "name"],
)
def test_pdf_and_png_show_the_same_seal_at_its_size(design, tmp_path: Path) -> None:
    (tmp_path / "seal.pdf").write_bytes(render_pdf(design))
    info = subprocess.run(
        ["pdfinfo", "seal.pdf"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    size = next(line for line in info.splitlines() if line.startswith("Page size:")).split()
    assert (round(float(size[2]) / 72 * 25.4, 2), round(float(size[4]) / 72 * 25.4, 2)) == (
        design.width_mm,
        design.height_mm,
    )
    subprocess.run(
        ["pdftoppm", "-r", "200", "-png", "-singlefile", "seal.pdf", "pdf"],
        cwd=tmp_path,
        check=True,
    )
    png = render_png(design, 200)
    assert Image.open(io.BytesIO(png)).info["dpi"][0] == pytest.approx(200, abs=0.01)
    raster = _dark(png)
    vector = _dark(tmp_path / "pdf.png").crop((0, 0, *raster.size))
    both = ImageChops.multiply(vector, raster).histogram()[255]
    either = ImageChops.lighter(vector, raster).histogram()[255]
    assert both / either > 0.9
    width, height = raster.size
    assert width / height == pytest.approx(design.width_mm / design.height_mm, rel=0.01)


def test_the_catalogue_is_the_customary_set() -> None:
    assert [(s.kind, s.shape, s.width_mm, s.height_mm) for s in CATALOGUE] == [
        ("公章", Border.CIRCLE, 40.0, 40.0),
        ("财务专用章", Border.CIRCLE, 38.0, 38.0),
        ("发票专用章", Border.ELLIPSE, 40.0, 30.0),
        ("合同专用章", Border.CIRCLE, 40.0, 40.0),
        ("法定代表人名章", Border.SQUARE, 20.0, 20.0),
    ]
    invoice = resolve_kinds(["invoice"])[0].image(CREDIT_CODE)
    assert ImageSpec.from_json(invoice.to_json()) == invoice and invoice.middle == CREDIT_CODE
    assert resolve_kinds(["legal_representative", "公章"]) == (CATALOGUE[0], CATALOGUE[4])
    with pytest.raises(InvalidInput, match="unknown enterprise seal"):
        resolve_kinds(["私章"])
    assert math.isclose(CATALOGUE[2].width_mm / CATALOGUE[2].height_mm, 4 / 3)
