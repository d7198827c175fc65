"""``POST /v1/archive/check`` on the bootstrapped app: the HTTP contract of the 四性检测.

The checks themselves are proven on the corpus in ``test_archive_check.py``; here: the same
JSON (validated against the schema), licence numbers and uploads in one request, the
``archive`` scope, and every bad request a clear problem (never a 5xx).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jsonschema
import pytest
from helpers.api_calls import ZZ_D26, assert_problem, bearer, sign

from sealsvc.archival_check import ARCHIVE_CHECK_SCHEMA
from sealsvc.licences import issue_licence, load_template

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld

pytest_plugins = ("helpers.api_fixtures",)  # api_world

CHECK = "/v1/archive/check"
SMALL = {"params": {"invisible": "true"}}
"""Sealed without a stamp image, so the file stays under this world's 64 KiB upload limit."""


@pytest.fixture(scope="module")
def archive_key(api_world: ApiWorld) -> str:
    return api_world.api_key(department=None, scopes={"archive"})


@pytest.fixture(scope="module")
def licence_number(api_world: ApiWorld) -> str:
    template = load_template("business_licence")
    seal = api_world.demo_seal(ZZ_D26, "rsa").code
    return issue_licence(
        api_world.context, template, template.example, [seal], actor="test:archive-check-api"
    ).number


def _records(response) -> list[dict]:
    assert response.status_code == 200, response.text
    body = response.json()
    jsonschema.validate(body, ARCHIVE_CHECK_SCHEMA)
    return body["records"]


def _failed(record: dict, prop: str) -> dict[str, str]:
    (found,) = [p for p in record["properties"] if p["property"] == prop]
    return {c["id"]: c["reason"] for c in found["checks"] if c["outcome"] == "fail"}


def test_numbers_and_uploads_are_checked_in_one_request(
    api_world: ApiWorld, archive_key: str, licence_number: str
) -> None:
    signer = api_world.api_key(department=ZZ_D26, scopes={"sign"})
    sealed = sign(api_world, api_world.demo_seal(ZZ_D26, "rsa").code, signer, **SMALL)
    assert sealed.status_code == 200, sealed.text
    response = api_world.client.post(
        CHECK,
        headers=bearer(archive_key),
        files=[("file", ("contract.pdf", sealed.content, "application/pdf"))],
        data={"number": [licence_number]},
    )
    records = {r["source"]: r for r in _records(response)}  # form order: fields, then files
    licence, contract = records[f"licence:{licence_number}"], records["contract.pdf"]
    assert licence["passed"], licence
    assert contract["verdict"] == "TOTAL_PASSED"
    # A sealed PDF that is not PDF/A is no long-term record: usability says so.
    assert "PDF/A" in _failed(contract, "usability")["long_term_format"]
    assert response.json()["passed"] is False


def test_a_raw_body_is_one_record(api_world: ApiWorld, archive_key: str) -> None:
    response = api_world.client.post(
        CHECK,
        headers={**bearer(archive_key), "Content-Type": "application/pdf"},
        content=b"%PDF-1.7\nnot really",
    )
    (record,) = _records(response)
    assert record["source"] == "upload" and not record["passed"]


def test_the_archive_scope_is_needed(api_world: ApiWorld, licence_number: str) -> None:
    assert_problem(api_world.client.post(CHECK, data={"number": licence_number}), 401)
    signer = api_world.api_key(department=ZZ_D26, scopes={"sign"})
    response = api_world.client.post(CHECK, headers=bearer(signer), data={"number": licence_number})
    assert_problem(response, 403)


@pytest.mark.parametrize(
    ("request_kwargs", "status", "says"),
    [
        ({"data": {"number": "../etc/passwd"}}, 400, "licence number"),
        ({"data": {"other": "x"}}, 400, "unexpected form field"),
        ({"files": [("nothing", ("a.txt", b"x", "text/plain"))]}, 400, "unexpected form field"),
        ({"content": b"{}", "headers": {"Content-Type": "application/json"}}, 415, "multipart"),
        ({"content": b"%PDF-" + bytes(70_000), "headers": {"Content-Type": "application/pdf"}},
         413, "larger"),
    ],
)  # fmt: skip
def test_bad_requests_are_clear_problems(
    api_world: ApiWorld, archive_key: str, request_kwargs: dict, status: int, says: str
) -> None:
    headers = {**bearer(archive_key), **request_kwargs.pop("headers", {})}
    response = api_world.client.post(CHECK, headers=headers, **request_kwargs)
    assert says in assert_problem(response, status)["detail"]


def test_an_unknown_licence_number_is_a_failing_record_not_an_error(
    api_world: ApiWorld, archive_key: str
) -> None:
    response = api_world.client.post(
        CHECK, headers=bearer(archive_key), data={"number": "YYZZ2099010100000001"}
    )
    (record,) = _records(response)
    assert not record["passed"]
    assert "YYZZ2099010100000001" in _failed(record, "authenticity")["record_readable"]
