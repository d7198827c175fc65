"""PDF/A-2b ingredients for a reportlab canvas: XMP metadata, sRGB output intent, dates.

reportlab has no PDF/A mode, but it embeds TrueType fonts (as subsets) and lets us put
entries into the document catalog, which is all PDF/A-2 level B needs from the writer
(ISO 19005-2 §6): embedded fonts, an XMP packet naming the part and conformance and
agreeing with the Info dictionary (title, author, subject, keywords, producer, creator,
dates), an output intent with an ICC profile for the DeviceRGB colours we paint, a
trailer ``/ID``, no encryption and no unembedded Helvetica (the caller sets the canvas's
initial font to the CJK font).

Dates come from the issue time, not from the clock, so rendering the same licence twice
gives the same bytes (together with reportlab's ``invariant=1``).

A licence's own metadata (GB/T 36903, :mod:`sealsvc.licences.metadata`) goes into the
same packet as an :class:`XmpSchema`: properties outside the schemas ISO 19005-2 predefines
are allowed only when the packet describes them with a PDF/A extension schema
(ISO 19005-2 §6.6.2.3.3, the ``pdfaExtension``/``pdfaSchema``/``pdfaProperty`` schemas), so
the description is written next to the values.

Not done here: an independent PDF/A validator (veraPDF is Java and not installed), so
conformance is by construction, checked by tests only for the presence of these parts.
The PAdES seals are added afterwards as incremental updates, which PDF/A-2 allows.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFStream, PDFString
from reportlab.pdfgen.canvas import Canvas

from pki.clock import CHINA_TIME

__all__ = ["SRGB_CANDIDATES", "XmpSchema", "apply_pdfa", "srgb_profile"]

SRGB_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/color/icc/sRGB.icc"),  # icc-profiles-free / colord
    Path("/usr/share/color/icc/colord/sRGB.icc"),
    Path("/usr/share/color/icc/ghostscript/srgb.icc"),  # libgs-common (ghostscript)
)


@functools.cache
def srgb_profile() -> bytes:
    """An sRGB ICC profile: a system one if installed, else one made by LittleCMS.

    The generated profile gets a fixed creation date (LittleCMS stamps the current
    time into the header), so it does not make renderings differ.
    """
    for path in SRGB_CANDIDATES:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if data[36:40] == b"acsp" and data[16:20] == b"RGB ":
            return data
    from PIL import ImageCms

    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = bytes(12)  # dateTimeNumber; the profile ID (84..99) is left zero
    return bytes(profile)


@dataclass(frozen=True)
class XmpSchema:
    """Text properties of one custom XMP namespace, with what each means.

    Written as values in their own ``rdf:Description`` and, for PDF/A, described by an
    extension schema (every property of type ``Text``, category ``external``: shown to
    people, not used by the PDF processor).
    """

    namespace: str
    """The namespace URI."""
    prefix: str
    """Its prefix (an XML name), the one the extension schema declares."""
    description: str
    """What the schema is, for the extension schema's ``pdfaSchema:schema``."""
    properties: Sequence[tuple[str, str, str]]
    """(property name, value, description) of each property written."""

    def extension(self) -> str:
        """The ``pdfaExtension:schemas`` entry describing this schema."""
        described = "".join(
            f"""
       <rdf:li rdf:parseType="Resource">
        <pdfaProperty:name>{escape(name)}</pdfaProperty:name>
        <pdfaProperty:valueType>Text</pdfaProperty:valueType>
        <pdfaProperty:category>external</pdfaProperty:category>
        <pdfaProperty:description>{escape(meaning)}</pdfaProperty:description>
       </rdf:li>"""
            for name, _, meaning in self.properties
        )
        return f"""
  <rdf:Description rdf:about=""
    xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
    xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
    xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
   <pdfaExtension:schemas>
    <rdf:Bag>
     <rdf:li rdf:parseType="Resource">
      <pdfaSchema:schema>{escape(self.description)}</pdfaSchema:schema>
      <pdfaSchema:namespaceURI>{escape(self.namespace)}</pdfaSchema:namespaceURI>
      <pdfaSchema:prefix>{escape(self.prefix)}</pdfaSchema:prefix>
      <pdfaSchema:property>
       <rdf:Seq>{described}
       </rdf:Seq>
      </pdfaSchema:property>
     </rdf:li>
    </rdf:Bag>
   </pdfaExtension:schemas>
  </rdf:Description>"""

    def values(self) -> str:
        """The ``rdf:Description`` holding the property values."""
        written = "".join(
            f"\n   <{self.prefix}:{name}>{escape(value)}</{self.prefix}:{name}>"
            for name, value, _ in self.properties
        )
        return f"""
  <rdf:Description rdf:about=""
    xmlns:{self.prefix}={quoteattr(self.namespace)}>{written}
  </rdf:Description>"""


