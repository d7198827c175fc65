"""NIST PKITS through the one path-validation engine (:func:`pki.chain.validate_path`).

Every line of ``tests/data/pkits/manifest.tsv`` — with its initial policy settings and
revocation switch — must give the manifest's verdict, for the original RSA/DSA set and
for the same cases re-issued with SM2 keys (:mod:`pkits_sm2`).  ``docs/pkits.md`` is the
table these runs produce (``scripts/pkits_table.py``); the last test checks it is current.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import crl, x509
from helpers.pki_fixtures import gmssl_verify
from helpers.pkits_cases import PKITS, Case, cases, rsa_loader, run, table
from helpers.pkits_sm2 import Sm2Pkits, sm2_pkits

from pki.chain import ChainFailure

CASES = cases()
DOCS = Path(__file__).resolve().parent.parent / "docs" / "pkits.md"


@pytest.fixture(scope="session")
def sm2_set() -> Sm2Pkits:
    """Generated once per session (~5 s): 405 certificates and 173 CRLs re-signed."""
    return sm2_pkits(PKITS)


def test_manifest_is_complete() -> None:
    """The copy in tests/ is the whole manifest: sections 4.1 to 4.16, 246 lines."""
    assert len(CASES) == 246
    assert {c.id[:3] for c in CASES} == {f"4{n:02d}" for n in range(1, 17)}


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_rsa(case: Case) -> None:
    verdict, reason = run(case)
    assert verdict == case.expected, reason


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_sm2(case: Case, sm2_set: Sm2Pkits) -> None:
    verdict, reason = run(case, sm2_set.load)
    assert verdict == case.expected, reason


def test_sm2_set_is_sm2_and_otherwise_unchanged(sm2_set: Sm2Pkits) -> None:
    """SM2 keys and SM2-with-SM3 signatures; names, serials, extensions, validity and
    CRL entries as NIST made them."""
    for path in sorted((PKITS / "certs").iterdir()):
        original = x509.Certificate.load(path.read_bytes())
        twin = x509.Certificate.load(sm2_set.load(f"certs/{path.name}"))
        assert twin["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
        assert twin.public_key["algorithm"]["parameters"].chosen.dotted == "1.2.156.10197.1.301"
        for field in ("serial_number", "issuer", "subject", "validity", "extensions"):
            assert (
                twin["tbs_certificate"][field].dump() == original["tbs_certificate"][field].dump()
            )
    for path in sorted((PKITS / "crls").iterdir()):
        original = crl.CertificateList.load(path.read_bytes())["tbs_cert_list"]
        twin = crl.CertificateList.load(sm2_set.load(f"crls/{path.name}"))["tbs_cert_list"]
        for field in ("issuer", "this_update", "next_update", "revoked_certificates"):
            assert twin[field].dump() == original[field].dump()
        assert twin["crl_extensions"].dump() == original["crl_extensions"].dump()


@pytest.mark.parametrize(
    ("issuer_name", "subject_name", "expected"),
    [
        ("TrustAnchorRootCertificate", "GoodCACert", True),
        ("GoodCACert", "ValidCertificatePathTest1EE", True),
        ("GoodCACert", "InvalidEESignatureTest3EE", False),
    ],
)
def test_gmssl_agrees_on_sm2_signatures(
    sm2_set: Sm2Pkits, issuer_name: str, subject_name: str, expected: bool
) -> None:
    """An independent SM2 implementation accepts a good link and rejects NIST's bad one."""
    issuer = x509.Certificate.load(sm2_set.load(f"certs/{issuer_name}.crt"))
    subject = x509.Certificate.load(sm2_set.load(f"certs/{subject_name}.crt"))
    tbs = subject["tbs_certificate"].dump()
    assert gmssl_verify(issuer.public_key, tbs, subject["signature_value"].native) is expected


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_reasons_name_the_rfc_5280_step(family: str, sm2_set: Sm2Pkits) -> None:
    """Failures carry the step that failed, alike for both algorithms."""
    load = sm2_set.load if family == "sm2" else rsa_loader
    expected = {
        "40103": ChainFailure.SIG_FAILURE,
        "40206": ChainFailure.EXPIRED,
        "40403": ChainFailure.REVOKED,
        "40401": ChainFailure.NO_REVOCATION_DATA,
        "40301": ChainFailure.NO_CHAIN,
        "40601": ChainFailure.NOT_A_CA,
        "40605": ChainFailure.PATH_LENGTH,
        "40701": ChainFailure.CA_KEY_USAGE,
        "40804": ChainFailure.POLICY,
        "41302": ChainFailure.NAME_CONSTRAINTS,
        "41602": ChainFailure.UNKNOWN_CRITICAL_EXTENSION,
    }
    by_id = {c.id: c for c in CASES if c.settings == "-"}
    for ident, reason in expected.items():
        verdict, why = run(by_id[ident], load)
        assert verdict == "invalid" and why.startswith(f"{reason.value}:"), (ident, why)


def test_docs_table_is_current(sm2_set: Sm2Pkits) -> None:
    assert DOCS.read_text() == table(sm2_set.load), "run scripts/pkits_table.py"
