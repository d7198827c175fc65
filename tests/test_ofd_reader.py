"""The OFD reader on others' files (tests/data/ofd-samples) and on hostile ones.

The samples are real signed OFDs from other producers: each reads with its pages, text,
images and signatures, and with a warning — not a crash — where it names a file that is
not there. Hostile packages (built here with :mod:`zipfile` and by editing a real file)
end in a clear :class:`OfdFormatError` or :class:`OfdLimitExceeded` naming the part,
whether the attack is on the ZIP, the XML or the page model (``g`` delta bombs, page and
object counts, references that leave the package).
"""

from __future__ import annotations

import base64
import io
import random
import time
import zipfile
from pathlib import Path

import pytest

import ofd.reader
from ofd.errors import OfdFormatError, OfdLimitExceeded
from ofd.fonts import embed_font
from ofd.model import Box, DocInfo, Document, Font, ImageObject, Page, TextObject
from ofd.package import OfdPackage
from ofd.reader import ReaderLimits, expand_deltas, read_ofd
from ofd.writer import write_ofd
from ofd.xml import parse_xml
from sealsvc.sealimage.fonts import DEFAULT_FONTS

SAMPLES = Path(__file__).parent / "data" / "ofd-samples"


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def _text(document: Document) -> str:
    return "".join(o.text for p in document.pages for o in p.objects if isinstance(o, TextObject))


def test_e_invoice_reads_with_text_image_template_and_seal() -> None:
    document = read_ofd(_sample("v4signed.ofd"))
    assert document.info.doc_id == "0eb8011566b14d9f942a38d7df30f2de"
    assert ("发票号码", "99999951") in document.info.custom_datas
    (page,) = document.pages
    assert (page.width, page.height) == (210, 140)  # the page's own box, not the document's
    text = _text(document)
    assert "科游迈利有限公司" in text and "91500106MA2CE71F65" in text
    # Document.xml says TPLS/Tpl_0, the file is Tpls/Tpl_0: found, as Windows readers do
    assert text.startswith("重庆增值税电子普通发票机器编号："), "template (background) first"
    assert document.warnings == ()
    images = [o for o in page.objects if isinstance(o, ImageObject)]
    assert [i.image.format for i in images] == ["PNG"] and images[0].image.data[:4] == b"\x89PNG"
    address = next(o for o in page.objects if isinstance(o, TextObject) and "颐和园" in o.text)
    assert address.delta_x[:15] == (3.175,) * 14 + (1.59,)  # "g 14 3.175 1.59" expanded
    assert [(s.id, s.type, s.path) for s in document.signatures] == [
        ("1", "Seal", "Doc_0/Signs/Sign_0/Signature.xml")
    ]


def test_legacy_namespace_and_a_missing_image_are_read_and_reported() -> None:
    document = read_ofd(_sample("testImageNotFound.ofd"))
    assert len(document.pages) == 2
    assert "矿产资源勘查许可证" in _text(document)
    assert [s.type for s in document.signatures] == ["Sign", "Sign"]
    assert any("image_135" in w for w in document.warnings), document.warnings


@pytest.mark.parametrize(
    ("name", "pages", "signatures", "text"),
    [
        ("SESV4SignDoc.ofd", 1, ["1"], "你好呀，OFD Reader&Writer！"),
        ("n.ofd", 2, ["0"], "路桥区卫生局"),
        ("h.ofd", 5, ["s001", "s007"], ""),
    ],
)
def test_other_samples_read(name: str, pages: int, signatures: list[str], text: str) -> None:
    document = read_ofd(_sample(name))
    assert len(document.pages) == pages
    assert [s.id for s in document.signatures] == signatures
    assert text in _text(document)


def test_h_ofd_names_a_public_res_it_does_not_have() -> None:
    assert read_ofd(_sample("h.ofd")).warnings == (
        "Document.xml refers to Doc_0/PublicRes.xml, which is not in the package",
    )


def test_g_shorthand_expands_but_never_beyond_the_characters() -> None:
    assert expand_deltas("g 3 1.5 2", 10, "p") == (1.5, 1.5, 1.5, 2.0)
    assert expand_deltas("1 2 3 4", 2, "p") == (1.0, 2.0)
    started = time.perf_counter()
    assert expand_deltas("g 1000000000000 1", 5, "p") == (1.0,) * 5
    assert time.perf_counter() - started < 0.1
    for bad, message in (("g 2", "needs a count"), ("g -1 2", "repeat count"), ("1 x", "number")):
        with pytest.raises(OfdFormatError, match=message):
            expand_deltas(bad, 5, "Content.xml")


# --- hostile input ---------------------------------------------------------------------------


def _base() -> OfdPackage:
    page = Page(210, 297, (TextObject(Box(0, 0, 10, 10), _font(), 5, "字", 0, 5),))
    return OfdPackage.read(write_ofd(Document(DocInfo("0" * 32), (page, page, page))))


def _font() -> Font:
    return embed_font(DEFAULT_FONTS[0][0], DEFAULT_FONTS[0][1], "字")


