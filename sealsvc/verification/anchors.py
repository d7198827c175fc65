"""The service's trust anchors: its roots, from the registry (or ``<data dir>/ca/``).

The service reads them from the database (:func:`registry_anchors`): every node of a
cluster shares it, while ``ca/`` is an export a node with an empty data directory lacks
(issue #19).  ``sealctl verify`` offline, without the database, reads the exported files.

A module of its own because both the document verifier (:mod:`.service`) and the SES
verifier (:mod:`.ses`) read them, and the document verifier dispatches OFD files to the SES
verifier: with the function in either, the two would import each other.
"""

from __future__ import annotations

from pathlib import Path

from asn1crypto import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from sealsvc.models import Certificate, CertificateProfile, CertificateStatus
from sealsvc.verification.validator import TrustAnchors

__all__ = ["registry_anchors", "service_anchors", "service_issuing_cas"]


def registry_anchors(session: Session) -> TrustAnchors:
    """The service's valid roots as the registry holds them (none before ``sealctl init``)."""
    ders = session.scalars(
        select(Certificate.der)
        .where(
            Certificate.profile == CertificateProfile.ROOT_CA.value,
            Certificate.status == CertificateStatus.VALID.value,
        )
        .order_by(Certificate.id)
    ).all()
    return TrustAnchors.from_pem(*ders)


def service_anchors(ca_dir: Path) -> TrustAnchors:
    """The service's roots: every ``*-root.pem`` in the CA directory (none if it is absent)."""
    files = sorted(ca_dir.glob("*-root.pem")) if ca_dir.is_dir() else []
    return TrustAnchors.from_files(files)


def service_issuing_cas(ca_dir: Path) -> tuple[x509.Certificate, ...]:
    """The service's current issuing CAs (``*-issuing.pem``): what a path from one of our
    seals needs when the signature carries only the leaf (an OFD's ``SES_Signature``) and
    no database is at hand to list every issuing CA there has been."""
    files = sorted(ca_dir.glob("*-issuing.pem")) if ca_dir.is_dir() else []
    return TrustAnchors.from_files(files).certificates
