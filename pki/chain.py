"""Certificate path validation that works for SM2 as well as RSA and ECDSA.

pyhanko-certvalidator cannot verify SM2-with-SM3 signatures, so an SM2 seal's chain would
otherwise go unchecked.  This module walks a path link by link and checks every signature
with :func:`pki.algorithms.verify` (Tongsuo for SM2, ``cryptography`` for the rest), so both
hierarchies are validated by the same rules.  It follows RFC 5280 §6.1 in spirit, kept small:

What is checked, for every certificate on the path (leaf → trust anchor):

* **path building** — issuers are found by subject DN = issuer DN (RFC 5280 name matching,
  as asn1crypto compares names) and, when both are present, by subject key identifier =
  authority key identifier; candidate paths are tried in turn, trust anchors first;
* **signature** — each certificate's signature under its issuer's public key, and the inner
  ``signature`` algorithm equal to the outer one (RFC 5280 §4.1.1.2);
* **validity** — ``notBefore <= at <= notAfter`` for every certificate, the trust anchor
  included (stricter than §6.1, which uses only an anchor's name and key);
* **issuers are CAs** — basicConstraints ``cA`` true, keyUsage (when present) with
  ``keyCertSign``, and the pathLenConstraint counted over non-self-issued intermediates;
* **critical extensions** — only basicConstraints, keyUsage and extendedKeyUsage are
  processed; any other critical extension fails the path (§6.1.4 (o));
* **the leaf** — the required keyUsage bits (an absent keyUsage extension does *not* count
  as "any usage" here: a seal must say what its key is for) and, when asked, an extended
  key usage named exactly (``anyExtendedKeyUsage`` is not accepted).

When a path breaks in several ways, the reported reason follows this order: signatures,
CA rules, path length, validity, leaf purpose (see ``_check_path``).

What is *not* checked: revocation (CRL/OCSP are separate steps), certificate policies and
policy constraints, name constraints (a critical one fails the path as unsupported),
inhibitAnyPolicy, and the trust anchor's self-signature (trust in an anchor is configured,
not proven).  The anchor is the only certificate whose signature is not verified.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import pairwise

from asn1crypto import x509

from pki import algorithms
from pki.errors import CertificateError, SignatureInvalid, UnsupportedAlgorithm

__all__ = ["MAX_PATH_LENGTH", "ChainError", "ChainFailure", "ValidatedPath", "validate_path"]

MAX_PATH_LENGTH = 8
"""Longest path (in certificates, anchor included) the builder explores."""

_PROCESSED_CRITICAL = frozenset({"basic_constraints", "key_usage", "extended_key_usage"})


class ChainFailure(StrEnum):
    """Why a path did not validate; the comment names the ETSI EN 319 102-1 sub-indication."""

    NO_CHAIN = "no_chain"
    """No path from the certificate to a trust anchor (NO_CERTIFICATE_CHAIN_FOUND)."""
    SIG_FAILURE = "sig_failure"
    """A certificate's signature does not verify under its issuer's key
    (CERTIFICATE_CHAIN_GENERAL_FAILURE)."""
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    """A signature algorithm this service does not implement (CRYPTO_CONSTRAINTS_FAILURE)."""
    EXPIRED = "expired"
    """``at`` is after a certificate's notAfter (EXPIRED / OUT_OF_BOUNDS_NO_POE)."""
    NOT_YET_VALID = "not_yet_valid"
    """``at`` is before a certificate's notBefore (NOT_YET_VALID)."""
    NOT_A_CA = "not_a_ca"
    """An issuer lacks basicConstraints cA=true (CHAIN_CONSTRAINTS_FAILURE)."""
    PATH_LENGTH = "path_length"
    """An issuer's pathLenConstraint is exceeded (CHAIN_CONSTRAINTS_FAILURE)."""
    CA_KEY_USAGE = "ca_key_usage"
    """An issuer's keyUsage lacks keyCertSign (CHAIN_CONSTRAINTS_FAILURE)."""
    KEY_USAGE = "key_usage"
    """The leaf lacks a required keyUsage bit (CHAIN_CONSTRAINTS_FAILURE)."""
    EXTENDED_KEY_USAGE = "extended_key_usage"
    """The leaf lacks the required extended key usage (CHAIN_CONSTRAINTS_FAILURE)."""
    UNKNOWN_CRITICAL_EXTENSION = "unknown_critical_extension"
    """A critical extension this validator does not process (CHAIN_CONSTRAINTS_FAILURE)."""


