"""The simple properties of an XMP packet, by (namespace, name), in both RDF spellings.

XMP writers put a property either as an attribute of ``rdf:Description`` (pyHanko rewrites
the packet so when it seals) or as a child element, whose value may be a language
alternative or an array (``dc:title``, ``dc:creator``): the first entry is its value
here.  Structures nested deeper (the PDF/A extension schema's descriptions) are not
properties of the document and are skipped.

Why not pyHanko's XMP parser: it models every structure and costs ~2 ms a packet, most
of a record's budget in a batch of thousands; this reads what the checks compare.
The parser refuses entities and network access: a packet is the uploader's to write.
"""

from __future__ import annotations

from lxml import etree

__all__ = ["XmpError", "simple_properties"]

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_DESCRIPTION = f"{{{_RDF}}}Description"
_LI = f"{{{_RDF}}}li"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class XmpError(ValueError):
    """The packet is not well-formed XML."""


def simple_properties(packet: bytes) -> dict[tuple[str, str], str]:
    try:
        root = etree.fromstring(packet, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XmpError(f"XMP 元数据不是合法的 XML：{exc}") from None
    found: dict[tuple[str, str], str] = {}
    for description in root.iter(_DESCRIPTION):
        if description.getparent() is None or description.getparent().tag != f"{{{_RDF}}}RDF":
            continue  # a structure's description, not the document's
        for name, value in description.attrib.items():
            qname = etree.QName(name)
            if qname.namespace and qname.namespace != _RDF:
                found.setdefault((qname.namespace, qname.localname), value)
        for child in description:
            if not isinstance(child.tag, str):
                continue
            qname = etree.QName(child)
            first = next(child.iter(_LI), None)
            value = (first.text if first is not None else child.text) or ""
            found.setdefault((qname.namespace or "", qname.localname), value.strip())
    return found
