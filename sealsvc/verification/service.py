"""Verification as the service offers it: our trust anchors, our registry, our licences.

:class:`DocumentVerifier` is built once per process (the API builds one per worker): it
holds the trust anchors — the service's own RSA and SM2 roots from ``<data dir>/ca/`` —
and the registry lookup, and answers each upload with the validation report plus, when
the file is (or claims to be) one of our licences, the licence's registry status.
Revocation data of our own certificates comes from the service's OCSP responder and CRLs
in-process (a B-T seal then verifies without embedded revocation data); other URLs named
in an uploaded file are never fetched.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sealsvc.licences.identify import LicenceMatch, identify_licence
from sealsvc.licences.pipeline import check_number
from sealsvc.trust_services import TrustServices
from sealsvc.verification.registry import database_lookup
from sealsvc.verification.report import ValidationReport
from sealsvc.verification.validator import TrustAnchors, verify

__all__ = ["DocumentCheck", "DocumentVerifier", "service_anchors"]


def service_anchors(ca_dir: Path) -> TrustAnchors:
    """The service's roots: every ``*-root.pem`` in the CA directory (none if it is absent)."""
    files = sorted(ca_dir.glob("*-root.pem")) if ca_dir.is_dir() else []
    return TrustAnchors.from_files(files)


@dataclass(frozen=True)
class DocumentCheck:
    """The verdict on one uploaded file."""

    report: ValidationReport
    licence: LicenceMatch | None
    """The registered licence the file is or names, ``None`` if it is none of ours."""

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON (schema ``sealsvc.verification/1``) plus a ``licence`` key."""
        return {**self.report.to_dict(), "licence": self.licence and self.licence.as_dict()}


class DocumentVerifier:
    """Verifies uploads against the service's trust anchors and registry; thread-safe."""

    def __init__(self, context, trust: TrustServices | None = None) -> None:
        self._context = context
        self._lookup = database_lookup(context.database)
        self._fetcher = (trust or TrustServices(context)).local_fetcher()
        self._lock = threading.Lock()
        self._anchors: TrustAnchors | None = None

    def anchors(self) -> TrustAnchors:
        """Read once; re-read while still empty (a service started before its first CA)."""
        with self._lock:
            if self._anchors is None or not self._anchors.certificates:
                self._anchors = service_anchors(self._context.settings.ca_dir)
            return self._anchors

    def check(self, pdf: bytes, *, licence_number: str | None = None) -> DocumentCheck:
        """Verify ``pdf``; compare it with licence ``licence_number`` when one is named.

        Never raises for a bad file (the report says FORMAT_FAILURE); a named licence
        number must be well-formed (InvalidInput) and registered (NotFound).
        """
        if licence_number is not None:
            check_number(licence_number)
        report = verify(
            pdf,
            trust=self.anchors(),
            registry_lookup=self._lookup,
            allow_fetching=True,
            fetcher=self._fetcher,
        )
        with self._context.database.session(read_only=True) as session:
            licence = identify_licence(
                session,
                report.document_sha256,
                pdf,
                number=licence_number,
                settings=self._context.settings,
            )
        return DocumentCheck(report, licence)
