"""RSA and ECDSA keys on the system's OpenSSL 3 ``libcrypto``, with reusable contexts.

Why not ``cryptography`` for these: it sets up a fresh ``EVP_PKEY_CTX`` (provider fetch,
key export to the provider, padding and digest parameters) for every signature and every
verification.  On OpenSSL 3 that set-up costs as much as an RSA verification itself, and
it held our RSA verify and P-256 rates to 60–75 % of ``openssl speed``, which initialises a
context once and reuses it.  Here each key keeps one initialised context per thread and
operation (contexts are not thread-safe, keys are), and a signature or verification is a
single C call (``pki._libcrypto``, built from ``pki/_libcrypto_build.py``) that hashes the
message with SHA-256 and runs ``EVP_PKEY_sign``/``EVP_PKEY_verify`` on that context.

The library is the one Python's own ``hashlib`` and ``ssl`` are linked against (Debian's
``libssl3``, also behind the ``openssl`` command that the tests cross-check with); only
stable public OpenSSL 3.0 functions are used.  Key bytes go in and out only as DER (PKCS#8
for the key store, which encrypts it at once; SubjectPublicKeyInfo for the rest); the
scratch buffers that held private DER are wiped before they are released.

SM2 stays on Tongsuo (``pki.sm2``): its signer-ID handling is what GB/T 32918 needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import Enum
from functools import partial
from typing import Final, NamedTuple

from pki.errors import SignatureInvalid, UnsupportedAlgorithm

try:
    from pki._libcrypto import ffi as _ffi
    from pki._libcrypto import lib as _lib
except ImportError as exc:  # an install without a C compiler or OpenSSL headers
    raise ImportError(
        "pki._libcrypto is not built: run scripts/bootstrap.sh "
        "(it needs gcc, python3-dev and libssl-dev)"
    ) from exc

__all__ = ["OPENSSL_VERSION", "Padding", "PrivateKey", "PublicKey", "Signer", "Verifier"]

if _lib.OpenSSL_version_num() < 0x30000000:  # built against 3, run with an older library
    raise ImportError("sealsvc needs OpenSSL 3 libcrypto (Debian: apt-get install libssl3)")
OPENSSL_VERSION: Final = _ffi.string(_lib.OpenSSL_version(0)).decode()

_EVP_PKEY_RSA, _EVP_PKEY_RSA_PSS, _EVP_PKEY_EC = 6, 912, 408
_RSA_PKCS1_PADDING, _RSA_PKCS1_PSS_PADDING = 1, 6
_PSS_SALT_LENGTH = 32  # = the SHA-256 output, what RFC 8017 recommends and we put in params
_SHA256 = _lib.sealsvc_sha256()  # fetched here, once, for the contexts and the C helpers
if _SHA256 == _ffi.NULL:
    raise ImportError("OpenSSL's default provider offers no SHA-256")


class Padding(Enum):
    """How the SHA-256 digest becomes a signature; every scheme here hashes with SHA-256."""

    RSA_PKCS1V15 = "rsa-pkcs1v15"
    RSA_PSS = "rsa-pss"
    ECDSA = "ecdsa"


def _configure(ctx: object, padding: Padding) -> bool:
    if _lib.EVP_PKEY_CTX_set_signature_md(ctx, _SHA256) <= 0:
        return False
    if padding is Padding.RSA_PKCS1V15:
        return _lib.EVP_PKEY_CTX_set_rsa_padding(ctx, _RSA_PKCS1_PADDING) > 0
    if padding is Padding.RSA_PSS:
        return (
            _lib.EVP_PKEY_CTX_set_rsa_padding(ctx, _RSA_PKCS1_PSS_PADDING) > 0
            and _lib.EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, _PSS_SALT_LENGTH) > 0
            and _lib.EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, _SHA256) > 0
        )
    return True


class _Operation(NamedTuple):
    ctx: object
    signature: object
    """Output buffer of ``EVP_PKEY_sign`` (signatures are public; reused, never returned)."""
    size: int


Signer = Callable[[bytes], bytes]
Verifier = Callable[[bytes, bytes], None]


class _Key:
    """An ``EVP_PKEY`` and, per thread, one initialised context per operation and padding.

    ``signer(padding)``/``verifier(padding)`` hand out a function bound to this key and
    padding: per call it does one thread-local lookup and one C call, which is all the
    Python a P-256 signature can afford.  The bound functions hold the key's ``EVP_PKEY``
    and contexts, not the key object, so no reference cycle keeps a key alive.
    """

    _init = staticmethod(_lib.EVP_PKEY_verify_init)

    def __init__(self, pkey: object) -> None:
        self._pkey = _ffi.gc(pkey, _lib.EVP_PKEY_free)
        self._contexts = threading.local()
        self._bound: dict[Padding, Callable] = {}
        base_id = _lib.EVP_PKEY_get_base_id(pkey)
        self.kind = {_EVP_PKEY_RSA: "rsa", _EVP_PKEY_RSA_PSS: "rsa", _EVP_PKEY_EC: "ec"}.get(
            base_id, "other"
        )

    def __repr__(self) -> str:  # never show key material
        return f"{type(self).__name__}({self.kind}, {self.bits} bits)"

    @property
    def bits(self) -> int:
        return _lib.EVP_PKEY_get_bits(self._pkey)

    @property
    def curve(self) -> str | None:
        """OpenSSL's group name of an EC key (``prime256v1`` for P-256), else ``None``."""
        name = _ffi.new("char[]", 64)
        if self.kind != "ec" or _lib.EVP_PKEY_get_group_name(self._pkey, name, 64, _ffi.NULL) != 1:
            _lib.ERR_clear_error()
            return None
        return _ffi.string(name).decode()

    def spki_der(self) -> bytes:
        """SubjectPublicKeyInfo DER of the (public half of the) key."""
        return _i2d(_lib.i2d_PUBKEY, self._pkey, secret=False)

    def _bind(self, padding: Padding, bind: Callable[..., Callable]) -> Callable:
        """The function ``bind`` makes for ``padding``, made once per key and padding."""
        bound = self._bound.get(padding)
        if bound is None:
            if self.kind not in ("rsa", "ec") or (self.kind == "ec") != (padding is Padding.ECDSA):
                raise UnsupportedAlgorithm(f"a {self.kind} key cannot use {padding.value}")
            make = partial(_new_operation, self._pkey, self._init, padding, self._contexts)
            bound = self._bound[padding] = bind(self._contexts, padding._value_, make, padding)
        return bound


