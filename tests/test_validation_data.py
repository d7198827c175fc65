"""B-LT / B-LTA validation data is judged by the path-validation engine before it is embedded.

``TrustServices.validation_data`` runs :func:`pki.chain.validate_path` over exactly the
certificates, CRLs and OCSP answer it is about to embed, with revocation required, for RSA
and SM2 alike: a document must validate from its DSS alone.
"""

from __future__ import annotations

import io

import pytest
from asn1crypto import x509
from helpers.time_fixtures import ACTOR, World
from pyhanko.pdf_utils.reader import PdfFileReader

from pki.certificates import Profile
from sealsvc import seals
from sealsvc.errors import ServerFault
from sealsvc.pades import Level

pytest_plugins = ("helpers.seal_fixtures", "helpers.time_fixtures")  # sqlite_seal_context, world


def _sealed(world: World, algorithm: str) -> tuple[str, x509.Certificate]:
    code = world.issue_seal(algorithm)
    pdf = world.seal(code, Level.B_LT)  # embedding passed the engine
    signature = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures[0]
    return code, signature.signer_cert


@pytest.mark.parametrize("algorithm", ["rsa", "sm2"])
def test_a_gap_in_the_validation_data_is_refused(
    world: World, algorithm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the root's CRL nothing speaks for the issuing CA: no B-LT is written."""
    _, certificate = _sealed(world, algorithm)
    hierarchy = algorithm  # the hierarchies are named like the algorithms here
    assert world.trust.validation_data(hierarchy, certificate).crls
    issuing_crl = world.trust.latest_crl_der(hierarchy, Profile.ISSUING_CA)
    monkeypatch.setattr(world.trust, "latest_crl_der", lambda *_: issuing_crl)
    with pytest.raises(ServerFault, match="validation data to embed does not validate"):
        world.trust.validation_data(hierarchy, certificate)


def test_a_revoked_seal_still_gets_its_evidence(world: World) -> None:
    """Revocation is evidence too: an archive renewal must be able to embed it."""
    code, certificate = _sealed(world, "sm2")
    seals.revoke(world.context, code, reason="key_compromise", actor=ACTOR)
    material = world.trust.validation_data("sm2", certificate)
    (response,) = material.ocsp_responses
    answer = response.basic_ocsp_response["tbs_response_data"]["responses"][0]
    assert answer["cert_status"].name == "revoked"
