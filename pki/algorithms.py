"""One small interface over the three signature families: RSA, ECDSA P-256 and SM2/SM3.

Callers hold a :class:`SigningKey` — something that can sign and tell its public key and
algorithm identifiers — and never the private key bytes.  :class:`SoftwareKey` is the
in-memory implementation the file key store hands out; a PKCS#11 token would be another
implementation of the same protocol (``pki.keystore`` only ever returns ``SigningKey``).

Everything speaks asn1crypto types at the edges (``PublicKeyInfo``,
``SignedDigestAlgorithm``) because certificates, CRLs, CMS and OCSP are built with
asn1crypto; the crypto itself runs in ``cryptography`` (RSA, ECDSA; each key loaded once and
its sign/verify calls bound once) or Tongsuo (SM2; ``pki.sm2``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache, partial
from typing import Any, Protocol, runtime_checkable

from asn1crypto import algos, keys
from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as CryptographyUnsupported
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from pki import sm2
from pki.asn1 import oids
from pki.errors import SignatureInvalid, UnsupportedAlgorithm

__all__ = [
    "KeyAlgorithm",
    "SignatureScheme",
    "SigningKey",
    "SoftwareKey",
    "digest",
    "generate",
    "load_pkcs8",
    "scheme_for",
    "verify",
]


class KeyAlgorithm(StrEnum):
    """Key types this service generates and stores."""

    RSA2048 = "rsa2048"
    RSA3072 = "rsa3072"
    P256 = "p256"
    SM2 = "sm2"

    @property
    def family(self) -> str:
        """``rsa``, ``ecdsa`` or ``sm2``: the family decides CA hierarchy and CMS profile."""
        return _FAMILY[self]

    @property
    def default_scheme(self) -> SignatureScheme:
        return _DEFAULT_SCHEME[_FAMILY[self]]


_FAMILY = {"rsa2048": "rsa", "rsa3072": "rsa", "p256": "ecdsa", "sm2": "sm2"}


class SignatureScheme(StrEnum):
    """Signature schemes; the value is asn1crypto's name for the algorithm identifier."""

    RSA_PKCS1V15_SHA256 = "sha256_rsa"
    RSA_PSS_SHA256 = "rsassa_pss"
    ECDSA_SHA256 = "sha256_ecdsa"
    SM2_SM3 = "sm2_sm3"

    @property
    def digest_algorithm(self) -> str:
        """asn1crypto name of the digest the scheme hashes with (``sha256`` or ``sm3``)."""
        return "sm3" if self is SignatureScheme.SM2_SM3 else "sha256"

    def algorithm_identifier(self) -> algos.SignedDigestAlgorithm:
        """The AlgorithmIdentifier that goes into certificates, CRLs, CMS and OCSP."""
        if self is SignatureScheme.RSA_PSS_SHA256:
            return algos.SignedDigestAlgorithm(
                {
                    "algorithm": "rsassa_pss",
                    "parameters": algos.RSASSAPSSParams(
                        {
                            "hash_algorithm": {"algorithm": "sha256"},
                            "mask_gen_algorithm": {
                                "algorithm": "mgf1",
                                "parameters": {"algorithm": "sha256"},
                            },
                            "salt_length": 32,
                        }
                    ),
                }
            )
        if self is SignatureScheme.RSA_PKCS1V15_SHA256:
            return algos.SignedDigestAlgorithm({"algorithm": self.value, "parameters": None})
        return algos.SignedDigestAlgorithm({"algorithm": self.value})


_DEFAULT_SCHEME = {
    "rsa": SignatureScheme.RSA_PKCS1V15_SHA256,
    "ecdsa": SignatureScheme.ECDSA_SHA256,
    "sm2": SignatureScheme.SM2_SM3,
}


def scheme_for(algorithm: algos.SignedDigestAlgorithm) -> SignatureScheme:
    """Map an AlgorithmIdentifier read from a certificate/CMS to a scheme we verify."""
    name = algorithm["algorithm"].native
    try:
        scheme = SignatureScheme(name)
    except ValueError:
        raise UnsupportedAlgorithm(
            f"unsupported signature algorithm {algorithm['algorithm'].dotted}"
        ) from None
    if scheme is SignatureScheme.RSA_PSS_SHA256:
        params = algorithm["parameters"]
        if params["hash_algorithm"]["algorithm"].native != "sha256":
            raise UnsupportedAlgorithm("RSASSA-PSS is supported with SHA-256 only")
    return scheme


def digest(algorithm: str, data: bytes) -> bytes:
    """Hash ``data`` with ``sha256``, ``sha384``, ``sha512`` or ``sm3`` (asn1crypto names)."""
    if algorithm == "sm3":
        return sm2.sm3(data)
    try:
        hash_cls: Callable[[], hashes.HashAlgorithm] = {
            "sha256": hashes.SHA256,
            "sha384": hashes.SHA384,
            "sha512": hashes.SHA512,
        }[algorithm]
    except KeyError:
        raise UnsupportedAlgorithm(f"unsupported digest algorithm {algorithm}") from None
    h = hashes.Hash(hash_cls())
    h.update(data)
    return h.finalize()


