"""Seal an OFD (GB/T 33190) with a registered SM2 seal: GB/T 38540 ``SES_Signature``.

The OFD counterpart of :class:`sealsvc.sealing.Sealer`, and the one way the API, the CLI
and licence issuing seal an OFD:

read the package (hostile-ZIP limits of :mod:`ofd.package`) → the seal's current
``SESeal`` from the registry (an RSA seal has none: refused, 409, audited) → where the
stamp goes → :func:`ofd.signatures.add_signature` writes ``Signatures.xml``, the
``Seal.esl`` copy of the ``SESeal`` and ``Signature.xml`` (SM3 ``References``, the
``StampAnnot``), then asks for the signed value, which
:func:`sealsvc.ses_signing.sign_hash` makes: registry checks, the ``SES_Signature`` over
SM3(``Signature.xml``) with ``propertyInfo`` = that file's path, our TSA's token when
asked, the ``seal.use`` audit entry (``format`` ``ses``) and the refusal entries — so there
is exactly one audit entry per seal use and nothing here writes another.

The stamp's look is the seal's picture inside the ``SESeal``: OFD readers (ofdrw, easyofd,
the national validators) draw a ``StampAnnot`` from the seal object of the signature, so
nothing is drawn on the page itself and the page files stay as they were.  Its size is the
picture's printed size (``SES_PictureInfo`` width and height in mm).

Placement takes :class:`sealsvc.pades.Placement`, the PDF's, so the CLI and API options
mean the same for both formats: ``page`` (1-based), ``x_mm``/``y_mm`` the stamp's centre
from the page's lower-left corner (converted here to OFD's top-left coordinates), nothing
given = the lower right of the page as for PDF, ``anchor`` = centred on the first
occurrence of a text such as "（盖章）" in the pages' ``TextObject``\\ s (:func:`find_text`),
``invisible`` = no ``StampAnnot``.  An OFD has no signature fields, so ``field`` is refused.

PAdES levels map onto OFD as :func:`timestamp_for` says: B-B no time-stamp, B-T our TSA's
token inside the ``SES_Signature``; B-LT and B-LTA have no OFD counterpart and are refused.

:func:`sign_ofd` adds the other kind of OFD signature, GM/T 0099 ``Type="Sign"``: a GB/T
35275 SignedData made with a key and certificate that are not a registered seal (a
person's), audited as :data:`SIGN_ACTION`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from asn1crypto import cms
from asn1crypto.core import OctetString

from ofd.errors import OfdError
from ofd.model import Document, PageObject, TextObject
from ofd.package import ROOT_FILE, OfdPackage, resolve_loc
from ofd.reader import read_package
from ofd.signatures import (
    Provider,
    SignatureType,
    StampPlacement,
    add_signature,
    broken_by_adding,
)
from ofd.xml import child, child_text, children, parse_xml
from pki.algorithms import SigningKey
from pki.certificates import load_certificate
from pki.clock import now_utc
from pki.cms import build_gbt35275_signed_data, with_signature_time_stamp
from pki.errors import PkiError
from pki.ses import parse_seal
from pki.sm2 import sm3
from sealsvc import audit, ses_signing
from sealsvc.errors import InvalidInput
from sealsvc.ofd_attributes import APPEARANCE_ATTRIBUTE, role_attribute
from sealsvc.pades import MM, Level, Placement, SealOptions
from sealsvc.sealing import check_upload_size
from sealsvc.trust_services import TrustServices

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = [
    "MEDIA_TYPE",
    "PROVIDER",
    "SIGN_ACTION",
    "OfdSealResult",
    "OfdSignResult",
    "find_text",
    "read_upload",
    "seal_ofd",
    "sign_ofd",
    "timestamp_for",
]

SIGN_ACTION = "signature.use"
"""Audit action of one ``Type="Sign"`` signature (a key that is not a registered seal)."""

MEDIA_TYPE = "application/ofd"
"""The media type of OFD files, for uploads and answers."""

PROVIDER = Provider(name="sealsvc", version=version("sealsvc"))
"""``SignedInfo/Provider`` of every signature sealsvc adds: the software, and its version."""

_CENTRE_ABOVE_BASELINE = 0.38
"""Where a CJK glyph's middle is, in em above its baseline (the em box spans about 0.88 em
above the baseline to 0.12 em below)."""
_DEFAULT_PAGE = (210.0, 297.0)
"""A4 portrait in mm, GB/T 33190's reading when a document gives no ``PhysicalBox``."""


