"""Hardened XML for OFD parts: parse untrusted XML within limits, build and serialise ours.

Every XML part of an OFD package (``OFD.xml``, ``Document.xml``, pages, ``Signature.xml``…)
is parsed here and nowhere else, with lxml configured for hostile input: no DTD loading, no
entity substitution (so neither the "billion laughs" expansion nor external entities reading
local files or the network), no network access at all, libxml2's own "huge tree" safety
limits left on, and a document type declaration refused outright — OFD never uses one.  On
top of that :class:`XmlLimits` bounds the bytes, the nesting depth and the number of elements,
checked while parsing so a hostile part is dropped as soon as it crosses a limit.

GB/T 33190 puts every element in the namespace ``http://www.ofdspec.org/2016``; some
producers write ``http://www.ofdspec.org`` instead (one of the third-party samples in
tests/data/ofd-samples does).  :func:`parse_xml` renames the latter to the former, so the rest
of the code looks elements up in one namespace (:func:`ofd_tag`) and reads both alike.
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass

from lxml import etree

from ofd.errors import OfdFormatError, OfdLimitExceeded

__all__ = [
    "DEFAULT_XML_LIMITS",
    "LEGACY_OFD_NS",
    "OFD_NS",
    "XmlLimits",
    "child",
    "child_text",
    "children",
    "new_root",
    "ofd_tag",
    "parse_xml",
    "sub_element",
    "xml_bytes",
]

OFD_NS = "http://www.ofdspec.org/2016"
"""The namespace of GB/T 33190-2016."""
LEGACY_OFD_NS = "http://www.ofdspec.org"
"""A namespace some producers write instead; read as :data:`OFD_NS`."""

_OFD_PREFIX = "{" + OFD_NS + "}"
_LEGACY_PREFIX = "{" + LEGACY_OFD_NS + "}"
_MiB = 1024 * 1024


@dataclass(frozen=True)
class XmlLimits:
    """Bounds on one XML part.

    The largest part in the third-party samples is a 143 KB page template with a nesting
    depth under 10; the defaults leave ample room and keep one parse to tens of MB.
    """

    max_bytes: int = 16 * _MiB
    """Size of the XML text."""
    max_depth: int = 64
    """Element nesting (the root element is depth 1)."""
    max_elements: int = 200_000
    """Elements in the whole document."""


DEFAULT_XML_LIMITS = XmlLimits()


def _parse_events(data: bytes, name: str, limits: XmlLimits) -> etree._Element:
    """Parse with lxml's iterparse so depth and element count are checked as elements open."""
    events = etree.iterparse(
        io.BytesIO(data),
        events=("start", "end"),
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_blank_text=False,
    )
    depth = 0
    count = 0
    for event, _element in events:
        if event == "end":
            depth -= 1
            continue
        depth += 1
        count += 1
        if depth > limits.max_depth:
            raise OfdLimitExceeded(f"{name}: XML nested deeper than {limits.max_depth} levels")
        if count > limits.max_elements:
            raise OfdLimitExceeded(f"{name}: XML has more than {limits.max_elements} elements")
    return events.root


def parse_xml(data: bytes, name: str, limits: XmlLimits = DEFAULT_XML_LIMITS) -> etree._Element:
    """Parse one XML part of an OFD package; return its root element.

    ``name`` is the part's package path, used in error messages.  Raises
    :class:`OfdLimitExceeded` past ``limits`` and :class:`OfdFormatError` for XML that is not
    well-formed or declares a document type.  Elements in :data:`LEGACY_OFD_NS` come back in
    :data:`OFD_NS` (serialising the tree again writes the standard namespace).
    """
    if len(data) > limits.max_bytes:
        raise OfdLimitExceeded(
            f"{name}: XML part is {len(data)} bytes, more than the limit of {limits.max_bytes}"
        )
    try:
        root = _parse_events(data, name, limits)
    except etree.XMLSyntaxError as exc:
        raise OfdFormatError(f"{name}: not well-formed XML ({exc.msg})") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise OfdFormatError(f"{name}: XML with a document type declaration (DTD) is refused")
    for element in root.iter():
        # Comments and processing instructions have a function as their tag.
        if isinstance(element.tag, str) and element.tag.startswith(_LEGACY_PREFIX):
            element.tag = _OFD_PREFIX + element.tag[len(_LEGACY_PREFIX) :]
    return root


def ofd_tag(local: str) -> str:
    """The Clark name ``{http://www.ofdspec.org/2016}local`` of an OFD element."""
    return _OFD_PREFIX + local


def child(parent: etree._Element, local: str) -> etree._Element | None:
    """The first OFD child element named ``local``, or ``None``."""
    return parent.find(_OFD_PREFIX + local)


def children(parent: etree._Element, local: str) -> list[etree._Element]:
    """All OFD child elements named ``local``, in document order."""
    return parent.findall(_OFD_PREFIX + local)


def child_text(parent: etree._Element, local: str) -> str | None:
    """The stripped text of the first OFD child named ``local``; ``None`` if absent or empty."""
    found = parent.find(_OFD_PREFIX + local)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def new_root(local: str, attrib: dict[str, str] | None = None) -> etree._Element:
    """A new root element in :data:`OFD_NS` with the customary ``ofd:`` prefix."""
    return etree.Element(_OFD_PREFIX + local, attrib or {}, nsmap={"ofd": OFD_NS})


def sub_element(
    parent: etree._Element,
    local: str,
    attrib: dict[str, str] | None = None,
    text: str | None = None,
) -> etree._Element:
    """Append an OFD element ``local`` to ``parent`` (attributes unqualified, as OFD has them)."""
    element = etree.SubElement(parent, _OFD_PREFIX + local, attrib or {})
    if text is not None:
        element.text = text
    return element


def xml_bytes(root: etree._Element) -> bytes:
    """Serialise ``root`` as UTF-8 with an XML declaration; the same tree gives the same bytes.

    A tree parsed from the legacy namespace keeps that namespace's declaration, which lxml
    cannot change in place; it is moved under a root declaring ``ofd:`` as :data:`OFD_NS`
    (and the unused legacy declaration dropped), so what we write is always standard OFD.
    """
    if LEGACY_OFD_NS in root.nsmap.values():
        fresh = etree.Element(root.tag, root.attrib, nsmap={"ofd": OFD_NS})
        fresh.text = root.text
        fresh.extend(copy.deepcopy(element) for element in root)
        etree.cleanup_namespaces(fresh)
        root = fresh
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(
        root, encoding="UTF-8", xml_declaration=False
    )
