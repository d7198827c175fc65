"""SM2 certificate paths through :func:`pki.chain.validate_path`, and SM2 in CMS checks.

pyhanko-certvalidator cannot verify SM2-with-SM3 certificate signatures, so SM2 chains are
checked link by link by :mod:`pki.chain` (Tongsuo, Z value over the default signer ID).
:class:`SmSignatureValidator` plugs the same primitive into pyHanko's CMS integrity check
(``validate_sig_integrity``), so an SM2 SignerInfo is judged by pyHanko's rules — content
type, messageDigest, signing-certificate-v2 — with our SM2 verification underneath.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from asn1crypto import algos, keys, x509
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)

from pki import algorithms
from pki.chain import ChainError, ChainFailure, validate_path
from pki.errors import SignatureInvalid, UnsupportedAlgorithm

__all__ = ["VALIDATOR", "SmSignatureValidator", "validate"]

VALIDATOR = "pki.chain"
"""Name of this implementation in :attr:`ChainCheck.validator`."""


class SmSignatureValidator(DefaultSignatureValidator):
    """pyHanko's signature validator, with SM2-with-SM3 checked by :mod:`pki.algorithms`."""

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
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


def validate(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    at: datetime,
) -> tuple[tuple[x509.Certificate, ...], ChainFailure | None, str | None]:
    """(path leaf → anchor, None, None) or ((), failure, message)."""
    try:
        validated = validate_path(leaf, intermediates, anchors, at, required_key_usage=())
    except ChainError as exc:
        return (), exc.reason, str(exc)
    return validated.path, None, None
