"""The GB/T 36904 identifier and GB/T 36903 metadata over HTTP: the API record and the QR page.

Runs against the bootstrapped app of ``api_fixtures`` (real CAs, seals, SQLite).
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from sealsvc.licences.identifier import LicenceIdentifier

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld

pytest_plugins = ("helpers.api_fixtures",)  # api_world

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
MARKET = "ZZ-D26"  # 郑州市市场监督管理局


def test_api_record_and_qr_page_show_the_identifier(api_world: ApiWorld) -> None:
    token = api_world.api_key(department=MARKET, scopes={"licence"})
    headers = {"Authorization": f"Bearer {token}"}
    data = json.loads((TEMPLATES / "business_licence/example.json").read_text("utf-8"))
    body = {
        "template": "business_licence",
        "data": data,
        "seals": [api_world.demo_seal(MARKET).code],
        "level": "B-B",
    }
    response = api_world.client.post("/v1/licences", json=body, headers=headers)
    assert response.status_code == 201, response.text
    issued = response.json()
    identifier = LicenceIdentifier.parse(issued["identifier"])
    assert (identifier.serial, identifier.version) == (issued["number"], 1)
    assert issued["metadata"]["identifier"] == issued["identifier"]

    record = api_world.client.get(f"/v1/licences/{issued['number']}", headers=headers).json()
    assert record["identifier"] == issued["identifier"]
    metadata = record["metadata"]
    assert metadata["issuer_code"] == identifier.issuer_code
    assert metadata["holder_code"] == data["uscc"]
    assert (metadata["valid_from"], metadata["valid_until"]) == ("2019-06-18", "长期")

    page = api_world.client.get(issued["verify_url"][issued["verify_url"].index("/verify/") :])
    assert page.status_code == 200
    shown = re.search(r'<dd id="identifier"[^>]*>([^<]*)</dd>', page.text)
    assert shown and html.unescape(shown.group(1)) == issued["identifier"]
    assert "电子证照标识" in page.text


@pytest.fixture(scope="module")
def roomy_client(api_world: ApiWorld) -> Iterator[TestClient]:
    """The app with an upload limit above a licence's size (``api_world``'s is 64 KiB)."""
    app = create_app(dataclasses.replace(api_world.settings, max_pdf_bytes=512 * 1024))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.context.close()


def test_verifying_an_issued_licence_names_its_identifier(
    api_world: ApiWorld, roomy_client: TestClient
) -> None:
    token = api_world.api_key(department=MARKET, scopes={"licence"})
    headers = {"Authorization": f"Bearer {token}"}
    data = json.loads((TEMPLATES / "business_licence/example.json").read_text("utf-8"))
    body = {"template": "business_licence", "data": data,
            "seals": [api_world.demo_seal(MARKET).code], "level": "B-B"}  # fmt: skip
    issued = roomy_client.post("/v1/licences", json=body, headers=headers).json()
    pdf = roomy_client.get(f"/v1/licences/{issued['number']}/pdf", headers=headers).content

    upload = {"files": {"file": ("licence.pdf", pdf, "application/pdf")}}
    response = roomy_client.post("/v1/verify", **upload)
    assert response.status_code == 200, response.text[:500]
    licence = response.json()["licence"]
    assert (licence["found_by"], licence["identifier"]) == ("sha256", issued["identifier"])
    page = roomy_client.post("/verify", **upload)
    shown = re.search(r'<dd id="identifier"[^>]*>([^<]*)</dd>', page.text)
    assert shown and html.unescape(shown.group(1)) == issued["identifier"]