@dataclass(frozen=True)
class OfdSealResult:
    """A sealed OFD and what the audit log recorded about the seal use."""

    ofd: bytes = dataclasses.field(repr=False)
    """The sealed package, deterministic ZIP bytes (:meth:`ofd.package.OfdPackage.to_bytes`)."""
    seal_code: str
    """The seal that sealed it."""
    input_sha256: str
    """SHA-256 of the OFD as given (also in the ``seal.use`` entry's details)."""
    output_sha256: str
    """SHA-256 of :attr:`ofd`."""
    certificate_serial: str
    """Serial (decimal) of the seal certificate that signed."""
    signature_path: str
    """Package path of the new ``Signature.xml`` (``Doc_0/Signs/Sign_N/Signature.xml``)."""
    time_stamped: bool
    """Whether the ``SES_Signature`` carries our TSA's token."""
    audit_seq: int
    """Sequence number of the ``seal.use`` entry that :func:`sign_hash` wrote."""
    package: OfdPackage = dataclasses.field(repr=False, compare=False)
    """The files of :attr:`ofd`: what the next seal of a joint sealing takes, instead of
    reading the ZIP back."""


def read_upload(data: bytes | OfdPackage) -> OfdPackage:
    """Open an OFD to sign; every format problem is an :class:`InvalidInput`.

    :class:`ofd.package.OfdPackage.read` checks the ZIP's names and sizes before it
    decompresses anything (zip bombs, ``../`` names, duplicates), so a hostile file costs
    a bounded amount of memory and ends in one readable line; a package (made in this
    process: a licence just rendered or sealed) is taken as it is.  A document with an
    intact signature that one more would break (it covers ``Signatures.xml``) is refused
    too, as a PDF certified "no changes" is: the service never breaks someone's signature.
    """
    try:
        package = data if isinstance(data, OfdPackage) else OfdPackage.read(data)
        broken = broken_by_adding(package)
    except OfdError as exc:
        raise InvalidInput(f"the OFD cannot be read: {exc}") from None
    if broken:
        raise InvalidInput(
            f"the OFD's signature {broken[0].id or broken[0].path} covers "
            f"{broken[0].signatures_path}, which another signature must change: "
            "a seal or signature added now would break it"
        )
    return package


def timestamp_for(options: SealOptions) -> bool:
    """Whether an OFD seal at ``options.level`` gets a time-stamp; refuses what an OFD
    signature cannot carry, so the CLI and the API answer the same.

    The PAdES levels map onto the ``SES_Signature``: **B-B** — no time-stamp; **B-T** — our
    TSA's token over the signature value inside the ``SES_Signature`` (GB/T 38540
    ``timeStamp``).  **B-LT** and **B-LTA** add validation data and archive time-stamps,
    for which an OFD signature has no place: refused.  Certification, reason, location and
    contact are PDF signature properties with no OFD counterpart: refused rather than
    silently dropped.
    """
    if options.level in (Level.B_LT, Level.B_LTA):
        raise InvalidInput(
            f"level {options.level.value} is not available for OFD: use B-B (no time-stamp) "
            "or B-T (time-stamped)"
        )
    pdf_only = [
        name
        for name, value in (
            ("certify", options.certify),
            ("reason", options.reason),
            ("location", options.location),
            ("contact", options.contact),
        )
        if value
    ]
    if pdf_only:
        raise InvalidInput(
            f"{', '.join(pdf_only)}: PDF signature properties an OFD seal does not have"
        )
    return options.level.needs_timestamp


