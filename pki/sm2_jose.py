"""SM2 in JOSE: an SM2 public key as a JWK, and a JWS (compact) signed with SM2-with-SM3.

JOSE has no registered SM2 algorithm (RFC 7518 and the IANA registry list none), so 国密
identity providers use names of their own for the same thing — the SM2 signature with SM3
and the default signer ID (GB/T 32918, ``1234567812345678``) over the JWS signing input
``BASE64URL(header) "." BASE64URL(payload)``.  Names seen in practice: ``SM2``, Java
providers' ``SM3withSM2`` (the JCA algorithm name, as BouncyCastle spells it), and
go-jwt-gm's ``GmSM2``.  The signature comes as JOSE encodes EC signatures (RFC 7518
§3.4: ``r ‖ s``, 32 bytes each — go-jwt-gm) or as the DER ``SEQUENCE {r, s}`` a JCA
``Signature`` returns; both are accepted, nothing else (no BER, no trailing bytes).

The key: ``{"kty": "EC", "crv": "SM2", "x": …, "y": …}`` with the coordinates as 32-byte
base64url strings (RFC 7518 §6.2.1), the form SM2 JWKs take in the libraries that write
them.  The point is checked to lie on the curve when the key is loaded.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from asn1crypto import algos, keys

from pki import algorithms, sm2
from pki.algorithms import SignatureScheme
from pki.asn1 import oids
from pki.errors import CertificateError, SignatureInvalid, UnsupportedAlgorithm

__all__ = ["JWS_ALGORITHMS", "is_sm2_jwk", "jwk_public_key", "verify_jws"]

JWS_ALGORITHMS = ("SM2", "SM3withSM2", "GmSM2")
"""``alg`` values that mean SM2-with-SM3 over the JWS signing input (see the module note)."""

_COORDINATE_BYTES = 32
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def is_sm2_jwk(jwk: Mapping[str, Any]) -> bool:
    """Whether ``jwk`` says it is an SM2 public key (``kty`` EC, ``crv`` SM2)."""
    return jwk.get("kty") == "EC" and jwk.get("crv") == "SM2"


def jwk_public_key(jwk: Mapping[str, Any]) -> keys.PublicKeyInfo:
    """The SubjectPublicKeyInfo of an SM2 JWK; :class:`CertificateError` when it is not one
    (another curve, coordinates of the wrong length, a point off the curve, a private key)."""
    if not is_sm2_jwk(jwk):
        raise CertificateError('not an SM2 JWK (kty "EC", crv "SM2")')
    if "d" in jwk:
        raise CertificateError("the JWK holds a private key")
    try:
        x, y = (_b64url(jwk.get(name)) for name in ("x", "y"))
    except ValueError:
        raise CertificateError("an SM2 JWK's x and y are base64url strings") from None
    if len(x) != _COORDINATE_BYTES or len(y) != _COORDINATE_BYTES:
        raise CertificateError("an SM2 JWK's x and y are 32 bytes each")
    info = keys.PublicKeyInfo(
        {
            "algorithm": {
                "algorithm": "ec",
                "parameters": keys.ECDomainParameters(name="named", value=oids.SM2_CURVE),
            },
            "public_key": b"\x04" + x + y,
        }
    )
    try:
        sm2.load_public_key_der(info.dump())  # Tongsuo refuses a point off the curve
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateError(f"the JWK is not a point of the SM2 curve: {exc}") from None
    return keys.PublicKeyInfo.load(info.dump())


def verify_jws(token: str, public_key: keys.PublicKeyInfo) -> None:
    """Raise :class:`SignatureInvalid` unless the compact JWS ``token`` carries an SM2
    signature of its signing input by ``public_key`` (default signer ID).

    Only the signature: the header's ``alg`` and the claims are the caller's to check.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise SignatureInvalid("a compact JWS has three parts")
    try:
        signature = _b64url(parts[2])
    except ValueError:
        raise SignatureInvalid("the JWS signature is not base64url") from None
    algorithms.verify(
        public_key, f"{parts[0]}.{parts[1]}".encode("ascii"), _der(signature),
        SignatureScheme.SM2_SM3,
    )  # fmt: skip


def _der(signature: bytes) -> bytes:
    """The DER ``SEQUENCE {r, s}`` of a JOSE (``r ‖ s``) or DER signature."""
    if len(signature) == 2 * _COORDINATE_BYTES:
        r, s = signature[:_COORDINATE_BYTES], signature[_COORDINATE_BYTES:]
        return algos.DSASignature(
            {"r": int.from_bytes(r, "big"), "s": int.from_bytes(s, "big")}
        ).dump()
    try:
        parsed = algos.DSASignature.load(signature, strict=True)
        parsed.native  # noqa: B018  (decodes r and s, so malformed integers surface here)
    except (ValueError, TypeError) as exc:
        raise SignatureInvalid(f"the SM2 signature is neither r‖s nor DER: {exc}") from None
    if parsed.dump(force=True) != signature:
        raise SignatureInvalid("the SM2 signature is not DER")
    return signature


def _b64url(value: object) -> bytes:
    """Strict base64url without padding (RFC 7515 §2); ``ValueError`` otherwise."""
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value) or len(value) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
