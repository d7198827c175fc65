"""Signing requests: a platform asks a person to sign a document on the signature pad.

The flow (issue #18 §3): the 一网通办 platform, which has logged the person in, sends the
document and the person's ID token (:func:`create`); the token is verified at once — the
person is known from that login, not from anything the pad's visitor types — and the
request gets an unguessable id (128 random bits, URL-safe).  The platform sends the
person to ``/sign/{id}``; there the person draws a signature (or reuses the saved one)
and :func:`sign` signs with :func:`~sealsvc.personal_signing.sign_as_person`.  The platform
polls (:func:`for_platform`) for the status and, once signed, the signed document.

The id is the capability: whoever holds it may sign as the person the token named, so it
is short-lived — :data:`REQUEST_TTL`, and never longer than the ID token itself, since the
identity it proved is only vouched for until then — and single use: the switch from
``pending`` to ``signed`` is one conditional UPDATE, so of two concurrent submissions on
any number of nodes only one result is kept.  The audit log names a request by
:func:`request_ref` (a hash of the id), never the id, so a log reader cannot sign.

The person is stored as the verified token described them (provider, ``sub``, salted ID
hash, name, masked ID) — never the ID number.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import update
from sqlalchemy.orm import Session

from ofd.package import is_ofd
from sealsvc import audit, signature_images
from sealsvc.errors import InvalidInput, NotFound, SealsvcError, ServerFault
from sealsvc.identity import PersonIdentity, get_provider, mask_name
from sealsvc.models import IdentityProvider, SigningRequest, SigningRequestStatus, utcnow
from sealsvc.pades import Level, Placement, PlacementNames
from sealsvc.personal_signing import LEVELS, sign_as_person
from sealsvc.verification.ofd import render_face

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

    from sealsvc.context import ServiceContext
    from sealsvc.trust_services import TrustServices

__all__ = [
    "ACTION_CANCEL",
    "ACTION_CREATE",
    "ACTION_REFUSED",
    "DOWNLOAD_WINDOW",
    "REQUEST_TTL",
    "RequestGone",
    "RequestOptions",
    "cancel",
    "create",
    "effective_status",
    "for_platform",
    "identity_of",
    "open_for_person",
    "preview_png",
    "record_refusal",
    "request_dict",
    "request_ref",
    "saved_image",
    "sign",
    "signed_result",
]

ACTION_CREATE = "signing_request.create"
ACTION_CANCEL = "signing_request.cancel"
ACTION_REFUSED = "signing_request.refused"
REQUEST_TTL = timedelta(minutes=10)
"""How long a person has to sign (capped by the ID token's own expiry)."""
DOWNLOAD_WINDOW = timedelta(minutes=30)
"""How long after the request's expiry the pad still offers the signed document."""


class RequestGone(SealsvcError):
    """The request was signed, cancelled or has expired: it can no longer be used (410)."""

    status = 410
    kind = "signing-request-gone"


@dataclass(frozen=True)
class RequestOptions:
    """How the platform wants the document signed: placement, level, the signer's role, and
    the CA hierarchy (``rsa`` or ``sm2``) of an event certificate."""

    placement: Placement
    level: Level
    role: str
    hierarchy: str = "rsa"

    def as_json(self) -> str:
        p = self.placement
        return json.dumps(
            {
                "page": p.page,
                "x_mm": p.x_mm,
                "y_mm": p.y_mm,
                "anchor": p.anchor,
                "field": p.field,
                "size_mm": p.size_mm,
                "level": self.level.value,
                "role": self.role,
                "hierarchy": self.hierarchy,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str, names: PlacementNames) -> RequestOptions:
        values = json.loads(text)
        level, role, hierarchy = (
            Level(values.pop("level")),
            values.pop("role"),
            values.pop("hierarchy"),
        )
        return cls(Placement(**values, names=names), level, role, hierarchy)


def request_ref(request_id: str) -> str:
    """The public name of a request in the audit log: a hash of its id, not the capability."""
    return hashlib.sha256(request_id.encode()).hexdigest()[:16]


def effective_status(row: SigningRequest, now: datetime | None = None) -> SigningRequestStatus:
    """The status as it stands now: a pending request past its expiry is expired."""
    status = SigningRequestStatus(row.status)
    if status is SigningRequestStatus.PENDING and row.expires_at <= (now or utcnow()):
        return SigningRequestStatus.EXPIRED
    return status


def identity_of(session: Session, row: SigningRequest) -> PersonIdentity:
    """The person the request's ID token named, as :func:`verify_id_token` returned them."""
    # The foreign key keeps the provider while the request exists.
    provider = session.get_one(IdentityProvider, row.provider_id)
    return PersonIdentity(
        provider=provider.name,
        subject=row.subject,
        name=row.name,
        id_type=row.id_type,
        id_hash=row.id_hash,
        id_masked=row.id_masked,
        token_id=row.token_id,
        expires_at=row.expires_at,
        department=row.department,
        role=row.person_role,
    )


def _document_kind(document: bytes) -> str:
    """``pdf`` or ``ofd`` (a ``Type="Sign"`` whose appearance is the drawing)."""
    if document.lstrip()[:5].startswith(b"%PDF-"):
        return "pdf"
    if is_ofd(document):
        return "ofd"
    raise InvalidInput(
        "the file is neither a PDF (no %PDF- header) nor an OFD; the pad signs PDF and OFD"
    )


def create(
    session: Session,
    document: bytes,
    identity: PersonIdentity,
    options: RequestOptions,
    *,
    api_key_id: str,
    actor: str,
) -> SigningRequest:
    """Store a pending request for ``identity`` (already verified) and audit it."""
    kind = _document_kind(document)
    if options.level not in LEVELS:
        raise InvalidInput(
            f"a personal signature is made at level {', '.join(LEVELS)}, not {options.level}"
        )
    now = utcnow()
    # Requests that expired unsigned since: their documents are no longer needed by anyone.
    session.execute(
        update(SigningRequest)
        .where(
            SigningRequest.status == SigningRequestStatus.PENDING.value,
            SigningRequest.expires_at <= now,
        )
        .values(status=SigningRequestStatus.EXPIRED.value, document=b"")
    )
    row = SigningRequest(
        id=secrets.token_urlsafe(16),
        api_key_id=api_key_id,
        provider_id=get_provider(session, identity.provider).id,
        subject=identity.subject,
        id_type=identity.id_type,
        id_hash=identity.id_hash,
        id_masked=identity.id_masked,
        name=identity.name,
        department=identity.department,
        person_role=identity.role,
        token_id=identity.token_id,
        document=document,
        document_kind=kind,
        document_sha256=hashlib.sha256(document).hexdigest(),
        options=options.as_json(),
        status=SigningRequestStatus.PENDING.value,
        created_at=now,
        expires_at=min(now + REQUEST_TTL, identity.expires_at),
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        action=ACTION_CREATE,
        actor=actor,
        document_hash=row.document_sha256,
        details={
            "request": request_ref(row.id),
            "provider": identity.provider,
            "subject": identity.subject,
            "token_id": identity.token_id,
            "role": options.role,
            "expires_at": row.expires_at.isoformat(),
        },
    )
    return row


def for_platform(
    session: Session, request_id: str, *, api_key_id: str, admin: bool
) -> SigningRequest:
    """The request, for the API key that created it (or an admin key); else 404."""
    row = session.get(SigningRequest, request_id)
    if row is None or not (admin or row.api_key_id == api_key_id):
        raise NotFound("no signing request with this id for this API key")
    return row


def cancel(session: Session, request_id: str, *, api_key_id: str, admin: bool, actor: str) -> None:
    """Withdraw a pending request (409 once it is signed or expired); audited."""
    row = for_platform(session, request_id, api_key_id=api_key_id, admin=admin)
    status = effective_status(row)
    if status is not SigningRequestStatus.PENDING:
        raise InvalidInput(f"the request is {status.value}; only a pending one can be cancelled")
    row.status = SigningRequestStatus.CANCELLED.value
    row.document = b""
    audit.append(
        session,
        action=ACTION_CANCEL,
        actor=actor,
        document_hash=row.document_sha256,
        details={"request": request_ref(row.id)},
    )


def open_for_person(session: Session, request_id: str) -> SigningRequest:
    """The pending request the pad shows: :class:`NotFound` (404) for an unknown id,
    :class:`RequestGone` (410) once signed, cancelled or expired."""
    row = session.get(SigningRequest, request_id) if len(request_id) <= 32 else None
    if row is None:
        raise NotFound("no such signing request")
    status = effective_status(row)
    if status is not SigningRequestStatus.PENDING:
        raise RequestGone(f"the signing request is {status.value}")
    return row


def record_refusal(
    context: ServiceContext, request_id: str, reason: str, *, actor: str, details: dict[str, str]
) -> None:
    """Audit a refused submission on the pad (another site's form, a used or expired
    request) in a transaction of its own; an id that names no request is not recorded."""
    with context.database.session() as session:
        row = session.get(SigningRequest, request_id) if len(request_id) <= 32 else None
        if row is None:
            return
        audit.append(
            session,
            action=ACTION_REFUSED,
            actor=actor,
            document_hash=row.document_sha256,
            details={"request": request_ref(request_id), "reason": reason, **details},
        )


def saved_image(session: Session, row: SigningRequest) -> bytes | None:
    """The signature the request's person saved earlier, if any."""
    return signature_images.get_image(session, identity_of(session, row))


PREVIEW_PX = 900
_A4_LONG_SIDE_MM = 297
"""Longer side of the first-page preview: sharp on a phone, small to send."""


def preview_png(document: bytes) -> bytes:
    """Page 1 of the document as a PNG, so the person sees what they sign.

    A PDF through poppler's pdftoppm: the document came from an authenticated platform,
    yet is still parsed out of process with a time limit — a hostile or broken PDF costs a
    subprocess, not the service.  An OFD through :mod:`ofd.raster` (the verify page's
    renderer, with its stamps), whose reader bounds what a package may make it allocate;
    sized so that an A4 page's long side is :data:`PREVIEW_PX`.
    """
    if is_ofd(document):
        png = render_face(document, dpi=PREVIEW_PX * 25.4 / _A4_LONG_SIDE_MM)
        if png is None:
            raise InvalidInput("the document's first page cannot be rendered")
        return png
    with tempfile.TemporaryDirectory(prefix="sealsvc-preview-") as directory:
        source = Path(directory) / "document.pdf"
        source.write_bytes(document)
        try:
            # S603/S607: a fixed argv of poppler's tool, found on PATH as an operator would.
            subprocess.run(  # noqa: S603
                ["pdftoppm", "-f", "1", "-l", "1", "-png", "-singlefile",  # noqa: S607
                 "-scale-to", str(PREVIEW_PX), str(source), str(Path(directory) / "page")],
                check=True, capture_output=True, timeout=30,
            )  # fmt: skip
            return (Path(directory) / "page.png").read_bytes()
        except OSError as exc:  # no poppler-utils: the operator's to fix
            raise ServerFault(f"pdftoppm cannot run: {exc}") from exc
        except subprocess.SubprocessError:
            raise InvalidInput("the document's first page cannot be rendered") from None


def signed_result(session: Session, request_id: str) -> bytes:
    """The signed document of a signed request, within :data:`DOWNLOAD_WINDOW` of its expiry."""
    row = session.get(SigningRequest, request_id) if len(request_id) <= 32 else None
    if row is None:
        raise NotFound("no such signing request")
    if row.status != SigningRequestStatus.SIGNED.value or row.result is None:
        raise RequestGone(f"the signing request is {effective_status(row).value}, not signed")
    if row.expires_at + DOWNLOAD_WINDOW <= utcnow():
        raise RequestGone("the signed document is no longer offered here")
    return row.result


def sign(
    context: ServiceContext,
    request_id: str,
    *,
    drawn_png: bytes | None,
    actor: str,
    names: PlacementNames,
    trust: TrustServices | None = None,
) -> bytes:
    """Sign the request's document as its person, with ``drawn_png`` or the saved drawing.

    A new drawing is checked and saved first (replacing the person's earlier one), so it is
    reused next time even should signing fail.  ``names`` words placement errors as the
    platform named the options.  The result is kept only if the request is
    still pending when it is stored (single use); the signed document is returned.
    """
    with context.database.session() as session:
        row = open_for_person(session, request_id)
        identity = identity_of(session, row)
        image: bytes | None
        if drawn_png is not None:
            image = signature_images.set_image(session, identity, drawn_png, actor=actor)
        else:
            image = signature_images.get_image(session, identity)
            if image is None:
                raise InvalidInput("no saved signature: draw the signature on the pad")
        document = row.document
        options = RequestOptions.from_json(row.options, names)
    result = sign_as_person(
        context,
        document,
        identity,
        placement=options.placement,
        level=options.level,
        role=options.role,
        signature_image_png=image,
        actor=actor,
        details={"request": request_ref(request_id)},
        trust=trust,
        hierarchy=options.hierarchy,
    )
    with context.database.session() as session:
        now = utcnow()
        # SQLAlchemy types Session.execute as returning Result; for an UPDATE it returns a
        # CursorResult, and only that type declares rowcount.
        stored = cast(
            "CursorResult[Any]",
            session.execute(
                update(SigningRequest)
                .where(
                    SigningRequest.id == request_id,
                    SigningRequest.status == SigningRequestStatus.PENDING.value,
                    SigningRequest.expires_at > now,
                )
                .values(
                    status=SigningRequestStatus.SIGNED.value,
                    signed_at=now,
                    result=result.document,
                    document=b"",
                ),
            ),
        )
        if stored.rowcount != 1:
            raise RequestGone("the signing request was used or expired meanwhile")
    return result.document


def request_dict(row: SigningRequest) -> dict[str, Any]:
    """What the platform sees of a request (never the person's ID number: it is not kept)."""
    return {
        "request_id": row.id,
        "status": effective_status(row).value,
        "expires_at": row.expires_at.isoformat(),
        "signed_at": row.signed_at.isoformat() if row.signed_at else None,
        "signer": {"name_masked": mask_name(row.name), "id_masked": row.id_masked},
        "document_sha256": row.document_sha256,
    }
