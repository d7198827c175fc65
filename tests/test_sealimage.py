"""Seal images: geometry, PNG and PDF painters, font handling, uploaded scans.

Rendered output is checked by pixels (Pillow) and with poppler (pdffonts, pdfinfo, pdftoppm),
which nobody here wrote: the PDF must embed the font, have the seal's size, and rasterise to
the same picture as the PNG painter.
"""

from __future__ import annotations

import io
import itertools
import math
import shutil
import struct
import subprocess
import threading
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from sealsvc.errors import InvalidInput
from sealsvc.sealimage import (
    FONT_ENV,
    SealDesign,
    SealFontNotFound,
    SealImageError,
    draw,
    layout,
    load_font,
    load_uploaded_png,
    render_pdf,
    render_png,
)
from sealsvc.sealimage import fonts as fonts_module
from sealsvc.sealimage.design import MAX_CODE, MAX_KIND, MAX_NAME

ZMQ = "中国（河南）自由贸易试验区郑州片区管理委员会"
GONGZHANG = SealDesign("郑州市人民政府", None, None)
SCJGJ = SealDesign("郑州市市场监督管理局", None, "41010000012346")
ZMQ_XZSP = SealDesign(ZMQ, "行政审批专用章", "41010000012345")

needs_poppler = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("pdffonts", "pdfinfo", "pdftoppm")),
    reason="poppler-utils not installed",
)


@pytest.fixture(scope="module")
def font():
    return load_font()


# ---------------------------------------------------------------- geometry helpers


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


def _distance_to_origin(poly) -> float:
    def seg(p, q):
        dx, dy = q[0] - p[0], q[1] - p[1]
        t = max(0.0, min(1.0, -(p[0] * dx + p[1] * dy) / (dx * dx + dy * dy)))
        return math.hypot(p[0] + t * dx, p[1] + t * dy)

    return min(seg(poly[i - 1], p) for i, p in enumerate(poly))


def _check_geometry(design: SealDesign, geometry) -> None:
    k = design.diameter_mm / 42
    star_radius = max(math.hypot(x, y) for x, y in geometry.star)
    assert star_radius == pytest.approx(7 * k)
    for g in geometry.glyphs:
        assert max(math.hypot(x, y) for x, y in g.outline) < geometry.ring_inner_radius - 0.5 * k
        assert _distance_to_origin(g.outline) > star_radius, g.char
    for i, a in enumerate(geometry.glyphs):
        for b in geometry.glyphs[i + 1 :]:
            assert not _overlap(a.outline, b.outline), (a.char, b.char)


# ---------------------------------------------------------------- layout


@pytest.mark.parametrize("design", [GONGZHANG, SCJGJ, ZMQ_XZSP], ids=["gz", "scjgj", "zmq"])
def test_layout_of_examples_is_clear_of_ring_star_and_other_glyphs(font, design):
    _check_geometry(design, layout(design, font))


def test_name_runs_clockwise_upright_and_evenly_spaced(font):
    geometry = layout(SCJGJ, font)
    name = geometry.glyphs[: len(SCJGJ.organisation)]
    assert "".join(g.char for g in name) == SCJGJ.organisation
    centres = [(sum(x for x, _ in g.outline) / 4, sum(y for _, y in g.outline) / 4) for g in name]
    angles = [math.degrees(math.atan2(y, x)) for x, y in centres]
    angles = [a + 360 if a < -90 else a for a in angles]  # continuous over the upper arc
    steps = [a - b for a, b in itertools.pairwise(angles)]
    assert all(s > 0 for s in steps), "clockwise: angles decrease from lower left to lower right"
    assert max(steps) - min(steps) < 0.01, "evenly spaced"
    assert centres[0][0] < 0 < centres[-1][0] and centres[0][1] < 0 and centres[-1][1] < 0
    assert 210 <= angles[0] - angles[-1] <= 240
    for g, a in zip(name, angles, strict=True):
        # feet towards the centre: the glyph's up vector points away from the centre
        assert (g.rotation - (a - 90)) % 360 == pytest.approx(0, abs=1e-6)