def _with(updates: dict[str, bytes]) -> bytes:
    return _base().with_files(updates).to_bytes()


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


PAGE = "Doc_0/Pages/Page_0/Content.xml"
NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'


def test_the_base_reads() -> None:
    assert len(read_ofd(_base().to_bytes()).pages) == 3


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"PK\x03\x04 not really", OfdFormatError, "not a readable OFD"),
        (_zip({"Doc_0/Document.xml": b"<x/>"}), OfdFormatError, "no OFD.xml"),
        (_zip({"OFD.xml": b"<a/>", "../../etc/cron.d/x": b"x"}), OfdFormatError, r"\.\."),
        (_zip({"OFD.xml": b"\0" * (8 << 20)}), OfdLimitExceeded, "decompression bomb"),
    ],
)
def test_hostile_packages_are_refused(data: bytes, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        read_ofd(data)


BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<ofd:Page {NS}><ofd:Content><ofd:Layer>&lol2;</ofd:Layer></ofd:Content></ofd:Page>""".encode()
EXTERNAL = f"""<?xml version="1.0"?>
<!DOCTYPE p [<!ENTITY e SYSTEM "file:///etc/passwd">]><ofd:Page {NS}>&e;</ofd:Page>""".encode()
DEEP = (
    f"<ofd:Page {NS}><ofd:Content><ofd:Layer>"
    + "<ofd:PageBlock>" * 100
    + "</ofd:PageBlock>" * 100
    + "</ofd:Layer></ofd:Content></ofd:Page>"
).encode()


def _boundary(value: str) -> bytes:
    return (
        f'<ofd:Page {NS}><ofd:Content><ofd:Layer><ofd:PathObject Boundary="{value}">'
        "<ofd:AbbreviatedData>M 0 0</ofd:AbbreviatedData></ofd:PathObject>"
        "</ofd:Layer></ofd:Content></ofd:Page>"
    ).encode()


@pytest.mark.parametrize(
    ("updates", "error", "message"),
    [
        ({PAGE: BILLION_LAUGHS}, OfdFormatError, "document type declaration|DTD"),
        ({PAGE: EXTERNAL}, OfdFormatError, "document type declaration|DTD"),
        ({PAGE: DEEP}, OfdLimitExceeded, "deeper"),
        ({PAGE: _boundary("0 0 10")}, OfdFormatError, "Page_0/Content.xml.*x y width height"),
        ({PAGE: _boundary("0 0 10 nan")}, OfdFormatError, "Page_0/Content.xml.*finite"),
        (
            {"OFD.xml": f"<ofd:OFD {NS}><ofd:DocBody><ofd:DocRoot>../../x.xml</ofd:DocRoot>"
             "</ofd:DocBody></ofd:OFD>".encode()},
            OfdFormatError,
            "leaves the package",
        ),
        ({"OFD.xml": f"<ofd:Document {NS}/>".encode()}, OfdFormatError, "not ofd:OFD"),
        ({"OFD.xml": f"<ofd:OFD {NS}><ofd:DocBody/></ofd:OFD>".encode()}, OfdFormatError,
         "DocRoot"),
    ],
)  # fmt: skip
def test_hostile_parts_are_refused_naming_them(updates: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        read_ofd(_with(updates))


def test_page_and_object_limits() -> None:
    data = _base().to_bytes()
    with pytest.raises(OfdLimitExceeded, match="more than 2 pages"):
        read_ofd(data, ReaderLimits(max_pages=2))
    with pytest.raises(OfdLimitExceeded, match="more than 2 page objects"):
        read_ofd(data, ReaderLimits(max_objects=2))


def test_many_pages_sharing_one_content_parse_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """1,999 page entries all pointing at one 1 MB page: parsed once, not 1,999 times."""
    path = "".join(f'<ofd:PathObject ID="{i}" Boundary="0 0 1 1"/>' for i in range(20))
    noise = base64.b64encode(random.Random(0).randbytes(3 << 18)).decode()  # 1 MB, incompressible
    big = f"<ofd:Page {NS}><ofd:Content><ofd:Layer>{path}</ofd:Layer></ofd:Content>"
    big += f"<!--{noise}--></ofd:Page>"
    pages = "".join(f'<ofd:Page ID="{i}" BaseLoc="Pages/Page_0/Content.xml"/>' for i in range(1999))
    document = (
        f"<ofd:Document {NS}><ofd:CommonData><ofd:MaxUnitID>1</ofd:MaxUnitID></ofd:CommonData>"
        f"<ofd:Pages>{pages}</ofd:Pages></ofd:Document>"
    )
    data = _with({PAGE: big.encode(), "Doc_0/Document.xml": document.encode()})
    parsed: list[str] = []

    def counting(content: bytes, name: str):
        parsed.append(name)
        return parse_xml(content, name)

    monkeypatch.setattr(ofd.reader, "parse_xml", counting)
    assert len(read_ofd(data).pages) == 1999
    assert parsed.count(PAGE) == 1
