"""Refused seal uses are audited; server faults are 5xx with an id; errors name HTTP names.

In-process over ``create_app`` on a bootstrapped data directory (``api_world``): real keys,
key files, CAs and SQLite.  Key-store faults are made the way they happen — a key file
deleted, replaced by something unreadable, corrupted or altered on disk — and the answer
must be a 500 problem with an id and without any path, while the log has the id and the
traceback.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from helpers.api_calls import assert_problem, bearer, sign
from helpers.pdf_fixtures import chinese_pdf

from sealsvc import audit, seals

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld

pytest_plugins = ("helpers.api_fixtures",)  # api_world

DEPT = "ZZ-D14"
OTHER = "ZZ-FTZ"
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def all_refusals(world: ApiWorld) -> list[dict]:
    with world.context.database.session(read_only=True) as session:
        return [audit.entry_to_dict(e) for e in audit.query(session, action="seal.refused")]


def assert_refusal(entry: dict, token: str, refusal: str, seal_code: str | None) -> None:
    key_id = token.split("_")[1]
    assert entry["action"] == "seal.refused"
    assert entry["actor"] == f"api:{key_id}"
    assert entry["seal_code"] == seal_code
    assert entry["details"]["api_key"] == key_id
    assert entry["details"]["client"] == "testclient"  # TestClient's peer address
    assert entry["details"]["refusal"] == refusal
    assert entry["details"]["reason"]


# --------------------------------------------------------------------------- seal.refused


def test_foreign_seal_403_is_audited(api_world: ApiWorld) -> None:
    key = api_world.api_key(department=DEPT, scopes={"sign"})
    foreign = api_world.demo_seal(OTHER, "rsa").code
    before = len(api_world.audit_entries(foreign, "seal.refused"))
    body = assert_problem(sign(api_world, foreign, key), 403)
    entries = api_world.audit_entries(foreign, "seal.refused")
    assert len(entries) == before + 1
    assert_refusal(entries[-1], key, "forbidden", foreign)
    assert entries[-1]["department_code"] == OTHER
    assert entries[-1]["details"]["reason"] == body["detail"]
    assert api_world.audit_entries(foreign) == []  # nothing was sealed


def test_missing_scope_on_the_sign_route_is_audited(api_world: ApiWorld) -> None:
    seal = api_world.demo_seal(DEPT, "rsa").code
    licence_only = api_world.api_key(department=DEPT, scopes={"licence"})
    assert_problem(sign(api_world, seal, licence_only), 403)
    (entry,) = [
        e
        for e in api_world.audit_entries(seal, "seal.refused")
        if e["details"]["api_key"] == licence_only.split("_")[1]
    ]
    assert_refusal(entry, licence_only, "forbidden", seal)


def test_suspended_and_revoked_409_are_audited(api_world: ApiWorld) -> None:
    suspended = api_world.issue_seal(DEPT, "财务专用章")
    revoked = api_world.issue_seal(DEPT, "财务专用章")
    seals.suspend(api_world.context, suspended, actor="test:api")
    seals.revoke(api_world.context, revoked, reason="key_compromise", actor="test:api")
    key = api_world.api_key(department=DEPT, scopes={"sign"})
    for code, status in ((suspended, "suspended"), (revoked, "revoked")):
        assert_problem(sign(api_world, code, key), 409)
        (entry,) = api_world.audit_entries(code, "seal.refused")
        assert_refusal(entry, key, "seal-not-usable", code)
        assert status in entry["details"]["reason"]
        assert entry["department_code"] == DEPT
        assert api_world.audit_entries(code) == []


def test_429_has_retry_after_and_a_run_of_refusals_is_audited_once(
    api_world: ApiWorld,
) -> None:
    seal = api_world.issue_seal(DEPT, "合同专用章")
    slow = api_world.api_key(department=DEPT, scopes={"sign"}, rate=1)
    assert sign(api_world, seal, slow, pdf=b"not a pdf").status_code == 400
    for _ in range(3):
        response = sign(api_world, seal, slow, pdf=b"not a pdf")
        body = assert_problem(response, 429)
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert "1 requests a minute" in body["detail"]
    mine = [
        e
        for e in api_world.audit_entries(seal, "seal.refused")
        if e["details"]["api_key"] == slow.split("_")[1]
    ]
    assert len(mine) == 1  # the first of the run, not one write per hammered request
    assert_refusal(mine[0], slow, "rate-limited", seal)


def _licence_request(seal_code: str) -> dict:
    example = TEMPLATES / "business_licence" / "example.json"
    data = json.loads(example.read_text(encoding="utf-8"))
    return {"template": "business_licence", "data": data, "seals": [seal_code]}


def test_licence_issue_refusals_are_audited(api_world: ApiWorld) -> None:
    key = api_world.api_key(department=DEPT, scopes={"licence"})
    foreign = api_world.demo_seal(OTHER, "rsa").code
    revoked = api_world.issue_seal(DEPT, "行政审批专用章")
    seals.revoke(api_world.context, revoked, reason="cessation_of_operation", actor="test:api")
    for code, status, refusal in ((foreign, 403, "forbidden"), (revoked, 409, "seal-not-usable")):
        before = len(api_world.audit_entries(code, "seal.refused"))
        response = api_world.client.post(
            "/v1/licences", json=_licence_request(code), headers=bearer(key)
        )
        assert_problem(response, status)
        entries = api_world.audit_entries(code, "seal.refused")
        assert len(entries) == before + 1
        assert_refusal(entries[-1], key, refusal, code)


def test_unknown_seal_404_is_not_audited(api_world: ApiWorld) -> None:
    key = api_world.api_key(department=DEPT, scopes={"sign"})
    before = len(all_refusals(api_world))
    assert_problem(sign(api_world, "41010099999999", key), 404)
    assert len(all_refusals(api_world)) == before


# --------------------------------------------------------------------------- server faults


def _key_file(world: ApiWorld, seal_code: str) -> Path:
    with world.context.database.session(read_only=True) as session:
        key_id = seals.signing_material(session, seal_code).key_id
    return world.settings.keys_dir / f"{key_id}.key"


def _missing(path: Path) -> None:
    path.unlink()


def _unreadable(path: Path) -> None:
    # chmod 000 does not stop root (the tests run as root in CI): a directory in the
    # file's place fails the read for everyone.
    path.unlink()
    path.mkdir()


def _corrupt(path: Path) -> None:
    path.write_bytes(b"\x00garbage, not JSON")


def _altered(path: Path) -> None:
    envelope = json.loads(path.read_text())
    envelope["label"] = envelope["label"] + " (edited)"  # breaks the AES-GCM AAD
    path.write_text(json.dumps(envelope))


@pytest.mark.parametrize("fault", [_missing, _unreadable, _corrupt, _altered])
def test_key_store_faults_are_500_with_an_id_and_no_path(
    api_world: ApiWorld, caplog: pytest.LogCaptureFixture, fault
) -> None:
    code = api_world.issue_seal(DEPT, "业务专用章")  # a key the app has not cached yet
    key_file = _key_file(api_world, code)
    assert key_file.is_file()
    fault(key_file)
    key = api_world.api_key(department=DEPT, scopes={"sign"})
    with caplog.at_level(logging.ERROR, logger="sealsvc.api"):
        response = sign(api_world, code, key)
    body = assert_problem(response, 500)
    assert body["type"].endswith("/internal")
    fault_id = body["id"]
    assert len(fault_id) == 16 and fault_id in body["detail"]
    for secret in (str(api_world.settings.data_dir), "keys", key_file.name, ".key"):
        assert secret not in response.text
    assert "/" not in body["detail"]
    (record,) = [r for r in caplog.records if fault_id in r.getMessage()]
    assert record.exc_info is not None  # the traceback goes to the log
    assert "KeyStoreError" in record.getMessage()
    assert api_world.audit_entries(code) == []


def test_a_fault_inside_the_pdf_library_is_500_but_a_broken_pdf_stays_400(
    api_world: ApiWorld, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyhanko.sign import signers

    async def broken(*_args, **_kwargs):
        raise AttributeError("'NoneType' object has no attribute '/srv/secret/path'")

    seal = api_world.demo_seal(DEPT, "rsa").code
    key = api_world.api_key(department=DEPT, scopes={"sign"})
    truncated = chinese_pdf(1)[:500]
    assert_problem(sign(api_world, seal, key, pdf=truncated), 400)
    monkeypatch.setattr(signers.PdfSigner, "async_sign_pdf", broken)
    with caplog.at_level(logging.ERROR, logger="sealsvc.api"):
        response = sign(api_world, seal, key, params={"level": "B-B"})
    body = assert_problem(response, 500)
    assert "secret" not in response.text and "NoneType" not in response.text
    (record,) = [r for r in caplog.records if body["id"] in r.getMessage()]
    assert record.exc_info is not None
    # the document is still refused as the document's fault when it is broken
    assert_problem(sign(api_world, seal, key, pdf=truncated), 400)


def _sign_on_a_copy(
    api_world: ApiWorld,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    environ: dict[str, str],
    damage: Callable[[Path], None] = lambda data_dir: None,
) -> tuple[Any, Path]:
    """Seal through a fresh app on a copy of the data directory, after ``damage`` to it;
    the answer and the copy's path (which must not show in the answer)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from sealsvc.config import Settings

    key = api_world.api_key(department=DEPT, scopes={"sign"})
    copy = tmp_path / "data"
    shutil.copytree(api_world.settings.data_dir, copy)
    damage(copy)
    app = create_app(Settings.load(copy, environ))
    seal = api_world.demo_seal(DEPT, "rsa").code
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.ERROR, logger="sealsvc.api"),
    ):
        response = client.post(
            f"/v1/seals/{seal}/sign",
            content=chinese_pdf(1),
            headers={**bearer(key), "Content-Type": "application/pdf"},
        )
    app.state.context.close()
    return response, copy