class ChainError(CertificateError):
    """A certificate path failed validation; ``reason`` says how, ``certificate`` where."""

    def __init__(
        self, reason: ChainFailure, message: str, certificate: x509.Certificate | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.certificate = certificate


@dataclass(frozen=True)
class ValidatedPath:
    """A certificate path that passed every check listed in the module docstring."""

    path: tuple[x509.Certificate, ...]
    """The certificates from the validated leaf (first) to the trust anchor (last). A leaf
    that is itself a trust anchor gives a path of one."""
    at: datetime
    """The moment the path was validated for: every certificate was within its validity."""

    @property
    def leaf(self) -> x509.Certificate:
        return self.path[0]

    @property
    def trust_anchor(self) -> x509.Certificate:
        return self.path[-1]


def validate_path(
    leaf: x509.Certificate,
    intermediates: Iterable[x509.Certificate],
    trust_anchors: Iterable[x509.Certificate],
    at: datetime,
    required_key_usage: Iterable[str] = ("digital_signature",),
    required_eku: str | None = None,
) -> ValidatedPath:
    """Build a path from ``leaf`` to one of ``trust_anchors`` and validate it at ``at``.

    ``required_key_usage`` and ``required_eku`` use asn1crypto names (``non_repudiation``,
    ``time_stamping``, ``ocsp_signing`` …).  When several paths exist, the first one that
    validates wins; when none does, the error of the first candidate path is raised, so
    the reason describes the most plausible chain rather than a far-fetched one.

    Raises :class:`ChainError` (a :class:`~pki.errors.CertificateError`).
    """
    if at.tzinfo is None:
        raise ValueError("validate_path needs a timezone-aware moment")
    anchors = list(trust_anchors)
    required = frozenset(required_key_usage)
    first_error: ChainError | None = None
    for path in _candidate_paths(leaf, list(intermediates), anchors):
        try:
            _check_path(path, at, required, required_eku)
        except ChainError as exc:
            first_error = first_error or exc
            continue
        return ValidatedPath(path=path, at=at)
    if first_error is not None:
        raise first_error
    raise ChainError(
        ChainFailure.NO_CHAIN,
        f"no certificate chain from {_describe(leaf)} to a trust anchor",
        leaf,
    )


def _candidate_paths(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    anchors: list[x509.Certificate],
) -> Iterator[tuple[x509.Certificate, ...]]:
    """Every path leaf → anchor by name and key-identifier chaining, depth first."""
    anchor_ders = {a.dump() for a in anchors}

    def extend(path: tuple[x509.Certificate, ...]) -> Iterator[tuple[x509.Certificate, ...]]:
        tip = path[-1]
        if tip.dump() in anchor_ders:
            yield path
            return
        if len(path) >= MAX_PATH_LENGTH:
            return
        seen = {c.dump() for c in path}
        for candidate in [*anchors, *intermediates]:
            if candidate.dump() not in seen and _could_issue(candidate, tip):
                seen.add(candidate.dump())  # the same certificate given twice: try it once
                yield from extend((*path, candidate))

    yield from extend((leaf,))


def _could_issue(issuer: x509.Certificate, subject: x509.Certificate) -> bool:
    if issuer.subject != subject.issuer:
        return False
    aki, ski = subject.authority_key_identifier, issuer.key_identifier
    return aki is None or ski is None or aki == ski


def _check_path(
    path: tuple[x509.Certificate, ...],
    at: datetime,
    required_key_usage: frozenset[str],
    required_eku: str | None,
) -> None:
    """Check ``path`` (leaf first); the order decides which failure a broken path reports.

    Signatures come first (a forged link is a hard failure whatever else is wrong), then
    the CA rules per link, then path lengths, then time (an expiry may later be excused by
    proof of existence), then what the leaf may be used for.
    """
    links = list(pairwise(path))
    for certificate, issuer in links:
        _check_signature(certificate, issuer)
    for certificate, issuer in links:
        _check_issuer(issuer, certificate)
        _check_critical_extensions(certificate)
    for position in range(1, len(path)):
        _check_path_length(path[position], intermediates_below=path[1:position])
    for certificate in path:
        _check_validity(certificate, at)
    _check_leaf(path[0], required_key_usage, required_eku)


def _check_issuer(issuer: x509.Certificate, certificate: x509.Certificate) -> None:
    if not issuer.ca:
        raise ChainError(
            ChainFailure.NOT_A_CA,
            f"{_describe(issuer)} issued {_describe(certificate)} but is not a CA "
            "(basicConstraints cA is not true)",
            issuer,
        )
    usage = issuer.key_usage_value
    if usage is not None and "key_cert_sign" not in usage.native:
        raise ChainError(
            ChainFailure.CA_KEY_USAGE,
            f"{_describe(issuer)} may not sign certificates (keyUsage lacks keyCertSign)",
            issuer,
        )


def _check_path_length(
    issuer: x509.Certificate, intermediates_below: tuple[x509.Certificate, ...]
) -> None:
    limit = issuer.max_path_length
    below = sum(1 for c in intermediates_below if not c.self_issued)
    if limit is not None and below > limit:
        raise ChainError(
            ChainFailure.PATH_LENGTH,
            f"{_describe(issuer)} allows {limit} intermediate CA(s) below it, found {below}",
            issuer,
        )


def _check_signature(certificate: x509.Certificate, issuer: x509.Certificate) -> None:
    outer = certificate["signature_algorithm"]
    if outer.dump() != certificate["tbs_certificate"]["signature"].dump():
        raise ChainError(
            ChainFailure.SIG_FAILURE,
            f"{_describe(certificate)}: inner and outer signature algorithms differ",
            certificate,
        )
    try:
        algorithms.verify(
            issuer.public_key,
            certificate["tbs_certificate"].dump(),
            certificate["signature_value"].native,
            outer,
        )
    except UnsupportedAlgorithm as exc:
        raise ChainError(
            ChainFailure.UNSUPPORTED_ALGORITHM, f"{_describe(certificate)}: {exc}", certificate
        ) from exc
    except SignatureInvalid as exc:
        raise ChainError(
            ChainFailure.SIG_FAILURE,
            f"the signature on {_describe(certificate)} does not verify under the key of "
            f"{_describe(issuer)}",
            certificate,
        ) from exc


def _check_validity(certificate: x509.Certificate, at: datetime) -> None:
    if at < certificate.not_valid_before:
        raise ChainError(
            ChainFailure.NOT_YET_VALID,
            f"{_describe(certificate)} is not valid before "
            f"{certificate.not_valid_before.isoformat()}",
            certificate,
        )
    if at > certificate.not_valid_after:
        raise ChainError(
            ChainFailure.EXPIRED,
            f"{_describe(certificate)} expired at {certificate.not_valid_after.isoformat()}",
            certificate,
        )


def _check_critical_extensions(certificate: x509.Certificate) -> None:
    unknown = set(certificate.critical_extensions) - _PROCESSED_CRITICAL
    if unknown:
        raise ChainError(
            ChainFailure.UNKNOWN_CRITICAL_EXTENSION,
            f"{_describe(certificate)} has critical extension(s) this validator does not "
            f"process: {', '.join(sorted(unknown))}",
            certificate,
        )


def _check_leaf(
    leaf: x509.Certificate, required_key_usage: frozenset[str], required_eku: str | None
) -> None:
    if required_key_usage:
        present = leaf.key_usage_value.native if leaf.key_usage_value is not None else set()
        missing = required_key_usage - set(present)
        if missing:
            raise ChainError(
                ChainFailure.KEY_USAGE,
                f"{_describe(leaf)} lacks key usage {', '.join(sorted(missing))}",
                leaf,
            )
    if required_eku is not None:
        ekus = leaf.extended_key_usage_value
        if ekus is None or required_eku not in ekus.native:
            raise ChainError(
                ChainFailure.EXTENDED_KEY_USAGE,
                f"{_describe(leaf)} lacks extended key usage {required_eku}",
                leaf,
            )


def _describe(certificate: x509.Certificate) -> str:
    """'CN=…' plus the serial in hex: enough for an operator to find the certificate."""
    names = certificate.subject.native
    label = names.get("common_name") or certificate.subject.human_friendly
    return f"certificate '{label}' (serial {certificate.serial_number:x})"