@runtime_checkable
class SigningKey(Protocol):
    """What a caller may do with a private key: sign, and describe itself. Nothing else."""

    @property
    def key_algorithm(self) -> KeyAlgorithm: ...

    @property
    def public_key_info(self) -> keys.PublicKeyInfo: ...

    def sign(self, data: bytes, scheme: SignatureScheme | None = None) -> bytes:
        """Sign ``data`` (the message, not a pre-computed digest) with ``scheme``."""
        ...


@dataclass(frozen=True, eq=False, repr=False)
class SoftwareKey:
    """A private key held in process memory, loaded once and reused for every signature.

    Keeping the loaded key (instead of re-parsing PKCS#8 per signature) is what makes
    signing fast: ``cryptography`` re-validates an RSA key on every load.
    """

    key_algorithm: KeyAlgorithm
    _private: _OpenSSLPrivateKey | sm2.SM2PrivateKey
    public_key_info: keys.PublicKeyInfo
    _signers: dict[SignatureScheme | None, Callable[[bytes], bytes]] = field(
        init=False, compare=False
    )

    def __post_init__(self) -> None:
        # Each scheme the key may use, and ``None`` for its default, bound once: a
        # signature is then one dict lookup and the backend's own call, with no scheme
        # checks repeated per call (a P-256 signature is 30 µs; every µs shows).
        family = _FAMILY[self.key_algorithm]
        signers: dict[SignatureScheme | None, Callable[[bytes], bytes]] = {}
        for scheme in _ALLOWED_SCHEMES[family]:
            if scheme is SignatureScheme.SM2_SM3:
                signers[scheme] = partial(sm2.sign, self._private)
            else:
                signers[scheme] = partial(self._private.sign, **_OPENSSL_SCHEMES[scheme][1]())
        signers[None] = signers[_DEFAULT_SCHEME[family]]
        object.__setattr__(self, "_signers", signers)

    def __repr__(self) -> str:  # never show key material
        return f"SoftwareKey({self.key_algorithm.value})"

    def sign(self, data: bytes, scheme: SignatureScheme | None = None) -> bytes:
        signer = self._signers.get(scheme)
        if signer is None:
            algorithm = self.key_algorithm.value
            raise UnsupportedAlgorithm(f"a {algorithm} key cannot sign with {scheme}")
        return signer(data)

    def pkcs8_der(self) -> bytes:
        """Unencrypted PKCS#8. Only the key store calls this, to encrypt it at once."""
        if self.key_algorithm is KeyAlgorithm.SM2:
            return sm2.private_key_to_pkcs8_der(self._private)
        return self._private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


_OpenSSLPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_OpenSSLPublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
_PSS_SALT_LENGTH = 32  # = the SHA-256 output, what RFC 8017 recommends and we put in params
_OPENSSL_SCHEMES: dict[
    SignatureScheme,
    tuple[type[_OpenSSLPublicKey], Callable[[], dict[str, Any]]],
] = {
    SignatureScheme.RSA_PKCS1V15_SHA256: (
        rsa.RSAPublicKey,
        lambda: {"padding": padding.PKCS1v15(), "algorithm": hashes.SHA256()},
    ),
    SignatureScheme.RSA_PSS_SHA256: (
        rsa.RSAPublicKey,
        lambda: {
            "padding": padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=_PSS_SALT_LENGTH),
            "algorithm": hashes.SHA256(),
        },
    ),
    SignatureScheme.ECDSA_SHA256: (
        ec.EllipticCurvePublicKey,
        lambda: {"signature_algorithm": ec.ECDSA(hashes.SHA256())},
    ),
}
"""Schemes that run on ``cryptography``: the public key type they need, and the keyword
arguments of its ``sign``/``verify`` (made fresh per key: they are small immutable objects)."""
_ALLOWED_SCHEMES = {
    "rsa": frozenset({SignatureScheme.RSA_PKCS1V15_SHA256, SignatureScheme.RSA_PSS_SHA256}),
    "ecdsa": frozenset({SignatureScheme.ECDSA_SHA256}),
    "sm2": frozenset({SignatureScheme.SM2_SM3}),
}
_RSA_BITS = {KeyAlgorithm.RSA2048: 2048, KeyAlgorithm.RSA3072: 3072}


def generate(key_algorithm: KeyAlgorithm | str) -> SoftwareKey:
    """A new private key of the given type, in memory."""
    key_algorithm = KeyAlgorithm(key_algorithm)
    if key_algorithm is KeyAlgorithm.SM2:
        return _sm2_key(sm2.generate_private_key())
    if key_algorithm is KeyAlgorithm.P256:
        return _openssl_key(key_algorithm, ec.generate_private_key(ec.SECP256R1()))
    private = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[key_algorithm])
    return _openssl_key(key_algorithm, private)


