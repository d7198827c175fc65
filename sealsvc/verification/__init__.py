"""Verification of sealed PDFs: an ETSI EN 319 102-1 style report for every signature.

``verify(pdf, trust=TrustAnchors(...))`` returns a :class:`ValidationReport`; see
``docs/verification-report.md`` for the JSON form and the rules behind each indication.
"""

from sealsvc.verification.report import (
    JSON_SCHEMA,
    SCHEMA_ID,
    CertificateInfo,
    ChainCheck,
    DocumentVerdict,
    IntegrityCheck,
    ModificationCheck,
    RegistryMatch,
    RevocationCheck,
    SignatureReport,
    TimestampCheck,
    ValidationReport,
)
from sealsvc.verification.revocation import RevocationFetcher, http_fetcher
from sealsvc.verification.validator import RegistryLookup, TrustAnchors, verify

__all__ = [
    "JSON_SCHEMA",
    "SCHEMA_ID",
    "CertificateInfo",
    "ChainCheck",
    "DocumentVerdict",
    "IntegrityCheck",
    "ModificationCheck",
    "RegistryLookup",
    "RegistryMatch",
    "RevocationCheck",
    "RevocationFetcher",
    "SignatureReport",
    "TimestampCheck",
    "TrustAnchors",
    "ValidationReport",
    "http_fetcher",
    "verify",
]