def test_code_reads_left_to_right_along_lower_arc(font):
    geometry = layout(SCJGJ, font)
    code = geometry.glyphs[-len(SCJGJ.code) :]
    assert "".join(g.char for g in code) == SCJGJ.code
    xs = [g.x for g in code]
    assert xs == sorted(xs)
    assert all(g.y < -15 for g in code)
    assert max(g.size for g in code) < 3.0  # small digits


def test_long_name_is_compressed_not_shrunk_away(font):
    geometry = layout(ZMQ_XZSP, font)
    name = geometry.glyphs[: len(ZMQ)]
    assert "".join(g.char for g in name) == ZMQ
    assert all(0.5 <= g.hscale < 1 for g in name)
    assert all(g.size >= 4.6 for g in name)
    kind = geometry.glyphs[len(ZMQ) : len(ZMQ) + 7]
    assert "".join(g.char for g in kind) == "行政审批专用章"
    assert len({round(g.y, 6) for g in kind}) == 1 and all(g.rotation == 0 for g in kind)
    assert all(g.y < -7 for g in kind)  # under the star


def test_gongzhang_shows_no_kind_line(font):
    plain = layout(GONGZHANG, font)
    explicit = layout(SealDesign("郑州市人民政府", "公章", None), font)
    assert plain == explicit
    assert len(plain.glyphs) == len("郑州市人民政府")


_CJK = "中国河南郑州市人民政府自由贸易试验区片管理委员会监督局财政税务公安（）"


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(alphabet=_CJK, min_size=1, max_size=30),
    kind=st.one_of(st.none(), st.text(alphabet=_CJK, min_size=1, max_size=12)),
    code=st.one_of(st.none(), st.text(alphabet="0123456789", min_size=1, max_size=24)),
    diameter=st.sampled_from([38.0, 40.0, 42.0, 45.0]),
)
def test_any_allowed_design_fits_without_collisions(font, name, kind, code, diameter):
    design = SealDesign(name, kind, code, diameter)
    _check_geometry(design, layout(design, font))


@pytest.mark.parametrize("diameter", [38.0, 40.0, 42.0, 45.0])
def test_longest_allowed_texts_fit_at_every_diameter(font, diameter):
    """Found by the property test above: a 30-character name over a code line once did not fit."""
    for name in ("中" * MAX_NAME, "（" * MAX_NAME):
        for kind, code in (
            (None, "1" * MAX_CODE),
            ("合" * MAX_KIND, None),
            ("合" * MAX_KIND, "1" * MAX_CODE),
        ):
            design = SealDesign(name, kind, code, diameter)
            _check_geometry(design, layout(design, font))


# ---------------------------------------------------------------- PNG


def _png(design: SealDesign, dpi: int) -> Image.Image:
    image = Image.open(io.BytesIO(render_png(design, dpi=dpi)))
    image.load()
    return image


def _polar(image: Image.Image, diameter: float, radius_mm: float, degrees: float):
    scale = image.width / diameter
    x = image.width / 2 + radius_mm * math.cos(math.radians(degrees)) * scale
    y = image.height / 2 - radius_mm * math.sin(math.radians(degrees)) * scale
    return image.getpixel((int(x), int(y)))


def _is_red(pixel) -> bool:
    r, g, b, a = pixel
    return a > 200 and r > 200 and g < 60 and b < 60


def _opaque_in_sector(image, diameter, radii, degrees) -> int:
    """Opaque pixels between two radii (mm) and two angles (counter-clockwise from east)."""
    scale = image.width / diameter
    c = image.width / 2
    mask = Image.new("L", image.size, 0)
    draw = ImageDraw.Draw(mask)
    for radius, fill in ((radii[1], 255), (radii[0], 0)):
        box = [c - radius * scale, c - radius * scale, c + radius * scale, c + radius * scale]
        draw.pieslice(box, -degrees[1], -degrees[0], fill=fill)  # Pillow turns clockwise
    opaque = image.getchannel("A").point(lambda v: 255 if v > 128 else 0)
    return ImageChops.multiply(mask, opaque).histogram()[255]


