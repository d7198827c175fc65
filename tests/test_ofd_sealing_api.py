"""``POST /v1/seals/{code}/sign`` with an OFD: through the real app (``api_world``).

The OFD is told by its declared type (``application/ofd``) or by its content (a ZIP naming
``OFD.xml``) and comes back sealed as ``application/ofd``: every signature's References,
Seal.esl and SES layers are checked, and the service's verifier passes it.  Auth, scopes,
audit details and problem+json errors are those of the PDF path; what an OFD signature
cannot be (B-LT, B-LTA, certified, an RSA seal…) is a clear 4xx.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from helpers.api_calls import ZZ_D26, assert_problem, bearer
from helpers.licence_ofd_render import template_licence_ofd as _licence
from helpers.ofd_documents import unsigned_ofd

from api.app import create_app
from ofd.package import OfdPackage
from ofd.signatures import check_references, read_signature, read_signatures
from pki import ses
from sealsvc import seals
from sealsvc.verification.ses import SesVerifier

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld

pytest_plugins = ("helpers.api_fixtures",)  # api_world

OFD = "application/ofd"
THIRD_PARTY = Path(__file__).resolve().parent / "data/ofd-samples/v4signed.ofd"


@pytest.fixture(scope="module")
def sm2_seal(api_world: ApiWorld) -> str:
    """The SM2 公章 of ZZ-D26."""
    return api_world.demo_seal(ZZ_D26, "sm2").code


@pytest.fixture(scope="module")
def d26_key(api_world: ApiWorld) -> str:
    return api_world.api_key(department=ZZ_D26, scopes={"sign"})


@pytest.fixture(scope="module")
def roomy_client(api_world: ApiWorld) -> Iterator[TestClient]:
    """The app with an upload limit above a sealed OFD's size (``api_world``'s is 64 KiB; one
    seal adds its picture twice, in Seal.esl and in the SES_Signature)."""
    app = create_app(dataclasses.replace(api_world.settings, max_pdf_bytes=1024 * 1024))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.context.close()


def _post(
    world: ApiWorld,
    code: str,
    token: str,
    data: bytes,
    content_type: str = OFD,
    client: TestClient | None = None,
    **kw,
):
    return (client or world.client).post(
        f"/v1/seals/{code}/sign",
        content=data,
        headers={**bearer(token), "Content-Type": content_type},
        **kw,
    )


def _our_signature(world: ApiWorld, sealed: bytes) -> ses.SesSignature:
    """The last signature of ``sealed``, checked: References, Seal.esl, SES layers, verifier."""
    package = OfdPackage.read(sealed)
    entry = read_signatures(package).entries[-1]
    signature = read_signature(package, entry)
    assert check_references(package, signature).intact
    parsed = ses.parse_signature(package[signature.signed_value_path])
    assert parsed.seal.der == package[signature.seal_path]
    assert ses.check_signature(parsed, signature.signature_xml).ok
    verified = SesVerifier(world.context).verify(parsed.der, signature.signature_xml)
    assert verified.passed, verified.to_dict()
    return parsed


def test_raw_ofd_body_is_sealed_time_stamped_and_audited(
    api_world: ApiWorld, d26_key: str, sm2_seal: str
) -> None:
    source = unsigned_ofd().to_bytes()
    response = _post(api_world, sm2_seal, d26_key, source, params={"level": "B-T"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == OFD
    digest = hashlib.sha256(response.content).hexdigest()
    assert response.headers["X-Document-SHA256"] == digest
    assert response.headers["X-Seal-Code"] == sm2_seal
    signature = _our_signature(api_world, response.content)
    assert signature.seal.es_id == sm2_seal and signature.time_stamp_token is not None
    (entry,) = [
        e
        for e in api_world.audit_entries(sm2_seal)
        if e["seq"] == int(response.headers["X-Audit-Seq"])
    ]
    details = entry["details"]
    assert details["api_key"] == d26_key.split("_")[1] and details["client"] == "testclient"
    assert details["input_sha256"] == hashlib.sha256(source).hexdigest()
    assert details["level"] == "B-T" and details["time_stamped"] is True
    assert details["container"] == "ofd" and details["format"] == "ses"
    assert entry["actor"] == f"api:{d26_key.split('_')[1]}"


def test_multipart_ofd_told_by_content_with_form_options(
    api_world: ApiWorld, d26_key: str, sm2_seal: str
) -> None:
    """An OFD sent as application/octet-stream (a browser's guess) is told by its content;
    level B-B gives no time-stamp; the anchor option works as for PDF."""
    response = api_world.client.post(
        f"/v1/seals/{sm2_seal}/sign",
        headers=bearer(d26_key),
        files={"file": ("doc.ofd", unsigned_ofd().to_bytes(), "application/octet-stream")},
        data={"level": "B-B", "anchor": "第2页"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == OFD
    assert _our_signature(api_world, response.content).time_stamp_token is None
    package = OfdPackage.read(response.content)
    (annot,) = read_signature(package, read_signatures(package).entries[0]).stamp_annots
    assert annot.page_ref == "11"  # the second page


def test_a_third_party_ofd_sent_as_octet_stream(
    api_world: ApiWorld, d26_key: str, sm2_seal: str
) -> None:
    """Another issuer's sealed e-invoice, told by content, keeps its seal intact under ours."""
    raw = _post(api_world, sm2_seal, d26_key, THIRD_PARTY.read_bytes(), "application/octet-stream")
    assert raw.status_code == 200, raw.text
    package = OfdPackage.read(raw.content)
    theirs, _ = read_signatures(package).entries
    assert check_references(package, read_signature(package, theirs)).intact
    assert _our_signature(api_world, raw.content).seal.es_id == sm2_seal


def test_joint_seals_on_a_licence(
    api_world: ApiWorld, roomy_client: TestClient, d26_key: str, sm2_seal: str
) -> None:
    """A licence OFD sealed by two departments through the API: both seals verify."""
    data, _ = _licence("business_licence")
    first = _post(api_world, sm2_seal, d26_key, data, client=roomy_client)
    assert first.status_code == 200, first.text
    ftz = api_world.demo_seal("ZZ-FTZ", "sm2").code
    ftz_key = api_world.api_key(department="ZZ-FTZ", scopes={"sign"})
    params = {"x_mm": 60, "y_mm": 40, "level": "B-B"}
    second = _post(api_world, ftz, ftz_key, first.content, client=roomy_client, params=params)
    assert second.status_code == 200, second.text
    package = OfdPackage.read(second.content)
    first_entry, _ = read_signatures(package).entries
    assert check_references(package, read_signature(package, first_entry)).intact
    assert _our_signature(api_world, first.content).seal.es_id == sm2_seal
    assert _our_signature(api_world, second.content).seal.es_id == ftz


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"level": "B-LT"}, "not available for OFD"),
        ({"level": "B-LTA"}, "not available for OFD"),
        ({"certify": "true"}, "certify"),
        ({"reason": "审批"}, "reason"),
        ({"size_mm": "30"}, "size_mm does not apply to OFD"),
        ({"field": "Seal1"}, "no signature fields"),
        ({"anchor": "（盖章）"}, "does not occur in the OFD"),
        ({"page": "3"}, "page 3 does not exist"),
        ({"x_mm": "1", "y_mm": "1"}, "does not fit"),
    ],
)
def test_what_an_ofd_seal_cannot_be_is_400(
    api_world: ApiWorld, d26_key: str, sm2_seal: str, params: dict, detail: str
) -> None:
    before = len(api_world.audit_entries(sm2_seal))
    body = assert_problem(
        _post(api_world, sm2_seal, d26_key, unsigned_ofd().to_bytes(), params=params), 400
    )
    assert detail in body["detail"]
    assert len(api_world.audit_entries(sm2_seal)) == before


