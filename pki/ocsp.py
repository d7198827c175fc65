"""RFC 6960 OCSP for RSA and SM2 hierarchies: a responder, a request builder, a response checker.

The responder is a pure function of a request and a *live* status lookup: the registry
passes a callback that reads the seal's current state from its database, so a suspension
or revocation shows in the very next answer (a CRL shows it only after its next issue).
Answers are signed by a delegated OCSP signer (a certificate with id-kp-OCSPSigning and
id-pkix-ocsp-nocheck issued by the CA, carried in the response) or by the CA itself.

Semantics worth knowing:

* ``certificate_hold`` is *revoked* with reason certificateHold (RFC 6960 §2.2; RFC 5280
  §5.3.1) — a held seal reads as revoked until released, then good again.
* A CertID naming another issuer (issuerNameHash / issuerKeyHash of a different CA) is
  answered ``unknown``; the responder never vouches for certificates it does not know.
* CertID hashes: SHA-1 (OpenSSL's default), SHA-256/384/512, and SM3 for SM2 clients.
* Requests are not required to be signed; a request signature, if any, is ignored.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal

from asn1crypto import algos, core, ocsp, x509

from pki import algorithms
from pki.algorithms import SigningKey
from pki.asn1.cached import parsed
from pki.certificates import key_identifier
from pki.clock import now_utc
from pki.crl import REASONS
from pki.errors import CertificateError, PkiError, SignatureInvalid, UnsupportedAlgorithm

__all__ = [
    "CERT_ID_HASHES",
    "MAX_REQUESTS",
    "CertStatus",
    "OcspError",
    "OcspResponder",
    "SingleStatus",
    "build_batch_request",
    "build_request",
    "clear_caches",
    "parse_response",
]

_log = logging.getLogger(__name__)

CERT_ID_HASHES = frozenset({"sha1", "sha256", "sha384", "sha512", "sm3"})
"""Hash algorithms accepted in a CertID (asn1crypto names)."""

MAX_REQUESTS = 100
"""Most certificates one OCSPRequest may ask about (each costs a status lookup)."""

Status = Literal["good", "revoked", "unknown"]


class OcspError(PkiError):
    """An OCSP response that cannot be used: not successful, malformed, or not for us."""


@dataclass(frozen=True)
class CertStatus:
    """What the registry says about one serial number right now."""

    status: Status
    """``good``, ``revoked`` (held certificates too) or ``unknown`` (never issued here)."""
    revoked_at: datetime | None = None
    """When the certificate was revoked or put on hold; required for ``revoked``."""
    reason: str | None = None
    """RFC 5280 reason (asn1crypto name, e.g. ``key_compromise``, ``certificate_hold``)."""

    def __post_init__(self) -> None:
        if self.status not in ("good", "revoked", "unknown"):
            raise ValueError(f"unknown certificate status {self.status!r}")
        if (self.status == "revoked") != (self.revoked_at is not None):
            raise ValueError("revoked_at is required for, and only for, a revoked certificate")
        if self.reason is not None and (self.status != "revoked" or self.reason not in REASONS):
            raise ValueError(f"invalid revocation reason {self.reason!r} for {self.status}")


@dataclass(frozen=True)
class SingleStatus:
    """One verified answer from an OCSP response, as :func:`parse_response` returns it."""

    serial_number: int
    """Serial number of the certificate the answer is about."""
    status: Status
    """``good``, ``revoked`` or ``unknown``."""
    revoked_at: datetime | None
    """Revocation (or hold) time for ``revoked``; else ``None``."""
    reason: str | None
    """Revocation reason if the responder gave one (``certificate_hold`` for a held one)."""
    this_update: datetime
    """When the responder last knew the status to be correct."""
    next_update: datetime | None
    """When newer information will be available; ``None`` if the responder does not say."""
    produced_at: datetime
    """When the responder signed the response."""


class OcspResponder:
    """Signs OCSP answers for the certificates of one issuing CA.

    ``status_lookup`` maps a serial number to its :class:`CertStatus`; an exception from it
    becomes an ``internalError`` response (the client retries), never a crash.
    ``validity`` is the nextUpdate - thisUpdate window a client may cache an answer for.
    """

    def __init__(
        self,
        responder_certificate: x509.Certificate,
        key: SigningKey,
        issuer_certificate: x509.Certificate,
        status_lookup: Callable[[int], CertStatus],
        clock: Callable[[], datetime] = now_utc,
        validity: timedelta = timedelta(hours=1),
    ) -> None:
        if responder_certificate.public_key.dump() != key.public_key_info.dump():
            raise CertificateError("the OCSP key does not match the responder certificate")
        self._delegated = responder_certificate.dump() != issuer_certificate.dump()
        if self._delegated and not _is_delegated_signer(responder_certificate, issuer_certificate):
            raise CertificateError(
                "the responder certificate must be issued by the CA with the OCSPSigning EKU"
            )
        # Parsed copies serialise from cached bytes (``pki.asn1.cached``).
        self.responder_certificate = parsed(responder_certificate)
        self.issuer_certificate = parsed(issuer_certificate)
        self._key = key
        self._lookup = status_lookup
        self._clock = clock
        self._validity = validity
        self._issuer_hashes: dict[str, tuple[bytes, bytes]] = {
            name: _issuer_hashes(issuer_certificate, name) for name in CERT_ID_HASHES
        }

    def __repr__(self) -> str:
        return f"OcspResponder({self.responder_certificate.subject.human_friendly!r})"

    def respond(self, request_der: bytes) -> bytes:
        """A DER OCSPResponse for a DER OCSPRequest; never raises for bad input."""
        try:
            request = ocsp.OCSPRequest.load(request_der, strict=True)
            request.native  # noqa: B018  (forces a full parse so errors surface here)
            entries = request["tbs_request"]["request_list"]
            if not 0 < len(entries) <= MAX_REQUESTS:
                raise ValueError(f"a request must ask about 1 to {MAX_REQUESTS} certificates")
        # AttributeError: asn1crypto's ObjectDescriptor (tag 7) has no .native (fuzzing).
        except (ValueError, TypeError, KeyError, AttributeError):
            return _status_only("malformed_request")
        now = self._clock().astimezone(UTC).replace(microsecond=0)
        try:
            singles = [self._single(entry["req_cert"], now) for entry in entries]
            return self._signed(request, singles, now)
        except Exception:  # a database or key store failure must not take the responder down
            _log.exception("OCSP response could not be produced")
            return _status_only("internal_error")

    def _single(self, cert_id: ocsp.CertId, now: datetime) -> ocsp.SingleResponse:
        hashes = self._issuer_hashes.get(cert_id["hash_algorithm"]["algorithm"].native)
        asked = (cert_id["issuer_name_hash"].native, cert_id["issuer_key_hash"].native)
        if hashes is None or hashes != asked:
            status = CertStatus("unknown")
        else:
            status = self._lookup(cert_id["serial_number"].native)
        return ocsp.SingleResponse(
            {
                "cert_id": cert_id.copy(),
                "cert_status": _cert_status(status),
                "this_update": now,
                "next_update": now + self._validity,
            }
        )

    def _signed(
        self, request: ocsp.OCSPRequest, singles: list[ocsp.SingleResponse], now: datetime
    ) -> bytes:
        # RFC 8954 §2.1: echo nonces of 1 to 32 octets, answer longer ones without a nonce.
        nonce = [
            ext["extn_value"].parsed
            for ext in request["tbs_request"]["request_extensions"] or []
            if ext["extn_id"].native == "nonce" and 0 < len(ext["extn_value"].parsed.native) <= 32
        ]
        tbs = ocsp.ResponseData(
            {
                "responder_id": ocsp.ResponderId(
                    name="by_key", value=key_identifier(self.responder_certificate.public_key)
                ),
                "produced_at": now,
                "responses": singles,
                "response_extensions": [
                    {"extn_id": "nonce", "critical": False, "extn_value": value.copy()}
                    for value in nonce
                ]
                or None,
            }
        )
        scheme = self._key.key_algorithm.default_scheme
        basic = ocsp.BasicOCSPResponse(
            {
                "tbs_response_data": tbs,
                "signature_algorithm": scheme.algorithm_identifier(),
                "signature": self._key.sign(tbs.dump(), scheme),
                "certs": [self.responder_certificate] if self._delegated else None,
            }
        )
        return ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
            }
        ).dump()


def build_request(
    certificate: x509.Certificate,
    issuer_certificate: x509.Certificate,
    nonce: bool = True,
    hash_algo: str = "sha1",
) -> bytes:
    """A DER OCSPRequest for one certificate, with a 16-byte random nonce unless ``nonce=False``."""
    return build_batch_request([certificate], issuer_certificate, nonce, hash_algo)


def build_batch_request(
    certificates: Sequence[x509.Certificate],
    issuer_certificate: x509.Certificate,
    nonce: bool = True,
    hash_algo: str = "sha1",
) -> bytes:
    """One DER OCSPRequest about several certificates of one issuer (RFC 6960 §4.1.1's
    ``requestList``; at most :data:`MAX_REQUESTS`): a verifier with a seal, its maker and
    a time-stamp under one CA asks once and reads one signed answer."""
    if not 0 < len(certificates) <= MAX_REQUESTS:
        raise ValueError(f"a request must ask about 1 to {MAX_REQUESTS} certificates")
    if any(c.issuer.dump() != issuer_certificate.subject.dump() for c in certificates):
        raise CertificateError("the certificate was not issued by this issuer")
    if hash_algo not in CERT_ID_HASHES:
        raise UnsupportedAlgorithm(f"unsupported CertID hash {hash_algo}")
    name_hash, key_hash = _issuer_hashes(issuer_certificate, hash_algo)
    # Built from the leaves up, each part re-read from its DER (pki.asn1.cached): nested
    # dicts re-encode every inner level once per enclosing one (0.7 ms for one CertID).
    algorithm = parsed(algos.DigestAlgorithm({"algorithm": hash_algo}))
    requests = [
        parsed(
            ocsp.Request(
                {
                    "req_cert": parsed(
                        ocsp.CertId(
                            {
                                "hash_algorithm": algorithm,
                                "issuer_name_hash": name_hash,
                                "issuer_key_hash": key_hash,
                                "serial_number": certificate.serial_number,
                            }
                        )
                    )
                }
            )
        )
        for certificate in certificates
    ]
    extensions = None
    if nonce:
        extensions = [
            {"extn_id": "nonce", "critical": False, "extn_value": secrets.token_bytes(16)}
        ]
    tbs = parsed(ocsp.TBSRequest({"request_list": requests, "request_extensions": extensions}))
    return ocsp.OCSPRequest({"tbs_request": tbs}).dump()


def parse_response(
    response_der: bytes,
    issuer_certificate: x509.Certificate,
    responder_trust: Sequence[x509.Certificate] = (),
    request_der: bytes | None = None,
) -> list[SingleStatus]:
    """Verify an OCSPResponse and return its answers about ``issuer_certificate``'s certificates.

    The signer must be the issuer itself, a delegated signer the issuer certified for
    OCSPSigning (valid at producedAt), or one of ``responder_trust`` (locally trusted
    responders, RFC 6960 §4.2.2.2).  The signature is checked through :mod:`pki.algorithms`,
    so SM2 responses verify like RSA ones.  With ``request_der`` the request's nonce must be
    echoed.  Answers about other issuers are left out.  Freshness (``this_update`` /
    ``next_update`` against the caller's notion of now) is the caller's decision.

    Raises :class:`OcspError` for an unusable response and :class:`SignatureInvalid` if the
    signature or the responder's authorisation fails.
    """
    try:
        response = ocsp.OCSPResponse.load(response_der, strict=True)
        _decode_fully(response)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # as in respond()
        raise OcspError(f"not an OCSP response: {exc}") from None
    status = response["response_status"].native
    if status != "successful":
        raise OcspError(f"the OCSP responder answered {status}")
    if response["response_bytes"]["response_type"].native != "basic_ocsp_response":
        raise OcspError("only basic OCSP responses are supported")
    basic = response.basic_ocsp_response
    tbs = basic["tbs_response_data"]
    produced_at = tbs["produced_at"].native
    signer = _responder(basic, issuer_certificate, responder_trust, produced_at)
    algorithms.verify(
        signer.public_key, tbs.dump(), basic["signature"].native, basic["signature_algorithm"]
    )
    if request_der is not None:
        _check_nonce(request_der, response)
    out = []
    for single in tbs["responses"]:
        cert_id = single["cert_id"]
        algorithm = cert_id["hash_algorithm"]["algorithm"].native
        if algorithm not in CERT_ID_HASHES or _issuer_hashes(issuer_certificate, algorithm) != (
            cert_id["issuer_name_hash"].native,
            cert_id["issuer_key_hash"].native,
        ):
            continue
        cert_status = single["cert_status"]
        revoked = cert_status.chosen if cert_status.name == "revoked" else None
        out.append(
            SingleStatus(
                serial_number=cert_id["serial_number"].native,
                status=cert_status.name,
                revoked_at=revoked["revocation_time"].native if revoked else None,
                reason=revoked["revocation_reason"].native if revoked else None,
                this_update=single["this_update"].native,
                next_update=single["next_update"].native,
                produced_at=produced_at,
            )
        )
    return out


def _hash(algorithm: str, data: bytes) -> bytes:
    if algorithm == "sha1":  # CertID only: a lookup key, not a security binding
        return hashlib.sha1(data, usedforsecurity=False).digest()
    return algorithms.digest(algorithm, data)


def _issuer_hashes(issuer: x509.Certificate, algorithm: str) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash): hashes of the DER subject and the key's BIT STRING."""
    key_bits = issuer.public_key["public_key"].contents[1:]  # drop the unused-bits octet
    return _hash(algorithm, issuer.subject.dump()), _hash(algorithm, key_bits)


def _cert_status(status: CertStatus) -> ocsp.CertStatus:
    if status.revoked_at is None:  # not revoked (CertStatus keeps the two in step)
        return ocsp.CertStatus(name=status.status, value=None)
    info: dict[str, object] = {
        "revocation_time": status.revoked_at.astimezone(UTC).replace(microsecond=0)
    }
    if status.reason is not None:
        info["revocation_reason"] = status.reason
    return ocsp.CertStatus(name="revoked", value=info)


def _status_only(status: str) -> bytes:
    return ocsp.OCSPResponse({"response_status": status}).dump()


def _decode_fully(response: ocsp.OCSPResponse) -> None:
    """Decode every field now (``.native``), so malformed input fails here, not deep inside
    a later caller — the certificates a basic response carries once per process each.

    The responder's certificate comes back in every answer it signs, and decoding it was
    most of decoding an answer; a certificate decodes the same wherever it is found.
    """
    response_bytes = response["response_bytes"]
    if isinstance(response_bytes, core.Void) or (
        response_bytes["response_type"].native != "basic_ocsp_response"
    ):
        response.native  # noqa: B018
        return
    response["response_status"].native  # noqa: B018
    basic = response_bytes["response"].parsed
    for name in ("tbs_response_data", "signature_algorithm", "signature"):
        basic[name].native  # noqa: B018
    for certificate in basic["certs"] or ():
        _decodes(certificate.dump())


def clear_caches() -> None:
    """Forget decoded responder certificates and delegations (a benchmark's cold start)."""
    _decodes.cache_clear()
    _delegated.cache_clear()


@lru_cache(maxsize=256)
def _decodes(certificate_der: bytes) -> bool:
    """A certificate decoded in full (raises as ``.native`` does; failures are not kept)."""
    x509.Certificate.load(certificate_der).native  # noqa: B018
    return True


def _is_delegated_signer(candidate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """RFC 6960 §4.2.2.2: issued directly by the CA and carrying id-kp-OCSPSigning.

    Remembered per pair of encodings: the same responder certificate signs every answer.
    """
    return _delegated(candidate.dump(), issuer.dump())


@lru_cache(maxsize=256)
def _delegated(candidate_der: bytes, issuer_der: bytes) -> bool:
    candidate, issuer = x509.Certificate.load(candidate_der), x509.Certificate.load(issuer_der)
    eku = candidate.extended_key_usage_value
    if eku is None or "ocsp_signing" not in eku.native:
        return False
    if candidate.issuer.dump() != issuer.subject.dump():
        return False
    try:
        algorithms.verify(
            issuer.public_key,
            candidate["tbs_certificate"].dump(),
            candidate["signature_value"].native,
            candidate["signature_algorithm"],
        )
    except (SignatureInvalid, UnsupportedAlgorithm):
        return False
    return True


def _responder(
    basic: ocsp.BasicOCSPResponse,
    issuer: x509.Certificate,
    trusted: Sequence[x509.Certificate],
    produced_at: datetime,
) -> x509.Certificate:
    """The certificate that signed ``basic``, checked for authority to speak for ``issuer``."""
    responder_id = basic["tbs_response_data"]["responder_id"]

    def named(cert: x509.Certificate) -> bool:
        if responder_id.name == "by_key":
            return key_identifier(cert.public_key) == responder_id.chosen.native
        # by_name is an explicitly tagged Name: its dump() carries the [1] tag, so compare
        # as names (RFC 5280 §7.1), not as bytes.
        return cert.subject == responder_id.chosen

    for cert in [issuer, *trusted]:
        if named(cert):
            return cert
    for cert in basic["certs"] or []:
        if named(cert):
            if not _is_delegated_signer(cert, issuer):
                raise SignatureInvalid("the OCSP signer is not authorised by the issuing CA")
            validity = cert["tbs_certificate"]["validity"]
            if not validity["not_before"].native <= produced_at <= validity["not_after"].native:
                raise SignatureInvalid("the OCSP signer's certificate was not valid at producedAt")
            return cert
    raise SignatureInvalid("the OCSP response's signer is unknown")


def _check_nonce(request_der: bytes, response: ocsp.OCSPResponse) -> None:
    request = ocsp.OCSPRequest.load(request_der)
    sent = request.nonce_value
    if sent is None:
        return
    echoed = response.nonce_value
    if echoed is None or echoed.native != sent.native:
        raise OcspError("the OCSP response does not echo the request nonce (replay?)")