def _pdf_date(at: datetime) -> str:
    local = at.astimezone(CHINA_TIME)
    return local.strftime("D:%Y%m%d%H%M%S+08'00'")


def _xmp(
    *,
    title: str,
    author: str,
    subject: str,
    keywords: str,
    creator: str,
    producer: str,
    at: datetime,
    document_id: str,
    custom: XmpSchema | None,
) -> bytes:
    stamp = at.astimezone(CHINA_TIME).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    t, a, s, k = (escape(v) for v in (title, author, subject, keywords))
    packet = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/">
   <pdfaid:part>2</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{t}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{a}</rdf:li></rdf:Seq></dc:creator>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{s}</rdf:li></rdf:Alt></dc:description>
   <xmp:CreateDate>{stamp}</xmp:CreateDate>
   <xmp:ModifyDate>{stamp}</xmp:ModifyDate>
   <xmp:MetadataDate>{stamp}</xmp:MetadataDate>
   <xmp:CreatorTool>{escape(creator)}</xmp:CreatorTool>
   <pdf:Producer>{escape(producer)}</pdf:Producer>
   <pdf:Keywords>{k}</pdf:Keywords>
   <pdf:Trapped>False</pdf:Trapped>
   <xmpMM:DocumentID>uuid:{escape(document_id)}</xmpMM:DocumentID>
  </rdf:Description>{custom.extension() + custom.values() if custom else ""}
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
    return packet.encode("utf-8")


def apply_pdfa(
    canvas: Canvas,
    *,
    title: str,
    author: str,
    subject: str,
    keywords: str,
    at: datetime,
    document_id: str,
    custom: XmpSchema | None = None,
) -> None:
    """Make ``canvas`` write a PDF/A-2b document: call before ``canvas.save()``.

    ``document_id`` (a UUID string) also feeds the trailer ``/ID``, so two licences never
    share an ID even though reportlab's invariant mode fixes everything else. ``custom``
    adds properties of one more namespace (the licence's GB/T 36903 metadata) to the XMP.
    """
    creator = "sealsvc licence renderer"
    canvas.setTitle(title)
    canvas.setAuthor(author)
    canvas.setSubject(subject)
    canvas.setKeywords(keywords)
    canvas.setCreator(creator)
    # reportlab has no public handle on a canvas's document (PDFDocument), and the catalog
    # entries PDF/A needs (metadata, output intent), the /ID and the producer live there:
    # ``canvas._doc`` and ``PDFCatalog.__NoDefault__`` are pinned by tests/test_private_apis.py.
    producer = canvas._doc.info.producer
    pdf_date = _pdf_date(at)
    canvas.setDateFormatter(lambda *_: pdf_date)
    canvas._doc.updateSignature(document_id)
    catalog = canvas._doc.Catalog
    xmp = PDFStream(
        PDFDictionary({"Type": PDFName("Metadata"), "Subtype": PDFName("XML")}),
        _xmp(
            title=title,
            author=author,
            subject=subject,
            keywords=keywords,
            creator=creator,
            producer=producer,
            at=at,
            document_id=document_id,
            custom=custom,
        ),
        filters=[],  # PDF/A: the metadata stream must stay readable, unfiltered
    )
    catalog.Metadata = xmp
    icc = PDFStream(PDFDictionary({"N": 3}), srgb_profile())
    intent = PDFDictionary(
        {
            "Type": PDFName("OutputIntent"),
            "S": PDFName("GTS_PDFA1"),
            "OutputConditionIdentifier": PDFString("sRGB IEC61966-2.1"),
            "Info": PDFString("sRGB IEC61966-2.1"),
            "DestOutputProfile": canvas._doc.Reference(icc),
        }
    )
    catalog.OutputIntents = PDFArray([intent])
    # PDFCatalog writes only the keys it knows; teach this instance one more.
    catalog.__NoDefault__ = [*type(catalog).__NoDefault__, "OutputIntents"]
