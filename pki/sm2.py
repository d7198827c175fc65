"""SM2 signatures with SM3 (GB/T 32918.2, GB/T 32905) on the C implementation of Tongsuo.

``tongsuopy`` binds Tongsuo (the OpenSSL fork of the 铜锁 project) with the API shape of
``cryptography``; it computes the Z value over the default signer ID
``1234567812345678`` and returns DER ``SEQUENCE {r, s}`` signatures, which is exactly what
GB/T 35275 and GM/T 0015 put into CMS and certificates.  ``cryptography`` cannot load SM2
keys, but its SM3 is C-backed and fast, so hashing goes there.
"""

from __future__ import annotations

from typing import TypeAlias

from asn1crypto import keys as _a_keys
from cryptography.hazmat.primitives import hashes as _c_hashes
from tongsuopy.backends.tongsuo import backend as _t_backend
from tongsuopy.crypto import exceptions as _t_exceptions
from tongsuopy.crypto import hashes as _t_hashes
from tongsuopy.crypto import serialization as _t_serialization
from tongsuopy.crypto.asymciphers import ec as _t_ec

from pki.asn1.oids import SM2_DEFAULT_SIGNER_ID
from pki.errors import SignatureInvalid, UnsupportedAlgorithm

__all__ = [
    "SM2_DEFAULT_SIGNER_ID",
    "SM2PrivateKey",
    "SM2PublicKey",
    "generate_private_key",
    "load_private_key_der",
    "load_public_key_der",
    "private_key_to_pkcs8_der",
    "public_key_to_spki_der",
    "sign",
    "sign_with_id",
    "sm3",
    "verify",
    "verify_with_id",
    "z_value",
]

SM2PrivateKey: TypeAlias = _t_ec.EllipticCurvePrivateKey
SM2PublicKey: TypeAlias = _t_ec.EllipticCurvePublicKey

_SM2_WITH_SM3 = _t_ec.ECDSA(_t_hashes.SM3())


def sm3(data: bytes) -> bytes:
    """SM3 digest of ``data`` (via ``cryptography``: ~2000× faster than pure Python)."""
    digest = _c_hashes.Hash(_c_hashes.SM3())
    digest.update(data)
    return digest.finalize()


def generate_private_key() -> SM2PrivateKey:
    """A fresh key on the sm2p256v1 curve."""
    return _t_ec.generate_private_key(_t_ec.SM2())


def load_private_key_der(pkcs8_der: bytes) -> SM2PrivateKey:
    """Load an unencrypted PKCS#8 SM2 private key (only ever called by the key store)."""
    key = _t_serialization.load_der_private_key(pkcs8_der, password=None)
    if not isinstance(key, _t_ec.EllipticCurvePrivateKey) or key.curve.name.upper() != "SM2":
        raise UnsupportedAlgorithm("the PKCS#8 key is not an SM2 key")
    return key


def load_public_key_der(spki_der: bytes) -> SM2PublicKey:
    """Load a SubjectPublicKeyInfo on the SM2 curve."""
    key = _t_serialization.load_der_public_key(spki_der)
    if not isinstance(key, _t_ec.EllipticCurvePublicKey) or key.curve.name.upper() != "SM2":
        raise UnsupportedAlgorithm("the public key is not an SM2 key")
    return key


def private_key_to_pkcs8_der(key: SM2PrivateKey) -> bytes:
    """Unencrypted PKCS#8 DER, for the key store to encrypt before it touches a disk."""
    return key.private_bytes(
        _t_serialization.Encoding.DER,
        _t_serialization.PrivateFormat.PKCS8,
        _t_serialization.NoEncryption(),
    )


