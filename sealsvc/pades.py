"""PAdES sealing of a PDF (ETSI EN 319 142-1 levels B-B, B-T, B-LT, B-LTA) with pyHanko.

This module knows how to put one signature with a seal stamp into a PDF; it does not know
where keys, certificates or revocation data come from — :mod:`sealsvc.sealing` gathers
those from the registry and hands them over as :class:`SealingMaterial`.

Level by level:

* **B-B** — CMS SignedData with signing-certificate-v2, SubFilter ``ETSI.CAdES.detached``.
* **B-T** — plus an RFC 3161 signature time-stamp (unsigned attribute) from our TSA,
  called in-process through the full request/response path.
* **B-LT** — plus a Document Security Store with every certificate, CRL and OCSP answer
  needed to validate the seal and the time-stamp without network access.
* **B-LTA** — plus a document time-stamp over all of that, which gives proof of
  existence to the validation data so the document can be checked after the CAs expire.

The DSS is written by us (``DocumentSecurityStore.add_dss``) rather than by pyHanko's
own path validation, because pyHanko's validator cannot check SM2 signatures; the same
path then serves both families.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from asn1crypto import crl, ocsp, tsp, x509
from pyhanko.pdf_utils import content
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.stamp import StaticStampStyle

from pki.algorithms import SigningKey
from pki.pdf_signer import KeyHandleSigner
from sealsvc.anchors import find_text
from sealsvc.errors import InvalidInput

__all__ = [
    "Level",
    "Placement",
    "RevocationMaterial",
    "SealOptions",
    "SealingMaterial",
    "TsaTimeStamper",
    "seal_pdf",
]

MM = 72 / 25.4
"""PDF points per millimetre."""


class Level(StrEnum):
    """PAdES baseline levels (ETSI EN 319 142-1 §6)."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def needs_timestamp(self) -> bool:
        return self is not Level.B_B

    @property
    def needs_validation_data(self) -> bool:
        return self in (Level.B_LT, Level.B_LTA)


@dataclass(frozen=True)
class Placement:
    """Where the visible seal goes: exactly one of position, anchor text or field name.

    ``page`` is 1-based; ``x_mm``/``y_mm`` are the seal's centre measured from the page's
    lower-left corner; ``anchor`` centres the seal on the first occurrence of a text such
    as "（盖章）" or the issuing authority's name; ``field`` fills an existing empty
    signature field.  ``invisible`` puts no stamp on the page.
    """

    page: int = 1
    x_mm: float | None = None
    y_mm: float | None = None
    anchor: str | None = None
    field: str | None = None
    invisible: bool = False
    size_mm: float = 42.0

    def __post_init__(self) -> None:
        chosen = sum(
            [self.x_mm is not None or self.y_mm is not None, bool(self.anchor), bool(self.field)]
        )
        if chosen > 1 or (self.invisible and chosen):
            raise InvalidInput("choose one of --at, --anchor, --field or --invisible")
        if (self.x_mm is None) != (self.y_mm is None):
            raise InvalidInput("a position needs both X and Y (millimetres)")
        if self.page < 1:
            raise InvalidInput("page numbers start at 1")
        if not 5 <= self.size_mm <= 100:
            raise InvalidInput("seal size must be between 5 and 100 mm")


@dataclass(frozen=True)
class SealOptions:
    """What the caller asks for besides the seal itself."""

    level: Level = Level.B_T
    placement: Placement = field(default_factory=Placement)
    reason: str | None = None
    location: str | None = None
    contact: str | None = None
    certify: bool = False
    field_name: str | None = None


@dataclass(frozen=True)
class RevocationMaterial:
    """Certificates, CRLs and OCSP answers to embed for long-term validation."""

    certificates: tuple[x509.Certificate, ...] = ()
    crls: tuple[crl.CertificateList, ...] = ()
    ocsp_responses: tuple[ocsp.OCSPResponse, ...] = ()


@dataclass(frozen=True)
class SealingMaterial:
    """Everything a signature needs that comes from the registry and the PKI."""

    key: SigningKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    stamp_pdf: bytes | None
    timestamper: TimeStamper | None = None
    validation_data: Callable[[], RevocationMaterial] | None = None


class TsaTimeStamper(TimeStamper):
    """pyHanko time-stamper that talks RFC 3161 to an in-process TSA.

    The TSA is any callable from TimeStampReq DER to TimeStampResp DER (``pki.tsa``'s
    ``TimeStampAuthority.respond``), so the in-process path exercises exactly the bytes
    the HTTP endpoint serves, nonce check included.
    """

    def __init__(self, respond: Callable[[bytes], bytes]) -> None:
        super().__init__(include_nonce=True)
        self._respond = respond

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return tsp.TimeStampResp.load(self._respond(req.dump()))


class _BytesPdfPage(content.PdfContent):
    """A page of an in-memory PDF as stamp background (pyHanko's own class wants a path)."""

    def __init__(self, pdf: bytes) -> None:
        super().__init__()
        self._pdf = pdf

    def render(self) -> bytes:
        reader = PdfFileReader(io.BytesIO(self._pdf))
        xobject = self._ensure_writer.import_page_as_xobject(reader, page_ix=0)
        self.resources.xobject["/SealImage"] = xobject
        x1, y1, x2, y2 = xobject.get_object()["/BBox"]
        self.box = content.BoxConstraints(width=abs(x2 - x1), height=abs(y2 - y1))
        return b"/SealImage Do"


