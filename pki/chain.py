"""The one certificate path-validation engine, for RSA, ECDSA and SM2 alike.

Every path — a seal's, a time-stamp's, an OCSP responder's, RSA or SM2 — is validated by
pyhanko-certvalidator's RFC 5280 §6.1 implementation (signatures, validity, basic
constraints and path length, key usage, name chaining, name constraints, certificate
policies with explicit policy / policy mapping / inhibit anyPolicy, CRLs including
distribution points, indirect and delta CRLs, and OCSP).  The same rules therefore judge
both hierarchies: a chain defect cannot pass for SM2 and fail for RSA.  NIST PKITS proves
it for both (``tests/test_pkits.py``, ``docs/pkits.md``).

certvalidator delegates every signature check — on certificates, CRLs and OCSP responses —
to the ``signature_validator`` of its :class:`ValidationContext`, a public hook.
:class:`SmSignatureValidator` checks SM2-with-SM3 (1.2.156.10197.1.501) there with
:func:`pki.algorithms.verify` (Tongsuo, default signer ID ``1234567812345678``) and hands
every other algorithm to certvalidator's default validator.  pyHanko's CMS integrity check
takes the same object, so SM2 SignerInfos are judged by the same primitive.

What this module adds on top of certvalidator: the trust anchor must be within its own
validity at ``at`` (a configured anchor that has expired should not keep vouching), the
leaf's required keyUsage bits (an absent keyUsage does *not* count as "any usage": a seal
must say what its key is for) and extended key usage, and a :class:`ChainFailure` naming
the ETSI EN 319 102-1 sub-indication.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from asn1crypto import algos, crl, keys, ocsp, x509
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.authority import CertTrustAnchor
from pyhanko_certvalidator.errors import (
    CRLValidationError,
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    OCSPValidationError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)
from pyhanko_certvalidator.ltv.poe import POEManager
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    FRESHNESS_FALLBACK_VALIDITY_DEFAULT,
    AlgorithmUsagePolicy,
    PKIXValidationParams,
)
from pyhanko_certvalidator.revinfo import validate_ocsp as _validate_ocsp
from pyhanko_certvalidator.revinfo.validate_crl import verify_crl
from pyhanko_certvalidator.revinfo.validate_ocsp import verify_ocsp_response
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)

from pki import algorithms, coroutines
from pki.errors import CertificateError, SignatureInvalid, UnsupportedAlgorithm
from pki.lru import LruCache

__all__ = [
    "PATH_CACHE",
    "VALIDATOR",
    "ChainError",
    "ChainFailure",
    "RevocationJudge",
    "RevocationStatement",
    "SmSignatureValidator",
    "ValidatedPath",
    "clear_caches",
    "revocation_statement",
    "validate_path",
]

VALIDATOR = "pyhanko-certvalidator"
"""Name of the engine underneath, reported in ``ChainCheck.validator``."""


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
    """A critical extension the engine does not process (CHAIN_CONSTRAINTS_FAILURE)."""
    NAME_CONSTRAINTS = "name_constraints"
    """A name outside an issuer's permitted / inside its excluded subtrees
    (CHAIN_CONSTRAINTS_FAILURE)."""
    POLICY = "policy"
    """No acceptable certificate policy on the path (CHAIN_CONSTRAINTS_FAILURE)."""
    REVOKED = "revoked"
    """A certificate on the path is revoked (REVOKED)."""
    MALFORMED = "malformed"
    """A certificate, CRL or OCSP answer on the path cannot be decoded
    (CERTIFICATE_CHAIN_GENERAL_FAILURE)."""
    NO_REVOCATION_DATA = "no_revocation_data"
    """Revocation was required and no valid CRL / OCSP answer covers a certificate
    (REVOCATION_OUT_OF_BOUNDS_NO_POE / TRY_LATER)."""


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
    """A certificate path that passed every check of the engine."""

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


class SmSignatureValidator(DefaultSignatureValidator):
    """certvalidator's signature validator, with SM2-with-SM3 checked by :mod:`pki.algorithms`.

    Used for certificates, CRLs and OCSP responses (through :class:`ValidationContext`) and
    for CMS SignerInfos (pyHanko's ``validate_sig_integrity``).
    """

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        """Verify, or raise ``InvalidSignature``; a signature that verified once is not
        checked again (:data:`VALID_SIGNATURES`)."""
        key = (
            signature,
            hashlib.sha256(signed_data).digest(),
            public_key_info.dump(),
            signature_algorithm.dump(),
            context.contextual_md_algorithm,
            context.prehashed,
        )
        if VALID_SIGNATURES.get(key) is not None:
            return
        self._validate_signature(
            signature, signed_data, public_key_info, signature_algorithm, context
        )
        VALID_SIGNATURES.put(key, True)

    def _validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext,
    ) -> None:
        if signature_algorithm["algorithm"].native != "sm2_sm3":
            super().validate_signature(
                signature, signed_data, public_key_info, signature_algorithm, context
            )
            return
        if context.prehashed:
            raise InvalidSignature("an SM2 signature cannot be checked over a bare digest")
        try:
            algorithms.verify(public_key_info, signed_data, signature, signature_algorithm)
        except (SignatureInvalid, UnsupportedAlgorithm) as exc:
            raise InvalidSignature(str(exc)) from None


VALID_SIGNATURES: LruCache[bool] = LruCache(4096)
"""Signatures that verified, keyed on the signature, the SHA-256 of the signed bytes, the
key and the algorithm: a function of those bytes alone, so nothing here can turn a bad
signature good.  A CRL or an OCSP answer judged once per certificate it speaks about, and
a certificate on many paths, cost one verification (thread-safe, LRU; failures are not
kept)."""

SIGNATURE_VALIDATOR = SmSignatureValidator()
"""Stateless; one instance serves every context."""


class _SmValidationContext(ValidationContext):
    """A ValidationContext whose signature validator defaults to :data:`SIGNATURE_VALIDATOR`."""

    def __init__(self, *args: Any, signature_validator: Any = None, **kwargs: Any) -> None:
        kwargs["signature_validator"] = signature_validator or SIGNATURE_VALIDATOR
        super().__init__(*args, **kwargs)
        self.authorised_responders: set[tuple[bytes, Any]] = set()
        """(responder certificate DER, issuer) pairs whose id-pkix-ocsp-nocheck delegation
        passed in this context (:func:`_remembered_responder_provenance`)."""


# Pinned reach-in: pyhanko-certvalidator 0.33 checks an OCSP responder certificate that
# carries id-pkix-ocsp-nocheck in a fresh ValidationContext
# (revinfo/validate_ocsp.py, _validate_delegated_ocsp_provenance) and does not hand the
# caller's signature_validator on, so an SM2 responder's certificate would meet the default
# validator, which cannot load SM2 keys.  Giving that module a context class with our
# default closes the gap; tests/test_chain.py (test_ocsp_nocheck_context_pin) fails when
# upstream changes that function, so the pin is revisited then.
_validate_ocsp.ValidationContext = _SmValidationContext  # type: ignore[misc]  # the pin

_upstream_responder_provenance = _validate_ocsp._validate_delegated_ocsp_provenance


async def _remembered_responder_provenance(
    responder_cert: x509.Certificate,
    issuer: Any,
    validation_context: ValidationContext,
    ee_path: ValidationPath,
    proc_state: Any,
) -> None:
    """certvalidator's check that a delegated responder may answer for ``issuer``, once per
    context for a responder with id-pkix-ocsp-nocheck.

    That check validates the one-certificate path from ``issuer`` to the responder in a
    fresh context built from the caller's moment, algorithm policy and time tolerance —
    nothing about the certificate the answer is about — and certvalidator repeats it for
    every certificate read from the answer.  One OCSP answer about a seal, its maker and
    its TSA is read in one context (:class:`RevocationJudge`), so the outcome of the first
    check is the outcome of the others: a success is remembered in the context (a failure
    is checked again, and fails again).  The recursion guard is still asked each time, and
    the validation is still recorded, as upstream does.  Responders without nocheck are
    validated through the caller's path and context, with revocation: always upstream.
    """
    remembered = getattr(validation_context, "authorised_responders", None)
    key = (responder_cert.dump(), issuer.hashable)
    if (
        remembered is None
        or responder_cert.ocsp_no_check_value is None
        or key not in remembered
        or proc_state.check_path_verif_recursion(responder_cert) is not None
    ):
        await _upstream_responder_provenance(
            responder_cert, issuer, validation_context, ee_path, proc_state
        )
        if remembered is not None and responder_cert.ocsp_no_check_value is not None:
            remembered.add(key)
        return
    validation_context.record_validation(
        responder_cert,
        _validate_ocsp._delegated_ocsp_response_path(responder_cert, issuer, ee_path),
    )


# Pinned reach-in: _check_ocsp_authorisation calls the provenance check through the module
# global; tests/test_chain.py (test_responder_provenance_pin) fails when upstream changes
# the function or stops calling it so, and shows a bad responder still refused.
_validate_ocsp._validate_delegated_ocsp_provenance = _remembered_responder_provenance


_uncached_name_hashable = x509.Name.hashable.fget
_NAME_HASHABLES: LruCache[str] = LruCache(4096)


def _name_hashable(self: x509.Name) -> str:
    """asn1crypto's ``Name.hashable`` (the RFC 5280 §7.1 comparison form), once per DER.

    certvalidator indexes every certificate it is offered by subject and issuer through
    this property, which runs stringprep over every attribute each time; a context with
    the thirty certificates of a long-term-validation file spent most of its set-up
    there, once per signature.  The form is a function of the encoding alone.
    """
    key = self.dump()
    found = _NAME_HASHABLES.get(key)
    if found is None:
        found = _uncached_name_hashable(self)
        _NAME_HASHABLES.put(key, found)
    return found


# Pinned reach-in: asn1crypto offers no hook to memoise name normalisation; the property is
# replaced with the same value, remembered by DER.  tests/test_verify_cache.py
# (test_name_hashable_*) checks the values are asn1crypto's and that the pin is in place.
x509.Name.hashable = property(_name_hashable)


def _validity_state(certificate: x509.Certificate, at: datetime) -> int:
    """-1 before notBefore, 0 within the validity period, 1 after notAfter (bounds exact,
    as the engine checks them with no clock tolerance)."""
    validity = certificate["tbs_certificate"]["validity"]
    if at < validity["not_before"].native:
        return -1
    return 1 if at > validity["not_after"].native else 0


PATH_CACHE: LruCache[ValidatedPath | tuple[ChainFailure, str, x509.Certificate | None]] = LruCache(
    2048
)
"""Results of :func:`validate_path` without revocation checking (thread-safe, LRU).

Such a result is a function of the leaf, the other certificates offered, the trust
anchors, the usage asked for — and of ``at`` only through which of those certificates
are within their validity period at ``at`` (certvalidator compares ``at`` with each
notBefore/notAfter and nowhere else).  So the key holds the certificates' DER and, for
each, whether ``at`` is before, within or after its validity: one entry serves every
moment of the interval between two validity bounds, and a moment past a certificate's
notAfter is another key (EXPIRED), never a stale "valid".  Revocation is not part of
such a result (callers that pass CRLs or OCSP answers are not cached).  A failure is
kept as (reason, message, certificate) and raised afresh.
"""


def clear_caches() -> None:
    """Forget remembered paths, signatures and name forms (a benchmark's cold start)."""
    PATH_CACHE.clear()
    _ISSUER_CHOICES.clear()
    VALID_SIGNATURES.clear()
    _NAME_HASHABLES.clear()


def validate_path(
    leaf: x509.Certificate,
    intermediates: Iterable[x509.Certificate],
    trust_anchors: Iterable[x509.Certificate],
    at: datetime,
    required_key_usage: Iterable[str] = ("digital_signature",),
    required_eku: str | None = None,
    *,
    crls: Iterable[crl.CertificateList] = (),
    ocsps: Iterable[ocsp.OCSPResponse] = (),
    check_revocation: bool = False,
    retroactive_revinfo: bool = False,
    params: PKIXValidationParams | None = None,
    algorithm_policy: AlgorithmUsagePolicy | None = None,
) -> ValidatedPath:
    """Build a path from ``leaf`` to one of ``trust_anchors`` and validate it at ``at``.

    ``required_key_usage`` and ``required_eku`` use asn1crypto names (``non_repudiation``,
    ``time_stamping``, ``ocsp_signing`` …).  With ``check_revocation`` every certificate on
    the path needs a valid CRL or OCSP answer among ``crls`` / ``ocsps`` (nothing is
    fetched); without it revocation is left to the caller (the PDF verifier applies the
    EN 319 102-1 time rules of :mod:`sealsvc.verification.revocation`).  ``params`` are
    With ``retroactive_revinfo`` a CRL or OCSP answer issued after ``at`` counts too (an
    archive renewal vouches with today's CRLs for a certificate that has expired since).
    ``params`` are the RFC 5280 initial policy inputs; ``algorithm_policy`` replaces
    certvalidator's default (md2, md5 and SHA-1 refused, RSA below 2048 bits refused).

    Raises :class:`ChainError` (a :class:`~pki.errors.CertificateError`).
    """
    if at.tzinfo is None:
        raise ValueError("validate_path needs a timezone-aware moment")
    anchors = list(trust_anchors)
    intermediates = list(intermediates)
    cacheable = not check_revocation and params is None and algorithm_policy is None
    if not cacheable:
        return _validate_path(
            leaf,
            intermediates,
            anchors,
            at,
            required_key_usage,
            required_eku,
            crls=crls,
            ocsps=ocsps,
            check_revocation=check_revocation,
            retroactive_revinfo=retroactive_revinfo,
            params=params,
            algorithm_policy=algorithm_policy,
        )
    intermediates = _possible_issuers(leaf, intermediates)
    offered = (leaf, *intermediates, *anchors)
    key = (
        tuple(c.dump() for c in offered),
        len(intermediates),
        tuple(_validity_state(c, at) for c in offered),
        frozenset(required_key_usage),
        required_eku,
    )
    found = PATH_CACHE.get(key)
    if isinstance(found, ValidatedPath):
        return ValidatedPath(found.path, at)
    if found is not None:
        reason, message, culprit = found
        raise ChainError(reason, message, culprit)
    try:
        result = _validate_path(leaf, intermediates, anchors, at, required_key_usage, required_eku)
    except ChainError as exc:
        PATH_CACHE.put(key, (exc.reason, str(exc), exc.certificate))
        raise
    PATH_CACHE.put(key, result)
    return result


def _possible_issuers(
    leaf: x509.Certificate, others: list[x509.Certificate]
) -> list[x509.Certificate]:
    """The certificates of ``others`` that can be on a path up from ``leaf``, in order.

    certvalidator looks an issuer up by the subject's comparison form (``Name.hashable``)
    and nothing else, so a certificate whose subject is no issuer's name reachable from
    the leaf is never on a path.  A long-term-validation file offers every certificate of
    every signer and time-stamp in its DSS: leaving out the ones no path can use keeps
    each signature's context (and the cache key) the size of its own chain.
    """
    key = (leaf.dump(), *(c.dump() for c in others))
    chosen = _ISSUER_CHOICES.get(key)
    if chosen is None:
        try:
            by_subject: dict[str, list[int]] = {}
            for index, certificate in enumerate(others):
                by_subject.setdefault(certificate.subject.hashable, []).append(index)
            wanted, found = [leaf.issuer.hashable], set()
            while wanted:
                for index in by_subject.pop(wanted.pop(), ()):
                    found.add(index)
                    wanted.append(others[index].issuer.hashable)
        except (ValueError, TypeError, KeyError, AttributeError):
            return others  # an undecodable name: certvalidator decides (MALFORMED)
        chosen = frozenset(found)
        _ISSUER_CHOICES.put(key, chosen)
    return [certificate for index, certificate in enumerate(others) if index in chosen]


_ISSUER_CHOICES: LruCache[frozenset[int]] = LruCache(1024)
""":func:`_possible_issuers`' choice by the encodings of the leaf and of the certificates
offered (a function of those bytes alone): every licence's DSS offers the same CA and TSA
certificates, and reading each one's names to choose again was most of a cached path's
cost."""


def _validate_path(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    anchors: list[x509.Certificate],
    at: datetime,
    required_key_usage: Iterable[str],
    required_eku: str | None,
    *,
    crls: Iterable[crl.CertificateList] = (),
    ocsps: Iterable[ocsp.OCSPResponse] = (),
    check_revocation: bool = False,
    retroactive_revinfo: bool = False,
    params: PKIXValidationParams | None = None,
    algorithm_policy: AlgorithmUsagePolicy | None = None,
) -> ValidatedPath:
    """:func:`validate_path` itself, uncached."""
    context = _SmValidationContext(
        trust_roots=anchors,
        other_certs=intermediates,
        moment=at,
        allow_fetching=False,
        # Without check_revocation no CRL or OCSP answer is given, so certvalidator's
        # soft-fail mode could only look for some and tolerate finding none: "none" says so
        # at once (its revocation step was a third of a path's validation).
        revocation_mode="require" if check_revocation else "none",
        retroactive_revinfo=retroactive_revinfo,
        crls=list(crls) if check_revocation else [],
        ocsps=[r for r in ocsps if _cert_ids_matchable(r)] if check_revocation else [],
        algorithm_usage_policy=algorithm_policy,
        # certvalidator allows 1 s of clock skew by default; validity bounds are exact here.
        time_tolerance=timedelta(0),
    )
    validator = CertificateValidator(leaf, validation_context=context, pkix_params=params)
    try:
        validated = coroutines.run(validator.async_validate_path())
    except (PathBuildingError, PathValidationError, InvalidCertificateError) as exc:
        raise _chain_error(exc, leaf, at) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # asn1crypto decodes lazily: a malformed field of someone else's certificate
        # surfaces in the middle of path processing.  A verdict, not a crash.
        raise ChainError(
            ChainFailure.MALFORMED,
            f"the certificate path of {_describe(leaf)} could not be decoded ({exc})",
            leaf,
        ) from None
    # certvalidator lists the path anchor first; callers want the leaf first.
    path = tuple(reversed(tuple(validated.iter_certs(include_root=True))))
    _check_inner_algorithms(path[:-1])
    _check_anchor_validity(path[-1], at)
    _check_leaf(leaf, frozenset(required_key_usage), required_eku)
    return ValidatedPath(path=path, at=at)


@dataclass(frozen=True)
class RevocationStatement:
    """What one CRL or OCSP answer, accepted by the engine, says about one certificate."""

    status: str
    """``good`` or ``revoked`` (a hold is ``revoked`` with reason ``certificate_hold``)."""
    revoked_at: datetime | None
    reason: str | None


def revocation_statement(
    certificate: x509.Certificate,
    issuers: tuple[x509.Certificate, ...],
    evidence: crl.CertificateList | ocsp.OCSPResponse,
    this_update: datetime,
    next_update: datetime | None,
    *,
    companions: Iterable[crl.CertificateList] = (),
    others: Iterable[x509.Certificate] = (),
) -> RevocationStatement | None:
    """Judge one CRL or OCSP response about ``certificate`` by the engine's own rules.

    The document verifier (:mod:`sealsvc.verification.revocation`) gets its evidence from
    the DSS, Acrobat's revocation archive and SES time-stamps rather than from a path
    under validation; this hands each item to the very RFC 5280 §6.3 / RFC 6960 code that
    :func:`validate_path` runs with ``check_revocation`` — CRL issuer and scope (issuing
    distribution point, indirect and delta CRLs, unknown critical extensions), signature
    (SM2 through :data:`SIGNATURE_VALIDATOR`), OCSP CertID matching and responder
    authorisation — so an item the PKITS path refuses is refused here too, and for the
    same reason.  ``issuers`` is the rest of ``certificate``'s validated path, its issuer
    first and the trust anchor last: the engine places a CRL issuer or a delegated
    responder on it; ``others`` are further certificates that may serve as a CRL issuer or
    responder (a separate CRL-signing key, an indirect CRL's issuer).  ``companions`` are
    the CRLs the engine reads together with a CRL, as on the PKITS path: delta CRLs,
    CRLs partitioned by reason, and CRLs about the CRL issuer's own certificate.  The
    check is made as of the end of the item's own validity (its nextUpdate, or
    certvalidator's fallback window after thisUpdate when it has none), so every
    revocation it lists counts (certvalidator ignores those dated after the moment of
    validation, and CAs date entries after thisUpdate); whether the item is fresh enough
    for a signing time is the EN 319 102-1 time rule of the caller.

    Returns ``None`` when the engine does not accept the item as evidence about
    ``certificate``.  A caller with several certificates to ask about one item uses a
    :class:`RevocationJudge`, which sets the engine up once for all of them.
    """
    return RevocationJudge().statement(
        certificate,
        issuers,
        evidence,
        this_update,
        next_update,
        companions=companions,
        others=others,
    )


class RevocationJudge:
    """:func:`revocation_statement` for the questions of one verification, with the engine
    set up once per item rather than once per certificate.

    A seal, its maker and its time-stamp under one CA are judged against the same CRL
    (and, asked together, the same OCSP answer): the engine's input for the item — the
    item and its companions, the issuer path, the other certificates, the moment — is the
    same for each of them, and certvalidator keeps what it establishes about the item in
    its :class:`ValidationContext` (the CRL issuer found and authorised, the signature
    checked, the responder's certificates read).  So each item gets one context, keyed on
    everything it is built from, and every certificate is still judged by the engine's
    own code on it: the scope of a CRL (distribution points, reasons, user or CA
    certificates only) is decided per certificate, as before.

    Items are told apart by identity (the judge holds them, so an identity is never
    reused while it is kept): one verification hands the same parsed item for each
    question.  Not thread-safe (certvalidator's contexts are not): one judge per
    verification.
    """

    def __init__(self) -> None:
        self._contexts: dict[tuple[Any, ...], tuple[ValidationContext, tuple[Any, ...]]] = {}
        self.contexts_built = 0
        """Engine set-ups so far (tests count them: one per item, not per certificate)."""

    def statement(
        self,
        certificate: x509.Certificate,
        issuers: tuple[x509.Certificate, ...],
        evidence: crl.CertificateList | ocsp.OCSPResponse,
        this_update: datetime,
        next_update: datetime | None,
        *,
        companions: Iterable[crl.CertificateList] = (),
        others: Iterable[x509.Certificate] = (),
    ) -> RevocationStatement | None:
        """What ``evidence`` says about ``certificate``, as :func:`revocation_statement`."""
        companions, others = tuple(companions), tuple(others)
        moment = next_update or this_update + FRESHNESS_FALLBACK_VALIDITY_DEFAULT
        context = self._context(evidence, companions, issuers, others, moment)
        anchor = CertTrustAnchor(issuers[-1])
        path = ValidationPath(anchor, list(reversed(issuers[:-1])), certificate)
        check = verify_crl if isinstance(evidence, crl.CertificateList) else verify_ocsp_response
        try:
            coroutines.run(check(certificate, path, context))
        except RevokedError as exc:
            return RevocationStatement("revoked", exc.revocation_dt, exc.reason.native)
        except (
            CRLValidationError,
            OCSPValidationError,
            PathBuildingError,
            PathValidationError,
            InvalidCertificateError,
            ValueError,
            TypeError,
            KeyError,
            AttributeError,
        ):
            return None
        return RevocationStatement("good", None, None)

    def _context(
        self,
        evidence: crl.CertificateList | ocsp.OCSPResponse,
        companions: tuple[crl.CertificateList, ...],
        issuers: tuple[x509.Certificate, ...],
        others: tuple[x509.Certificate, ...],
        moment: datetime,
    ) -> ValidationContext:
        """The engine set up for ``evidence`` read as of ``moment`` under ``issuers``."""
        key = (
            id(evidence),
            tuple(id(c) for c in companions),
            tuple(c.dump() for c in issuers),
            tuple(c.dump() for c in others),
            moment,
        )
        found = self._contexts.get(key)
        if found is not None:
            return found[0]
        is_crl = isinstance(evidence, crl.CertificateList)
        context = _SmValidationContext(
            trust_roots=[issuers[-1]],
            other_certs=[*issuers[:-1], *others],
            moment=moment,
            allow_fetching=False,
            # As on the PKITS path: a CRL issuer or delegated responder off the validated
            # path (a separate CRL-signing key …) needs evidence of its own, among the
            # companions; the issuer itself is recorded as validated below.
            revocation_mode="require",
            crls=[evidence, *companions] if is_crl else [],
            ocsps=[evidence] if not is_crl and _cert_ids_matchable(evidence) else [],
            time_tolerance=timedelta(0),
            # certvalidator ignores an item with no proof of existence at ``moment``: it
            # is judged on what it says, so it is taken as existing then.
            poe_manager=POEManager(current_dt_override=moment),
        )
        # The issuer's own path has been validated by the caller (validate_path): recorded
        # as such, as certvalidator records each CA of a path it walks, so the CRL-issuer
        # check stops at it.
        above = list(reversed(issuers[:-1]))  # anchor-first, as certvalidator lists a path
        context.record_validation(
            issuers[0],
            ValidationPath(CertTrustAnchor(issuers[-1]), above[:-1], above[-1] if above else None),
        )
        self._contexts[key] = (context, (evidence, companions))
        self.contexts_built += 1
        return context


def _name_sm3(name: x509.Name) -> bytes:
    """issuerNameHash with SM3: the hash of the DER name, as for SHA-1 (RFC 6960 §4.1.1)."""
    return algorithms.digest("sm3", name.dump())


def _key_sm3(public_key: keys.PublicKeyInfo) -> bytes:
    """issuerKeyHash with SM3: the hash of the key's BIT STRING value, as for SHA-1."""
    return algorithms.digest("sm3", bytes(public_key["public_key"]))


# Pinned reach-in: certvalidator matches an OCSP CertID with getattr(name, algorithm) and
# getattr(public_key, algorithm) (revinfo/validate_ocsp.py, _match_ocsp_certid), and
# asn1crypto defines those properties for SHA-1 and SHA-256 only; Chinese responders
# (GM/T 0014) answer with SM3 CertIDs.  The same hashes under the SM3 name let such an
# answer count as evidence.  tests/test_chain.py (test_sm3_cert_id_*) fails if either
# library stops using or providing them this way.
x509.Name.sm3 = property(_name_sm3)
keys.PublicKeyInfo.sm3 = property(_key_sm3)

_MATCHABLE_CERT_ID_HASHES = frozenset({"sha1", "sha256", "sm3"})
"""certvalidator matches an OCSP CertID through ``Name.<hash>`` and
``PublicKeyInfo.<hash>`` properties: asn1crypto's SHA-1 and SHA-256 ones, and SM3 above."""


def _cert_ids_matchable(response: ocsp.OCSPResponse) -> bool:
    """Whether certvalidator can match every CertID of ``response``.

    Any other hash (SHA-384 …) would end certvalidator with an AttributeError; such an
    answer is left out, so it counts as no evidence rather than as a crash.  This
    service's own responder answers in the CertID hash it is asked in.
    """
    try:
        answers = response.basic_ocsp_response["tbs_response_data"]["responses"]
        return all(
            a["cert_id"]["hash_algorithm"]["algorithm"].native in _MATCHABLE_CERT_ID_HASHES
            for a in answers
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return False


_MESSAGE_REASONS = (
    ("is not a CA", ChainFailure.NOT_A_CA),
    ("maximum path length", ChainFailure.PATH_LENGTH),
    ("not allowed to sign certificates", ChainFailure.CA_KEY_USAGE),
    ("unsupported critical extension", ChainFailure.UNKNOWN_CRITICAL_EXTENSION),
    ("namespace", ChainFailure.NAME_CONSTRAINTS),
    ("polic", ChainFailure.POLICY),
    ("signature", ChainFailure.SIG_FAILURE),
    ("issuer name", ChainFailure.NO_CHAIN),
)
"""certvalidator raises one PathValidationError class for most RFC 5280 steps; only its
messages tell the step apart.  ``tests/test_chain.py`` and ``tests/test_pkits.py``
(``test_reasons_name_the_rfc_5280_step``) pin every mapping, so a changed wording fails a
test rather than silently changing a sub-indication."""


def _chain_error(exc: Exception, leaf: x509.Certificate, at: datetime) -> ChainError:
    """Map a certvalidator exception onto a :class:`ChainError` with its reason and the
    certificate at fault (certvalidator names it only in prose)."""
    message = str(exc)
    if isinstance(exc, PathBuildingError):
        reason = ChainFailure.NO_CHAIN
        message = f"no certificate chain from {_describe(leaf)} to a trust anchor ({exc})"
    elif isinstance(exc, ExpiredError):
        reason = ChainFailure.EXPIRED
    elif isinstance(exc, NotYetValidError):
        reason = ChainFailure.NOT_YET_VALID
    elif isinstance(exc, DisallowedAlgorithmError):
        reason = ChainFailure.UNSUPPORTED_ALGORITHM
    elif isinstance(exc, RevokedError):
        reason = ChainFailure.REVOKED
    elif isinstance(exc, InsufficientRevinfoError):
        reason = ChainFailure.NO_REVOCATION_DATA
    else:
        reason = next(
            (r for text, r in _MESSAGE_REASONS if text in message), ChainFailure.SIG_FAILURE
        )
    return ChainError(reason, message, _culprit(exc, reason, leaf, at))


def _culprit(
    exc: Exception, reason: ChainFailure, leaf: x509.Certificate, at: datetime
) -> x509.Certificate:
    """The certificate on the failed path that ``reason`` is about; the leaf by default."""
    failed = getattr(exc, "current_path", None)
    if failed is None:
        return leaf
    leaf_first = list(reversed(list(failed.iter_certs(include_root=False))))
    for certificate in leaf_first:
        validity = certificate["tbs_certificate"]["validity"]
        if (
            (reason is ChainFailure.NOT_A_CA and certificate is not leaf_first[0])
            and not certificate.ca
        ) or (
            reason in (ChainFailure.EXPIRED, ChainFailure.NOT_YET_VALID)
            and not validity["not_before"].native <= at <= validity["not_after"].native
        ):
            return certificate
    return leaf


def _check_inner_algorithms(certificates: tuple[x509.Certificate, ...]) -> None:
    """RFC 5280 §4.1.1.2: the signed ``signature`` field must equal the outer algorithm.

    certvalidator verifies with the outer one only, so a certificate whose signed
    algorithm was swapped would otherwise pass."""
    for certificate in certificates:
        if (
            certificate["tbs_certificate"]["signature"].dump()
            != certificate["signature_algorithm"].dump()
        ):
            raise ChainError(
                ChainFailure.SIG_FAILURE,
                f"{_describe(certificate)}: the signed signature algorithm differs from the "
                "outer one",
                certificate,
            )


def _check_anchor_validity(anchor: x509.Certificate, at: datetime) -> None:
    validity = anchor["tbs_certificate"]["validity"]
    if at < validity["not_before"].native:
        raise ChainError(
            ChainFailure.NOT_YET_VALID, f"trust anchor {_describe(anchor)} is not yet valid"
        )
    if at > validity["not_after"].native:
        raise ChainError(ChainFailure.EXPIRED, f"trust anchor {_describe(anchor)} has expired")


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
    try:
        names = certificate.subject.native
        label = names.get("common_name") or certificate.subject.human_friendly
        return f"certificate '{label}' (serial {certificate.serial_number:x})"
    except (ValueError, TypeError, KeyError):  # someone else's undecodable certificate
        return "a certificate whose subject cannot be decoded"
