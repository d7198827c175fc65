"""Sign a document as a person (电子签名): the personal counterpart of :mod:`sealsvc.sealing`.

A seal stands for an organisation, a personal signature for a person — the applicant who
signs a form, the officials who sign off an approval (经办人 → 审核人 → 签发人) before the
行政审批专用章 goes on (issue #18 §3).  The flow:

verified identity (:func:`sealsvc.identity.verify_id_token`) → key: an enrolled official's
long-lived key (:func:`sealsvc.persons.person_signer`, which insists on a fresh token of
that very person) or, for anyone else, an event certificate whose key lives for this one
call (:func:`sealsvc.persons.event_signer`) → the same PAdES code that seals
(:func:`sealsvc.pades.seal_pdf`) with the person's handwritten signature as the visible
appearance → ``person.sign`` audit entry → signed bytes.

The level is at least B-T: an event certificate expires ten minutes after the event, and
only the signature time-stamp proves the signature was made while it was valid.  B-LT and
B-LTA embed the personal CA's OCSP answer and CRLs, fetched in-process during the event.  A
personal signature never certifies the document (DocMDP): certification is the author's
act, and leaving it out keeps every later signature and the final seal allowed.

An OFD gets a GM/T 0099 ``Type="Sign"`` signature (:func:`sealsvc.ofd_sealing.sign_ofd`),
a GB/T 35275 SignedData, so always with an SM2 certificate (an applicant's event
certificate comes from the SM2 personal CA whatever ``hierarchy`` says).  At B-T (the
default) its SignerInfo carries our TSA's token over the signature value (CAdES-T), which
keeps an event certificate's signature valid after the certificate's minutes; B-B (no
time-stamp) is left to officials' long-lived certificates.
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asn1crypto import crl, ocsp
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select

from ofd.package import is_ofd
from pki.certificates import Profile, load_certificate
from pki.clock import CHINA_TIME, now_utc
from pki.ocsp import build_request
from sealsvc import audit, persons
from sealsvc.errors import InvalidInput, SealsvcError
from sealsvc.identity import PersonIdentity
from sealsvc.models import IdentityProvider, Person, PersonStatus
from sealsvc.ofd_sealing import sign_ofd
from sealsvc.pades import (
    Level,
    Placement,
    RevocationMaterial,
    SealingMaterial,
    SealOptions,
    TsaTimeStamper,
    seal_pdf,
)
from sealsvc.sealimage.errors import SealImageError
from sealsvc.sealimage.fonts import load_font
from sealsvc.sealimage.upload import load_uploaded_png
from sealsvc.sealing import check_upload_size
from sealsvc.trust_services import TrustServices

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = [
    "ACTION",
    "ACTION_REFUSED",
    "LEVELS",
    "OFD_LEVELS",
    "PersonalSignResult",
    "sign_as_person",
    "signature_appearance_pdf",
    "signature_appearance_png",
]

ACTION = "person.sign"
ACTION_REFUSED = "person.sign_refused"
LEVELS = (Level.B_T, Level.B_LT, Level.B_LTA)
"""Levels a PDF signature of a person is made at.  B-B is refused: an event certificate's
signature would be unverifiable ten minutes later without its time-stamp."""
OFD_LEVELS = (Level.B_T, Level.B_B)
"""Levels an OFD ``Type="Sign"`` is made at: B-T carries our TSA's token in the SignerInfo;
B-B none, so only an official's long-lived certificate may sign that way."""
_ROLE_MAX = 32
_INK = (0.05, 0.05, 0.2)
"""Dark blue-black, the colour of a pen, for the name and time under the signature."""


@dataclass(frozen=True)
class _Line:
    """One line of text in the appearance: baseline height and size, as parts of the side."""

    baseline: float
    size: float


_HANDWRITING = (0.30, 0.70)
"""Bottom and height of the handwriting's box, as parts of the side (full width)."""
_NAME_IN_PLACE = _Line(0.55, 0.30)
"""The name set large where the handwriting would be, when there is no image yet (its size
also shrinks so that the name fits 90 % of the width)."""
_NAME = _Line(0.16, 0.11)
_TIME = _Line(0.04, 0.075)
"""The layout both appearances share — the PDF's (vector, reportlab) and the OFD's (a PNG
in the signed value): the same signature looks the same in either format."""
_APPEARANCE_DPI = 300
"""Resolution of the OFD appearance PNG: print quality at 30–40 mm."""