@lru_cache(maxsize=256)
def _picture_size(ses_seal_der: bytes) -> tuple[float, float]:
    """Printed width and height (mm) of the seal's picture, per ``SESeal`` (parsed once)."""
    picture = parse_seal(ses_seal_der).picture
    return float(picture.width_mm), float(picture.height_mm)


def _page_size(package: OfdPackage, page_index: int) -> tuple[float, float]:
    """Width and height (mm) of page ``page_index``: its own ``Area/PhysicalBox``, else the
    document's ``PageArea``, else A4.

    Reads only ``OFD.xml``, ``Document.xml`` and that page's ``Content.xml``: placing a stamp
    by position needs no more of the document.
    """
    root = parse_xml(package.file(ROOT_FILE), ROOT_FILE)
    body = child(root, "DocBody")
    doc_root = child_text(body, "DocRoot") if body is not None else None
    if doc_root is None:
        raise OfdError(f"{ROOT_FILE}: no DocBody with a DocRoot")
    document_path = resolve_loc(ROOT_FILE, doc_root)
    document = parse_xml(package.file(document_path), document_path)
    pages = child(document, "Pages")
    refs = children(pages, "Page") if pages is not None else []
    if not 0 <= page_index < len(refs):
        raise InvalidInput(f"page {page_index + 1} does not exist (the OFD has {len(refs)} pages)")
    page_path = resolve_loc(document_path, refs[page_index].get("BaseLoc") or "")
    page = parse_xml(package.file(page_path), page_path)
    common = child(document, "CommonData")
    for where in (child(page, "Area"), child(common, "PageArea") if common is not None else None):
        box = child_text(where, "PhysicalBox") if where is not None else None
        if box is not None:
            try:
                _, _, width, height = (float(v) for v in box.split())
            except ValueError:
                raise OfdError(f"{page_path}: PhysicalBox {box[:60]!r} is not 'x y w h'") from None
            if width > 0 and height > 0:
                return width, height
    return _DEFAULT_PAGE


@dataclass(frozen=True)
class _Glyph:
    """One printed character: its text, left edge, advance and baseline (mm, top-left)."""

    text: str
    x: float
    advance: float
    baseline: float
    size: float


def _glyphs(objects: tuple[PageObject, ...]) -> list[_Glyph]:
    """Every non-blank character of a page's text, placed as ``TextCode``/``DeltaX`` say.

    A character's advance is the next ``DeltaX``; the last one of a ``TextCode`` has none,
    so it gets the font size (CJK glyphs are one em wide).  ``CTM`` is not applied, like
    :mod:`ofd.reader`, which does not interpret it either.
    """
    glyphs = []
    for item in objects:
        if not isinstance(item, TextObject):
            continue
        x = item.boundary.x + item.x
        baseline = item.boundary.y + item.y
        for index, character in enumerate(item.text):
            advance = item.delta_x[index] if index < len(item.delta_x) else item.size
            if character.strip():
                glyphs.append(_Glyph(character, x, advance, baseline, item.size))
            x += advance
    return glyphs


def _lines(glyphs: list[_Glyph]) -> list[list[_Glyph]]:
    """Glyphs grouped into lines (baselines within a third of the size), each left to right.

    Producers split a line into one ``TextCode`` per word or per character; an anchor must
    be found across those pieces, but — as for PDF — not across lines.
    """
    lines: list[list[_Glyph]] = []
    for glyph in sorted(glyphs, key=lambda g: (g.baseline, g.x)):
        last = lines[-1][-1] if lines else None
        if last is not None and abs(glyph.baseline - last.baseline) <= last.size / 3:
            lines[-1].append(glyph)
        else:
            lines.append([glyph])
    return [sorted(line, key=lambda g: g.x) for line in lines]


