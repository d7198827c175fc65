"""Read an OFD package (ours and others') into :mod:`ofd.model`: pages, text, images, signatures.

Everything goes through the hardened layer first — :class:`ofd.package.OfdPackage` (ZIP
limits, names, traversal) and :func:`ofd.xml.parse_xml` (no DTDs or entities, size, depth
and element limits) — and this module adds the limits only a reader of pages can apply
(:class:`ReaderLimits`): how many pages and objects, how far ``DeltaX``'s ``g`` shorthand
may expand. Input beyond them, or numbers that are not numbers, end in a clear
:class:`~ofd.errors.OfdFormatError` naming the part.

Others' files reference things that are not there (a ``PublicRes.xml`` never written, an
image file missing — one of the third-party samples is named after that); such a gap is
reported in :attr:`ofd.model.Document.warnings`` instead of failing the whole read, so a
verifier can still check the signatures of such a file and say what is missing.

Read as OFD defines them: the first document of ``OFD.xml``; per page, its template pages
(``Template`` references, background first), then its layers in order, ``PageBlock``\\ s
flattened; one :class:`~ofd.model.TextObject` per ``TextCode``. Not interpreted: ``CTM``
transforms, clips, draw parameters, annotations (seals' appearances are signatures, listed
in :attr:`~ofd.model.Document.signatures`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import date

from lxml import etree

from ofd.errors import OfdFormatError, OfdLimitExceeded
from ofd.model import (
    Box,
    Colour,
    DocInfo,
    Document,
    Font,
    ImageObject,
    MultiMedia,
    Page,
    PageObject,
    PathObject,
    TextObject,
)
from ofd.package import DEFAULT_LIMITS, OfdPackage, PackageLimits, resolve_loc
from ofd.signatures import read_signatures
from ofd.xml import child, child_text, children, ofd_tag, parse_xml

__all__ = ["DEFAULT_READER_LIMITS", "ReaderLimits", "read_ofd", "read_package"]

_DEFAULT_BOX = Box(0.0, 0.0, 210.0, 297.0)
"""A4, for documents that give no page size at all."""


@dataclass(frozen=True)
class ReaderLimits:
    """Bounds on what one document may make the reader build (beyond the package's)."""

    max_pages: int = 2_000
    max_objects: int = 500_000
    """Page objects over all pages (template objects count on every page that uses them)."""


DEFAULT_READER_LIMITS = ReaderLimits()


def _float(text: str | None, part: str, what: str, default: float | None = None) -> float:
    if text is None or not text.strip():
        if default is None:
            raise OfdFormatError(f"{part}: {what} is missing")
        return default
    try:
        value = float(text)
    except ValueError:
        raise OfdFormatError(f"{part}: {what} {text[:40]!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise OfdFormatError(f"{part}: {what} {text[:40]!r} is not a finite number")
    return value


def _box(text: str | None, part: str, what: str) -> Box:
    values = (text or "").split()
    if len(values) != 4:
        raise OfdFormatError(f"{part}: {what} {str(text)[:60]!r} is not 'x y width height'")
    x, y, w, h = (_float(v, part, what) for v in values)
    return Box(x, y, w, h)


def _component(value: str) -> int:
    """A colour component: decimal, or ``#hh`` hexadecimal (GB/T 33190 allows both)."""
    number = int(value[1:], 16) if value.startswith("#") else int(float(value))
    return max(0, min(number, 255))


def _colour(element: etree._Element | None) -> Colour | None:
    """An RGB ``Value``; None when absent, unreadable or in another colour space.

    Colour is not interpreted further (colour spaces, patterns): a wrong colour does not
    make a document unreadable, so it is not an error either.
    """
    if element is None:
        return None
    values = (element.get("Value") or "").split()
    if len(values) != 3:
        return None
    try:
        red, green, blue = (_component(v) for v in values)
    except ValueError:
        return None
    return (red, green, blue)


def expand_deltas(text: str | None, count: int, part: str) -> tuple[float, ...]:
    """``DeltaX``/``DeltaY`` values, with ``g N d`` (N times d) expanded, at most ``count``.

    The cap is what keeps ``g 1000000000 1`` from allocating a billion floats: a reader
    needs one value per character gap and no more.
    """
    if not text:
        return ()
    tokens = text.split()
    values: list[float] = []
    index = 0
    while index < len(tokens) and len(values) < count:
        if tokens[index] == "g":
            if index + 2 >= len(tokens):
                raise OfdFormatError(f"{part}: 'g' in a delta list needs a count and a value")
            repeat = _float(tokens[index + 1], part, "delta repeat count")
            if repeat < 0 or repeat != int(repeat):
                raise OfdFormatError(f"{part}: delta repeat count {tokens[index + 1]!r}")
            value = _float(tokens[index + 2], part, "delta")
            values.extend([value] * min(int(repeat), count - len(values)))
            index += 3
        else:
            values.append(_float(tokens[index], part, "delta"))
            index += 1
    return tuple(values)


@dataclass
class _Reader:
    package: OfdPackage
    limits: ReaderLimits
    warnings: list[str] = field(default_factory=list)
    fonts: dict[str, Font] = field(default_factory=dict)
    media: dict[str, MultiMedia] = field(default_factory=dict)
    objects: int = 0
    _parsed: dict[str, etree._Element] = field(default_factory=dict)
    _folded: dict[str, str] | None = None

    def find(self, path: str) -> str | None:
        """``path`` as stored: producers on Windows write ``TPLS/`` for ``Tpls/`` and their
        readers find it; the package refuses names differing only in case, so a
        case-insensitive match is unambiguous."""
        if path in self.package:
            return path
        if self._folded is None:
            self._folded = {p.casefold(): p for p in self.package}
        return self._folded.get(path.casefold())

    def xml(self, path: str) -> etree._Element:
        """Each part parsed once, however many pages point at it."""
        stored = self.find(path) or path
        if stored not in self._parsed:
            self._parsed[stored] = parse_xml(self.package.file(stored), stored)
        return self._parsed[stored]

    def data(self, path: str) -> bytes | None:
        stored = self.find(path)
        return self.package[stored] if stored is not None else None

    def optional_xml(self, path: str, referrer: str) -> etree._Element | None:
        if self.find(path) is None:
            self.warnings.append(f"{referrer} refers to {path}, which is not in the package")
            return None
        return self.xml(path)

    # --- resources ---------------------------------------------------------------------

    def resources(self, res_path: str) -> None:
        root = self.optional_xml(res_path, "Document.xml")
        if root is None:
            return
        # Files are named relative to BaseLoc, itself relative to this file's folder.
        base_loc = (root.get("BaseLoc") or "").strip()
        base = res_path if base_loc in ("", ".") else resolve_loc(res_path, base_loc) + "/_"
        for fonts in children(root, "Fonts"):
            for font in children(fonts, "Font"):
                font_id = font.get("ID") or ""
                data = None
                font_file = child_text(font, "FontFile")
                if font_file:
                    path = resolve_loc(base, font_file)
                    data = self.data(path)
                    if data is None:
                        self.warnings.append(f"font {font_id}: {path} is not in the package")
                name = font.get("FontName") or ""
                self.fonts[font_id] = Font(name, font.get("FamilyName") or name, data)
        for medias in children(root, "MultiMedias"):
            for media in children(medias, "MultiMedia"):
                media_id = media.get("ID") or ""
                media_file = child_text(media, "MediaFile")
                where = resolve_loc(base, media_file) if media_file else None
                data = self.data(where) if where else None
                if data is None:
                    self.warnings.append(f"image {media_id}: {where or 'no file'} is not there")
                    continue
                fmt = media.get("Format") or (where or "").rsplit(".", 1)[-1]
                self.media[media_id] = MultiMedia(fmt.upper(), data)

    # --- pages -------------------------------------------------------------------------

    def count(self, part: str) -> None:
        self.objects += 1
        if self.objects > self.limits.max_objects:
            raise OfdLimitExceeded(
                f"{part}: more than {self.limits.max_objects} page objects in the document"
            )

    def text(self, element: etree._Element, part: str) -> list[TextObject]:
        boundary = _box(element.get("Boundary"), part, "TextObject Boundary")
        font_id = element.get("Font") or ""
        font = self.fonts.get(font_id) or Font(f"(font {font_id} not declared)", "", None)
        size = _float(element.get("Size"), part, "TextObject Size")
        fill = _colour(child(element, "FillColor")) or (0, 0, 0)
        found = []
        x = y = 0.0
        for code in children(element, "TextCode"):
            self.count(part)
            text = code.text or ""
            # X and Y may be left out on later TextCodes: they continue where the last one was.
            x = _float(code.get("X"), part, "TextCode X", x)
            y = _float(code.get("Y"), part, "TextCode Y", y)
            deltas = expand_deltas(code.get("DeltaX"), max(len(text) - 1, 0), part)
            found.append(TextObject(boundary, font, size, text, x, y, deltas, fill))
        return found

    def path(self, element: etree._Element, part: str) -> PathObject:
        self.count(part)
        stroke = element.get("Stroke", "true") != "false"
        fill = element.get("Fill", "false") == "true"
        return PathObject(
            boundary=_box(element.get("Boundary"), part, "PathObject Boundary"),
            data=(child_text(element, "AbbreviatedData") or ""),
            line_width=_float(element.get("LineWidth"), part, "LineWidth", 0.353),
            stroke=(_colour(child(element, "StrokeColor")) or (0, 0, 0)) if stroke else None,
            fill=(_colour(child(element, "FillColor")) or (0, 0, 0)) if fill else None,
        )

    def image(self, element: etree._Element, part: str) -> ImageObject | None:
        self.count(part)
        resource = element.get("ResourceID") or ""
        media = self.media.get(resource)
        if media is None:
            self.warnings.append(f"{part}: image object uses resource {resource}, not available")
            return None
        return ImageObject(_box(element.get("Boundary"), part, "ImageObject Boundary"), media)

    def block(self, parent: etree._Element, part: str) -> list[PageObject]:
        objects: list[PageObject] = []
        for element in parent:
            if element.tag == ofd_tag("TextObject"):
                objects.extend(self.text(element, part))
            elif element.tag == ofd_tag("PathObject"):
                objects.append(self.path(element, part))
            elif element.tag == ofd_tag("ImageObject"):
                image = self.image(element, part)
                if image is not None:
                    objects.append(image)
            elif element.tag == ofd_tag("PageBlock"):
                objects.extend(self.block(element, part))
        return objects

    def content(self, path: str) -> list[PageObject]:
        root = self.xml(path)
        objects: list[PageObject] = []
        content = child(root, "Content")
        for layer in children(content, "Layer") if content is not None else []:
            objects.extend(self.block(layer, path))
        return objects

    def page(self, path: str, default: Box, templates: dict[str, str]) -> Page:
        root = self.xml(path)
        area = child(root, "Area")
        box_text = child_text(area, "PhysicalBox") if area is not None else None
        box = _box(box_text, path, "PhysicalBox") if box_text else default
        objects: list[PageObject] = []
        for template in children(root, "Template"):
            template_path = templates.get(template.get("TemplateID") or "")
            if template_path is None:
                self.warnings.append(f"{path}: template {template.get('TemplateID')} unknown")
            elif self.optional_xml(template_path, path) is not None:
                objects.extend(self.content(template_path))
        objects.extend(self.content(path))
        return Page(box.width, box.height, tuple(objects))


def _doc_info(element: etree._Element | None) -> DocInfo:
    if element is None:
        return DocInfo(doc_id="")
    created = None
    with contextlib.suppress(ValueError, TypeError):
        created = date.fromisoformat((child_text(element, "CreationDate") or "")[:10])
    keywords = child(element, "Keywords")
    customs = child(element, "CustomDatas")
    return DocInfo(
        doc_id=child_text(element, "DocID") or "",
        title=child_text(element, "Title") or "",
        author=child_text(element, "Author") or "",
        subject=child_text(element, "Subject") or "",
        creation_date=created,
        keywords=tuple(
            k.text.strip() for k in children(keywords, "Keyword") if k.text and k.text.strip()
        )
        if keywords is not None
        else (),
        creator=child_text(element, "Creator") or "",
        creator_version=child_text(element, "CreatorVersion") or "",
        custom_datas=tuple(
            (c.get("Name") or "", c.text or "") for c in children(customs, "CustomData")
        )
        if customs is not None
        else (),
    )


def read_package(package: OfdPackage, limits: ReaderLimits = DEFAULT_READER_LIMITS) -> Document:
    """The first document of an already-opened package (see the module docstring)."""
    root = parse_xml(package.file("OFD.xml"), "OFD.xml")
    if root.tag != ofd_tag("OFD"):
        raise OfdFormatError("OFD.xml: the root element is not ofd:OFD")
    body = child(root, "DocBody")
    doc_root = child_text(body, "DocRoot") if body is not None else None
    if body is None or doc_root is None:
        raise OfdFormatError("OFD.xml: no DocBody with a DocRoot")
    reader = _Reader(package, limits)
    document_path = resolve_loc("OFD.xml", doc_root)
    document = reader.xml(document_path)
    common = child(document, "CommonData")
    if common is None:
        raise OfdFormatError(f"{document_path}: no CommonData")
    area = child(common, "PageArea")
    box_text = child_text(area, "PhysicalBox") if area is not None else None
    default = _box(box_text, document_path, "PhysicalBox") if box_text else _DEFAULT_BOX
    for tag in ("PublicRes", "DocumentRes"):
        for res in children(common, tag):
            if res.text and res.text.strip():
                reader.resources(resolve_loc(document_path, res.text))
    templates = {
        t.get("ID") or "": resolve_loc(document_path, t.get("BaseLoc") or "")
        for t in children(common, "TemplatePage")
    }
    pages_element = child(document, "Pages")
    page_refs = children(pages_element, "Page") if pages_element is not None else []
    if len(page_refs) > limits.max_pages:
        raise OfdLimitExceeded(f"{document_path}: more than {limits.max_pages} pages")
    pages = tuple(
        reader.page(resolve_loc(document_path, ref.get("BaseLoc") or ""), default, templates)
        for ref in page_refs
    )
    return Document(
        info=_doc_info(child(body, "DocInfo")),
        pages=pages,
        signatures=read_signatures(package).entries,
        warnings=tuple(reader.warnings),
    )


def read_ofd(
    data: bytes,
    limits: ReaderLimits = DEFAULT_READER_LIMITS,
    package_limits: PackageLimits = DEFAULT_LIMITS,
) -> Document:
    """Parse the bytes of an OFD file; :class:`OfdFormatError` if it is not a usable one."""
    return read_package(OfdPackage.read(data, package_limits), limits)