def test_png_size_mode_and_transparent_background():
    image = _png(ZMQ_XZSP, 300)
    assert image.format == "PNG" and image.mode == "RGBA"
    assert image.size == (496, 496)  # 42 mm at 300 dpi
    assert _png(SealDesign("郑州市人民政府", None, None, 40.0), 150).size == (236, 236)
    for corner in [(0, 0), (495, 0), (0, 495), (495, 495), (60, 60)]:
        assert image.getpixel(corner)[3] == 0
    assert _polar(image, 42, 5, 126)[3] == 0  # between two points of the star


def test_png_ring_and_star_are_seal_red():
    image = _png(GONGZHANG, 300)
    for degrees in range(0, 360, 15):
        assert _is_red(_polar(image, 42, 20.4, degrees)), degrees
    assert _is_red(_polar(image, 42, 0, 0))
    for degrees in range(90, 450, 72):  # the five points of the star
        assert _is_red(_polar(image, 42, 6, degrees)), degrees


def test_png_text_bands():
    gz, scjgj, zmq = (_png(d, 150) for d in (GONGZHANG, SCJGJ, ZMQ_XZSP))
    name, code, kind = ((12, 19), (30, 150)), ((15.5, 19.2), (250, 290)), ((8, 13), (240, 300))
    assert _opaque_in_sector(gz, 42, *name) > 800
    assert _opaque_in_sector(gz, 42, *code) == 0
    assert _opaque_in_sector(scjgj, 42, *code) > 100
    assert _opaque_in_sector(scjgj, 42, *kind) == 0
    assert _opaque_in_sector(zmq, 42, *kind) > 300


def test_png_rejects_absurd_dpi():
    with pytest.raises(SealImageError, match="dpi"):
        render_png(GONGZHANG, dpi=5000)


# ---------------------------------------------------------------- PDF (checked with poppler)


def _poppler(*args: str | Path) -> str:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


@needs_poppler
def test_pdf_embeds_the_cjk_font_and_has_the_seal_size(tmp_path):
    pdf = tmp_path / "seal.pdf"
    pdf.write_bytes(render_pdf(ZMQ_XZSP))
    rows = _poppler("pdffonts", pdf).splitlines()[2:]
    assert len(rows) == 1, rows
    name, *_, emb, sub, _uni, _obj, _gen = rows[0].split()
    assert "+" in name and emb == "yes" and sub == "yes"
    side = 42 / 25.4 * 72
    assert f"Page size:       {side:.3f} x {side:.3f} pts" in _poppler("pdfinfo", pdf)


def _dark_mask(image: Image.Image) -> Image.Image:
    on_white = Image.new("RGBA", image.size, "white")
    on_white.alpha_composite(image.convert("RGBA"))
    return on_white.convert("L").point(lambda v: 255 if v < 200 else 0)


@needs_poppler
@pytest.mark.parametrize("design", [SCJGJ, ZMQ_XZSP], ids=["scjgj", "zmq"])
def test_pdf_and_png_show_the_same_seal(tmp_path, design):
    """pdftoppm's rendering of the vector seal and the Pillow PNG cover the same pixels."""
    (tmp_path / "seal.pdf").write_bytes(render_pdf(design))
    _poppler(
        "pdftoppm", "-r", "200", "-png", "-singlefile", tmp_path / "seal.pdf", tmp_path / "pdf"
    )
    vector = _dark_mask(Image.open(tmp_path / "pdf.png")).crop((0, 0, 331, 331))
    raster = _dark_mask(_png(design, 200))
    both = ImageChops.multiply(vector, raster).histogram()[255]
    either = ImageChops.lighter(vector, raster).histogram()[255]
    assert both / either > 0.93