def find_text(document: Document, anchor: str) -> tuple[int, float, float]:
    """Page index and centre (mm from the page's top-left) of the first occurrence of
    ``anchor`` in the document's text, page by page, top to bottom.

    Whitespace is ignored on both sides, as :func:`sealsvc.anchors.find_text` does for PDF;
    :class:`InvalidInput` when the text is empty or does not occur.
    """
    wanted = "".join(anchor.split())
    if not wanted:
        raise InvalidInput("the anchor text is empty")
    for page_index, page in enumerate(document.pages):
        for line in _lines(_glyphs(page.objects)):
            start = "".join(g.text for g in line).find(wanted)
            if start < 0:
                continue
            hit = line[start : start + len(wanted)]
            left, right = hit[0].x, hit[-1].x + hit[-1].advance
            middle = sum(g.baseline - g.size * _CENTRE_ABOVE_BASELINE for g in hit) / len(hit)
            return page_index, (left + right) / 2, middle
    raise InvalidInput(f"the anchor text {anchor!r} does not occur in the OFD")


def _stamp(
    package: OfdPackage, placement: Placement, size: tuple[float, float]
) -> StampPlacement | None:
    """The ``StampAnnot`` box for ``placement`` of a stamp of ``size`` (width, height mm)."""
    if placement.invisible:
        return None
    if placement.field:
        raise InvalidInput(
            f"an OFD has no signature fields ({placement.names.field}); place the seal by "
            f"{placement.names.position} or {placement.names.anchor}"
        )
    stamp_w, stamp_h = size
    if placement.anchor:
        page_index, cx, top = find_text(read_package(package), placement.anchor)
        return StampPlacement(page_index, (cx - stamp_w / 2, top - stamp_h / 2, stamp_w, stamp_h))
    page_index = placement.page - 1
    width, height = _page_size(package, page_index)
    if placement.x_mm is None or placement.y_mm is None:
        cx, cy = width * 0.72, height * 0.18  # the lower right, as for PDF
    else:
        sized = dataclasses.replace(placement, size_mm=max(stamp_w, stamp_h))
        cx, cy = (v / MM for v in sized.check_fits((0.0, 0.0, width * MM, height * MM)))
    top = height - cy  # OFD measures from the top
    return StampPlacement(page_index, (cx - stamp_w / 2, top - stamp_h / 2, stamp_w, stamp_h))


