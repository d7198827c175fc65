"""A pyHanko ``Signer`` over our :class:`~pki.algorithms.SigningKey`, for RSA, ECDSA and SM2.

pyHanko builds the CMS SignedData of a PDF signature (signed attributes, ESS
signing-certificate-v2, PAdES rules) and asks its ``Signer`` only for the raw signature
over the DER of the signed attributes.  Plugging our key handle in there means:

* the private key never leaves the key store (the handle signs; no ``PrivateKeyInfo`` is
  ever handed to pyHanko, unlike its ``SimpleSigner``);
* the key object is loaded once and reused (``SimpleSigner`` re-parses and re-validates
  the RSA key on every signature, which costs ~100 ms);
* SM2 works: the mechanism is ``sm2_sm3`` (1.2.156.10197.1.501) with digest SM3
  (1.2.156.10197.1.401), which is what GB/T 35275 puts into a SignerInfo, and pyHanko hashes
  the byte range and the signed attributes with SM3 through ``cryptography``.
"""

from __future__ import annotations

from asn1crypto import x509
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from pki.algorithms import SignatureScheme, SigningKey
from pki.errors import UnsupportedAlgorithm

__all__ = ["KeyHandleSigner"]

# Largest DER signature per family, for pyHanko's dry run (ECDSA/SM2: SEQUENCE of two
# 33-byte INTEGERs; RSA: the modulus length).
_ECDSA_MAX_SIGNATURE = 72


class KeyHandleSigner(Signer):
    """pyHanko signer whose cryptography happens in a :class:`SigningKey`."""

    def __init__(
        self,
        key: SigningKey,
        certificate: x509.Certificate,
        chain: list[x509.Certificate],
        scheme: SignatureScheme | None = None,
        embed_roots: bool = True,
    ) -> None:
        self._key = key
        self._scheme = scheme or key.key_algorithm.default_scheme
        if certificate.public_key.dump() != key.public_key_info.dump():
            raise UnsupportedAlgorithm("the signing key does not match the seal certificate")
        super().__init__(
            signing_cert=certificate,
            cert_registry=SimpleCertificateStore.from_certs(chain),
            signature_mechanism=self._scheme.algorithm_identifier(),
            embed_roots=embed_roots,
        )

    @property
    def digest_algorithm(self) -> str:
        """The digest every part of the signature must use (``sha256`` or ``sm3``)."""
        return self._scheme.digest_algorithm

    def _dry_run_length(self) -> int:
        if self._key.key_algorithm.family == "rsa":
            return (
                self._key.public_key_info["public_key"].parsed["modulus"].native.bit_length() // 8
            )
        return _ECDSA_MAX_SIGNATURE

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if digest_algorithm != self.digest_algorithm:
            raise UnsupportedAlgorithm(
                f"{self._scheme.value} signs with {self.digest_algorithm}, not {digest_algorithm}"
            )
        if dry_run:
            return bytes(self._dry_run_length())
        return self._key.sign(data, self._scheme)
