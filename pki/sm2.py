"""SM2 signatures with SM3 (GB/T 32918.2, GB/T 32905) on the C implementation of Tongsuo.

``tongsuopy`` binds Tongsuo (the OpenSSL fork of the 铜锁 project) with the API shape of
``cryptography``; it computes the Z value over the default signer ID
``1234567812345678`` and returns DER ``SEQUENCE {r, s}`` signatures, which is exactly what
GB/T 35275 and GM/T 0015 put into CMS and certificates.  ``cryptography`` cannot load SM2
keys, but its SM3 is C-backed and fast, so hashing goes there.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes as _c_hashes
from tongsuopy.crypto import exceptions as _t_exceptions
from tongsuopy.crypto import hashes as _t_hashes
from tongsuopy.crypto import serialization as _t_serialization
from tongsuopy.crypto.asymciphers import ec as _t_ec

from pki.errors import SignatureInvalid, UnsupportedAlgorithm

__all__ = [
    "SM2PrivateKey",
    "SM2PublicKey",
    "generate_private_key",
    "load_private_key_der",
    "load_public_key_der",
    "private_key_to_pkcs8_der",
    "public_key_to_spki_der",
    "sign",
    "sm3",
    "verify",
]

SM2PrivateKey = _t_ec.EllipticCurvePrivateKey
SM2PublicKey = _t_ec.EllipticCurvePublicKey

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
    except (_t_exceptions.InvalidSignature, ValueError) as exc:
        raise SignatureInvalid("SM2 signature does not verify") from exc
