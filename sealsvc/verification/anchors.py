"""The service's trust anchors: the roots in ``<data dir>/ca/``.

A module of its own because both the document verifier (:mod:`.service`) and the SES
verifier (:mod:`.ses`) read them, and the document verifier dispatches OFD files to the SES
verifier: with the function in either, the two would import each other.
"""

from __future__ import annotations

from pathlib import Path

from asn1crypto import x509

from sealsvc.verification.validator import TrustAnchors

__all__ = ["service_anchors", "service_issuing_cas"]


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