def test_broken_and_hostile_ofds_are_400(api_world: ApiWorld, d26_key: str, sm2_seal: str) -> None:
    package = unsigned_ofd()
    traversal = package.to_bytes().replace(b"Doc_0/PublicRes.xml", b"../../PublicRes.xml")
    for data in (b"not an OFD", traversal, package.to_bytes()[:-30]):
        body = assert_problem(_post(api_world, sm2_seal, d26_key, data), 400)
        assert body["detail"].startswith("the OFD cannot be read"), body


def test_rsa_seal_another_department_and_a_revoked_seal_are_refused(
    api_world: ApiWorld, d26_key: str
) -> None:
    data = unsigned_ofd().to_bytes()
    rsa = api_world.demo_seal(ZZ_D26, "rsa").code
    body = assert_problem(_post(api_world, rsa, d26_key, data), 409)
    assert "SM2 seals only" in body["detail"]
    (refused,) = api_world.audit_entries(rsa, "seal.refused")
    assert refused["details"]["refusal"] == "no-ses-seal"
    assert refused["details"]["api_key"] == d26_key.split("_")[1]
    ftz = api_world.demo_seal("ZZ-FTZ", "sm2").code
    assert_problem(_post(api_world, ftz, d26_key, data), 403)
    revoked = api_world.issue_seal(ZZ_D26, "业务专用章", "sm2")
    seals.revoke(api_world.context, revoked, reason="key_compromise", actor="test:api")
    body = assert_problem(_post(api_world, revoked, d26_key, data), 409)
    assert "revoked" in body["detail"]
    assert api_world.audit_entries(revoked) == []
    assert len(api_world.audit_entries(revoked, "seal.refused")) == 1


def test_openapi_says_ofd_in_and_out(api_world: ApiWorld) -> None:
    spec = api_world.client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/seals/{code}/sign"]["post"]
    assert OFD in operation["requestBody"]["content"]
    assert OFD in operation["responses"]["200"]["content"]
    assert "B-B" in operation["description"] and "B-LTA" in operation["description"]