def test_a_corrupt_key_store_file_is_500_with_an_id(
    api_world: ApiWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    response, copy = _sign_on_a_copy(
        api_world,
        tmp_path,
        caplog,
        {"SEALSVC_PASSPHRASE": api_world.settings.passphrase},
        lambda data_dir: (data_dir / "keys" / "keystore.json").write_text("{not json"),
    )
    body = assert_problem(response, 500)
    assert str(copy) not in response.text and "keystore" not in response.text
    assert any(body["id"] in r.getMessage() and r.exc_info for r in caplog.records)


# --------------------------------------------------------------------------- placement


@pytest.mark.parametrize(("x", "y"), [(300, 100), (100, 400), (5, 100), (100, 10)])
def test_stamp_outside_the_page_is_400_naming_x_mm(api_world: ApiWorld, x: int, y: int) -> None:
    """A4 is 210 × 297 mm: each point lies outside it, or too near its edge for the stamp."""
    seal = api_world.demo_seal(DEPT, "rsa").code
    key = api_world.api_key(department=DEPT, scopes={"sign"})
    response = sign(api_world, seal, key, params={"x_mm": x, "y_mm": y})
    detail = assert_problem(response, 400)["detail"]
    assert "x_mm and y_mm" in detail and "210 × 297 mm" in detail, detail
    assert "--" not in detail


def test_a_stamp_near_the_corner_inside_the_page_is_sealed(api_world: ApiWorld) -> None:
    seal = api_world.demo_seal(DEPT, "rsa").code
    key = api_world.api_key(department=DEPT, scopes={"sign"})
    inside = sign(api_world, seal, key, params={"x_mm": 22, "y_mm": 275, "level": "B-B"})
    assert inside.status_code == 200, inside.text


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"x_mm": 10, "y_mm": 10, "anchor": "（盖章）"}, ["x_mm and y_mm", "anchor", "field"]),
        ({"x_mm": 100}, ["x_mm and y_mm"]),
        ({"page": 9}, ["page"]),
    ],
)
def test_http_errors_name_http_parameters(api_world: ApiWorld, params: dict, names) -> None:
    seal = api_world.demo_seal(DEPT, "rsa").code
    key = api_world.api_key(department=DEPT, scopes={"sign"})
    detail = assert_problem(sign(api_world, seal, key, params=params), 400)["detail"]
    assert "--" not in detail, detail
    for name in names:
        assert name in detail, detail