def _when(signed_at: datetime) -> str:
    return signed_at.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class PersonalSignResult:
    """A signed document and what the audit log recorded about it."""

    document: bytes
    format: str
    """``pdf`` (PAdES) or ``ofd`` (GM/T 0099 ``Type="Sign"``)."""
    certificate_serial: str
    event: bool
    """True: signed with an event certificate; False: an official's long-lived one."""
    audit_seq: int
    input_sha256: str
    output_sha256: str


def _check_role(role: str) -> str:
    role = role.strip()
    if not role or len(role) > _ROLE_MAX:
        raise InvalidInput(f"the role must be 1 to {_ROLE_MAX} characters (e.g. 经办人, 审核人)")
    if any(unicodedata.category(ch).startswith("C") for ch in role):
        raise InvalidInput("the role must not contain control characters")
    return role


def signature_appearance_pdf(
    name: str, signed_at: datetime, image_png: bytes | None, side_mm: float
) -> bytes:
    """The visible signature: the handwritten image, the name and the signing time under it.

    A square one-page PDF ``side_mm`` across (the placement's box), transparent around
    the ink so the document shows through.  Without an image yet, the name itself is set
    large where the handwriting would be.  The name is the real one — a signed document
    names its signer, as on paper — and the ID number is never shown.
    """
    font = load_font()
    font.check_covers(name)
    side = side_mm * mm
    out = io.BytesIO()
    canvas = Canvas(
        out, pagesize=(side, side), invariant=True, pageCompression=1, initialFontName=font.name
    )
    canvas.setTitle(f"{name} 签名")
    canvas.setFillColorRGB(*_INK)
    bottom, height = _HANDWRITING
    if image_png is not None:
        canvas.drawImage(
            ImageReader(io.BytesIO(image_png)),
            0,
            side * bottom,
            side,
            side * height,
            mask="auto",
            preserveAspectRatio=True,
            anchor="c",
        )
    else:
        canvas.setFont(font.name, side * _name_in_place_size(name))
        canvas.drawCentredString(side / 2, side * _NAME_IN_PLACE.baseline, name)
    for line, text in ((_NAME, name), (_TIME, _when(signed_at))):
        canvas.setFont(font.name, side * line.size)
        canvas.drawCentredString(side / 2, side * line.baseline, text)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _name_in_place_size(name: str) -> float:
    return min(_NAME_IN_PLACE.size, 0.9 / max(len(name), 1))


