"""``metadata/metadata.xml`` of a package: what the record is, in the fields archives index by.

For a licence, the GB/T 36903 elements under their Chinese names (the same record the
licence's XMP or ``CustomDatas`` carries, :mod:`sealsvc.licences.metadata`); for any record
the DA/T 46-style description an archive needs to keep it: title, format and its
standard, creator (the producing software and the sealing bodies), dates, and the
document's digests.  Element names are English, values as the standards spell them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lxml import etree

from sealsvc import __version__
from sealsvc.licences.metadata import LicenceMetadata

__all__ = ["NAMESPACE", "metadata_xml"]

NAMESPACE = "urn:sealsvc:ns:archive-metadata:1"
_TAG = "{" + NAMESPACE + "}"

FORMATS = {
    "pdf": (
        "application/pdf",
        "PDF/A-2b (ISO 19005-2, GB/T 23286) with PAdES seals (ETSI EN 319 142)",
    ),
    "ofd": ("application/ofd", "OFD (GB/T 33190-2016) with GB/T 38540 electronic seals"),
}


def metadata_xml(
    *,
    title: str,
    file_format: str,
    file_name: str,
    digests: Mapping[str, str],
    signers: Sequence[str],
    dates: Mapping[str, str],
    licence: LicenceMetadata | None,
) -> bytes:
    """The XML described in the module docstring; ``dates`` e.g. issued, sealed, exported."""
    root = etree.Element(_TAG + "record", {"version": "1"}, nsmap={None: NAMESPACE})

    def add(
        parent: etree._Element, tag: str, text: str | None = None, **attrib: str
    ) -> etree._Element:
        element = etree.SubElement(parent, _TAG + tag, attrib)
        element.text = text
        return element

    add(root, "title", title)
    media_type, description = FORMATS[file_format]
    add(root, "format", description, mediaType=media_type, file=file_name)
    creator = add(root, "creator")
    add(creator, "software", f"sealsvc {__version__}")
    for signer in signers:
        add(creator, "sealedBy", signer)
    when = add(root, "dates")
    for name, value in dates.items():
        add(when, "date", value, event=name)
    fixity = add(root, "fixity")
    for algorithm, value in digests.items():
        add(fixity, "digest", value, algorithm=algorithm)
    if licence is not None:
        element = add(root, "licence", standard="GB/T 36903-2018")
        for (chinese, value), key in zip(licence.pairs(), licence.as_dict(), strict=True):
            add(element, "element", value, name=chinese, key=key)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)
