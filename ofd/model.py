"""The parts of an OFD document (GB/T 33190-2016) that sealsvc writes and reads.

A deliberately small model: one document, its ``DocInfo``, pages of text, path and image
objects, embedded fonts and images. The writer (:mod:`ofd.writer`) turns it into a
package and the reader (:mod:`ofd.reader`) gives it back from ours and others' files, so
a round trip can be compared field by field.

Units are OFD's: millimetres, origin at the page's upper-left corner, y growing
downwards; colours are RGB triples 0-255 (OFD's default colour space). Nothing here
knows about seals or licences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ofd.signatures import SignatureEntry

__all__ = [
    "Box",
    "Colour",
    "DocInfo",
    "Document",
    "Font",
    "ImageObject",
    "MultiMedia",
    "Page",
    "PageObject",
    "PathObject",
    "TextObject",
]

Colour = tuple[int, int, int]


@dataclass(frozen=True)
class Box:
    """A rectangle ``x y width height`` in millimetres (OFD's ``ST_Box``)."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Font:
    """A font resource. ``data`` is the embedded TrueType file, or None when the document
    relies on the reader having a font of that name (others' files often do; ours never)."""

    name: str
    family: str
    data: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class MultiMedia:
    """An image resource: ``format`` as OFD spells it (``PNG``, ``JPEG``…) and the file."""

    format: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class TextObject:
    """One ``TextCode`` of a ``TextObject``: a line of text in one font and size.

    ``x``/``y`` place the first character's origin (on the baseline) relative to the
    boundary's corner; ``delta_x`` gives the distance from each character to the next
    (``len(text) - 1`` values, already expanded from OFD's ``g`` shorthand).
    """

    boundary: Box
    font: Font
    size: float
    """Font size in millimetres (OFD sizes are lengths, not points)."""
    text: str
    x: float
    y: float
    delta_x: tuple[float, ...] = ()
    fill: Colour = (0, 0, 0)


@dataclass(frozen=True)
class PathObject:
    """Vector graphics: ``data`` is OFD's ``AbbreviatedData`` (``M x y L x y B … C``),
    coordinates relative to the boundary's corner. ``stroke``/``fill`` None = not painted."""

    boundary: Box
    data: str
    line_width: float = 0.353
    """Millimetres; OFD's default is 0.353 mm (1 pt)."""
    stroke: Colour | None = (0, 0, 0)
    fill: Colour | None = None


@dataclass(frozen=True)
class ImageObject:
    """An image filling its boundary (CTM ``width 0 0 height 0 0``)."""

    boundary: Box
    image: MultiMedia


PageObject = TextObject | PathObject | ImageObject


@dataclass(frozen=True)
class Page:
    width: float
    height: float
    objects: tuple[PageObject, ...] = ()


@dataclass(frozen=True)
class DocInfo:
    """``OFD.xml``'s ``DocInfo``; ``custom_datas`` keep their order (name, value)."""

    doc_id: str
    """32 hexadecimal digits (a UUID without dashes), as OFD producers write it."""
    title: str = ""
    author: str = ""
    subject: str = ""
    creation_date: date | None = None
    keywords: tuple[str, ...] = ()
    creator: str = ""
    creator_version: str = ""
    custom_datas: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Document:
    info: DocInfo
    pages: tuple[Page, ...]
    signatures: tuple[SignatureEntry, ...] = ()
    """Filled by the reader (:func:`ofd.signatures.read_signatures`); the writer writes
    unsigned documents (:func:`ofd.signatures.add_signature` adds them)."""
    warnings: tuple[str, ...] = ()
    """What the reader could not find (a resource file named but absent, an unknown
    template): others' files have such gaps, and a verifier should say so, not crash."""
