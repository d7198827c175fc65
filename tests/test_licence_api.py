"""Licence endpoints: issue over HTTP, fetch the record, download identical bytes, annul.

Runs against the bootstrapped app of ``api_fixtures`` (real CAs, seals, SQLite); the
issued PDFs are checked with poppler's ``pdfsig`` and the licence's stored SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from typing import TYPE_CHECKING

import pytest
from helpers.api_calls import bearer
from helpers.licence_api import MARKET, issue_licence, template_example

from api.problems import PROBLEM_JSON

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld

pytest_plugins = ("helpers.api_fixtures",)  # api_world

CONSTRUCTION = "ZZ-D14"  # 郑州市城乡建设局


def _pdfsig(pdf: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        return subprocess.run(
            ["pdfsig", handle.name], capture_output=True, text=True, check=False
        ).stdout


@pytest.fixture(scope="module")
def market_token(api_world: ApiWorld) -> str:
    return api_world.api_key(department=MARKET, scopes={"licence"})


@pytest.fixture(scope="module")
def issued(api_world: ApiWorld, market_token: str) -> dict:
    status, body = issue_licence(api_world, market_token)
    assert status == 201, body
    return body


def test_issue_returns_the_record_and_a_download_url(api_world: ApiWorld, issued: dict) -> None:
    assert issued["template"] == "business_licence"
    assert issued["version"] == 1 and issued["status"] == "valid"
    assert issued["data"]["name"] == template_example("business_licence")["name"]
    assert issued["download_url"].endswith(f"/v1/licences/{issued['number']}/pdf?version=1")
    entries = api_world.audit_entries(issued["seal_codes"][0])
    assert entries and entries[-1]["actor"].startswith("api:")


def test_download_is_byte_identical_and_validly_sealed(
    api_world: ApiWorld, market_token: str, issued: dict
) -> None:
    first = api_world.client.get(
        f"/v1/licences/{issued['number']}/pdf", headers=bearer(market_token)
    )
    second = api_world.client.get(
        f"/v1/licences/{issued['number']}/pdf", headers=bearer(market_token)
    )
    assert first.status_code == 200 and first.headers["content-type"] == "application/pdf"
    assert first.content == second.content
    assert hashlib.sha256(first.content).hexdigest() == issued["document_sha256"]
    assert "Signature is Valid." in _pdfsig(first.content)


def test_record_needs_the_licence_scope_and_the_right_department(
    api_world: ApiWorld, issued: dict
) -> None:
    path = f"/v1/licences/{issued['number']}"
    assert api_world.client.get(path).status_code == 401
    archive_only = api_world.api_key(department=MARKET, scopes={"archive"})
    assert api_world.client.get(path, headers=bearer(archive_only)).status_code == 403
    other = api_world.api_key(department=CONSTRUCTION, scopes={"licence"})
    refused = api_world.client.get(path, headers=bearer(other))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert api_world.client.get(f"{path}/pdf", headers=bearer(other)).status_code == 403
    admin = api_world.client.get(path, headers=bearer(api_world.admin_token))
    assert admin.status_code == 200 and admin.json()["number"] == issued["number"]


def test_issue_with_another_departments_seal_is_forbidden(api_world: ApiWorld) -> None:
    other = api_world.api_key(department=CONSTRUCTION, scopes={"licence"})
    status, body = issue_licence(api_world, other)
    assert status == 403, body
    assert "another department" in body["detail"]


@pytest.mark.parametrize(
    ("overrides", "status", "needle"),
    [
        ({"template": "no_such_template"}, 404, "no_such_template"),
        ({"data": {"name": "缺字段"}}, 400, "business_scope) is required"),
        ({"seals": []}, 422, "seals"),
        ({"level": "B-X"}, 422, "level"),
    ],
)
def test_bad_requests_get_problem_json_and_store_nothing(
    api_world: ApiWorld, market_token: str, overrides: dict, status: int, needle: str
) -> None:
    before = sorted((api_world.settings.data_dir / "licences").glob("*"))
    got, body = issue_licence(api_world, market_token, **overrides)
    assert got == status, body
    assert needle in json.dumps(body, ensure_ascii=False)
    assert sorted((api_world.settings.data_dir / "licences").glob("*")) == before


def test_annul_marks_the_licence_and_refuses_twice(api_world: ApiWorld, market_token: str) -> None:
    status, body = issue_licence(api_world, market_token)
    assert status == 201, body
    path = f"/v1/licences/{body['number']}/annul"
    for no_kind in ({"reason": "依法吊销"}, {"reason": "依法吊销", "kind": "annulled"}):
        refused = api_world.client.post(path, json=no_kind, headers=bearer(market_token))
        assert refused.status_code == 422 and "kind" in refused.text  # required: 吊销 ≠ 注销
    annulled = api_world.client.post(
        path, json={"kind": "revoked", "reason": "依法吊销"}, headers=bearer(market_token)
    )
    assert annulled.status_code == 200, annulled.text
    assert (annulled.json()["status"], annulled.json()["annul_kind"]) == ("annulled", "revoked")
    shown = api_world.client.get(f"/v1/licences/{body['number']}", headers=bearer(market_token))
    assert shown.json()["annul_kind"] == "revoked"
    again = api_world.client.post(
        path, json={"kind": "cancelled", "reason": "再次"}, headers=bearer(market_token)
    )
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM_JSON
    empty = api_world.client.post(
        path, json={"kind": "revoked", "reason": ""}, headers=bearer(market_token)
    )
    assert empty.status_code == 422


@pytest.mark.parametrize("number", ["YYZZ0000000000000000", "..%2f..%2fetc%2fpasswd", "a b"])
def test_unknown_and_hostile_numbers_are_4xx(
    api_world: ApiWorld, market_token: str, number: str
) -> None:
    response = api_world.client.get(f"/v1/licences/{number}", headers=bearer(market_token))
    assert 400 <= response.status_code < 500, response.status_code