@needs_poppler
def test_draw_places_the_seal_on_any_page(tmp_path):
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    draw(canvas, SCJGJ, 400, 200, diameter_pt=144)  # 2 inches across, centre (400, 200) pt
    canvas.showPage()
    canvas.save()
    (tmp_path / "page.pdf").write_bytes(out.getvalue())
    _poppler(
        "pdftoppm", "-r", "72", "-png", "-singlefile", tmp_path / "page.pdf", tmp_path / "page"
    )
    left, top, right, bottom = _dark_mask(Image.open(tmp_path / "page.png")).getbbox()
    page_height = round(A4[1])
    assert (left, right) == (pytest.approx(328, abs=2), pytest.approx(472, abs=2))
    assert (top, bottom) == (
        pytest.approx(page_height - 272, abs=2),
        pytest.approx(page_height - 128, abs=2),
    )


# ---------------------------------------------------------------- fonts


def test_missing_font_names_every_path_tried(monkeypatch):
    monkeypatch.setattr(fonts_module, "DEFAULT_FONTS", (("/no/such/a.ttc", 0), ("/no/b.ttf", 0)))
    with pytest.raises(SealFontNotFound, match=r"/no/such/a\.ttc.*/no/b\.ttf") as caught:
        load_font(environ={})
    assert caught.value.status == 500
    assert FONT_ENV in str(caught.value)


def test_configured_font_is_the_only_one_tried(monkeypatch, tmp_path):
    monkeypatch.setenv(FONT_ENV, str(tmp_path / "missing.ttf"))
    with pytest.raises(SealFontNotFound, match=r"missing\.ttf") as caught:
        render_png(GONGZHANG)
    assert "uming.ttc" not in str(caught.value)
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font" * 100)
    with pytest.raises(SealFontNotFound, match=r"junk\.ttf.*unusable"):
        load_font(junk)


def test_font_is_loaded_once_across_threads():
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(load_font())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(f) for f in seen}) == 1


def test_character_missing_from_font_is_refused():
    with pytest.raises(SealImageError, match=r"cannot print '😀' \(U\+1F600\)"):
        render_png(SealDesign("郑州😀政府", None, None))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", None, None), "empty"),
        ((" 郑州市人民政府", None, None), "spaces"),
        (("郑州\x00市", None, None), "control"),
        (("中" * 31, None, None), "at most 30"),
        (("郑州市人民政府", None, None, 200.0), "diameter"),
        (("郑州市人民政府", "专" * 13, None), "at most 12"),
    ],
)
def test_bad_designs_are_refused(args, message):
    with pytest.raises(InvalidInput, match=message):
        SealDesign(*args)


# ---------------------------------------------------------------- uploaded scans


def _scan(size=(400, 400)) -> bytes:
    image = Image.new("RGB", size, (250, 250, 247))  # slightly off-white paper
    ImageDraw.Draw(image).ellipse((50, 50, 350, 350), outline=(210, 20, 30), width=20)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression-bomb shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


def test_upload_makes_paper_transparent_and_keeps_ink():
    image = Image.open(io.BytesIO(load_uploaded_png(_scan())))
    assert image.format == "PNG" and image.mode == "RGBA" and image.size == (400, 400)
    assert image.getpixel((5, 5))[3] == 0
    assert image.getpixel((200, 200))[3] == 0
    assert image.getpixel((200, 60)) == (210, 20, 30, 255)


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (b"\xff\xd8\xff\xe0" + b"\0" * 100, {}, "not a PNG"),
        (b"", {}, "not a PNG"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 30, {}, "damaged"),
        (_scan()[:200], {}, "damaged"),
        (_scan()[:-30] + b"\0" * 30, {}, "damaged"),
        (_scan(), {"max_bytes": 1000}, "limit is 1000"),
        (_scan((2100, 50)), {}, "2100x50 pixels"),
        (_png_claiming(60000, 60000), {}, "60000x60000 pixels; at most 2000"),
        (_png_claiming(60000, 60000), {"max_px": 100_000}, "decompression bomb"),
    ],
    ids=[
        "jpeg",
        "empty",
        "no-header",
        "truncated",
        "bad-crc",
        "too-big",
        "too-wide",
        "huge",
        "bomb",
    ],
)
def test_bad_uploads_are_refused(data, kwargs, message):
    with pytest.raises(SealImageError, match=message):
        load_uploaded_png(data, **kwargs)
