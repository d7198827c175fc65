"""OFD licences over HTTP: issue with ``"format": "ofd"``, download from ``/ofd``, and the
citizens' QR page, which links the OFD of the version whose QR code was scanned.

Runs against the bootstrapped app of ``api_fixtures`` (real CAs, demo seals, SQLite); the
downloaded OFD is checked with our container check and the SES layers.
"""

from __future__ import annotations

import hashlib
import re
from html import unescape
from typing import TYPE_CHECKING

import pytest
from helpers.api_calls import bearer
from helpers.licence_api import MARKET, issue_licence

from api.problems import PROBLEM_JSON
from ofd.package import OfdPackage
from ofd.signatures import check_references, read_signature, read_signatures
from pki import ses

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld

pytest_plugins = ("helpers.api_fixtures",)  # api_world


@pytest.fixture(scope="module")
def market_token(api_world: ApiWorld) -> str:
    return api_world.api_key(department=MARKET, scopes={"licence"})


@pytest.fixture(scope="module")
def issued_ofd(api_world: ApiWorld, market_token: str) -> dict:
    status, body = issue_licence(
        api_world, market_token, format="ofd", seals=[api_world.demo_seal(MARKET, "sm2").code]
    )
    assert status == 201, body
    return body


def _get(world: ApiWorld, path: str, token: str):
    return world.client.get(path, headers=bearer(token))


def test_an_ofd_licence_is_issued_and_downloaded_as_issued(
    api_world: ApiWorld, market_token: str, issued_ofd: dict
) -> None:
    number = issued_ofd["number"]
    assert issued_ofd["format"] == "ofd" and issued_ofd["file_name"] == f"{number}-v1.ofd"
    assert issued_ofd["download_url"].endswith(f"/v1/licences/{number}/ofd?version=1")
    first = _get(api_world, f"/v1/licences/{number}/ofd", market_token)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/ofd"
    assert first.headers["content-disposition"] == f'attachment; filename="{number}.ofd"'
    assert first.content == _get(api_world, f"/v1/licences/{number}/ofd", market_token).content
    assert hashlib.sha256(first.content).hexdigest() == issued_ofd["document_sha256"]
    package = OfdPackage.read(first.content)
    (entry,) = read_signatures(package).entries
    signature = read_signature(package, entry)
    assert check_references(package, signature).intact
    parsed = ses.parse_signature(package[signature.signed_value_path])
    assert ses.check_signature(parsed, signature.signature_xml).ok
    assert parsed.time_stamp_token is not None  # B-T from the request

    shown = _get(api_world, f"/v1/licences/{number}", market_token).json()
    assert shown["format"] == "ofd"


def test_asking_for_the_other_format_is_a_409_naming_the_one_issued(
    api_world: ApiWorld, market_token: str, issued_ofd: dict
) -> None:
    wrong = _get(api_world, f"/v1/licences/{issued_ofd['number']}/pdf", market_token)
    assert wrong.status_code == 409 and wrong.headers["content-type"] == PROBLEM_JSON
    assert "issued as OFD, not PDF" in wrong.json()["detail"]
    status, pdf = issue_licence(api_world, market_token)
    assert status == 201 and pdf["format"] == "pdf"
    wrong = _get(api_world, f"/v1/licences/{pdf['number']}/ofd", market_token)
    assert wrong.status_code == 409 and "issued as PDF, not OFD" in wrong.json()["detail"]
    other = api_world.api_key(department="ZZ-D14", scopes={"licence"})  # 城乡建设局
    assert _get(api_world, f"/v1/licences/{pdf['number']}/ofd", other).status_code == 403


@pytest.mark.parametrize(
    ("overrides", "status", "needle"),
    [
        ({"format": "ofd"}, 409, "OFD licence needs SM2 seals"),  # the RSA demo seal
        ({"format": "ofd", "level": "B-LTA", "sm2": True}, 400, "not available for OFD"),
        ({"format": "docx"}, 422, "format"),
    ],
)
def test_bad_ofd_requests_are_problems_and_store_nothing(
    api_world: ApiWorld, market_token: str, overrides: dict, status: int, needle: str
) -> None:
    if overrides.pop("sm2", False):
        overrides["seals"] = [api_world.demo_seal(MARKET, "sm2").code]
    before = sorted((api_world.settings.data_dir / "licences").glob("*"))
    got, body = issue_licence(api_world, market_token, **overrides)
    assert got == status, body
    assert needle in str(body)
    assert sorted((api_world.settings.data_dir / "licences").glob("*")) == before


def _download_link(html: str) -> str | None:
    found = re.search(r'<a id="download" href="([^"]+)"', html)
    return unescape(found.group(1)) if found else None


def test_the_qr_page_links_the_ofd_and_shows_the_state(
    api_world: ApiWorld, market_token: str
) -> None:
    status, body = issue_licence(
        api_world, market_token, format="ofd", seals=[api_world.demo_seal(MARKET, "sm2").code]
    )
    assert status == 201, body
    client = api_world.client
    qr = body["verify_url"]
    page = client.get(qr[qr.index("/verify/") :])
    assert page.status_code == 200 and "证照有效" in page.text
    link = _download_link(page.text)
    assert link == (
        f"{api_world.settings.base_url}/verify/{body['number']}/ofd?h={body['data_hash']}"
    )
    download = client.get(link[link.index("/verify/") :])
    assert download.status_code == 200 and download.headers["content-type"] == "application/ofd"
    assert hashlib.sha256(download.content).hexdigest() == body["document_sha256"]
    assert "attachment" in download.headers["content-disposition"]

    # no hash, or a wrong one: no link, and nothing to download
    assert _download_link(client.get(f"/verify/{body['number']}").text) is None
    assert client.get(f"/verify/{body['number']}/ofd").status_code == 404
    forged = client.get(f"/verify/{body['number']}/ofd?h=0123456789abcdef")
    assert forged.status_code == 404 and "text/html" in forged.headers["content-type"]
    assert client.get("/verify/..%2F..%2Fetc/ofd?h=00").status_code in (400, 404)

    # annulled: the page says so, and still gives the holder the file it scanned
    annulled = client.post(
        f"/v1/licences/{body['number']}/annul",
        json={"kind": "revoked", "reason": "依法吊销"},
        headers=bearer(market_token),
    )
    assert annulled.status_code == 200 and annulled.json()["format"] == "ofd"
    page = client.get(qr[qr.index("/verify/") :])
    assert "吊销" in page.text and _download_link(page.text) == link


def test_the_qr_page_of_a_pdf_licence_has_no_ofd_link(
    api_world: ApiWorld, market_token: str
) -> None:
    status, body = issue_licence(api_world, market_token)
    assert status == 201, body
    qr = body["verify_url"]
    page = api_world.client.get(qr[qr.index("/verify/") :])
    assert page.status_code == 200 and _download_link(page.text) is None
    ofd = api_world.client.get(f"/verify/{body['number']}/ofd?h={body['data_hash']}")
    assert ofd.status_code == 404
