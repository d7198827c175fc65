"""RSA and ECDSA certificate paths, validated by pyhanko-certvalidator.

certvalidator is the RFC 5280 path validation pyHanko's own PDF validator relies on
(policies, name constraints, path building through cross-certificates), so an RSA seal is
judged exactly as pyHanko would judge it.  Revocation is switched off here
(``soft-fail`` without data or fetching): :mod:`.revocation` decides it for both families.
Its exceptions are mapped onto :class:`pki.chain.ChainFailure`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from asn1crypto import x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
)

from pki.chain import ChainFailure

__all__ = ["VALIDATOR", "validate"]

VALIDATOR = "pyhanko-certvalidator"
"""Name of this implementation in :attr:`ChainCheck.validator`."""


def validate(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    at: datetime,
) -> tuple[tuple[x509.Certificate, ...], ChainFailure | None, str | None]:
    """(path leaf → anchor, None, None) or ((), failure, message)."""
    context = ValidationContext(
        trust_roots=list(anchors),
        other_certs=list(intermediates),
        moment=at,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    # The intermediates are in the context's registry already; registering them twice
    # costs a stringprep of every name (asn1crypto's Name.hashable).
    validator = CertificateValidator(leaf, validation_context=context)
    try:
        path = asyncio.run(validator.async_validate_path())
    except PathBuildingError as exc:
        return (), ChainFailure.NO_CHAIN, f"no certificate chain to a trust anchor ({exc})"
    except ExpiredError as exc:
        return (), ChainFailure.EXPIRED, str(exc)
    except NotYetValidError as exc:
        return (), ChainFailure.NOT_YET_VALID, str(exc)
    except DisallowedAlgorithmError as exc:
        return (), ChainFailure.UNSUPPORTED_ALGORITHM, str(exc)
    except (PathValidationError, InvalidCertificateError) as exc:
        return (), ChainFailure.SIG_FAILURE, str(exc)
    certificates = tuple(path.iter_certs(include_root=True))
    # certvalidator lists the path anchor first; the report wants the signer first.
    return tuple(reversed(certificates)), None, None
