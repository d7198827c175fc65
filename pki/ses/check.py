"""The cryptographic layers of an SES signature, each with its own result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING

from asn1crypto import cms, tsp

from pki import algorithms
from pki.algorithms import SignatureScheme
from pki.asn1 import oids
from pki.asn1 import ses as asn1
from pki.cms import verify_signed_data
from pki.errors import SignatureInvalid, UnsupportedAlgorithm
from pki.lru import LruCache
from pki.ses.model import SesFormatError, SesSeal, SesSignature
from pki.ses.parse import PARSE_ERRORS, first_line, load_certificate, utc

if TYPE_CHECKING:
    from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate

__all__ = [
    "Layer",
    "LayerResult",
    "LayerStatus",
    "Reason",
    "SesCheck",
    "check_seal",
    "check_signature",
    "clear_caches",
    "lists_certificate",
]


class Layer(StrEnum):
    """The cryptographic layers of an SES signature, in the order they are checked."""

    MAKER_SIGNATURE = "maker_signature"
    """The seal maker's signature over the seal info."""
    SIGNER_SIGNATURE = "signer_signature"
    """The signer's signature over ``TBS_Sign``."""
    CERT_LIST = "cert_list"
    """The signer's certificate is one the seal lists (by certificate or by digest)."""
    DATA_HASH = "data_hash"
    """``dataHash`` is the SM3 digest of the data the caller supplied."""
    VALIDITY = "validity"
    """The signing time lies inside the seal's validity window."""
    TIME_STAMP = "time_stamp"
    """The time-stamp token is over the signature value and its signature verifies."""


class LayerStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"
    """Nothing to check: no data supplied, or no time-stamp in the signature."""


class Reason(StrEnum):
    """Why a layer failed; :attr:`sub_indication` is the ETSI EN 319 102-1 counterpart."""

    SIGNATURE_INVALID = "signature_invalid"
    HASH_MISMATCH = "hash_mismatch"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    MALFORMED = "malformed"
    NOT_IN_CERT_LIST = "not_in_cert_list"
    SEAL_NOT_YET_VALID = "seal_not_yet_valid"
    SEAL_EXPIRED = "seal_expired"
    SIGNING_TIME_UNKNOWN = "signing_time_unknown"

    @property
    def sub_indication(self) -> AdESFailure | AdESIndeterminate:
        """The ETSI sub-indication a report shows for this reason."""
        return _sub_indications()[self]


@cache
def _sub_indications() -> dict[Reason, AdESFailure | AdESIndeterminate]:
    """Built when a report first asks: importing pyHanko's ``sign`` package (which loads all
    of its signers) costs more than a ``sealctl seal list`` that reads seal objects may take."""
    from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate

    return {
        Reason.SIGNATURE_INVALID: AdESFailure.SIG_CRYPTO_FAILURE,
        Reason.HASH_MISMATCH: AdESFailure.HASH_FAILURE,
        Reason.UNSUPPORTED_ALGORITHM: AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
        Reason.MALFORMED: AdESFailure.FORMAT_FAILURE,
        # The seal does not authorise this signer: a constraint of the signature, not its maths.
        Reason.NOT_IN_CERT_LIST: AdESIndeterminate.SIG_CONSTRAINTS_FAILURE,
        Reason.SEAL_NOT_YET_VALID: AdESFailure.NOT_YET_VALID,
        Reason.SEAL_EXPIRED: AdESIndeterminate.EXPIRED,
        Reason.SIGNING_TIME_UNKNOWN: AdESIndeterminate.GENERIC,
    }


@dataclass(frozen=True)
class LayerResult:
    """The outcome of one layer."""

    layer: Layer
    status: LayerStatus
    reason: Reason | None
    """Why it failed (``None`` unless ``status`` is FAILED)."""
    message: str
    """One English sentence for a report or a log; never key material."""

    @property
    def passed(self) -> bool:
        return self.status is LayerStatus.PASSED


