"""ETSI EN 319 102-1 indications from the individual checks, and the document verdict.

Sub-indications are pyHanko's enums (:mod:`pyhanko.sign.ades.report`).  Where ETSI leaves
room, we follow EU DSS and say so:

* changed page content or replaced objects after signing (pyHanko level ``OTHER``) →
  TOTAL_FAILED/HASH_FAILURE: what the reader sees is not what was signed;
* changes of an allowed *kind* that exceed a certification signature's DocMDP permission
  (e.g. another seal under P=1) → INDETERMINATE/SIG_CONSTRAINTS_FAILURE;
* an unreadable signature, an unknown algorithm OID, a missing signer certificate →
  TOTAL_FAILED/FORMAT_FAILURE;
* a certificate on hold at validation time → INDETERMINATE/TRY_LATER (DSS
  CertificateOnHoldCheck), even if the seal was time-stamped before the hold.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESStatus, AdESSubIndic

from pki.chain import ChainFailure
from sealsvc.verification.report import DocumentVerdict, SignatureReport
from sealsvc.verification.revocation import Outcome

__all__ = ["CHAIN_SUBINDICATION", "REVOCATION_SUBINDICATION", "document_verdict", "status_of"]

CHAIN_SUBINDICATION: dict[ChainFailure, AdESSubIndic] = {
    ChainFailure.NO_CHAIN: AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND,
    ChainFailure.SIG_FAILURE: AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE,
    ChainFailure.UNSUPPORTED_ALGORITHM: AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
    ChainFailure.EXPIRED: AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
    ChainFailure.NOT_YET_VALID: AdESIndeterminate.NOT_YET_VALID,
    ChainFailure.NOT_A_CA: AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE,
    ChainFailure.PATH_LENGTH: AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE,
    ChainFailure.CA_KEY_USAGE: AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE,
    ChainFailure.KEY_USAGE: AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE,
    ChainFailure.EXTENDED_KEY_USAGE: AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE,
    ChainFailure.UNKNOWN_CRITICAL_EXTENSION: AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE,
    ChainFailure.NAME_CONSTRAINTS: AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE,
    ChainFailure.POLICY: AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE,
    ChainFailure.REVOKED: AdESFailure.REVOKED,
    ChainFailure.MALFORMED: AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE,
    ChainFailure.NO_REVOCATION_DATA: AdESIndeterminate.TRY_LATER,
}
"""Why a path failed → the sub-indication EN 319 102-1 §5.2.6 gives for it."""

REVOCATION_SUBINDICATION: dict[Outcome, AdESSubIndic] = {
    Outcome.REVOKED: AdESFailure.REVOKED,
    Outcome.REVOKED_NO_POE: AdESIndeterminate.REVOKED_NO_POE,
    Outcome.ON_HOLD: AdESIndeterminate.TRY_LATER,
    Outcome.NO_DATA: AdESIndeterminate.TRY_LATER,
}
"""Revocation outcome (other than GOOD) → sub-indication."""

_RANK = {AdESStatus.PASSED: 0, AdESStatus.INDETERMINATE: 1, AdESStatus.FAILED: 2}


def status_of(sub: AdESSubIndic | None) -> AdESStatus:
    """The main indication a sub-indication belongs to (PASSED for ``None``)."""
    return AdESStatus.PASSED if sub is None else sub.status


def document_verdict(
    signatures: Iterable[SignatureReport],
) -> tuple[DocumentVerdict, SignatureReport | None]:
    """Worst indication wins; the deciding signature is the first one that is worst."""
    worst: SignatureReport | None = None
    for report in signatures:
        if worst is None or _RANK[report.indication] > _RANK[worst.indication]:
            worst = report
    if worst is None:
        return DocumentVerdict.NOT_SIGNED, None
    verdict = {
        AdESStatus.PASSED: DocumentVerdict.TOTAL_PASSED,
        AdESStatus.INDETERMINATE: DocumentVerdict.INDETERMINATE,
        AdESStatus.FAILED: DocumentVerdict.TOTAL_FAILED,
    }[worst.indication]
    return verdict, worst
