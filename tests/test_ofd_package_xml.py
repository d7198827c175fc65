"""ofd/xml.py: OFD parts parse in both namespaces; entities, DTDs, depth and size are refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ofd.errors import OfdFormatError, OfdLimitExceeded
from ofd.package import OfdPackage
from ofd.xml import (
    LEGACY_OFD_NS,
    OFD_NS,
    XmlLimits,
    child,
    child_text,
    children,
    new_root,
    ofd_tag,
    parse_xml,
    sub_element,
    xml_bytes,
)

SAMPLES = Path(__file__).parent / "data" / "ofd-samples"


def _doc_root(sample: str) -> str | None:
    package = OfdPackage.read((SAMPLES / f"{sample}.ofd").read_bytes())
    root = parse_xml(package["OFD.xml"], "OFD.xml")
    assert root.tag == ofd_tag("OFD")
    return child_text(child(root, "DocBody"), "DocRoot")


def test_standard_and_legacy_namespaces_read_alike() -> None:
    legacy = (SAMPLES / "testImageNotFound.ofd").read_bytes()
    assert LEGACY_OFD_NS.encode() + b'"' in OfdPackage.read(legacy)["OFD.xml"]
    assert _doc_root("testImageNotFound") == "Doc_0/Document_0.xml"
    assert _doc_root("v4signed") == "Doc_0/Document.xml"
    assert _doc_root("n") == "/Doc_0/Document.xml"


def test_legacy_namespace_is_renamed_in_every_element() -> None:
    xml = (
        f'<a:OFD xmlns:a="{LEGACY_OFD_NS}"><a:DocBody><a:DocRoot>x</a:DocRoot></a:DocBody></a:OFD>'
    )
    root = parse_xml(xml.encode(), "OFD.xml")
    assert [e.tag for e in root.iter()] == [ofd_tag("OFD"), ofd_tag("DocBody"), ofd_tag("DocRoot")]


def test_a_legacy_tree_is_written_in_the_standard_namespace() -> None:
    xml = f'<ofd:OFD xmlns:ofd="{LEGACY_OFD_NS}" V="1"><ofd:DocBody>t</ofd:DocBody></ofd:OFD>'
    root = parse_xml(xml.encode(), "OFD.xml")
    written = xml_bytes(root)
    assert written.endswith(
        f'<ofd:OFD xmlns:ofd="{OFD_NS}" V="1"><ofd:DocBody>t</ofd:DocBody></ofd:OFD>'.encode()
    )
    assert child_text(root, "DocBody") == "t"  # the parsed tree is left as it was
    assert parse_xml(written, "OFD.xml").nsmap == {"ofd": OFD_NS}


def test_elements_in_other_namespaces_are_left_alone() -> None:
    root = parse_xml(b'<OFD xmlns="urn:other"><DocBody/></OFD>', "OFD.xml")
    assert root.tag == "{urn:other}OFD"
    assert child(root, "DocBody") is None


def test_lookup_helpers() -> None:
    root = parse_xml(
        f'<ofd:R xmlns:ofd="{OFD_NS}"><ofd:A> one </ofd:A><ofd:A>two</ofd:A><ofd:B/>'
        "<!-- comment --><?pi x?></ofd:R>".encode(),
        "x.xml",
    )
    assert child_text(root, "A") == "one"
    assert [a.text for a in children(root, "A")] == [" one ", "two"]
    assert child_text(root, "B") is None and child_text(root, "C") is None


def test_built_tree_serialises_reproducibly_and_parses_back() -> None:
    def build() -> bytes:
        root = new_root("Signatures")
        sub_element(root, "MaxSignId", text="2")
        sub_element(root, "Signature", {"ID": "1", "Type": "Seal", "BaseLoc": "/a/b.xml"})
        return xml_bytes(root)

    data = build()
    assert data == build()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signatures xmlns:ofd=')
    parsed = parse_xml(data, "Signatures.xml")
    assert child_text(parsed, "MaxSignId") == "2"
    assert child(parsed, "Signature").attrib == {"ID": "1", "Type": "Seal", "BaseLoc": "/a/b.xml"}
    assert xml_bytes(parsed) == data


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<lolz>&lol4;</lolz>"""


@pytest.mark.parametrize(
    "data",
    [
        BILLION_LAUGHS,
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>',
        b'<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><r/>',
        b"<!DOCTYPE r><r/>",
    ],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity", "doctype"],
)
def test_document_type_declarations_are_refused(data: bytes) -> None:
    with pytest.raises(OfdFormatError, match=re.escape("Doc_0/x.xml: ")) as info:
        parse_xml(data, "Doc_0/x.xml")
    assert "root:" not in str(info.value)  # nothing of /etc/passwd leaks into the message


def test_undeclared_entity_is_not_well_formed() -> None:
    with pytest.raises(OfdFormatError, match=re.escape("x.xml: not well-formed XML")):
        parse_xml(b"<r>&x;</r>", "x.xml")


@pytest.mark.parametrize("data", [b"", b"<r>", b"<r></s>", b"not xml", b"\xff\xfe<r/>"])
def test_malformed_xml_is_a_format_error(data: bytes) -> None:
    with pytest.raises(OfdFormatError, match=re.escape("Doc_0/Document.xml: not well-formed XML")):
        parse_xml(data, "Doc_0/Document.xml")


def test_depth_limit_stops_deep_nesting() -> None:
    deep = b"<a>" * 100 + b"</a>" * 100
    with pytest.raises(OfdLimitExceeded, match="nested deeper than 64 levels"):
        parse_xml(deep, "p.xml")
    assert parse_xml(deep, "p.xml", XmlLimits(max_depth=100)).tag == "a"
    with pytest.raises(OfdLimitExceeded, match="nested deeper than 99 levels"):
        parse_xml(deep, "p.xml", XmlLimits(max_depth=99))


def test_deeper_than_libxml2_allows_is_still_a_clear_error() -> None:
    deep = b"<a>" * 10_000 + b"</a>" * 10_000
    with pytest.raises(OfdFormatError, match=re.escape("p.xml: ")):
        parse_xml(deep, "p.xml", XmlLimits(max_depth=1_000_000))


def test_element_count_and_size_limits() -> None:
    wide = b"<r>" + b"<e/>" * 1000 + b"</r>"
    assert len(parse_xml(wide, "w.xml")) == 1000
    with pytest.raises(OfdLimitExceeded, match="more than 500 elements"):
        parse_xml(wide, "w.xml", XmlLimits(max_elements=500))
    with pytest.raises(
        OfdLimitExceeded, match=re.escape("w.xml: XML part is 4007 bytes, more than the")
    ):
        parse_xml(wide, "w.xml", XmlLimits(max_bytes=4000))