def test_openapi_explains_x_mm_and_y_mm(api_world: ApiWorld) -> None:
    operation = api_world.client.get("/openapi.json").json()["paths"]["/v1/seals/{code}/sign"][
        "post"
    ]
    described = {p["name"]: p.get("description", "") for p in operation["parameters"]}
    for name in ("x_mm", "y_mm"):
        text = described[name]
        assert "centre" in text and "lower-left corner" in text and "millimetres" in text
    assert "500" in operation["responses"] and "429" in operation["responses"]


def test_licence_errors_name_no_cli_flags(api_world: ApiWorld) -> None:
    seal = api_world.demo_seal("ZZ-D26", "rsa").code  # the 市场监督管理局 issues 营业执照
    key = api_world.api_key(department="ZZ-D26", scopes={"licence"})
    issued = api_world.client.post("/v1/licences", json=_licence_request(seal), headers=bearer(key))
    assert issued.status_code == 201, issued.text
    number = issued.json()["number"]
    blank = api_world.client.post(
        f"/v1/licences/{number}/annul",
        json={"kind": "cancelled", "reason": "   "},
        headers=bearer(key),
    )
    detail = assert_problem(blank, 400)["detail"]
    assert "reason" in detail and "--" not in detail


def test_a_missing_passphrase_is_503_with_an_id(
    api_world: ApiWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # neither SEALSVC_PASSPHRASE nor SEALSVC_PASSPHRASE_FILE
    response, _ = _sign_on_a_copy(api_world, tmp_path, caplog, {})
    body = assert_problem(response, 503)
    assert body["type"].endswith("/not-ready") and "PASSPHRASE" not in response.text
    assert any(body["id"] in r.getMessage() and r.exc_info for r in caplog.records)


def test_licence_rate_limit_is_audited_without_a_seal(api_world: ApiWorld) -> None:
    slow = api_world.api_key(department=DEPT, scopes={"licence"}, rate=1)
    first = api_world.client.post("/v1/licences", json={}, headers=bearer(slow))
    assert_problem(first, 422)  # took the one token; the body is checked after the key
    limited = api_world.client.post("/v1/licences", json={}, headers=bearer(slow))
    assert_problem(limited, 429)
    assert int(limited.headers["Retry-After"]) >= 1
    (entry,) = [e for e in all_refusals(api_world) if e["details"]["api_key"] == slow.split("_")[1]]
    assert_refusal(entry, slow, "rate-limited", None)
    reads = api_world.api_key(department=DEPT, scopes={"licence"}, rate=1)
    for _ in range(2):  # reading records seals nothing: its 429 is not a refused seal use
        api_world.client.get("/v1/licences/NOPE", headers=bearer(reads))
    assert not [
        e for e in all_refusals(api_world) if e["details"]["api_key"] == reads.split("_")[1]
    ]


def test_a_refusal_outside_the_api_is_audited_too(api_world: ApiWorld) -> None:
    """``Sealer.seal`` itself audits a seal that may not seal: ``sealctl sign`` and the
    licence pipeline go through it without the API's checks."""
    from sealsvc.errors import SealNotUsable
    from sealsvc.pades import Level, Placement, SealOptions
    from sealsvc.sealing import Sealer

    suspended = api_world.issue_seal(DEPT, "财务专用章")
    seals.suspend(api_world.context, suspended, actor="test:api")
    options = SealOptions(level=Level.B_B, placement=Placement(invisible=True))
    with pytest.raises(SealNotUsable):
        Sealer(api_world.context).seal(chinese_pdf(1), suspended, options, actor="cli:tester")
    (entry,) = api_world.audit_entries(suspended, "seal.refused")
    assert entry["actor"] == "cli:tester" and entry["details"]["refusal"] == "seal-not-usable"
    assert "suspended" in entry["details"]["reason"]


def test_a_real_server_logs_the_fault_id_with_its_traceback(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``sealctl serve``: the id in the 500 is in the server's log with the traceback."""
    import httpx
    from helpers.server import running_server

    with running_server(tmp_path_factory.mktemp("fault") / "data") as server:
        seal = server.demo_seal("ZZ-D14", "rsa").code
        shown = server.sealctl("seal", "show", seal, "--json")
        assert shown.returncode == 0, shown.stderr
        for key_file in (server.data_dir / "keys").glob("*.key"):
            if key_file.stem in shown.stdout:
                key_file.unlink()
                break
        else:
            pytest.fail(f"no key file of seal {seal} in {server.data_dir / 'keys'}")
        response = httpx.post(
            f"{server.url}/v1/seals/{seal}/sign",
            content=chinese_pdf(1),
            headers={**bearer(server.admin_token), "Content-Type": "application/pdf"},
            timeout=60,
        )
        body = assert_problem(response, 500)
        assert str(server.data_dir) not in response.text
        log = server.log.read_text()
    line = next(line for line in log.splitlines() if body["id"] in line)
    assert "KeyStoreError" in line
    assert "Traceback" in log.split(body["id"], 1)[1]
