"""The OFD writer: standard parts, unique IDs, embedded font subsets, images, determinism.

Checked on the written bytes with the hardened package/XML readers, fontTools and Pillow
(is the embedded font a usable TrueType subset of exactly the printed characters?), and
by reading the file back with :mod:`ofd.reader` into an equal model.
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from fontTools.ttLib import TTFont, newTable
from fontTools.ttLib.sfnt import calcChecksum
from fontTools.ttLib.tables._g_l_y_f import Glyph
from fontTools.ttLib.tables.DefaultTable import DefaultTable
from fontTools.ttLib.tables.ttProgram import Program
from PIL import Image, ImageFont
from reportlab.pdfbase.ttfonts import TTFont as RlFont

from ofd.fonts import FontFileError, embed_font
from ofd.model import (
    Box,
    DocInfo,
    Document,
    Font,
    ImageObject,
    MultiMedia,
    Page,
    PathObject,
    TextObject,
)
from ofd.package import OfdPackage
from ofd.reader import read_ofd
from ofd.writer import circle_path, number, rect_path, write_ofd
from ofd.xml import child, child_text, children, parse_xml
from sealsvc.sealimage.fonts import DEFAULT_FONTS

UMING, UMING_INDEX = DEFAULT_FONTS[0]
TEXT = "营业执照 No.42（副本）"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 16, 46)).save(out, format="PNG")
    return out.getvalue()


def _document(font: Font | None = None) -> Document:
    font = font or embed_font(UMING, UMING_INDEX, TEXT + "第二页")
    image = MultiMedia("PNG", _png())
    info = DocInfo(
        doc_id="0123456789abcdef0123456789abcdef",
        title="营业执照 YYZZ1",
        author="郑州市市场监督管理局",
        subject="测试",
        creation_date=date(2024, 3, 15),
        keywords=("营业执照", "YYZZ1"),
        creator="sealsvc",
        custom_datas=(("证照名称", "营业执照"), ("证照编号", "YYZZ1"), ("持证主体", "某公司")),
    )
    first = Page(
        297,
        210,
        (
            TextObject(Box(20, 30, 120, 13), font, 10.5, TEXT, 0, 10.5, (10.5,) * (len(TEXT) - 1)),
            PathObject(Box(7, 7, 283, 196), rect_path(0.5, 0.5, 282, 195), 1.4, (160, 120, 42)),
            PathObject(Box(100, 100, 40, 40), circle_path(20, 20, 18), 0.5, None, (200, 16, 46)),
            ImageObject(Box(200, 150, 40, 20), image),
        ),
    )
    second = Page(210, 297, (TextObject(Box(10, 10, 50, 6), font, 5, "第二页", 0, 5, (5, 5)),))
    return Document(info, (first, second))


def test_package_has_the_standard_parts_with_unique_ids_and_is_deterministic() -> None:
    data = write_ofd(_document())
    assert data == write_ofd(_document())
    package = OfdPackage.read(data)
    assert next(iter(package)) == "OFD.xml"
    assert set(package) == {
        "OFD.xml",
        "Doc_0/Document.xml",
        "Doc_0/PublicRes.xml",
        "Doc_0/DocumentRes.xml",
        "Doc_0/Res/font_5.ttf",
        "Doc_0/Res/image_9.png",
        "Doc_0/Pages/Page_0/Content.xml",
        "Doc_0/Pages/Page_1/Content.xml",
    }
    ofd = parse_xml(package["OFD.xml"], "OFD.xml")
    assert ofd.get("DocType") == "OFD"
    body = child(ofd, "DocBody")
    info = child(body, "DocInfo")
    # CT_DocInfo's sequence order, as the schema has it
    assert [e.tag.split("}")[1] for e in info] == [
        "DocID", "Title", "Author", "Subject", "CreationDate", "Keywords", "Creator", "CustomDatas",
    ]  # fmt: skip
    assert child_text(info, "CreationDate") == "2024-03-15"
    customs = [(c.get("Name"), c.text) for c in children(child(info, "CustomDatas"), "CustomData")]
    assert customs == [("证照名称", "营业执照"), ("证照编号", "YYZZ1"), ("持证主体", "某公司")]
    assert child_text(body, "DocRoot") == "Doc_0/Document.xml"

    document = parse_xml(package["Doc_0/Document.xml"], "Document.xml")
    common = child(document, "CommonData")
    ids = [
        element.get("ID")
        for path, content in package.items()
        if path.endswith(".xml")
        for element in parse_xml(content, path).iter()
        if element.get("ID")
    ]
    assert len(ids) == len(set(ids)), "IDs must be unique in the document"
    assert child_text(common, "MaxUnitID") == str(max(int(i) for i in ids))
    assert child_text(child(common, "PageArea"), "PhysicalBox") == "0 0 297 210"
    page_two = parse_xml(package["Doc_0/Pages/Page_1/Content.xml"], "Page_1")
    assert child_text(child(page_two, "Area"), "PhysicalBox") == "0 0 210 297"

    res = parse_xml(package["Doc_0/DocumentRes.xml"], "DocumentRes.xml")
    media = children(child(res, "MultiMedias"), "MultiMedia")[0]
    assert (media.get("Type"), media.get("Format")) == ("Image", "PNG")
    assert package["Doc_0/Res/" + child_text(media, "MediaFile")] == _png()
    page = parse_xml(package["Doc_0/Pages/Page_0/Content.xml"], "Page_0")
    image = page.find(".//{http://www.ofdspec.org/2016}ImageObject")
    assert image.get("CTM") == "40 0 0 20 0 0" and image.get("ResourceID") == media.get("ID")


@pytest.mark.parametrize(("path", "index", "family"), [(*f, n) for f, n in zip(
    DEFAULT_FONTS, ["AR PL UMing CN", "WenQuanYi Zen Hei"], strict=True)])  # fmt: skip
def test_embedded_font_is_a_usable_subset_of_exactly_the_printed_characters(
    path: str, index: int, family: str, tmp_path
) -> None:
    font = embed_font(path, index, TEXT)
    assert font.family == family
    parsed = TTFont(io.BytesIO(font.data))
    assert set(parsed.getBestCmap()) == {ord(c) for c in TEXT}
    assert "glyf" in parsed and not {"GSUB", "fpgm", "cvt ", "prep"} & set(parsed.keys())
    assert len(font.data) < 20_000  # the collections are 16-20 MB
    assert embed_font(path, index, TEXT).data == font.data
    source = TTFont(path, fontNumber=index, lazy=True)
    pil = ImageFont.truetype(io.BytesIO(font.data), 64)
    for ch in "营N（":
        ours = parsed["glyf"][parsed.getBestCmap()[ord(ch)]]
        theirs = source["glyf"][source.getBestCmap()[ord(ch)]]
        assert list(ours.coordinates) == list(theirs.coordinates), f"{ch}: outline differs"
        assert ours.endPtsOfContours == theirs.endPtsOfContours
        left, top, right, bottom = pil.getbbox(ch)  # and FreeType draws it
        assert right - left > 20 and bottom - top > 20
    # reportlab (which easyofd draws with) reads it too
    (tmp_path / "subset.ttf").write_bytes(font.data)
    assert RlFont(f"subset-{index}-{len(family)}", str(tmp_path / "subset.ttf")).stringWidth(
        "营", 10
    ) == pytest.approx(10, rel=0.2)


def test_a_font_that_is_no_font_is_reported_by_path(tmp_path) -> None:
    bad = tmp_path / "broken.ttf"
    bad.write_bytes(b"not a font at all")
    with pytest.raises(FontFileError, match=r"broken\.ttf"):
        embed_font(str(bad), 0, "字")


def test_reading_back_gives_the_same_document() -> None:
    document = _document()
    assert read_ofd(write_ofd(document)) == document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"font": Font("宋体", "宋体")}, "not embedded"),
        ({"pages": ()}, "at least one page"),
        ({"image": MultiMedia("TIFF", b"II*\0")}, "image format"),
    ],
)
def test_what_ofd_cannot_carry_is_refused(change: dict, message: str) -> None:
    document = _document(change.get("font"))
    if "pages" in change:
        document = Document(document.info, change["pages"])
    if "image" in change:
        page = document.pages[0]
        objects = (*page.objects, ImageObject(Box(0, 0, 1, 1), change["image"]))
        document = Document(document.info, (Page(page.width, page.height, objects),))
    with pytest.raises(ValueError, match=message):
        write_ofd(document)


def test_numbers_are_printed_compactly_and_never_as_minus_zero() -> None:
    assert [number(v) for v in (0, 1.0, 1.23456, -0.00001, 12.5, 1e-9)] == [
        "0", "1", "1.2346", "0", "12.5", "0",
    ]  # fmt: skip
    assert rect_path(0, 0, 2, 1.5) == "M 0 0 L 2 0 L 2 1.5 L 0 1.5 C"
    circle = circle_path(10, 10, 5).split()
    assert circle[:3] == ["M", "15", "10"] and circle.count("B") == 4 and circle[-1] == "C"


def test_fonttools_internals_the_font_subsets_rely_on() -> None:
    """ofd/fonts.py reaches past fontTools' public surface in three places (pinned here the
    way tests/test_private_apis.py pins the other libraries): a lazily loaded ``glyf``
    table keeps compact glyphs (raw ``data``) in ``.glyphs``; ``Glyph.trim`` strips hinting
    from those bytes; and a ``glyf`` table given ``.glyphs``/``.glyphOrder`` directly
    compiles compact glyphs as their bytes when ``recalcBBoxes`` is off."""
    path, index = DEFAULT_FONTS[1]  # WenQuanYi Zen Hei: has a cvt table, so is trimmed
    source = TTFont(path, fontNumber=index, lazy=True)
    name = source.getBestCmap()[ord("营")]
    compact = source["glyf"].glyphs[name]
    assert isinstance(compact.data, bytes) and not hasattr(compact, "coordinates")

    def instructions(data: bytes) -> int:
        at = 10 + 2 * int.from_bytes(data[:2], "big", signed=True)
        return int.from_bytes(data[at : at + 2], "big")

    expanded = Glyph(compact.data)
    expanded.expand(source["glyf"])
    expanded.program = Program()
    expanded.program.fromBytecode(b"\xb0\x00")  # PUSHB[0] 0: a hinted glyph
    hinted = Glyph(expanded.compile(source["glyf"], False))
    assert instructions(hinted.data) == 2
    hinted.trim(remove_hinting=True)
    assert instructions(hinted.data) == 0
    assert not hasattr(hinted, "coordinates"), "trimmed without decompiling"

    trimmed = Glyph(compact.data)
    trimmed.trim(remove_hinting=True)
    parsed = TTFont(io.BytesIO(embed_font(path, index, "营").data))
    ours = parsed["glyf"].glyphs[parsed.getBestCmap()[ord("营")]]
    padding = len(ours.data) - len(trimmed.data)  # glyf pads each glyph to 2 or 4 bytes
    assert ours.data[: len(trimmed.data)] == trimmed.data and 0 <= padding < 4, "bytes as they are"


@pytest.mark.parametrize(("path", "index"), DEFAULT_FONTS)
@pytest.mark.parametrize("count", [0, 1, 300, 1200])
def test_font_subsets_are_the_files_fonttools_would_write(
    path: str, index: int, count: int
) -> None:
    """ofd/fonts.py assembles the file itself (ofd/sfnt.py): ``glyf`` from the glyphs' bytes
    (odd ones padded when that allows short ``loca`` offsets; long offsets past 128 kB,
    1200 characters), every checksum summed from parts. fontTools, given the same glyphs
    and the other tables as they are, writes the same bytes; the file's checksum is the
    spec's."""
    cmap = TTFont(path, fontNumber=index, lazy=True).getBestCmap()
    characters = [chr(c) for c in sorted(cmap) if c >= 0x4E00][:: max(1, 20000 // (count or 1))]
    ours = embed_font(path, index, "".join(characters[:count])).data
    assert ours is not None
    read = TTFont(io.BytesIO(ours))
    offsets = read["loca"].locations
    glyphs = read.reader["glyf"]
    order = read.getGlyphOrder()
    again = TTFont(recalcBBoxes=False, recalcTimestamp=False)
    again.setGlyphOrder(order)
    for tag in sorted(read.reader.tables):
        again[tag] = DefaultTable(tag)
        again[tag].data = read.reader[tag]
    again["loca"] = newTable("loca")
    glyf = again["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {name: Glyph(glyphs[offsets[i] : offsets[i + 1]]) for i, name in enumerate(order)}
    out = io.BytesIO()
    again.save(out, reorderTables=None)
    assert out.getvalue() == ours
    assert calcChecksum(ours) == 0xB1B0AFBA
    if count <= 1:
        assert read["head"].indexToLocFormat == 0, "short offsets"
    if count == 1200:
        assert read["head"].indexToLocFormat == 1, "long offsets"
