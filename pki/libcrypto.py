"""RSA and ECDSA keys on the system's OpenSSL 3 ``libcrypto``, with reusable contexts.

Why not ``cryptography`` for these: it sets up a fresh ``EVP_PKEY_CTX`` (provider fetch,
key export to the provider, padding and digest parameters) for every signature and every
verification.  On OpenSSL 3 that set-up costs as much as an RSA verification itself, and
it held our RSA verify and P-256 rates to 60–75 % of ``openssl speed``, which initialises a
context once and reuses it.  Here each key keeps one initialised context per thread and
operation (contexts are not thread-safe, keys are), so an operation costs the SHA-256
(``hashlib``, itself on this same libcrypto) plus one ``EVP_PKEY_sign``/``EVP_PKEY_verify``.

The library is the one Python's own ``hashlib`` and ``ssl`` are linked against (Debian's
``libssl3``, also behind the ``openssl`` command that the tests cross-check with), loaded
through cffi in ABI mode: only the stable public OpenSSL 3.0 functions declared below are
used, and nothing is compiled at install time.  Key bytes go in and out only as DER
(PKCS#8 for the key store, which encrypts it at once; SubjectPublicKeyInfo for the rest);
the scratch buffers that held private DER are wiped before they are released.

SM2 stays on Tongsuo (``pki.sm2``): its signer-ID handling is what GB/T 32918 needs.
"""

from __future__ import annotations

import ctypes.util
import hashlib
import threading
from enum import Enum
from typing import Final, NamedTuple

import cffi

from pki.errors import SignatureInvalid, UnsupportedAlgorithm

__all__ = ["OPENSSL_VERSION", "Padding", "PrivateKey", "PublicKey"]

_ffi = cffi.FFI()
_ffi.cdef(
    """
    typedef struct evp_pkey_st EVP_PKEY;
    typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
    typedef struct evp_md_st EVP_MD;
    typedef struct pkcs8_priv_key_info_st PKCS8_PRIV_KEY_INFO;

    unsigned long OpenSSL_version_num(void);
    const char *OpenSSL_version(int type);
    void ERR_clear_error(void);

    EVP_PKEY *EVP_PKEY_Q_keygen(void *libctx, const char *propq, const char *type, ...);
    EVP_PKEY *d2i_AutoPrivateKey(EVP_PKEY **a, const unsigned char **pp, long length);
    EVP_PKEY *d2i_PUBKEY(EVP_PKEY **a, const unsigned char **pp, long length);
    int i2d_PUBKEY(const EVP_PKEY *a, unsigned char **pp);
    PKCS8_PRIV_KEY_INFO *EVP_PKEY2PKCS8(const EVP_PKEY *pkey);
    int i2d_PKCS8_PRIV_KEY_INFO(const PKCS8_PRIV_KEY_INFO *a, unsigned char **pp);
    void PKCS8_PRIV_KEY_INFO_free(PKCS8_PRIV_KEY_INFO *a);
    void EVP_PKEY_free(EVP_PKEY *pkey);
    int EVP_PKEY_get_base_id(const EVP_PKEY *pkey);
    int EVP_PKEY_get_bits(const EVP_PKEY *pkey);
    int EVP_PKEY_get_size(const EVP_PKEY *pkey);
    int EVP_PKEY_get_group_name(const EVP_PKEY *pkey, char *name, size_t name_sz,
                                size_t *gname_len);

    const EVP_MD *EVP_sha256(void);
    EVP_PKEY_CTX *EVP_PKEY_CTX_new(EVP_PKEY *pkey, void *e);
    void EVP_PKEY_CTX_free(EVP_PKEY_CTX *ctx);
    int EVP_PKEY_sign_init(EVP_PKEY_CTX *ctx);
    int EVP_PKEY_sign(EVP_PKEY_CTX *ctx, unsigned char *sig, size_t *siglen,
                      const unsigned char *tbs, size_t tbslen);
    int EVP_PKEY_verify_init(EVP_PKEY_CTX *ctx);
    int EVP_PKEY_verify(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t siglen,
                        const unsigned char *tbs, size_t tbslen);
    int EVP_PKEY_CTX_set_signature_md(EVP_PKEY_CTX *ctx, const EVP_MD *md);
    int EVP_PKEY_CTX_set_rsa_padding(EVP_PKEY_CTX *ctx, int pad_mode);
    int EVP_PKEY_CTX_set_rsa_pss_saltlen(EVP_PKEY_CTX *ctx, int saltlen);
    int EVP_PKEY_CTX_set_rsa_mgf1_md(EVP_PKEY_CTX *ctx, const EVP_MD *md);
    """
)


