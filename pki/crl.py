"""Certificate revocation lists (RFC 5280 §5) for both hierarchies, built with asn1crypto.

A CRL is a pure function of the issuer and the list of revoked entries: the stateful part
(which serials are revoked, the next CRL number) lives in the registry that calls this.
Held certificates (``certificate_hold``) appear with that reason and disappear from the
next CRL once released — the suspend/resume of a seal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import crl, pem, x509

from pki import algorithms
from pki.algorithms import SignatureScheme, SigningKey
from pki.certificates import key_identifier, load_pem_or_der, x509_time
from pki.errors import CertificateError, SignatureInvalid

__all__ = ["REASONS", "RevokedEntry", "build_crl", "crl_pem", "load_crl", "verify_crl_signature"]

REASONS = frozenset(
    {
        "unspecified",
        "key_compromise",
        "ca_compromise",
        "affiliation_changed",
        "superseded",
        "cessation_of_operation",
        "certificate_hold",
        "privilege_withdrawn",
    }
)
"""RFC 5280 reason codes (asn1crypto names) an operator may give."""


@dataclass(frozen=True)
class RevokedEntry:
    """One revoked (or held) certificate as it appears on a CRL."""

    serial: int
    revoked_at: datetime
    reason: str = "unspecified"

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise CertificateError(f"unknown revocation reason {self.reason!r}")


def build_crl(
    *,
    issuer_certificate: x509.Certificate,
    issuer_key: SigningKey,
    revoked: Iterable[RevokedEntry],
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
    scheme: SignatureScheme | None = None,
) -> crl.CertificateList:
    """A signed CRL with CRL number and authority key identifier extensions."""
    if next_update <= this_update:
        raise CertificateError("CRL nextUpdate must be after thisUpdate")
    if issuer_certificate.public_key.dump() != issuer_key.public_key_info.dump():
        raise CertificateError("the CRL signing key does not match the issuer certificate")
    scheme = scheme or issuer_key.key_algorithm.default_scheme
    entries = [
        {
            "user_certificate": entry.serial,
            "revocation_date": x509_time(entry.revoked_at),
            "crl_entry_extensions": [
                {"extn_id": "crl_reason", "critical": False, "extn_value": entry.reason}
            ],
        }
        for entry in sorted(revoked, key=lambda e: e.serial)
    ]
    tbs = crl.TbsCertList(
        {
            "version": "v2",
            "signature": scheme.algorithm_identifier(),
            "issuer": issuer_certificate.subject,
            "this_update": x509_time(this_update),
            "next_update": x509_time(next_update),
            "revoked_certificates": entries or None,
            "crl_extensions": [
                {"extn_id": "crl_number", "critical": False, "extn_value": crl_number},
                {
                    "extn_id": "authority_key_identifier",
                    "critical": False,
                    "extn_value": {"key_identifier": key_identifier(issuer_certificate.public_key)},
                },
            ],
        }
    )
    return crl.CertificateList(
        {
            "tbs_cert_list": tbs,
            "signature_algorithm": scheme.algorithm_identifier(),
            "signature": issuer_key.sign(tbs.dump(), scheme),
        }
    )


def crl_pem(certificate_list: crl.CertificateList) -> bytes:
    return pem.armor("X509 CRL", certificate_list.dump())


def load_crl(data: bytes) -> crl.CertificateList:
    """Parse a DER or PEM CRL, with a clear error for anything else."""
    return load_pem_or_der(data, crl.CertificateList, "CRL")


def verify_crl_signature(
    certificate_list: crl.CertificateList, issuer_certificate: x509.Certificate
) -> None:
    """Raise :class:`SignatureInvalid` unless the issuer signed this CRL (RSA, ECDSA or SM2)."""
    if certificate_list.issuer.dump() != issuer_certificate.subject.dump():
        raise SignatureInvalid("the CRL was not issued by this CA (issuer name differs)")
    algorithms.verify(
        issuer_certificate.public_key,
        certificate_list["tbs_cert_list"].dump(),
        certificate_list["signature"].native,
        certificate_list["signature_algorithm"],
    )
