"""One rule set for revocation evidence: the document verifier and the PKITS path agree.

Every NIST PKITS line that checks revocation (sections 4.4 basic CRLs, 4.14 distribution
points and scope, 4.15 delta CRLs, …) is judged twice: by :func:`pki.chain.validate_path`
with ``check_revocation`` (the PKITS path), and by the document verifier's own route —
the case's CRLs put in an :class:`EvidencePool`, as a PDF's DSS would be, and
:func:`check_revocation` over the validated path.  Wrong-issuer, out-of-scope, badly
signed, stale, unknown-critical-extension and revoking CRLs must come out the same way
on both, for RSA and for SM2: evidence the engine refuses is no evidence to the document
verifier either, and the sub-indication matches.
"""

from __future__ import annotations

import pytest
from asn1crypto import crl, x509
from helpers.pki_fixtures import build_hierarchy, empty_crls, issue_leaf
from helpers.pkits_cases import (
    ANCHOR,
    ANCHOR_CRL,
    AT,
    PKITS,
    PKITS_ALGORITHMS,
    Case,
    Loader,
    cases,
    rsa_loader,
    run,
)
from helpers.pkits_cases import params as initial_params
from helpers.pkits_sm2 import Sm2Pkits, sm2_pkits

from pki.chain import ChainError, ChainFailure, validate_path
from sealsvc.verification.revocation import EvidencePool, Outcome
from sealsvc.verification.validator import VerificationContext, check_revocation


def _path_valid_without_revocation(case: Case, load: Loader) -> bool:
    """Whether the case's path passes every check but revocation (otherwise revocation
    evidence never decides it, on either route)."""
    cert = lambda n: x509.Certificate.load(load(f"certs/{n}"))  # noqa: E731
    try:
        validate_path(
            cert(case.ee),
            [cert(n) for n in case.certs],
            [cert(ANCHOR)],
            AT,
            required_key_usage=(),
            params=initial_params(case),
            algorithm_policy=PKITS_ALGORITHMS,
        )
    except ChainError:
        return False
    return True


REVOCATION_CASES = [
    c for c in cases() if c.revocation and _path_valid_without_revocation(c, rsa_loader)
]

ENGINE_FOR_OUTCOME = {
    Outcome.GOOD: "valid",
    Outcome.REVOKED: ChainFailure.REVOKED.value,
    Outcome.NO_DATA: ChainFailure.NO_REVOCATION_DATA.value,
    # The same CRL entry: RFC 5280 counts a hold as a revocation; EN 319 102-1 (EU DSS
    # CertificateOnHoldCheck) defers the verdict on a document (INDETERMINATE/TRY_LATER).
    Outcome.ON_HOLD: ChainFailure.REVOKED.value,
}
"""The document verifier's outcome at a proven signing time and the engine's verdict
that says the same (valid, or the ChainFailure behind REVOKED / TRY_LATER)."""


@pytest.fixture(scope="module")
def sm2_set() -> Sm2Pkits:
    return sm2_pkits(PKITS)


def _document_outcome(case: Case, load: Loader) -> Outcome:
    """The case's CRLs judged as a document's embedded evidence, at ``AT`` (proven)."""
    cert = lambda n: x509.Certificate.load(load(f"certs/{n}"))  # noqa: E731
    anchor = cert(ANCHOR)
    path = validate_path(
        cert(case.ee),
        [cert(n) for n in case.certs],
        [anchor],
        AT,
        required_key_usage=(),
        params=initial_params(case),
        algorithm_policy=PKITS_ALGORITHMS,
    ).path
    crl_ders = [load(f"crls/{n}") for n in (*case.crls, ANCHOR_CRL)]
    assert all(crl.CertificateList.load(d).dump() == d for d in crl_ders)
    others = [cert(n) for n in case.certs]  # a PDF's DSS holds them beside the CRLs
    pool = EvidencePool(crl_ders, [], certificates=others)
    ctx = VerificationContext((anchor,), AT, pool, others, None)
    outcome, _ = check_revocation(path, AT, ctx)
    return outcome


def _engine(case: Case, load: Loader) -> str:
    verdict, reason = run(case, load)
    return "valid" if verdict == "valid" else reason.split(":", 1)[0]


def test_the_table_covers_every_kind_of_crl_defect() -> None:
    """Refused CRLs of each kind are in the table, not only good and revoking ones."""
    sections = {c.section for c in REVOCATION_CASES}
    # 4.4.4 bad CRL signature, 4.4.5 bad CRL issuer name, 4.4.8 unknown critical CRL
    # extension, 4.4.11 stale (nextUpdate passed), 4.4.3 revoked EE, 4.14.x scope.
    assert {"4.4.3", "4.4.4", "4.4.5", "4.4.8", "4.4.11"} <= sections
    assert any(s.startswith("4.14.") for s in sections)
    assert len(REVOCATION_CASES) > 40


@pytest.mark.parametrize("case", REVOCATION_CASES, ids=[c.label for c in REVOCATION_CASES])
def test_rsa_document_evidence_is_judged_as_the_engine_judges_it(case: Case) -> None:
    outcome = _document_outcome(case, rsa_loader)
    assert ENGINE_FOR_OUTCOME[outcome] == _engine(case, rsa_loader), outcome


@pytest.mark.parametrize("case", REVOCATION_CASES, ids=[c.label for c in REVOCATION_CASES])
def test_sm2_document_evidence_is_judged_as_the_engine_judges_it(
    case: Case, sm2_set: Sm2Pkits
) -> None:
    outcome = _document_outcome(case, sm2_set.load)
    assert ENGINE_FOR_OUTCOME[outcome] == _engine(case, sm2_set.load), outcome


# --- one document's pool: a CRL fetched and judged once ----------------------------------


def test_a_crl_is_fetched_once_per_document_and_held_once() -> None:
    """A seal, its maker and the TSA under one CA name one CRL: the pool asks for it once,
    and the copy already in the DSS is not added again (it would be judged twice)."""
    h = build_hierarchy("sm2")
    issuing_crl, root_crl = (c.dump() for c in empty_crls(h))
    maker, _ = issue_leaf(h, common_name="制章系统")
    asked: list[str] = []

    def fetcher(url: str, ocsp_request: bytes | None) -> bytes:
        asked.append(url)
        if ocsp_request is not None:
            raise ConnectionError("no OCSP here")
        return issuing_crl if url == h.urls.crl else root_crl

    pool = EvidencePool([issuing_crl], [], fetcher)
    issuers = (h.issuing, h.root)
    for certificate in (h.seal, maker, h.tsa):
        [evidence] = pool.evidence(certificate, issuers)
        assert (evidence.kind, evidence.status) == ("crl", "good")
    assert asked.count(h.urls.crl) == 1
    assert sum(url.endswith("/ocsp") for url in asked) == 3  # OCSP is per certificate
