"""Write an OFD package (GB/T 33190-2016) from :mod:`ofd.model`: deterministic bytes.

The package has the layout most producers use (and ofdrw reads)::

    OFD.xml                       DocBody: DocInfo (with CustomDatas), DocRoot
    Doc_0/Document.xml            CommonData (MaxUnitID, PageArea, PublicRes, DocumentRes), Pages
    Doc_0/PublicRes.xml           Fonts, each with its embedded FontFile
    Doc_0/DocumentRes.xml         MultiMedias (images)
    Doc_0/Res/font_N.ttf, image_N.png
    Doc_0/Pages/Page_N/Content.xml

Identifiers are numbered in one sequence (fonts, images, pages, layers, objects) so
``MaxUnitID`` is the last one; the same document gives the same bytes (fixed ZIP
timestamps, fixed attribute order, numbers printed to 1 µm), which is what lets a
sealed file be reproduced and compared. Signatures are added afterwards by the
signing code (``Doc_0/Signs``); nothing here knows about seals.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

from lxml import etree

from ofd.model import (
    Box,
    Colour,
    DocInfo,
    Document,
    Font,
    MultiMedia,
    Page,
    PathObject,
    TextObject,
)
from ofd.package import OfdPackage
from ofd.xml import new_root, sub_element, xml_bytes

__all__ = ["build_ofd", "circle_path", "line_path", "number", "rect_path", "write_ofd"]

_KAPPA = 4 * (math.sqrt(2) - 1) / 3
"""Control-point distance of a cubic Bézier quarter circle, per unit radius."""
_MEDIA_SUFFIX = {"PNG": "png", "JPEG": "jpg", "JPG": "jpg", "BMP": "bmp", "GIF": "gif"}


@functools.lru_cache(maxsize=8192)
def number(value: float) -> str:
    """A length as OFD files print it: up to 4 decimals, no trailing zeros, never ``-0``.

    Remembered: a page prints the same few hundred coordinates thousands of times (a QR
    code is some 360 rectangles on one grid), and formatting was a tenth of rendering."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _numbers(values: Iterable[float]) -> str:
    return " ".join(map(number, values))


def _box(box: Box) -> str:
    return _numbers((box.x, box.y, box.width, box.height))


def line_path(x1: float, y1: float, x2: float, y2: float) -> str:
    """``AbbreviatedData`` of a straight line."""
    return f"M {_numbers((x1, y1))} L {_numbers((x2, y2))}"


def rect_path(x: float, y: float, width: float, height: float) -> str:
    """``AbbreviatedData`` of a closed rectangle (a QR code is hundreds of them: each
    coordinate is formatted once)."""
    left, top, right, bottom = number(x), number(y), number(x + width), number(y + height)
    return f"M {left} {top} L {right} {top} L {right} {bottom} L {left} {bottom} C"


def circle_path(cx: float, cy: float, radius: float) -> str:
    """``AbbreviatedData`` of a circle as four cubic Béziers (every reader draws ``B``)."""
    k = radius * _KAPPA
    r = radius
    return (
        f"M {_numbers((cx + r, cy))} "
        f"B {_numbers((cx + r, cy + k, cx + k, cy + r, cx, cy + r))} "
        f"B {_numbers((cx - k, cy + r, cx - r, cy + k, cx - r, cy))} "
        f"B {_numbers((cx - r, cy - k, cx - k, cy - r, cx, cy - r))} "
        f"B {_numbers((cx + k, cy - r, cx + r, cy - k, cx + r, cy))} C"
    )


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    return sub_element(parent, tag, attrs, text)


def _colour(parent: etree._Element, tag: str, colour: Colour) -> None:
    _sub(parent, tag, Value=" ".join(str(c) for c in colour))