def load_pkcs8(key_algorithm: KeyAlgorithm | str, pkcs8_der: bytes) -> SoftwareKey:
    """Rebuild a :class:`SoftwareKey` from unencrypted PKCS#8 (the key store's decryption).

    The key must be of the type the store recorded: a swapped or foreign key file is an
    error here, not a surprise at signing time.
    """
    key_algorithm = KeyAlgorithm(key_algorithm)
    if key_algorithm is KeyAlgorithm.SM2:
        return _sm2_key(sm2.load_private_key_der(pkcs8_der))
    try:
        private = serialization.load_der_private_key(pkcs8_der, password=None)
    except (ValueError, TypeError, CryptographyUnsupported) as exc:
        raise UnsupportedAlgorithm("not a PKCS#8 private key that can be read") from exc
    return _openssl_key(key_algorithm, private)


def _sm2_key(private: sm2.SM2PrivateKey) -> SoftwareKey:
    spki = sm2.public_key_to_spki_der(private.public_key())
    return SoftwareKey(KeyAlgorithm.SM2, private, keys.PublicKeyInfo.load(spki))


def _openssl_key(key_algorithm: KeyAlgorithm, private: PrivateKeyTypes) -> SoftwareKey:
    """The key as a :class:`SoftwareKey`, if it is what ``key_algorithm`` says."""
    if key_algorithm is KeyAlgorithm.P256:
        fits = isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(
            private.curve, ec.SECP256R1
        )
    else:
        fits = (
            isinstance(private, rsa.RSAPrivateKey) and private.key_size == _RSA_BITS[key_algorithm]
        )
    if not fits:
        raise UnsupportedAlgorithm(f"the PKCS#8 key is not a {key_algorithm.value} key")
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SoftwareKey(key_algorithm, private, keys.PublicKeyInfo.load(spki))


def verify(
    public_key_info: keys.PublicKeyInfo,
    data: bytes,
    signature: bytes,
    algorithm: SignatureScheme | algos.SignedDigestAlgorithm,
) -> None:
    """Raise :class:`SignatureInvalid` unless ``signature`` over ``data`` verifies.

    The public key's own type is checked against the scheme, so an RSA key cannot be made
    to "verify" an SM2 signature identifier or the other way round.
    """
    scheme = algorithm if isinstance(algorithm, SignatureScheme) else scheme_for(algorithm)
    # ``contents`` (the SEQUENCE's body, kept from parsing) is a quarter of ``dump()``.
    _verifier(public_key_info.contents, scheme)(data, signature)


@lru_cache(maxsize=512)
def _verifier(spki_contents: bytes, scheme: SignatureScheme) -> Callable[[bytes, bytes], None]:
    """``verify(data, signature)`` for this public key and scheme, after checking once that
    they fit each other.  Cached like the key itself: the same few keys verify over and
    over, and an RSA verification (20 µs) has little room for per-call checks."""
    key_type, public = _public_key(spki_contents)
    if scheme is SignatureScheme.SM2_SM3:
        if key_type != "sm2":
            raise SignatureInvalid("SM2 signature but the public key is not on the SM2 curve")
        return partial(sm2.verify, public)
    if key_type == "sm2":
        raise SignatureInvalid(f"SM2 public key cannot verify a {scheme.value} signature")
    key_class, arguments = _OPENSSL_SCHEMES[scheme]
    if not isinstance(public, key_class):
        raise SignatureInvalid(f"{scheme.value} signature does not fit a {key_type} key")
    return partial(_verify_openssl, public, arguments(), f"{scheme.value} signature")


def _verify_openssl(
    public: _OpenSSLPublicKey,
    arguments: dict[str, Any],
    what: str,
    data: bytes,
    signature: bytes,
) -> None:
    """``cryptography``'s verification, with its exception turned into ours."""
    try:
        public.verify(signature, data, **arguments)
    except InvalidSignature:
        raise SignatureInvalid(f"{what} does not verify") from None


@lru_cache(maxsize=256)
def _public_key(spki_contents: bytes) -> tuple[str, _OpenSSLPublicKey | sm2.SM2PublicKey]:
    """(key type — asn1crypto's name, or ``sm2`` — and the loaded key) for the body of a
    SubjectPublicKeyInfo SEQUENCE.

    Cached because the same few CA, OCSP, TSA and seal keys verify over and over, and
    parsing one (with its EC point check) costs up to a fifth of an ECDSA verification;
    keyed by the exact bytes, so a hit is the same key; loaded keys are safe to share between
    threads.  A key ``cryptography`` cannot read is a signature that cannot verify.
    """
    info = keys.PublicKeyInfo(contents=spki_contents)
    spki = info.dump()
    key_type = info["algorithm"]["algorithm"].native
    if key_type == "ec" and _named_curve(info) == oids.SM2_CURVE:
        return "sm2", sm2.load_public_key_der(spki)
    try:
        public = serialization.load_der_public_key(spki)
    except (ValueError, TypeError, CryptographyUnsupported) as exc:
        raise SignatureInvalid(f"the {key_type} public key cannot be read") from exc
    if not isinstance(public, _OpenSSLPublicKey):
        raise SignatureInvalid(f"the {key_type} public key is of no type we verify with")
    return key_type, public


def _named_curve(public_key_info: keys.PublicKeyInfo) -> str | None:
    params = public_key_info["algorithm"]["parameters"]
    if params.name != "named":
        return None
    return params.chosen.dotted
