"""``POST /v1/archive/extend`` on the bootstrapped app (TestClient over ``create_app``).

A document sealed through the API is renewed through the API and verified through the
API: the renewal keeps every earlier byte (incremental update), adds a document
time-stamp that the service's verifier finds, and is audited with the archive's key.  The domain
side — time travel past the TSA certificate's end, openssl and pdfsig cross-checks — is
in ``test_archive.py``; here the HTTP contract: scope, errors as problems, no 5xx.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest
from helpers.api_calls import ZZ_D26, assert_problem, bearer, sign
from helpers.pdf_fixtures import certified_no_changes_pdf, chinese_pdf

from sealsvc import audit

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld

pytest_plugins = ("helpers.api_fixtures",)  # api_world

EXTEND = "/v1/archive/extend"
SMALL = {"params": {"invisible": "true"}}
"""Sealed without a stamp image, so the file stays under this world's 64 KiB upload limit."""


@pytest.fixture(scope="module")
def archive_key(api_world: ApiWorld) -> str:
    """The city archive's key: every department's documents, so no department."""
    return api_world.api_key(department=None, scopes={"archive"})


def _extend(world: ApiWorld, pdf: bytes, token: str | None):
    headers = {"Content-Type": "application/pdf", **(bearer(token) if token else {})}
    return world.client.post(EXTEND, content=pdf, headers=headers)


def _verify(world: ApiWorld, pdf: bytes) -> dict:
    """The app's own verifier, called directly: with its validation data a renewed file is
    larger than this world's upload limit (64 KiB), so ``/v1/verify`` would answer 413."""
    return world.app.state.verifier.check(pdf).to_dict()


def _archive_entries(world: ApiWorld) -> list[dict]:
    with world.context.database.session(read_only=True) as session:
        entries = audit.query(session, action="archive.extend")
        return [audit.entry_to_dict(e) for e in entries]


@pytest.mark.parametrize("algorithm", ["rsa", "sm2"])
def test_a_sealed_pdf_is_renewed_verified_and_audited(
    api_world: ApiWorld, archive_key: str, algorithm: str
) -> None:
    signer = api_world.api_key(department=ZZ_D26, scopes={"sign"})
    sealed = sign(api_world, api_world.demo_seal(ZZ_D26, algorithm).code, signer, **SMALL)
    assert sealed.status_code == 200, sealed.text
    before = _verify(api_world, sealed.content)
    assert [s["kind"] for s in before["signatures"]] == ["signature"]

    response = _extend(api_world, sealed.content, archive_key)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    extended = response.content
    assert extended.startswith(sealed.content)  # an incremental update: nothing rewritten
    assert response.headers["X-Document-SHA256"] == hashlib.sha256(extended).hexdigest()
    after = _verify(api_world, extended)
    assert after["verdict"] == "TOTAL_PASSED", after["message"]
    assert [s["kind"] for s in after["signatures"]] == ["signature", "document_timestamp"]
    (entry,) = [
        e for e in _archive_entries(api_world) if e["seq"] == int(response.headers["X-Audit-Seq"])
    ]
    assert entry["document_hash"] == response.headers["X-Document-SHA256"]
    assert entry["details"]["api_key"] == archive_key.split("_")[1]
    assert entry["details"]["input_sha256"] == hashlib.sha256(sealed.content).hexdigest()
    assert entry["details"]["hierarchy"] == algorithm


def test_a_multipart_upload_works_too(api_world: ApiWorld, archive_key: str) -> None:
    signer = api_world.api_key(department=ZZ_D26, scopes={"sign"})
    sealed = sign(api_world, api_world.demo_seal(ZZ_D26, "rsa").code, signer, **SMALL).content
    upload = {"file": ("licence.pdf", sealed, "application/pdf")}
    response = api_world.client.post(EXTEND, files=upload, headers=bearer(archive_key))
    assert response.status_code == 200, response.text
    assert _verify(api_world, response.content)["verdict"] == "TOTAL_PASSED"


def test_only_archive_and_admin_keys_may_extend(api_world: ApiWorld, archive_key: str) -> None:
    signer = api_world.api_key(department=ZZ_D26, scopes={"sign", "licence"})
    sealed = sign(api_world, api_world.demo_seal(ZZ_D26, "rsa").code, signer, **SMALL).content
    assert_problem(_extend(api_world, sealed, None), 401)
    assert_problem(_extend(api_world, sealed, "sk_0000000000000000_" + "A" * 43), 401)
    body = assert_problem(_extend(api_world, sealed, signer), 403)
    assert "archive" in body["detail"]
    assert _extend(api_world, sealed, api_world.admin_token).status_code == 200


@pytest.mark.parametrize(
    ("name", "pdf", "reason"),
    [
        ("unsigned", chinese_pdf(1), "no seal or time-stamp"),
        ("foreign CA", certified_no_changes_pdf("rsa"), "only its own documents"),
        ("not a PDF", b"\x00\x01 certainly not a PDF" * 40, ""),
        ("empty", b"", ""),
    ],
)
def test_what_cannot_be_extended_is_a_400_and_not_audited(
    api_world: ApiWorld, archive_key: str, name: str, pdf: bytes, reason: str
) -> None:
    audited = len(_archive_entries(api_world))
    body = assert_problem(_extend(api_world, pdf, archive_key), 400)
    assert reason in body["detail"], name
    assert len(_archive_entries(api_world)) == audited


def test_over_the_size_limit_is_413(api_world: ApiWorld, archive_key: str) -> None:
    too_big = b"%PDF-1.7\n" + bytes(api_world.settings.max_pdf_bytes)
    assert_problem(_extend(api_world, too_big, archive_key), 413)


def test_the_operation_is_documented(api_world: ApiWorld) -> None:
    operation = api_world.client.get("/openapi.json").json()["paths"][EXTEND]["post"]
    assert set(operation["requestBody"]["content"]) == {"multipart/form-data", "application/pdf"}
    assert "application/pdf" in operation["responses"]["200"]["content"]
    assert {"400", "401", "403", "413", "415", "429"} <= set(operation["responses"])