@dataclass(frozen=True)
class SesCheck:
    """The result of :func:`check_signature`: one :class:`LayerResult` per :class:`Layer`."""

    layers: tuple[LayerResult, ...]
    """All six layers, in :class:`Layer` order."""
    signing_time: datetime | None
    """The time the validity layer used: the time-stamp's genTime when a valid token is
    present, else the signer's claimed ``timeInfo`` (``None`` if unreadable)."""
    time_stamp_certificate: bytes | None
    """DER of the TSA certificate whose signature on the token verified, if any: its path
    and revocation are for the verification engine to check, like the maker's and the
    signer's.  When set, ``signing_time`` is the token's genTime."""

    @property
    def time_stamped(self) -> bool:
        """True when ``signing_time`` comes from a verified time-stamp token."""
        return self.time_stamp_certificate is not None

    def __getitem__(self, layer: Layer) -> LayerResult:
        return next(result for result in self.layers if result.layer is layer)

    @property
    def ok(self) -> bool:
        """No layer failed (layers not checked do not count against it)."""
        return not self.failures

    @property
    def failures(self) -> tuple[LayerResult, ...]:
        return tuple(r for r in self.layers if r.status is LayerStatus.FAILED)


def _passed(layer: Layer, message: str) -> LayerResult:
    return LayerResult(layer, LayerStatus.PASSED, None, message)


def _failed(layer: Layer, reason: Reason, message: str) -> LayerResult:
    return LayerResult(layer, LayerStatus.FAILED, reason, message)


def _not_checked(layer: Layer, message: str) -> LayerResult:
    return LayerResult(layer, LayerStatus.NOT_CHECKED, None, message)


def check_seal(seal: SesSeal) -> LayerResult:
    """The maker layer alone: the maker's SM2 signature over the seal info verifies."""
    return _remembered_sm2(
        Layer.MAKER_SIGNATURE,
        "maker",
        seal.maker_certificate,
        seal.signed_bytes,
        seal.signature,
        seal.signature_algorithm,
    )


def _remembered_sm2(
    layer: Layer, who: str, certificate: bytes, message: bytes, value: bytes, algorithm: str
) -> LayerResult:
    """:func:`_check_sm2`, remembered by the bytes it is a function of: one seal object
    comes back in every document its seal signs (its maker signature need not be verified
    each time), and a document verified again brings back its signer's signature — as a
    PDF's CMS signature comes back to :data:`pki.chain.VALID_SIGNATURES`."""
    key = (layer, certificate, message, value, algorithm)
    result = _SM2_CHECKS.get(key)
    if result is None:
        result = _check_sm2(layer, who, certificate, message, value, algorithm)
        _SM2_CHECKS.put(key, result)
    return result


_SM2_CHECKS: LruCache[LayerResult] = LruCache(512)
"""Maker- and signer-layer results by (layer, certificate DER, signed bytes, signature,
algorithm)."""

_TIME_STAMP_CHECKS: LruCache[tuple[LayerResult, datetime | None, bytes | None]] = LruCache(256)
"""Time-stamp layer results by (token DER, signature value): see :func:`_check_time_stamp`."""


def clear_caches() -> None:
    """Forget the layer results (a benchmark's "cold" column; verdicts never depend on
    it: the results are pure functions of their key)."""
    _SM2_CHECKS.clear()
    _TIME_STAMP_CHECKS.clear()


def check_signature(signature: SesSignature, data: bytes | None = None) -> SesCheck:
    """Check every cryptographic layer of ``signature``; ``data`` is the protected data
    (e.g. the raw ``Signature.xml`` bytes) when the caller has it.

    No layer stops the others: a report shows them all.  Trust, paths and revocation of
    the maker, signer and TSA certificates are the caller's (the engine's) to check.
    """
    time_stamp, stamped_at, tsa_certificate = _check_time_stamp(signature)
    signing_time = stamped_at or signature.signing_time
    layers = (
        check_seal(signature.seal),
        _remembered_sm2(
            Layer.SIGNER_SIGNATURE,
            "signer",
            signature.signer_certificate,
            signature.signed_bytes,
            signature.signature,
            signature.signature_algorithm,
        ),
        _check_cert_list(signature),
        _check_data_hash(signature, data),
        _check_validity(signature.seal, signing_time, stamped_at is not None),
        time_stamp,
    )
    return SesCheck(layers, signing_time, tsa_certificate)