def _load_libcrypto() -> object:
    candidates = ["libcrypto.so.3", ctypes.util.find_library("crypto")]
    for name in filter(None, candidates):
        try:
            lib = _ffi.dlopen(name)
        except OSError:
            continue
        if lib.OpenSSL_version_num() >= 0x30000000:
            return lib
    raise ImportError("sealsvc needs OpenSSL 3 libcrypto (Debian: apt-get install libssl3)")


_lib = _load_libcrypto()
OPENSSL_VERSION: Final = _ffi.string(_lib.OpenSSL_version(0)).decode()

_EVP_PKEY_RSA, _EVP_PKEY_RSA_PSS, _EVP_PKEY_EC = 6, 912, 408
_RSA_PKCS1_PADDING, _RSA_PKCS1_PSS_PADDING = 1, 6
_PSS_SALT_LENGTH = 32  # = the SHA-256 output, what RFC 8017 recommends and we put in params
_SHA256 = _lib.EVP_sha256()


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
    length: object
    size: int


class _Key:
    """An ``EVP_PKEY`` and, per thread, one initialised context per operation and padding."""

    _init = staticmethod(_lib.EVP_PKEY_verify_init)

    def __init__(self, pkey: object) -> None:
        self._pkey = _ffi.gc(pkey, _lib.EVP_PKEY_free)
        self._contexts = threading.local()
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

    def _operation(self, padding: Padding) -> _Operation:
        """This thread's context for ``padding``, with its output buffers, made on first use."""
        # ``_value_``: the plain attribute behind ``.value``, which is a slow descriptor.
        operation = getattr(self._contexts, padding._value_, None)
        if operation is None:
            if self.kind not in ("rsa", "ec") or (self.kind == "ec") != (padding is Padding.ECDSA):
                raise UnsupportedAlgorithm(f"a {self.kind} key cannot use {padding.value}")
            ctx = _ffi.gc(_lib.EVP_PKEY_CTX_new(self._pkey, _ffi.NULL), _lib.EVP_PKEY_CTX_free)
            if ctx == _ffi.NULL or self._init(ctx) != 1 or not _configure(ctx, padding):
                _lib.ERR_clear_error()
                raise UnsupportedAlgorithm(f"OpenSSL cannot set up {padding.value} for this key")
            size = _lib.EVP_PKEY_get_size(self._pkey)
            operation = _Operation(
                ctx, _ffi.new("unsigned char[]", size), _ffi.new("size_t *"), size
            )
            setattr(self._contexts, padding._value_, operation)
        return operation


class PublicKey(_Key):
    """A public key that verifies SHA-256 signatures."""

    @classmethod
    def from_spki(cls, spki_der: bytes) -> PublicKey:
        return cls(_d2i(_lib.d2i_PUBKEY, spki_der, "SubjectPublicKeyInfo"))

    def verify(self, message: bytes, signature: bytes, padding: Padding) -> None:
        """Raise :class:`SignatureInvalid` unless ``signature`` is over SHA-256(message)."""
        digest = hashlib.sha256(message).digest()
        ctx = self._operation(padding).ctx
        ok = _lib.EVP_PKEY_verify(ctx, signature, len(signature), digest, 32)
        if ok != 1:
            _lib.ERR_clear_error()  # 0 = mismatch, < 0 = undecodable; same answer to callers
            raise SignatureInvalid(f"{padding.value} signature does not verify")


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

    def sign(self, message: bytes, padding: Padding) -> bytes:
        """Signature over SHA-256(message): PKCS#1/PSS bytes or DER ECDSA ``{r, s}``."""
        digest = hashlib.sha256(message).digest()
        ctx, signature, length, size = self._operation(padding)
        length[0] = size
        if _lib.EVP_PKEY_sign(ctx, signature, length, digest, 32) != 1:
            _lib.ERR_clear_error()
            raise UnsupportedAlgorithm(f"OpenSSL failed to compute a {padding.value} signature")
        return _ffi.buffer(signature, length[0])[:]


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