def _new_operation(
    pkey: object, init: Callable[[object], int], padding: Padding, contexts: threading.local
) -> _Operation:
    """This thread's context for ``padding``, with its output buffer, stored in ``contexts``."""
    ctx = _ffi.gc(_lib.EVP_PKEY_CTX_new(pkey, _ffi.NULL), _lib.EVP_PKEY_CTX_free)
    if ctx == _ffi.NULL or init(ctx) != 1 or not _configure(ctx, padding):
        _lib.ERR_clear_error()
        raise UnsupportedAlgorithm(f"OpenSSL cannot set up {padding.value} for this key")
    size = _lib.EVP_PKEY_get_size(pkey)
    operation = _Operation(ctx, _ffi.new("char[]", size), size)
    setattr(contexts, padding._value_, operation)  # ``_value_``: ``.value`` is a slow descriptor
    return operation


def _bind_signer(
    contexts: threading.local, name: str, make: Callable[[], _Operation], padding: Padding
) -> Signer:
    sign_sha256, unpack = _lib.sealsvc_sign_sha256, _ffi.unpack
    failure = f"OpenSSL failed to compute a {padding.value} signature"

    def sign(message: bytes) -> bytes:
        ctx, signature, size = getattr(contexts, name, None) or make()
        if type(message) is not bytes:
            message = _c_bytes(message)
        length = sign_sha256(ctx, message, len(message), signature, size)
        if not length:
            raise UnsupportedAlgorithm(failure)
        return unpack(signature, length)

    return sign


def _bind_verifier(
    contexts: threading.local, name: str, make: Callable[[], _Operation], padding: Padding
) -> Verifier:
    verify_sha256 = _lib.sealsvc_verify_sha256
    failure = f"{padding.value} signature does not verify"

    def verify(message: bytes, signature: bytes) -> None:
        ctx = (getattr(contexts, name, None) or make()).ctx
        if type(message) is not bytes:
            message = _c_bytes(message)
        if type(signature) is not bytes:
            signature = _c_bytes(signature)
        if not verify_sha256(ctx, message, len(message), signature, len(signature)):
            raise SignatureInvalid(failure)

    return verify