def _check_sm2(
    layer: Layer, who: str, certificate: bytes, message: bytes, value: bytes, algorithm: str
) -> LayerResult:
    if algorithm != oids.SM2_SM3:
        return _failed(
            layer,
            Reason.UNSUPPORTED_ALGORITHM,
            f"the {who} signature algorithm {algorithm} is not SM2 with SM3",
        )
    try:
        public_key = load_certificate(certificate, f"{who} certificate").public_key
    except SesFormatError as exc:
        return _failed(layer, Reason.MALFORMED, str(exc))
    try:
        algorithms.verify(public_key, message, value, SignatureScheme.SM2_SM3)
    except PARSE_ERRORS as exc:  # a key asn1crypto read but cannot take apart
        return _failed(layer, Reason.MALFORMED, f"the {who} public key: {first_line(exc)}")
    except (SignatureInvalid, UnsupportedAlgorithm):
        return _failed(
            layer,
            Reason.SIGNATURE_INVALID,
            f"the {who} signature does not verify as SM2 with SM3 under the {who} certificate",
        )
    return _passed(layer, f"the {who} signature verifies (SM2 with SM3)")


def _check_cert_list(signature: SesSignature) -> LayerResult:
    seal = signature.seal
    listed = lists_certificate(seal, signature.signer_certificate)
    if listed:
        how = "certificate" if seal.cert_list_type == asn1.CERT_LIST_CERTIFICATES else "digest"
        return _passed(Layer.CERT_LIST, f"the seal's certList lists the signer by {how}")
    if listed is None:
        names = ", ".join(sorted({d.algorithm for d in seal.cert_digests}))
        return _failed(
            Layer.CERT_LIST,
            Reason.UNSUPPORTED_ALGORITHM,
            f"the seal's certList uses digests we do not compute ({names})",
        )
    count = len(seal.certificates) + len(seal.cert_digests)
    return _failed(
        Layer.CERT_LIST,
        Reason.NOT_IN_CERT_LIST,
        f"the signer certificate is not among the {count} entries of the seal's certList",
    )


def lists_certificate(seal: SesSeal, certificate: bytes) -> bool | None:
    """Whether ``seal``'s certList names ``certificate`` (byte for byte, or by a digest of
    its DER); ``None`` when it names certificates only by digests we do not compute."""
    if seal.cert_list_type == asn1.CERT_LIST_CERTIFICATES:
        return certificate in seal.certificates
    known = [d for d in seal.cert_digests if d.algorithm.lower() in _DIGESTS]
    if any(algorithms.digest(d.algorithm.lower(), certificate) == d.value for d in known):
        return True
    return None if seal.cert_digests and not known else False


_DIGESTS = frozenset({"sm3", "sha256", "sha384", "sha512"})
"""``CertDigestObj.type`` values (lower-cased) we compute; GB/T 38540 uses SM3."""


def _check_data_hash(signature: SesSignature, data: bytes | None) -> LayerResult:
    if data is None:
        return _not_checked(Layer.DATA_HASH, "no data was given to check dataHash against")
    if algorithms.digest("sm3", data) == signature.data_hash:
        return _passed(Layer.DATA_HASH, "dataHash is the SM3 digest of the data")
    return _failed(
        Layer.DATA_HASH, Reason.HASH_MISMATCH, "dataHash is not the SM3 digest of the data"
    )


