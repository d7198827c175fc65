"""Certificate path validation for signers and TSAs: one engine for every key family.

RSA, ECDSA and SM2 paths all go through :func:`pki.chain.validate_path` (pyhanko-certvalidator
with SM2 signatures plugged in), so one RFC 5280 rule set judges every seal.  Revocation is
*not* checked here (see :mod:`.revocation`): it applies the EN 319 102-1 time rules
(revoked before or after the proven signing time) that plain path validation does not know.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from asn1crypto import x509

from pki.asn1 import oids
from pki.chain import VALIDATOR, ChainError, ChainFailure
from pki.chain import validate_path as validate_chain

__all__ = ["PathResult", "Purpose", "key_family", "validate_path"]


class Purpose(StrEnum):
    """What the leaf certificate is being used for."""

    SEAL = "seal"
    """A PDF signature: keyUsage with digitalSignature or nonRepudiation."""
    TSA = "tsa"
    """A time-stamp token: extended key usage id-kp-timeStamping."""


@dataclass(frozen=True)
class PathResult:
    """Outcome of one path validation: the path (leaf first) or the reason there is none."""

    path: tuple[x509.Certificate, ...]
    failure: ChainFailure | None
    message: str | None
    validator: str

    @property
    def ok(self) -> bool:
        return self.failure is None


def key_family(certificate: x509.Certificate) -> str:
    """``RSA``, ``ECDSA`` or ``SM2`` for a certificate's public key; ``unknown`` otherwise."""
    info = certificate.public_key
    algorithm = info["algorithm"]["algorithm"].native
    if algorithm in ("rsa", "rsassa_pss"):
        return "RSA"
    if algorithm == "ec":
        params = info["algorithm"]["parameters"]
        if params.name == "named" and params.chosen.dotted == oids.SM2_CURVE:
            return "SM2"
        return "ECDSA"
    return "unknown"


def purpose_problem(certificate: x509.Certificate, purpose: Purpose) -> str | None:
    """Why ``certificate`` may not serve ``purpose``, or ``None`` if it may."""
    if purpose is Purpose.TSA:
        eku = certificate.extended_key_usage_value
        if eku is None or "time_stamping" not in eku.native:
            return "the time-stamp certificate lacks the timeStamping extended key usage"
        return None
    usage = certificate.key_usage_value
    if usage is not None and not {"digital_signature", "non_repudiation"} & set(usage.native):
        return "the signer certificate's key usage allows neither signatures nor non-repudiation"
    return None


def validate_path(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    at: datetime,
    purpose: Purpose,
) -> PathResult:
    """Validate ``leaf`` at ``at`` against ``anchors``, then check it fits ``purpose``."""
    if key_family(leaf) == "unknown":
        return PathResult((), ChainFailure.UNSUPPORTED_ALGORITHM, "unsupported key type", "none")
    try:
        validated = validate_chain(leaf, intermediates, anchors, at, required_key_usage=())
    except ChainError as exc:
        return PathResult((), exc.reason, str(exc), VALIDATOR)
    result = PathResult(validated.path, None, None, VALIDATOR)
    if result.ok:
        problem = purpose_problem(leaf, purpose)
        if problem is not None:
            failure = (
                ChainFailure.EXTENDED_KEY_USAGE
                if purpose is Purpose.TSA
                else ChainFailure.KEY_USAGE
            )
            return PathResult(result.path, failure, problem, result.validator)
    return result
