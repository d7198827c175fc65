"""The ``verify`` scope is gone: verification is public, so the scope granted nothing.

A new key cannot be given it (a clear refusal, not "unknown scope"); a key created before
keeps working for its other scopes, the stale scope is ignored, and ``apikey list`` says
so.  Through ``sealctl`` and the HTTP API on a real data directory and SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from helpers.pdf_fixtures import chinese_pdf
from sqlalchemy import update

from api.app import create_app
from sealsvc import apikeys
from sealsvc.context import ServiceContext
from sealsvc.models import ApiKey

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

Sealctl = Callable[..., Result]
DEPT = "ZZ-FTZ"


@pytest.fixture
def cli(sqlite_seal_context: ServiceContext, sealctl: Sealctl) -> Sealctl:
    return sealctl


def test_a_new_key_cannot_have_the_verify_scope(cli: Sealctl) -> None:
    result = cli("apikey", "create", "--name", "审批", "--dept", DEPT, "--scopes", "sign,verify")
    assert result.exit_code == 1, result.stdout
    message = " ".join(result.stderr.split())
    assert "'verify' scope no longer exists" in message and "public" in message
    default = cli("apikey", "create", "--name", "审批", "--dept", DEPT, "--json")
    assert default.exit_code == 0, default.stderr
    assert json.loads(default.stdout)["scopes"] == "licence,sign"


def test_an_old_key_with_verify_still_works_and_is_flagged(
    cli: Sealctl, sqlite_seal_context: ServiceContext
) -> None:
    created = cli(
        "apikey", "create", "--name", "旧系统", "--dept", DEPT, "--scopes", "sign", "--json"
    )
    assert created.exit_code == 0, created.stderr
    key = json.loads(created.stdout)
    with sqlite_seal_context.database.session() as session:  # as a key made before the change
        session.execute(
            update(ApiKey).where(ApiKey.key_id == key["key_id"]).values(scopes="sign,verify")
        )
    with sqlite_seal_context.database.session(read_only=True) as session:
        principal = apikeys.authenticate(session, key["token"])
    assert principal.scopes == frozenset({"sign"})

    listed = cli("apikey", "list", "--json")
    (row,) = [r for r in json.loads(listed.stdout) if r["key_id"] == key["key_id"]]
    assert row["ignored_scopes"] == ["verify"]
    table = " ".join(cli("apikey", "list").stdout.split())
    assert f"the 'verify' scope of {key['key_id']} is ignored" in table

    seal = cli("seal", "issue", "--dept", DEPT, "--kind", "公章", "--json")
    code = json.loads(seal.stdout)["code"]
    app = create_app(sqlite_seal_context.settings)
    with TestClient(app) as client:
        signed = client.post(
            f"/v1/seals/{code}/sign",
            params={"level": "B-B"},
            content=chinese_pdf(1),
            headers={"Authorization": f"Bearer {key['token']}", "Content-Type": "application/pdf"},
        )
        assert signed.status_code == 200, signed.text
        verified = client.post(
            "/v1/verify", content=signed.content, headers={"Content-Type": "application/pdf"}
        )
        assert verified.status_code == 200  # public: no key at all
    app.state.context.close()