def _check_validity(seal: SesSeal, at: datetime | None, stamped: bool) -> LayerResult:
    if at is None:
        return _failed(
            Layer.VALIDITY,
            Reason.SIGNING_TIME_UNKNOWN,
            "the signing time cannot be read, so the seal's validity cannot be checked",
        )
    source = "time-stamped" if stamped else "claimed"
    when = f"{source} signing time {at:%Y-%m-%d %H:%M:%S}Z"
    window = f"{seal.valid_start:%Y-%m-%d %H:%M:%S}Z to {seal.valid_end:%Y-%m-%d %H:%M:%S}Z"
    if at < seal.valid_start:
        return _failed(
            Layer.VALIDITY,
            Reason.SEAL_NOT_YET_VALID,
            f"the {when} is before the seal's validity ({window})",
        )
    if at > seal.valid_end:
        return _failed(
            Layer.VALIDITY,
            Reason.SEAL_EXPIRED,
            f"the {when} is after the seal's validity ({window})",
        )
    return _passed(Layer.VALIDITY, f"the {when} is inside the seal's validity ({window})")


def _check_time_stamp(
    signature: SesSignature,
) -> tuple[LayerResult, datetime | None, bytes | None]:
    """The time-stamp layer, and the verified genTime and TSA certificate (``None`` if the
    token is absent or does not verify); remembered by the token and the signature value
    it must cover, its only inputs (a document verified again brings both back)."""
    if signature.time_stamp_token is None:
        return _not_checked(Layer.TIME_STAMP, "the signature carries no time-stamp"), None, None
    key = (signature.time_stamp_token, signature.signature)
    found = _TIME_STAMP_CHECKS.get(key)
    if found is None:
        found = _check_token(signature.time_stamp_token, signature.signature)
        _TIME_STAMP_CHECKS.put(key, found)
    return found


def _check_token(
    token: bytes, signature_value: bytes
) -> tuple[LayerResult, datetime | None, bytes | None]:
    try:
        gen_time, certificate = _verify_token(token, signature_value)
    except _TokenFailure as failure:
        return _failed(Layer.TIME_STAMP, failure.reason, str(failure)), None, None
    when = f"{gen_time:%Y-%m-%d %H:%M:%S}Z"
    message = f"the time-stamp over the signature value verifies; genTime {when}"
    return _passed(Layer.TIME_STAMP, message), gen_time, certificate


class _TokenFailure(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _verify_token(token: bytes, signature_value: bytes) -> tuple[datetime, bytes]:
    """(genTime, TSA certificate DER) of an RFC 3161 token whose CMS signature verifies and
    whose message imprint is the hash of ``signature_value``; else :class:`_TokenFailure`.

    Whether the TSA certificate is a time-stamping certificate one trusts (its EKU, path
    and revocation) is the verification engine's question, as for the other certificates.
    """
    try:
        identity = verify_signed_data(cms.ContentInfo.load(token, strict=True))
        if identity.content_type != "tst_info":
            message = f"the time-stamp is a SignedData of {identity.content_type}, not TSTInfo"
            raise _TokenFailure(Reason.MALFORMED, message)
        tst_info = tsp.TSTInfo.load(identity.content, strict=True)
        imprint = tst_info["message_imprint"]
        expected = imprint["hashed_message"].native
        actual = algorithms.digest(imprint["hash_algorithm"]["algorithm"].native, signature_value)
        gen_time = utc(tst_info["gen_time"].native)
    except SignatureInvalid as exc:
        raise _TokenFailure(Reason.SIGNATURE_INVALID, f"time-stamp: {exc}") from None
    except UnsupportedAlgorithm as exc:
        raise _TokenFailure(Reason.UNSUPPORTED_ALGORITHM, f"time-stamp: {exc}") from None
    except PARSE_ERRORS as exc:
        message = f"the time-stamp token is malformed: {first_line(exc)}"
        raise _TokenFailure(Reason.MALFORMED, message) from None
    if actual != expected:
        message = "the time-stamp's message imprint is not over the signature value"
        raise _TokenFailure(Reason.HASH_MISMATCH, message)
    return gen_time, identity.certificate.dump()
