"""``POST /v1/signatures`` through the real app, with a real identity provider's tokens
(issue #18 §3): the platform's key (scope ``signature``) and a person's ID token sign."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers.idp_fixtures import AUDIENCE, ID_NUMBER, TestProvider
from helpers.licence_ofd_render import template_licence_ofd
from helpers.pdf_fixtures import chinese_pdf
from helpers.personal_sign_fixtures import CHAIN, sign_off_chain, signature_png
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from api.app import create_app
from ofd.package import OfdPackage
from ofd.signatures import read_signature, read_signatures
from pki.cms import Gbt35275ContentInfo
from sealsvc import apikeys, identity, persons
from sealsvc.context import ServiceContext
from sealsvc.models import AuditEntry
from sealsvc.verification import JSON_SCHEMA

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

ACTOR = "test:person-sign-api"


@pytest.fixture
def provider(tmp_path: Path) -> TestProvider:
    return TestProvider(tmp_path)


@pytest.fixture
def world(
    sqlite_seal_context: ServiceContext, provider: TestProvider
) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    """The app, a platform key with scope ``signature`` and a department key without it."""
    context = sqlite_seal_context
    with context.database.session() as session:
        identity.add_provider(
            session, name="ywtb", issuer=provider.issuer, audience=AUDIENCE,
            jwks=str(provider.jwks_file), actor=ACTOR,
        )  # fmt: skip
        _, platform = apikeys.create_api_key(
            session, name="一网通办", scopes={"signature"}, department=None, actor=ACTOR
        )
        _, department = apikeys.create_api_key(
            session, name="审批系统", scopes={"sign"}, department="ZZ-D26", actor=ACTOR
        )
        context.ca.export_files(session)  # the trust anchors /v1/verify reads
    with TestClient(create_app(context.settings)) as client:
        yield (
            client,
            {"Authorization": f"Bearer {platform}"},
            {"Authorization": f"Bearer {department}"},
        )


def _post(client: TestClient, headers: dict[str, str], token: str, **fields: object):
    files = {"file": ("form.pdf", fields.pop("document", chinese_pdf()), "application/pdf")}
    image = fields.pop("image", signature_png())
    if image is not None:
        files["signature_image"] = ("signature.png", image, "image/png")
    data = {"id_token": token, "role": "申请人", "x_mm": "60", "y_mm": "60", **fields}
    return client.post("/v1/signatures", headers=headers, files=files, data=data)


def test_the_platform_signs_a_pdf_for_a_person(
    world: tuple[TestClient, dict[str, str], dict[str, str]],
    provider: TestProvider,
    sqlite_seal_context: ServiceContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client, platform, _ = world
    response = _post(client, platform, provider.token(), role="经办人")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["X-Event-Certificate"] == "true"
    (signature,) = PdfFileReader(io.BytesIO(response.content)).embedded_signatures
    assert signature.sig_object["/Reason"] == "经办人"
    assert signature.signer_cert.serial_number == int(response.headers["X-Certificate-Serial"])

    verified = client.post(
        "/v1/verify", files={"file": ("signed.pdf", response.content, "application/pdf")}
    )
    assert verified.status_code == 200, verified.text
    report = verified.json()
    assert report["verdict"] == "TOTAL_PASSED", report
    assert report["signatures"][0]["person"] == {
        "name": "张*丰", "role": "经办人", "certificate": "event",
    }  # fmt: skip
    assert report["sentence"].startswith("本文件由张*丰（经办人）于 ")

    with sqlite_seal_context.database.session(read_only=True) as session:
        entries = list(session.scalars(select(AuditEntry)))
    (signed,) = [e for e in entries if e.action == "person.sign"]
    assert signed.seq == int(response.headers["X-Audit-Seq"])
    assert signed.document_hash == response.headers["X-Document-SHA256"]
    stored = "\n".join(f"{e.actor} {e.details}" for e in entries)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for text in (stored, repr(response.headers), verified.text, logged):
        assert ID_NUMBER not in text and ID_NUMBER[6:14] not in text


@pytest.mark.parametrize(
    ("make", "check"),
    [
        (lambda p: p.token(exp=1), "expiry"),
        (lambda p: p.token(aud="someone-else"), "audience"),
        (lambda p: p.token(kid="unknown-key"), "key"),
        (lambda p: p.token()[:-4] + "AAAA", "signature"),
        (lambda p: "not a token", "format"),
    ],
)
def test_a_bad_identity_token_is_a_401_naming_the_check(
    world: tuple[TestClient, dict[str, str], dict[str, str]],
    provider: TestProvider,
    make,
    check: str,
) -> None:
    client, platform, _ = world
    response = _post(client, platform, make(provider))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["check"] == check


def test_a_token_signs_once(
    world: tuple[TestClient, dict[str, str], dict[str, str]], provider: TestProvider
) -> None:
    client, platform, _ = world
    token = provider.token()
    assert _post(client, platform, token).status_code == 200
    replayed = _post(client, platform, token)
    assert replayed.status_code == 401 and replayed.json()["check"] == "replay"


def test_keys_without_the_signature_scope_and_bad_requests_are_refused(
    world: tuple[TestClient, dict[str, str], dict[str, str]], provider: TestProvider
) -> None:
    client, platform, department = world
    assert _post(client, department, provider.token()).status_code == 403
    assert _post(client, {}, provider.token()).status_code == 401
    cases = {
        "no token": (_post(client, platform, ""), 400),
        "no role": (_post(client, platform, provider.token(), role=""), 422),
        "B-B": (_post(client, platform, provider.token(), level="B-B"), 400),
        "off the page": (_post(client, platform, provider.token(), x_mm="5000"), 400),
        "not a PNG": (_post(client, platform, provider.token(), image=b"GIF89a"), 400),
        "not a PDF": (_post(client, platform, provider.token(), document=b"hello"), 400),
    }
    for name, (response, status) in cases.items():
        assert response.status_code == status, (name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), name
        body = json.loads(response.text)
        assert body["detail"] and "\n" not in body["detail"], name
    raw = client.post(
        "/v1/signatures", headers={**platform, "Content-Type": "application/pdf"}, content=b"%PDF-"
    )
    assert raw.status_code == 415


def test_the_verify_page_and_api_name_each_signer_in_order(
    world: tuple[TestClient, dict[str, str], dict[str, str]],
    provider: TestProvider,
    sqlite_seal_context: ServiceContext,
) -> None:
    """The 3-signature + seal approval document through ``/v1/verify`` (schema checked) and
    the citizen's ``/verify`` page: persons masked with their roles, the seal as a seal."""
    import jsonschema

    client, _, _ = world
    document = sign_off_chain(sqlite_seal_context, provider)
    answer = client.post("/v1/verify", files={"file": ("a.pdf", document, "application/pdf")})
    body = answer.json()
    assert body["verdict"] == "TOTAL_PASSED", body
    jsonschema.validate({k: v for k, v in body.items() if k in JSON_SCHEMA["properties"]},
                        JSON_SCHEMA)  # fmt: skip
    people = [s["person"] for s in body["signatures"]]
    assert people[:3] == [
        {"name": "李*明", "role": "经办人", "certificate": "event"},
        {"name": "王*", "role": "审核人", "certificate": "official"},
        {"name": "欧**国", "role": "签发人", "certificate": "official"},
    ]
    assert people[3] is None
    page = client.post("/verify", files={"file": ("a.pdf", document, "application/pdf")})
    assert page.status_code == 200
    cards = re.findall(r'<section class="card seal-card">(.*?)</section>', page.text, re.S)
    assert len(cards) == 4
    for card, expected in zip(cards, ("李*明（经办人）", "王*（审核人）", "欧**国（签发人）"),
                              strict=False):  # fmt: skip
        assert expected in card and "签名时间" in card and "签名后未被篡改" in card
    assert "事件型证书" in cards[0] and "个人长期证书" in cards[1]
    assert "盖章时间" in cards[3] and "行政审批专用章" in cards[3]
    for text in (page.text, answer.text):
        for _, name, number, _ in CHAIN:
            assert number not in text and number[6:14] not in text
            # the real name is on the document itself, masked in every answer about it
            assert name not in text, re.findall(rf".{{80}}{name}.{{40}}", text)