def seal_ofd(
    context: ServiceContext,
    ofd: bytes | OfdPackage,
    seal_code: str,
    placement: Placement,
    *,
    timestamp: bool,
    actor: str,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
    trust: TrustServices | None = None,
    trusted_input: bool = False,
) -> OfdSealResult:
    """Add one ``Type="Seal"`` signature of seal ``seal_code`` to ``ofd``.

    ``ofd`` is the file, or — for a document this process made, such as a licence just
    rendered (:func:`sealsvc.licences.render_ofd.render_licence_package`) or the
    :attr:`OfdSealResult.package` of the previous seal — its package, which spares
    writing the ZIP and reading it back.

    ``timestamp`` adds our SM2 TSA's token to the ``SES_Signature``. ``details`` (the API's
    key id and client address, a licence number) go into the ``seal.use`` or
    ``seal.refused`` entry, with the input's SHA-256.  ``trusted_input`` lifts the upload
    size limit for documents the service rendered itself (licences).  Earlier signatures
    stay valid (joint seals): see :func:`ofd.signatures.add_signature`.

    Raises :class:`InvalidInput` for an unreadable OFD or a placement off the page,
    :class:`~sealsvc.errors.NotFound` for an unknown seal, and — audited as
    ``seal.refused`` — :class:`~sealsvc.ses_seals.NoSesSeal` (409) for an RSA seal and
    :class:`~sealsvc.errors.SealNotUsable` for a suspended, revoked or expired one.
    """
    # A package's ZIP bytes are its files' compressed forms (kept, not made again when
    # the sealed package is written) put end to end: only their hash is needed here.
    ofd_bytes = ofd.to_bytes() if isinstance(ofd, OfdPackage) else ofd
    if not trusted_input:
        check_upload_size(context.settings, ofd_bytes, "OFD")
    input_sha256 = hashlib.sha256(ofd_bytes).hexdigest()
    details = {"input_sha256": input_sha256, "container": "ofd", **(details or {})}
    package = read_upload(ofd)
    now = now or now_utc()
    # One read of the seal for both Seal.esl and the signature (so they name one SESeal);
    # sign_hash checks its status again in the audit transaction.
    material = ses_signing.read_seal(context, seal_code, actor=actor, details=details, now=now)
    ses_der = material.ses_der
    try:
        stamp = _stamp(package, placement, _picture_size(ses_der))
    except OfdError as exc:
        raise InvalidInput(f"the OFD cannot be sealed: {exc}") from None
    signed: list[tuple[str, ses_signing.SesSignResult]] = []

    def make_signed_value(signature_xml: bytes, signature_path: str) -> bytes:
        result = ses_signing.sign_hash(
            context, seal_code, sm3(signature_xml), signature_path,
            timestamp=timestamp, actor=actor, details=details, now=now, trust=trust,
            material=material,
        )  # fmt: skip
        signed.append((signature_path, result))
        return result.der

    try:
        sealed = add_signature(
            package,
            make_signed_value,
            provider=PROVIDER,
            signature_time=now,
            stamps=[stamp] if stamp is not None else [],
            seal=ses_der,
        )
    except OfdError as exc:
        raise InvalidInput(f"the OFD cannot be sealed: {exc}") from None
    ((signature_path, result),) = signed
    output = sealed.to_bytes()
    return OfdSealResult(
        ofd=output,
        seal_code=result.seal_code,
        input_sha256=input_sha256,
        output_sha256=hashlib.sha256(output).hexdigest(),
        certificate_serial=result.certificate_serial,
        signature_path=signature_path.lstrip("/"),
        time_stamped=result.time_stamped,
        audit_seq=result.audit_seq,
        package=sealed,
    )


@dataclass(frozen=True)
class OfdSignResult:
    """An OFD with one more ``Type="Sign"`` signature, and its audit entry."""

    ofd: bytes = dataclasses.field(repr=False)
    """The signed package."""
    input_sha256: str
    """SHA-256 of the OFD as given."""
    output_sha256: str
    """SHA-256 of :attr:`ofd` (the audit entry's ``document_hash``)."""
    certificate_serial: str
    """Serial (decimal) of the signer's certificate."""
    signature_path: str
    """Package path of the new ``Signature.xml``."""
    audit_seq: int
    """Sequence number of the :data:`SIGN_ACTION` entry."""