class _Ids:
    """One sequence for every ID in the document (OFD requires them unique)."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> str:
        self.last += 1
        return str(self.last)


def _ofd_xml(info: DocInfo) -> bytes:
    root = new_root("OFD", {"Version": "1.0", "DocType": "OFD"})
    body = _sub(root, "DocBody")
    doc_info = _sub(body, "DocInfo")
    _sub(doc_info, "DocID", info.doc_id)
    for tag, value in (("Title", info.title), ("Author", info.author), ("Subject", info.subject)):
        if value:
            _sub(doc_info, tag, value)
    if info.creation_date is not None:
        _sub(doc_info, "CreationDate", info.creation_date.isoformat())
    if info.keywords:
        keywords = _sub(doc_info, "Keywords")
        for keyword in info.keywords:
            _sub(keywords, "Keyword", keyword)
    if info.creator:
        _sub(doc_info, "Creator", info.creator)
    if info.creator_version:
        _sub(doc_info, "CreatorVersion", info.creator_version)
    if info.custom_datas:
        datas = _sub(doc_info, "CustomDatas")
        for name, value in info.custom_datas:
            _sub(datas, "CustomData", value, Name=name)
    _sub(body, "DocRoot", "Doc_0/Document.xml")
    return xml_bytes(root)


class _Resources:
    """Fonts and images met on the pages, each given an ID and a file under ``Res/``."""

    def __init__(self, ids: _Ids) -> None:
        self.ids = ids
        self.fonts: dict[Font, str] = {}
        self.media: dict[MultiMedia, str] = {}

    def font(self, font: Font) -> str:
        if font not in self.fonts:
            if font.data is None:
                raise ValueError(f"font {font.name!r} is not embedded; sealsvc embeds every font")
            self.fonts[font] = self.ids.next()
        return self.fonts[font]

    def image(self, image: MultiMedia) -> str:
        if image.format.upper() not in _MEDIA_SUFFIX:
            raise ValueError(f"image format {image.format!r} is not one OFD readers know")
        if image not in self.media:
            self.media[image] = self.ids.next()
        return self.media[image]

    def public_res(self) -> tuple[bytes, dict[str, bytes]]:
        root = new_root("Res", {"BaseLoc": "Res"})
        fonts = _sub(root, "Fonts")
        files = {}
        for font, font_id in self.fonts.items():
            element = _sub(fonts, "Font", ID=font_id, FontName=font.name, FamilyName=font.family)
            name = f"font_{font_id}.ttf"
            _sub(element, "FontFile", name)
            files[f"Doc_0/Res/{name}"] = font.data or b""
        return xml_bytes(root), files

    def document_res(self) -> tuple[bytes, dict[str, bytes]]:
        root = new_root("Res", {"BaseLoc": "Res"})
        medias = _sub(root, "MultiMedias")
        files = {}
        for image, media_id in self.media.items():
            fmt = image.format.upper()
            element = _sub(medias, "MultiMedia", ID=media_id, Type="Image", Format=fmt)
            name = f"image_{media_id}.{_MEDIA_SUFFIX[fmt]}"
            _sub(element, "MediaFile", name)
            files[f"Doc_0/Res/{name}"] = image.data
        return xml_bytes(root), files


def _content(page: Page, ids: _Ids, resources: _Resources) -> bytes:
    root = new_root("Page")
    area = _sub(root, "Area")
    _sub(area, "PhysicalBox", _numbers((0, 0, page.width, page.height)))
    content = _sub(root, "Content")
    layer = _sub(content, "Layer", ID=ids.next())
    for obj in page.objects:
        if isinstance(obj, TextObject):
            element = _sub(
                layer,
                "TextObject",
                ID=ids.next(),
                Boundary=_box(obj.boundary),
                Font=resources.font(obj.font),
                Size=number(obj.size),
            )
            if obj.fill != (0, 0, 0):
                _colour(element, "FillColor", obj.fill)
            attrs = {"X": number(obj.x), "Y": number(obj.y)}
            if obj.delta_x:
                attrs["DeltaX"] = _numbers(obj.delta_x)
            _sub(element, "TextCode", obj.text, **attrs)
        elif isinstance(obj, PathObject):
            attrs = {"ID": ids.next(), "Boundary": _box(obj.boundary)}
            attrs["LineWidth"] = number(obj.line_width)
            attrs["Stroke"] = "true" if obj.stroke is not None else "false"
            attrs["Fill"] = "true" if obj.fill is not None else "false"
            element = _sub(layer, "PathObject", **attrs)
            if obj.stroke is not None:
                _colour(element, "StrokeColor", obj.stroke)
            if obj.fill is not None:
                _colour(element, "FillColor", obj.fill)
            _sub(element, "AbbreviatedData", obj.data)
        else:
            box = obj.boundary
            _sub(
                layer,
                "ImageObject",
                ID=ids.next(),
                Boundary=_box(box),
                CTM=_numbers((box.width, 0, 0, box.height, 0, 0)),
                ResourceID=resources.image(obj.image),
            )
    return xml_bytes(root)


def write_ofd(document: Document) -> bytes:
    """The OFD package of ``document`` (unsigned), as ZIP bytes (:func:`build_ofd`'s)."""
    return build_ofd(document).to_bytes()


def build_ofd(document: Document) -> OfdPackage:
    """The OFD package of ``document`` (unsigned), as the files it holds.

    What a caller that goes on to seal the document takes: signing it needs the files,
    which the ZIP bytes would only have to be decompressed into again.

    Raises ValueError for what OFD cannot carry as given: a font without its file, an
    image format readers do not know, a document without pages.
    """
    if not document.pages:
        raise ValueError("an OFD document needs at least one page")
    ids = _Ids()
    resources = _Resources(ids)
    page_ids = [ids.next() for _ in document.pages]
    contents = [_content(page, ids, resources) for page in document.pages]
    public_res, font_files = resources.public_res()
    document_res, media_files = resources.document_res()
    parts = {}
    if resources.fonts:
        parts["Doc_0/PublicRes.xml"] = public_res
    if resources.media:
        parts["Doc_0/DocumentRes.xml"] = document_res

    root = new_root("Document")
    common = _sub(root, "CommonData")
    _sub(common, "MaxUnitID", str(ids.last))
    area = _sub(common, "PageArea")
    first = document.pages[0]
    _sub(area, "PhysicalBox", _numbers((0, 0, first.width, first.height)))
    for part in parts:
        _sub(common, part.removeprefix("Doc_0/").removesuffix(".xml"), part.removeprefix("Doc_0/"))
    pages = _sub(root, "Pages")
    for index, page_id in enumerate(page_ids):
        _sub(pages, "Page", ID=page_id, BaseLoc=f"Pages/Page_{index}/Content.xml")

    files = {
        "OFD.xml": _ofd_xml(document.info),
        "Doc_0/Document.xml": xml_bytes(root),
        **parts,
        **font_files,
        **media_files,
    }
    for index, content in enumerate(contents):
        files[f"Doc_0/Pages/Page_{index}/Content.xml"] = content
    return OfdPackage.from_files(files)