def test_an_official_signs_an_ofd_through_the_api(
    world: tuple[TestClient, dict[str, str], dict[str, str]],
    provider: TestProvider,
    sqlite_seal_context: ServiceContext,
) -> None:
    client, platform, _ = world
    persons.enroll(
        sqlite_seal_context, provider="ywtb", subject="u-1001", name="张三丰",
        id_number=ID_NUMBER, role="签发人", hierarchy="sm2", actor=ACTOR,
    )  # fmt: skip
    data, _ = template_licence_ofd("business_licence")
    files = {"file": ("licence.ofd", data, "application/ofd")}
    form = {"id_token": provider.token(), "role": "签发人", "level": "B-B"}
    response = client.post("/v1/signatures", headers=platform, files=files, data=form)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/ofd"
    assert response.headers["X-Event-Certificate"] == "false"
    package = OfdPackage.read(response.content)
    assert [e.type for e in read_signatures(package).entries] == ["Sign"]
    applicant = {"id_token": provider.token(sub="u-2"), "role": "申请人", "level": "B-B"}
    refused = client.post("/v1/signatures", headers=platform, files=files, data=applicant)
    assert refused.status_code == 400 and "needs level B-T" in refused.json()["detail"]
    # at the default level (B-T) the applicant signs with a time-stamped event certificate
    applicant = {"id_token": provider.token(sub="u-3"), "role": "申请人"}
    signed = client.post("/v1/signatures", headers=platform, files=files, data=applicant)
    assert signed.status_code == 200, signed.text
    assert signed.headers["X-Event-Certificate"] == "true"
    package = OfdPackage.read(signed.content)
    (entry,) = read_signatures(package).entries
    value = Gbt35275ContentInfo.load(package[read_signature(package, entry).signed_value_path])
    (attribute,) = value["content"]["signer_infos"][0]["unsigned_attrs"]
    assert attribute["type"].native == "signature_time_stamp_token"
