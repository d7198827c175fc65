"""The roots the library trusts for licences other issuing systems push (归集).

An admin configures them (``sealctl library trust add ROOT.pem``); they are the only
anchors a collected licence is verified against — the service's own roots stay out unless
added here too, so trusting our CA for our seals does not make it trusted for other
systems' licences, and a foreign root trusted for the library seals nothing of ours.  Kept
in the database: every node must judge alike.
"""

from __future__ import annotations

from asn1crypto import pem, x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from sealsvc import audit
from sealsvc.errors import InvalidInput, NotFound
from sealsvc.models import LibraryTrustAnchor
from sealsvc.verification import TrustAnchors

__all__ = ["add_roots", "library_anchors", "list_roots", "remove_root"]


def _certificates(data: bytes) -> list[x509.Certificate]:
    try:
        if pem.detect(data):
            return [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]
        certificate = x509.Certificate.load(data)
        certificate.native  # noqa: B018 - parse it all now, not at first use
        return [certificate]
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not a PEM or DER certificate: {exc}") from None


def add_roots(session: Session, data: bytes, *, actor: str) -> list[LibraryTrustAnchor]:
    """Trust the CA certificates in ``data`` (PEM, one or more, or DER) for collected
    licences; one already trusted is kept as it is.  A certificate that is not a CA is
    refused: a path cannot end in it."""
    certificates = _certificates(data)
    if not certificates:
        raise InvalidInput("no certificate found")
    rows = []
    for certificate in certificates:
        if not certificate.ca:
            raise InvalidInput(
                f"{certificate.subject.human_friendly} is not a CA certificate "
                "(basicConstraints cA is not true): it cannot be a trust anchor"
            )
        der = certificate.dump()
        row = LibraryTrustAnchor(der=der, subject=certificate.subject.human_friendly)
        known = session.scalar(select(LibraryTrustAnchor).where(LibraryTrustAnchor.der == der))
        if known is not None:
            rows.append(known)
            continue
        session.add(row)
        session.flush()
        audit.append(
            session,
            action="library.trust.add",
            actor=actor,
            details={"sha256": row.sha256, "subject": row.subject},
        )
        rows.append(row)
    return rows


def list_roots(session: Session) -> list[LibraryTrustAnchor]:
    return list(session.scalars(select(LibraryTrustAnchor).order_by(LibraryTrustAnchor.id)))


def remove_root(session: Session, sha256: str, *, actor: str) -> LibraryTrustAnchor:
    """Stop trusting the root whose SHA-256 (hex of its DER) is ``sha256``; licences
    collected before stay (they verified when they came in)."""
    row = session.scalar(
        select(LibraryTrustAnchor).where(LibraryTrustAnchor.sha256 == sha256.strip().lower())
    )
    if row is None:
        raise NotFound(f"no library trust anchor with SHA-256 {sha256}")
    session.delete(row)
    audit.append(
        session,
        action="library.trust.remove",
        actor=actor,
        details={"sha256": row.sha256, "subject": row.subject},
    )
    return row


def library_anchors(session: Session) -> TrustAnchors:
    """The roots collected licences are verified against (possibly none)."""
    return TrustAnchors(tuple(x509.Certificate.load(row.der) for row in list_roots(session)))