def signature_appearance_png(
    name: str, signed_at: datetime, image_png: bytes | None, side_mm: float
) -> bytes:
    """:func:`signature_appearance_pdf`'s appearance as a transparent PNG (same layout,
    same font, same ink), for an OFD ``Type="Sign"``: an OFD signature's appearance is a
    picture the reader places in the ``StampAnnot`` box, as a seal's is."""
    font = load_font()
    font.check_covers(name)
    side = max(1, round(side_mm / 25.4 * _APPEARANCE_DPI))
    canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    ink = tuple(round(c * 255) for c in _INK)
    bottom, height = _HANDWRITING
    if image_png is not None:
        handwriting = Image.open(io.BytesIO(image_png)).convert("RGBA")
        box = (side, round(side * height))
        handwriting.thumbnail(box, Image.Resampling.LANCZOS)  # keeps the aspect ratio
        top = side - round(side * (bottom + height))
        canvas.alpha_composite(
            handwriting,
            ((side - handwriting.width) // 2, top + (box[1] - handwriting.height) // 2),
        )
    lines = [(_NAME, name), (_TIME, _when(signed_at))]
    if image_png is None:
        lines.insert(0, (_Line(_NAME_IN_PLACE.baseline, _name_in_place_size(name)), name))
    for line, text in lines:
        face = ImageFont.truetype(
            font.path, max(1, round(side * line.size)), index=font.subfont_index
        )
        draw.text((side / 2, side * (1 - line.baseline)), text, font=face, fill=ink, anchor="ms")
    out = io.BytesIO()
    canvas.save(out, "PNG", optimize=True)
    return out.getvalue()


def _enrolled(context: ServiceContext, identity: PersonIdentity) -> bool:
    """Whether an active official is enrolled for the identity's provider and subject."""
    with context.database.session(read_only=True) as session:
        row = session.scalar(
            select(Person.id)
            .join(IdentityProvider)
            .where(
                IdentityProvider.name == identity.provider,
                Person.subject == identity.subject,
                Person.status == PersonStatus.ACTIVE.value,
            )
        )
    return row is not None


@contextmanager
def _signer(
    context: ServiceContext, identity: PersonIdentity, hierarchy: str, actor: str
) -> Iterator[persons.PersonSigner]:
    """An official's key for an enrolled official, else an event certificate for this call."""
    if _enrolled(context, identity):
        yield persons.person_signer(context, identity, actor=actor)
        return
    with persons.event_signer(context, identity, hierarchy=hierarchy, actor=actor) as handle:
        yield handle


def _refused(
    context: ServiceContext,
    identity: PersonIdentity,
    refusal: SealsvcError,
    actor: str,
    details: dict[str, Any] | None,
) -> None:
    """Audit a refused signing event (``person.sign_refused``), never the ID number."""
    with context.database.session() as session:
        audit.append(
            session,
            action=ACTION_REFUSED,
            actor=actor,
            details={
                "provider": identity.provider,
                "token_id": identity.token_id,
                "refusal": refusal.kind,
                "reason": str(refusal)[:500],
                **(details or {}),
            },
        )


def sign_as_person(
    context: ServiceContext,
    document: bytes,
    identity: PersonIdentity,
    *,
    placement: Placement,
    level: Level = Level.B_T,
    role: str,
    signature_image_png: bytes | None,
    actor: str,
    details: dict[str, Any] | None = None,
    trust: TrustServices | None = None,
    hierarchy: str = "rsa",
) -> PersonalSignResult:
    """Sign ``document`` as ``identity`` in ``role``; raise a :class:`SealsvcError` on refusal.

    ``hierarchy`` (``rsa`` or ``sm2``) picks the event certificate's CA; an official signs
    with the key they were enrolled with.  Refusals are audited as ``person.sign_refused``
    (and, for an official whose token does not unlock the key, ``person.refused``).
    """
    try:
        return _sign(
            context, document, identity, placement=placement, level=level, role=role,
            image=signature_image_png, actor=actor, details=details,
            trust=trust or TrustServices(context), hierarchy=hierarchy,
        )  # fmt: skip
    except SealsvcError as refusal:
        _refused(context, identity, refusal, actor, details)
        raise


def _sign(
    context: ServiceContext,
    document: bytes,
    identity: PersonIdentity,
    *,
    placement: Placement,
    level: Level,
    role: str,
    image: bytes | None,
    actor: str,
    details: dict[str, Any] | None,
    trust: TrustServices,
    hierarchy: str,
) -> PersonalSignResult:
    check_upload_size(context.settings, document, "document")
    role = _check_role(role)
    if is_ofd(document):
        return _sign_ofd(
            context, document, identity, placement=placement, level=level, role=role,
            image=_checked_image(image), actor=actor, details=details, trust=trust,
        )  # fmt: skip
    if level not in LEVELS:
        raise InvalidInput(
            f"a personal signature is made at level {', '.join(LEVELS)}, not {level}"
        )
    if not document.lstrip()[:5].startswith(b"%PDF-"):
        raise InvalidInput("the file is neither a PDF (no %PDF- header) nor an OFD")
    image = _checked_image(image)
    signed_at = now_utc()
    stamp = (
        None
        if placement.invisible
        else signature_appearance_pdf(identity.name, signed_at, image, placement.size_mm)
    )
    with _signer(context, identity, hierarchy, actor) as handle:
        options = SealOptions(
            level=level,
            placement=placement,
            reason=role,
            signer_name=identity.name,
            field_prefix="Signature",
        )
        signed = seal_pdf(
            document,
            SealingMaterial(
                key=handle.signer,
                certificate=handle.certificate,
                chain=handle.chain,
                stamp_pdf=stamp,
                timestamper=TsaTimeStamper(trust.tsa(handle.hierarchy).respond),
                validation_data=lambda: _validation_data(context, trust, handle),
            ),
            options,
        )
    return _audited(context, document, signed, handle, "pdf", level, role, actor, details)


def _validation_data(
    context: ServiceContext, trust: TrustServices, handle: persons.PersonSigner
) -> RevocationMaterial:
    """What a B-LT personal signature embeds: the personal CA and root, the TSA and its
    issuing CA, the three CRLs, and the personal CA's OCSP answer for the signer — taken
    while an event certificate is still valid, so the document validates from its DSS."""
    hierarchy = handle.hierarchy
    person_ca, root = handle.chain
    with context.database.session(read_only=True) as session:
        ca_set = context.ca.ca_set(session, hierarchy)
    issuing, _ = ca_set.chain()
    request = build_request(handle.certificate, person_ca, nonce=False)
    answer = ocsp.OCSPResponse.load(trust.person_ocsp(hierarchy).respond(request))
    return RevocationMaterial(
        certificates=(person_ca, root, issuing, load_certificate(ca_set.tsa.der)),
        crls=tuple(
            crl.CertificateList.load(trust.latest_crl_der(hierarchy, profile))
            for profile in (Profile.ROOT_CA, Profile.ISSUING_CA, Profile.PERSON_CA)
        ),
        ocsp_responses=(answer,),
    )


def _checked_image(image: bytes | None) -> bytes | None:
    """The uploaded handwriting through the checks of an uploaded seal scan."""
    if image is None:
        return None
    try:
        return load_uploaded_png(image)
    except SealImageError as exc:  # worded for a seal scan: say what the upload was
        raise InvalidInput(str(exc).replace("seal image", "signature image")) from None


def _sign_ofd(
    context: ServiceContext,
    document: bytes,
    identity: PersonIdentity,
    *,
    placement: Placement,
    level: Level,
    role: str,
    image: bytes | None,
    actor: str,
    details: dict[str, Any] | None,
    trust: TrustServices,
) -> PersonalSignResult:
    """GM/T 0099 ``Type="Sign"`` with an SM2 key (see the module note): B-T time-stamps
    the SignerInfo, B-B (an official's long-lived certificate only) does not."""
    if level not in OFD_LEVELS:
        raise InvalidInput(
            f'an OFD Type="Sign" signature is made at level {", ".join(OFD_LEVELS)}, not '
            f"{level}: B-LT and B-LTA have no OFD counterpart"
        )
    if level is Level.B_B and not _enrolled(context, identity):
        raise InvalidInput(
            "an applicant's OFD signature needs level B-T: only its time-stamp proves it "
            "was made while the event certificate was valid"
        )
    side = placement.size_mm
    signed_at = now_utc()
    appearance = (
        None
        if placement.invisible
        else signature_appearance_png(identity.name, signed_at, image, side)
    )
    with _signer(context, identity, "sm2", actor) as handle:
        if handle.hierarchy != "sm2":
            raise InvalidInput('an OFD Type="Sign" signature needs an SM2 certificate (GB/T 35275)')
        signed = sign_ofd(
            context,
            document,
            handle.signer,
            handle.certificate.dump(),
            chain=tuple(c.dump() for c in handle.chain),
            actor=actor,
            placement=placement,
            stamp_size=(side, side),
            details={"provider": identity.provider, "token_id": identity.token_id, "role": role},
            timestamp=level is Level.B_T,
            trust=trust,
            appearance_png=appearance,
            role=role,
            now=signed_at,
        ).ofd
    return _audited(context, document, signed, handle, "ofd", level, role, actor, details)


def _audited(
    context: ServiceContext,
    document: bytes,
    signed: bytes,
    handle: persons.PersonSigner,
    kind: str,
    level: Level,
    role: str,
    actor: str,
    details: dict[str, Any] | None,
) -> PersonalSignResult:
    """Write the ``person.sign`` entry (never the ID number) and return the result."""
    serial = str(handle.certificate.serial_number)
    identity = handle.identity
    input_sha256 = hashlib.sha256(document).hexdigest()
    output_sha256 = hashlib.sha256(signed).hexdigest()
    with context.database.session() as session:
        entry = audit.append(
            session,
            action=ACTION,
            actor=actor,
            document_hash=output_sha256,
            details={
                "provider": identity.provider,
                "token_id": identity.token_id,
                "input_sha256": input_sha256,
                "certificate_serial": serial,
                "event_certificate": handle.event,
                "hierarchy": handle.hierarchy,
                "role": role,
                "format": kind,
                "level": level.value,
                **(details or {}),
            },
        )
        audit_seq = entry.seq
    return PersonalSignResult(
        document=signed,
        format=kind,
        certificate_serial=serial,
        event=handle.event,
        audit_seq=audit_seq,
        input_sha256=input_sha256,
        output_sha256=output_sha256,
    )