def _open(pdf: bytes) -> IncrementalPdfFileWriter:
    if not pdf.lstrip()[:5].startswith(b"%PDF-"):
        raise InvalidInput("the file is not a PDF (no %PDF- header)")
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    except (PdfError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InvalidInput(f"the PDF cannot be parsed: {_first_line(exc)}") from None
    if writer.prev.encrypted:
        raise InvalidInput("the PDF is encrypted; seal the unencrypted document")
    return writer


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _field_spec(
    pdf: bytes, writer: IncrementalPdfFileWriter, placement: Placement, field_name: str
) -> fields.SigFieldSpec | None:
    if placement.field:
        return None
    if placement.invisible:
        return fields.SigFieldSpec(sig_field_name=field_name, on_page=0, box=None)
    page_count = int(writer.root["/Pages"]["/Count"])
    if placement.page > page_count:
        raise InvalidInput(f"page {placement.page} does not exist (the PDF has {page_count})")
    if placement.anchor:
        page_index, cx, cy = find_text(pdf, placement.anchor)
    else:
        page_index = placement.page - 1
        if placement.x_mm is None:
            mediabox = writer.prev.find_page_for_modification(page_index)[0]["/MediaBox"]
            cx = float(mediabox[2]) * 0.72
            cy = float(mediabox[3]) * 0.18
        else:
            cx, cy = placement.x_mm * MM, placement.y_mm * MM
    half = placement.size_mm * MM / 2
    box = (round(cx - half), round(cy - half), round(cx + half), round(cy + half))
    return fields.SigFieldSpec(sig_field_name=field_name, on_page=page_index, box=box)


def _existing_field_names(writer: IncrementalPdfFileWriter) -> set[str]:
    return {name for name, _, _ in fields.enumerate_sig_fields(writer.prev, filled_status=None)}


def seal_pdf(pdf: bytes, material: SealingMaterial, options: SealOptions) -> bytes:
    """Return ``pdf`` with one more seal, as an incremental update at the requested level.

    Earlier signatures stay intact because only new objects are appended.  Every PDF
    problem pyHanko reports becomes an :class:`InvalidInput` with one readable line.
    """
    if options.level.needs_timestamp and material.timestamper is None:
        raise InvalidInput(f"level {options.level} needs a time-stamp authority")
    writer = _open(pdf)
    placement = options.placement
    field_name = placement.field or options.field_name or _next_field_name(writer)
    if placement.field and placement.field not in _existing_field_names(writer):
        raise InvalidInput(f"the PDF has no signature field named {placement.field!r}")
    signer = KeyHandleSigner(material.key, material.certificate, list(material.chain))
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=signer.digest_algorithm,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=options.reason,
        location=options.location,
        contact_info=options.contact,
        certify=options.certify,
        # P=2: further seals (and form filling) remain allowed after certification,
        # which is what joint approval (联合审批) by several departments needs.
        docmdp_permissions=fields.MDPPerm.FILL_FORMS,
    )
    style = None
    if material.stamp_pdf is not None and not placement.invisible:
        style = StaticStampStyle(background=_BytesPdfPage(material.stamp_pdf), border_width=0)
    pdf_signer = signers.PdfSigner(
        meta,
        signer,
        timestamper=material.timestamper if options.level.needs_timestamp else None,
        stamp_style=style,
        new_field_spec=_field_spec(pdf, writer, placement, field_name),
    )
    try:
        output = pdf_signer.sign_pdf(writer)
        if options.level.needs_validation_data:
            output = _add_validation_data(output, material)
        if options.level is Level.B_LTA:
            output = _add_document_timestamp(output, material, signer.digest_algorithm)
    except (SigningError, PdfError) as exc:
        raise InvalidInput(f"the PDF cannot be sealed: {_first_line(exc)}") from None
    return output.getvalue()


def _next_field_name(writer: IncrementalPdfFileWriter) -> str:
    existing = _existing_field_names(writer)
    number = 1
    while f"Seal{number}" in existing:
        number += 1
    return f"Seal{number}"


def _add_validation_data(output: io.BytesIO, material: SealingMaterial) -> io.BytesIO:
    if material.validation_data is None:
        raise InvalidInput("B-LT needs revocation data, but none is configured")
    data = material.validation_data()
    DocumentSecurityStore.add_dss(
        output,
        sig_contents=None,
        certs=[material.certificate, *material.chain, *data.certificates],
        crls=list(data.crls),
        ocsps=list(data.ocsp_responses),
    )
    output.seek(0)
    return output


def _add_document_timestamp(
    output: io.BytesIO, material: SealingMaterial, digest_algorithm: str
) -> io.BytesIO:
    assert material.timestamper is not None
    return signers.PdfTimeStamper(material.timestamper).timestamp_pdf(
        IncrementalPdfFileWriter(output, strict=False), digest_algorithm
    )