def sign_ofd(
    context: ServiceContext,
    ofd_bytes: bytes,
    signer: SigningKey,
    certificate: bytes,
    *,
    actor: str,
    chain: tuple[bytes, ...] = (),
    placement: Placement | None = None,
    stamp_size: tuple[float, float] = (40.0, 20.0),
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
    trusted_input: bool = False,
    timestamp: bool = False,
    trust: TrustServices | None = None,
    appearance_png: bytes | None = None,
    role: str | None = None,
) -> OfdSignResult:
    """Add one GM/T 0099-2020 ``Type="Sign"`` signature made with ``signer``: a signature
    that is not a seal (a person's, for issue 18's e-signatures), so no registry seal and no
    ``SESeal`` — the signed value is a detached GB/T 35275 SignedData
    (:func:`pki.cms.build_gbt35275_signed_data`) whose message digest is
    SM3(``Signature.xml``), carrying ``certificate`` and ``chain``.

    ``timestamp`` adds our SM2 TSA's token over the signature value as the SignerInfo's
    unsigned signatureTimeStampToken (CAdES-T, :func:`pki.cms.with_signature_time_stamp`):
    the proof that lets an event certificate's signature outlive the certificate's
    minutes.  ``trust`` shares a process's TSA.

    ``appearance_png`` (e.g. a person's handwriting with name and time) is what the
    ``StampAnnot`` box shows: it travels as the signed attribute :data:`APPEARANCE_ATTRIBUTE`,
    so the picture is signed with the signature, as a seal's picture is inside the signed
    ``SESeal``; readers that draw a stamp from the signed value show it (easyofd does).
    ``role`` (经办人, 审核人 …) is the signer's claimed role, as CAdES carries it: the
    signer-attributes-v2 attribute (ETSI EN 319 122-1 §5.2.6.1) with an X.509 ``role``
    whose roleName is a directory name of that text (:func:`claimed_role` reads it back).

    The caller decides who may sign with ``signer`` (its key stays in its store); this
    writes the :data:`SIGN_ACTION` audit entry with ``actor`` and ``details`` (the caller's
    identity evidence: provider, token id).  ``placement`` (with ``stamp_size`` in mm) adds
    a ``StampAnnot`` where the appearance goes; ``None`` = an invisible signature.
    SM2 only (GB/T 35275): another key or a key that is not the certificate's is an
    :class:`InvalidInput`, as is an unreadable OFD.
    """
    if not trusted_input:
        check_upload_size(context.settings, ofd_bytes, "OFD")
    input_sha256 = hashlib.sha256(ofd_bytes).hexdigest()
    package = read_upload(ofd_bytes)
    now = now or now_utc()
    try:
        signer_certificate = load_certificate(certificate)
        certificates = [signer_certificate, *(load_certificate(der) for der in chain)]
    except PkiError as exc:
        raise InvalidInput(f"the signer's certificate cannot be used: {exc}") from None
    made: list[str] = []
    extra_attributes = []
    if appearance_png is not None:
        picture = OctetString(appearance_png)
        extra_attributes.append(
            cms.CMSAttribute({"type": APPEARANCE_ATTRIBUTE, "values": [picture]})
        )
    if role is not None:
        extra_attributes.append(role_attribute(role))
    stamp = (
        ses_signing.signature_timestamper(trust or TrustServices(context), "sm2")
        if timestamp
        else None
    )

    def make_signed_value(signature_xml: bytes, signature_path: str) -> bytes:
        made.append(signature_path)
        signed_data = build_gbt35275_signed_data(
            signer,
            signer_certificate,
            content_digest=sm3(signature_xml),
            certificates=certificates,
            signing_time=now,
            signed_attributes=extra_attributes,
        )
        if stamp is not None:
            value = signed_data["content"]["signer_infos"][0]["signature"].native
            token = cms.ContentInfo.load(stamp(value))
            signed_data = with_signature_time_stamp(signed_data, token)
        return signed_data.dump()

    try:
        annotation = _stamp(package, placement, stamp_size) if placement is not None else None
        signed = add_signature(
            package,
            make_signed_value,
            provider=PROVIDER,
            signature_time=now,
            stamps=[annotation] if annotation is not None else [],
            signature_type=SignatureType.SIGN,
        )
    except OfdError as exc:
        raise InvalidInput(f"the OFD cannot be signed: {exc}") from None
    except PkiError as exc:
        raise InvalidInput(f"cannot make a GM/T 0099 signature: {exc}") from None
    output = signed.to_bytes()
    output_sha256 = hashlib.sha256(output).hexdigest()
    (signature_path,) = made
    serial = str(signer_certificate.serial_number)
    with context.database.session() as session:
        entry = audit.append(
            session,
            action=SIGN_ACTION,
            actor=actor,
            document_hash=output_sha256,
            details={
                "container": "ofd",
                "signature_type": SignatureType.SIGN.value,
                "input_sha256": input_sha256,
                "signature_path": signature_path,
                "certificate_serial": serial,
                "time_stamped": timestamp,
                **(details or {}),
            },
        )
        audit_seq = entry.seq
    return OfdSignResult(
        ofd=output,
        input_sha256=input_sha256,
        output_sha256=output_sha256,
        certificate_serial=serial,
        signature_path=signature_path.lstrip("/"),
        audit_seq=audit_seq,
    )
