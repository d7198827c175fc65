"""Keeping sealed PDFs verifiable for decades: the PAdES B-LTA renewal (EN 319 142-1 §5.5).

A B-LTA document ends with a document time-stamp whose TSA certificate lives ten years.
Once it expires, nothing proves any more that the seal, the CRLs and the OCSP answers in
the document existed while their certificates were good, and a verifier can only say
INDETERMINATE.  An archive therefore *extends* its documents before that happens: it adds
fresh validation data for every certificate in the file (seal, time-stamp and CA
certificates) to the Document Security Store and covers everything with a new document
time-stamp from the current TSA certificate.  Each renewal pushes the horizon another
TSA lifetime out; the verifier (:mod:`sealsvc.verification`) walks the chain of document
time-stamps back to the seal.  The same operation lifts a B-B/B-T document to B-LTA.

Only documents with signatures from this service are extended: revocation data for
another authority's certificates would have to be fetched from its URLs, which a sealing
service must not do for a file somebody uploaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asn1crypto import crl, ocsp, x509
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from sqlalchemy import select

from pki.certificates import Profile, load_certificate
from sealsvc import audit
from sealsvc.ca import HIERARCHIES
from sealsvc.errors import InvalidInput
from sealsvc.models import Certificate
from sealsvc.pades import (
    RevocationMaterial,
    TsaTimeStamper,
    add_document_timestamp,
    add_validation_data,
)
from sealsvc.sealing import check_upload_size
from sealsvc.trust_services import TrustServices
from sealsvc.verification.pdf_signatures import (
    FormatProblem,
    read_document,
    signature_timestamp_token,
)

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["ArchiveExtender", "Extension"]


@dataclass(frozen=True)
class Extension:
    """What one renewal did: the new bytes and what went into them."""

    pdf: bytes
    hierarchy: str
    """Which TSA time-stamped the renewal: that of the newest signature of this service."""
    input_sha256: str
    output_sha256: str
    certificates: int
    """Certificates in the file that this service vouched for with fresh validation data."""
    signatures: int
    audit_seq: int


class ArchiveExtender:
    """Adds validation data and a document time-stamp to PDFs this service sealed."""

    def __init__(self, context: ServiceContext, trust: TrustServices | None = None) -> None:
        self._context = context
        self.trust = trust or TrustServices(context)

    def extend(
        self,
        pdf: bytes,
        *,
        actor: str,
        details: dict[str, Any] | None = None,
        action: str = "archive.extend",
        before_commit: Callable[[bytes], None] | None = None,
    ) -> Extension:
        """Return ``pdf`` with fresh validation data and one more document time-stamp.

        Every signature already in the file stays intact (incremental update).  Raises
        :class:`InvalidInput` for anything that is not a readable PDF with at least one
        signature of this service.  ``details`` (the API's client and key id) go into the
        audit entry, recorded as ``action``.  ``before_commit`` gets the new bytes inside
        the audit transaction (``archive renew`` stores the file there): if it raises,
        no entry is written.
        """
        check_upload_size(self._context.settings, pdf)
        try:
            document = read_document(pdf)
        except FormatProblem as exc:
            raise InvalidInput(str(exc)) from None
        if not document.signatures:
            raise InvalidInput("the PDF has no seal or time-stamp to extend")
        issuers = self.our_issuers()
        ours: dict[bytes, tuple[str, x509.Certificate]] = {}
        newest_hierarchy = None
        for found in document.signatures:  # oldest revision first
            if found.embedded is None:
                raise InvalidInput(f"signature {found.field_name} cannot be read: {found.problem}")
            for certificate in _certificates_of(found.embedded):
                hierarchy = issuers.get(certificate.issuer.dump())
                if hierarchy is not None:
                    ours[certificate.dump()] = (hierarchy, certificate)
                    newest_hierarchy = hierarchy
        if newest_hierarchy is None:
            raise InvalidInput(
                "no seal or time-stamp of this service in the PDF: only its own documents "
                "can be extended"
            )
        material = _merge(self.trust.validation_data(h, c) for h, c in ours.values())
        timestamper = TsaTimeStamper(self.trust.tsa(newest_hierarchy).respond)
        digest = HIERARCHIES[newest_hierarchy]["leaf"].default_scheme.digest_algorithm
        extended = add_document_timestamp(
            add_validation_data(pdf, material), timestamper, digest
        ).getvalue()
        input_sha256 = hashlib.sha256(pdf).hexdigest()
        output_sha256 = hashlib.sha256(extended).hexdigest()
        with self._context.database.session() as session:
            entry = audit.append(
                session,
                action=action,
                actor=actor,
                document_hash=output_sha256,
                details={
                    **(details or {}),
                    "input_sha256": input_sha256,
                    "hierarchy": newest_hierarchy,
                    "certificates": len(ours),
                },
            )
            audit_seq = entry.seq
            if before_commit is not None:
                before_commit(extended)
        return Extension(
            pdf=extended,
            hierarchy=newest_hierarchy,
            input_sha256=input_sha256,
            output_sha256=output_sha256,
            certificates=len(ours),
            signatures=len(document.signatures) + 1,
            audit_seq=audit_seq,
        )

    def our_issuers(self) -> dict[bytes, str]:
        """Subject DER of every issuing CA this service has had → its hierarchy.

        Only leaves of an issuing CA (seal, TSA, OCSP certificates) get fresh validation
        data; the CA certificates and CRLs come with them.
        """
        with self._context.database.session(read_only=True) as session:
            rows = session.scalars(
                select(Certificate).where(Certificate.profile == Profile.ISSUING_CA.value)
            )
            return {load_certificate(row.der).subject.dump(): row.hierarchy for row in rows}


def _certificates_of(embedded: EmbeddedPdfSignature) -> list[x509.Certificate]:
    """The signer's certificates and those of its signature time-stamp token, if any."""
    found = [embedded.signer_cert, *embedded.other_embedded_certs]
    token = signature_timestamp_token(embedded)
    if token is not None:
        found += [c.chosen for c in token["certificates"] if c.name == "certificate"]
    return found


def _merge(parts: Iterable[RevocationMaterial]) -> RevocationMaterial:
    """One DSS worth of material; the same certificate or CRL appears once."""
    certificates: dict[bytes, x509.Certificate] = {}
    crls: dict[bytes, crl.CertificateList] = {}
    responses: dict[bytes, ocsp.OCSPResponse] = {}
    for part in parts:
        certificates.update((c.dump(), c) for c in part.certificates)
        crls.update((c.dump(), c) for c in part.crls)
        responses.update((r.dump(), r) for r in part.ocsp_responses)
    return RevocationMaterial(
        tuple(certificates.values()), tuple(crls.values()), tuple(responses.values())
    )