class PublicKey(_Key):
    """A public key that verifies SHA-256 signatures."""

    @classmethod
    def from_spki(cls, spki_der: bytes) -> PublicKey:
        return cls(_d2i(_lib.d2i_PUBKEY, spki_der, "SubjectPublicKeyInfo"))

    def verifier(self, padding: Padding) -> Verifier:
        """``verify(message, signature)`` for ``padding``; raises :class:`SignatureInvalid`."""
        return self._bind(padding, _bind_verifier)

    def verify(self, message: bytes, signature: bytes, padding: Padding) -> None:
        """Raise :class:`SignatureInvalid` unless ``signature`` is over SHA-256(message)."""
        self.verifier(padding)(message, signature)


class PrivateKey(_Key):
    """A private key that signs SHA-256 digests and exports itself only as PKCS#8 DER."""

    _init = staticmethod(_lib.EVP_PKEY_sign_init)

    @classmethod
    def generate_rsa(cls, bits: int) -> PrivateKey:
        return cls._generate(b"RSA", _ffi.cast("size_t", bits))

    @classmethod
    def generate_ec(cls, curve: str = "P-256") -> PrivateKey:
        return cls._generate(b"EC", _ffi.new("char[]", curve.encode()))

    @classmethod
    def _generate(cls, key_type: bytes, parameter: object) -> PrivateKey:
        pkey = _lib.EVP_PKEY_Q_keygen(_ffi.NULL, _ffi.NULL, key_type, parameter)
        if pkey == _ffi.NULL:
            _lib.ERR_clear_error()
            raise UnsupportedAlgorithm(f"OpenSSL cannot generate a {key_type.decode()} key")
        return cls(pkey)

    @classmethod
    def from_pkcs8(cls, pkcs8_der: bytes) -> PrivateKey:
        return cls(_d2i(_lib.d2i_AutoPrivateKey, pkcs8_der, "PKCS#8 private key"))

    def pkcs8_der(self) -> bytes:
        """Unencrypted PKCS#8; only the key store calls this, to encrypt it at once."""
        info = _ffi.gc(_lib.EVP_PKEY2PKCS8(self._pkey), _lib.PKCS8_PRIV_KEY_INFO_free)
        if info == _ffi.NULL:
            _lib.ERR_clear_error()
            raise UnsupportedAlgorithm("OpenSSL cannot encode this key as PKCS#8")
        return _i2d(_lib.i2d_PKCS8_PRIV_KEY_INFO, info, secret=True)

    def signer(self, padding: Padding) -> Signer:
        """``sign(message)`` for ``padding``: PKCS#1/PSS bytes or DER ECDSA ``{r, s}``."""
        return self._bind(padding, _bind_signer)

    def sign(self, message: bytes, padding: Padding) -> bytes:
        """Signature over SHA-256(message): PKCS#1/PSS bytes or DER ECDSA ``{r, s}``."""
        return self.signer(padding)(message)


def _c_bytes(data: bytearray | memoryview) -> object:
    """Other buffers than ``bytes`` (which pass to C as they are), wrapped without a copy."""
    return _ffi.from_buffer("unsigned char[]", data)


def _d2i(decode: object, der: bytes, what: str) -> object:
    cursor = _ffi.new("const unsigned char **", _ffi.from_buffer(der))
    pkey = decode(_ffi.NULL, cursor, len(der))
    if pkey == _ffi.NULL:
        _lib.ERR_clear_error()
        raise UnsupportedAlgorithm(f"not a {what} OpenSSL can read")
    return pkey


def _i2d(encode: object, value: object, *, secret: bool) -> bytes:
    length = encode(value, _ffi.NULL)
    if length <= 0:
        _lib.ERR_clear_error()
        raise UnsupportedAlgorithm("OpenSSL cannot encode this key")
    buffer = _ffi.new("unsigned char[]", length)
    encode(value, _ffi.new("unsigned char **", buffer))
    der = _ffi.buffer(buffer, length)[:]
    if secret:  # the caller gets its copy; the scratch buffer does not linger in the heap
        _ffi.memmove(buffer, bytes(length), length)
    return der