def public_key_to_spki_der(key: SM2PublicKey) -> bytes:
    return key.public_bytes(
        _t_serialization.Encoding.DER, _t_serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign(key: SM2PrivateKey, message: bytes) -> bytes:
    """SM2 signature of ``message`` (Z value over the default ID, then SM3), DER-encoded."""
    return key.sign(message, _SM2_WITH_SM3)


def verify(key: SM2PublicKey, message: bytes, signature: bytes) -> None:
    """Raise :class:`SignatureInvalid` unless ``signature`` is SM2-with-SM3 over ``message``."""
    try:
        key.verify(signature, message, _SM2_WITH_SM3)
    # Tongsuo reports undecodable DER (empty, truncated, wrong tags) as an InternalError.
    except (_t_exceptions.InvalidSignature, _t_exceptions.InternalError, ValueError) as exc:
        raise SignatureInvalid("SM2 signature does not verify") from exc


# sm2p256v1 domain parameters (GM/T 0003.5, GB/T 32918.5): a, b and the base point G enter
# the Z value as 32-byte big-endian strings.
_CURVE_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
_CURVE_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
_G_X = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
_G_Y = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
_Z_CURVE_PART = b"".join(v.to_bytes(32, "big") for v in (_CURVE_A, _CURVE_B, _G_X, _G_Y))
_MAX_ID_BYTES = 0xFFFF // 8
"""ENTL is a 16-bit count of ID *bits*, so an ID can have at most 8191 bytes."""


def z_value(
    public_key: SM2PublicKey | _a_keys.PublicKeyInfo | bytes,
    signer_id: bytes = SM2_DEFAULT_SIGNER_ID,
) -> bytes:
    """Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) of GB/T 32918.2 §5.5.

    ``public_key`` may be a loaded key, an asn1crypto ``PublicKeyInfo`` or SPKI DER.  Z binds
    the signer's identity and key into every SM2 signature; the signed digest is
    ``e = SM3(Z || M)``.
    """
    if len(signer_id) > _MAX_ID_BYTES:
        raise ValueError(f"SM2 signer ID too long ({len(signer_id)} bytes, at most 8191)")
    if isinstance(public_key, _a_keys.PublicKeyInfo):
        public_key = public_key.dump()
    if isinstance(public_key, bytes):
        public_key = load_public_key_der(public_key)
    numbers = public_key.public_numbers()
    return sm3(
        (len(signer_id) * 8).to_bytes(2, "big")
        + signer_id
        + _Z_CURVE_PART
        + numbers.x.to_bytes(32, "big")
        + numbers.y.to_bytes(32, "big")
    )


# tongsuopy computes Z only over the default ID and does not accept ``Prehashed`` digests
# (its ``Prehashed`` class exists but ``sign``/``verify`` reject it).  For another signer ID
# we compute e = SM3(Z || M) ourselves and hand it to Tongsuo's EVP_PKEY_sign/verify, which
# for an SM2 key treat their input as e: the curve arithmetic stays in C and constant time.
# This reaches into tongsuopy's bindings (``_lib``, ``_ffi``, ``_consume_errors``,
# ``_evp_pkey``), which have no public equivalent; tests/test_private_apis.py pins them, and
# the published GM/T 0003.5 vector and the openssl ``distid`` cross-checks in
# tests/test_sm2.py guard their behaviour.
_lib = _t_backend._lib
_ffi = _t_backend._ffi


def _pkey_ctx(key: SM2PrivateKey | SM2PublicKey) -> object:
    ctx = _lib.EVP_PKEY_CTX_new(key._evp_pkey, _ffi.NULL)
    if ctx == _ffi.NULL:
        raise UnsupportedAlgorithm("Tongsuo cannot create an SM2 operation context")
    return _ffi.gc(ctx, _lib.EVP_PKEY_CTX_free)


def sign_with_id(key: SM2PrivateKey, message: bytes, signer_id: bytes) -> bytes:
    """SM2 signature of ``message`` with the Z value over ``signer_id``, DER-encoded.

    Only for peers that agreed on a non-default ID (GM/T 0009 allows it); everything this
    service puts in certificates and CMS uses :func:`sign` and the default ID.
    """
    e = sm3(z_value(key.public_key(), signer_id) + message)
    ctx = _pkey_ctx(key)
    size = _ffi.new("size_t *")
    if _lib.EVP_PKEY_sign_init(ctx) != 1 or _lib.EVP_PKEY_sign(ctx, _ffi.NULL, size, e, 32) != 1:
        _t_backend._consume_errors()
        raise UnsupportedAlgorithm("Tongsuo refused to set up an SM2 signature")
    buf = _ffi.new("unsigned char[]", size[0])
    if _lib.EVP_PKEY_sign(ctx, buf, size, e, 32) != 1:
        _t_backend._consume_errors()
        raise UnsupportedAlgorithm("Tongsuo failed to compute an SM2 signature")
    return _ffi.buffer(buf)[: size[0]]


def verify_with_id(key: SM2PublicKey, message: bytes, signature: bytes, signer_id: bytes) -> None:
    """Like :func:`verify`, with the Z value over ``signer_id`` instead of the default ID."""
    e = sm3(z_value(key, signer_id) + message)
    ctx = _pkey_ctx(key)
    ok = _lib.EVP_PKEY_verify_init(ctx) == 1 and (
        _lib.EVP_PKEY_verify(ctx, signature, len(signature), e, len(e)) == 1
    )
    _t_backend._consume_errors()
    if not ok:
        raise SignatureInvalid("SM2 signature does not verify")
