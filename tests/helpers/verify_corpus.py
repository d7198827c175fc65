"""In-process trust services and sealed PDFs for the verification tests and the benchmark.

:class:`TestServices` wraps one :mod:`pki_fixtures` hierarchy with a real RFC 3161 TSA
(:class:`pki.tsa.TimeStampAuthority`), a real OCSP responder whose answers come from a
mutable status table (so a test can revoke or suspend a seal after sealing), and CRLs
built on demand.  ``fetch`` answers the URLs written into the test certificates, so
``verify(..., allow_fetching=True, fetcher=services.fetch)`` exercises the online path
without a network.  ``seal`` seals with :func:`sealsvc.pades.seal_pdf`, the production code.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from asn1crypto import crl, ocsp, x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from helpers.pdf_fixtures import chinese_pdf, reportlab_seal_pdf
from helpers.pki_fixtures import Hierarchy, build_hierarchy
from pki.algorithms import SigningKey
from pki.crl import RevokedEntry, build_crl
from pki.ocsp import CertStatus, OcspResponder, build_request
from pki.tsa import TimeStampAuthority
from sealsvc.pades import (
    Level,
    Placement,
    RevocationMaterial,
    SealingMaterial,
    SealOptions,
    TsaTimeStamper,
    seal_pdf,
)
from sealsvc.verification import TrustAnchors

__all__ = ["TestServices", "append_page_content_update", "services_for"]


@dataclass
class TestServices:
    """TSA, OCSP and CRLs of one test hierarchy, with a status table tests may change."""

    __test__ = False  # not a pytest class

    hierarchy: Hierarchy
    statuses: dict[int, CertStatus] = field(default_factory=dict)

    def __post_init__(self) -> None:
        h = self.hierarchy
        self.tsa = TimeStampAuthority(h.tsa, h.tsa_key, chain=[h.issuing, h.root])
        self.responder = OcspResponder(
            h.ocsp,
            h.ocsp_key,
            h.issuing,
            lambda serial: self.statuses.get(serial, CertStatus("good")),
        )

    @property
    def trust(self) -> TrustAnchors:
        return TrustAnchors((self.hierarchy.root,))

    def revoke(
        self, certificate: x509.Certificate, at: datetime, reason: str = "key_compromise"
    ) -> None:
        self.statuses[certificate.serial_number] = CertStatus("revoked", at, reason)

    def crl_der(self, issuer: str) -> bytes:
        h = self.hierarchy
        now = datetime.now(UTC)
        if issuer == "root":
            cert, key, revoked = h.root, h.root_key, []
        else:
            cert, key = h.issuing, h.issuing_key
            revoked = [
                RevokedEntry(serial, s.revoked_at, s.reason or "unspecified")
                for serial, s in self.statuses.items()
                if s.status == "revoked"
            ]
        return build_crl(
            issuer_certificate=cert,
            issuer_key=key,
            revoked=revoked,
            crl_number=1,
            this_update=now - timedelta(minutes=5),
            next_update=now + timedelta(days=7),
        ).dump()

    def fetch(self, url: str, ocsp_request: bytes | None) -> bytes:
        """Answer the URLs of the test certificates in-process (OCSP POST, CRL GET)."""
        if ocsp_request is not None:
            return self.responder.respond(ocsp_request)
        return self.crl_der("root" if url.endswith("/root.crl") else "issuing")

    def validation_data(self, certificate: x509.Certificate) -> RevocationMaterial:
        h = self.hierarchy
        response = self.responder.respond(build_request(certificate, h.issuing, nonce=False))
        return RevocationMaterial(
            certificates=(h.issuing, h.root, h.tsa, h.ocsp),
            crls=tuple(crl.CertificateList.load(self.crl_der(i)) for i in ("root", "issuing")),
            ocsp_responses=(ocsp.OCSPResponse.load(response),),
        )

    def seal(
        self,
        pdf: bytes | None = None,
        level: Level = Level.B_LT,
        *,
        certificate: x509.Certificate | None = None,
        key: SigningKey | None = None,
        certify: bool = False,
        placement: Placement | None = None,
    ) -> bytes:
        h = self.hierarchy
        certificate = certificate or h.seal
        material = SealingMaterial(
            key=key or h.seal_key,
            certificate=certificate,
            chain=(h.issuing, h.root),
            stamp_pdf=reportlab_seal_pdf(),
            timestamper=TsaTimeStamper(self.tsa.respond),
            validation_data=lambda: self.validation_data(certificate),
        )
        options = SealOptions(
            level=level, certify=certify, placement=placement or Placement(x_mm=150, y_mm=60)
        )
        return seal_pdf(pdf if pdf is not None else chinese_pdf(1), material, options)


_SERVICES: dict[str, TestServices] = {}


def services_for(family: str) -> TestServices:
    """One :class:`TestServices` per family per process (hierarchies are cached too)."""
    if family not in _SERVICES:
        _SERVICES[family] = TestServices(build_hierarchy(family))
    return _SERVICES[family]


def append_page_content_update(pdf: bytes) -> bytes:
    """An unsigned incremental update that replaces page 1's content stream."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    stream = generic.StreamObject(stream_data=b"BT /F1 24 Tf 100 700 Td (FORGED) Tj ET")
    page["/Contents"] = writer.add_object(stream)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
