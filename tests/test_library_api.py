"""The licence library over the real API (issue 21 §1): 归集, 共享/用证, 核验, 亮证, feed.

Runs against the bootstrapped app of ``api_fixtures`` (real CAs, seals, SQLite).  Licences
"sealed elsewhere" are real PAdES B-LTA PDFs of the independent test PKI of
:mod:`pki_fixtures` (深圳, RSA), made with :mod:`verify_corpus`; the library trusts that
PKI's root only where a test says so.  A foreign licence of an untrusted PKI (the ECDSA
test hierarchy) must be refused with the verification report.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers.api_calls import bearer
from helpers.pdf_fixtures import chinese_pdf
from helpers.verify_corpus import services_for
from sqlalchemy import select, text

from api.problems import PROBLEM_JSON
from pki.clock import now_utc
from sealsvc import audit
from sealsvc.library import grants, showcodes, trust
from sealsvc.library.usage import usage_report
from sealsvc.licences.identifier import LicenceIdentifier
from sealsvc.models import AuditEntry, CollectedLicence
from sealsvc.pades import Level

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld

pytest_plugins = ("helpers.api_fixtures",)  # api_world

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
MARKET = "ZZ-D26"  # 郑州市市场监督管理局: issues 营业执照 here
CONSTRUCTION = "ZZ-D14"  # 郑州市城乡建设局: issues its own licences elsewhere, pushes them
CONSTRUCTION_CODE = "11410100EXAMPL143L"
TAX = "ZZ-D20"  # a department that uses licences
BUSINESS_LICENCE = "11100000EXAMPLE03W001"  # the business_licence template's type
WORKER_PERMIT = CONSTRUCTION_CODE + "901"  # 建筑施工特种作业操作资格证, issued elsewhere
PERSON_ID = "11010519491231002X"  # GB 11643's own example number
PURPOSE = {"purpose": "办理纳税人登记核验营业执照", "item_code": "11410100TAX-0001"}
ACTOR = "test:library"


def _example(name: str) -> dict:
    return json.loads((TEMPLATES / name / "example.json").read_text(encoding="utf-8"))


def _identifier(number: str, version: int = 1) -> str:
    return str(
        LicenceIdentifier.for_licence(
            type_code=WORKER_PERMIT, issuer_code=CONSTRUCTION_CODE, number=number, version=version
        )
    )


def _metadata(number: str, version: int = 1, **overrides: str) -> dict[str, str]:
    return {
        "name": "建筑施工特种作业操作资格证",
        "identifier": _identifier(number, version),
        "number": number,
        "issuer_name": "郑州市城乡建设局",
        "issue_date": "2024-05-20",
        "holder_name": "张三",
        "holder_code": PERSON_ID,
        "holder_code_type": "居民身份证",
        "valid_from": "2024-05-20",
        "valid_until": "2030-05-19",
        **overrides,
    }


def _foreign_pdf(family: str = "rsa") -> bytes:
    """A licence sealed by another PKI (B-LT: it carries its own validation data)."""
    return services_for(family).seal(chinese_pdf(1), Level.B_LT)


def _collect(world: ApiWorld, token: str, pdf: bytes, metadata: dict, face: dict | None = None):
    fields = {"metadata": json.dumps(metadata, ensure_ascii=False)}
    if face is not None:
        fields["face"] = json.dumps(face, ensure_ascii=False)
    return world.client.post(
        "/v1/library/licences",
        files={"file": ("licence.pdf", pdf, "application/pdf")},
        data=fields,
        headers=bearer(token),
    )


def _pdfsig(pdf: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        return subprocess.run(
            ["pdfsig", handle.name], capture_output=True, text=True, check=False
        ).stdout


def _audit(world: ApiWorld, action: str) -> list[dict]:
    with world.context.database.session(read_only=True) as session:
        return [audit.entry_to_dict(e) for e in audit.query(session, action=action)]


@pytest.fixture(scope="module")
def tokens(api_world: ApiWorld) -> dict[str, str]:
    return {
        "market": api_world.api_key(department=MARKET, scopes={"licence"}),
        "construction": api_world.api_key(department=CONSTRUCTION, scopes={"library"}),
        "tax": api_world.api_key(department=TAX, scopes={"library"}),
    }


@pytest.fixture(scope="module")
def trusted(api_world: ApiWorld) -> None:
    """The library trusts the 深圳 RSA test root (and only it)."""
    root = services_for("rsa").hierarchy.root.dump()
    with api_world.context.database.session() as session:
        trust.add_roots(session, root, actor=ACTOR)


@pytest.fixture(scope="module")
def business_licence(api_world: ApiWorld, tokens: dict[str, str]) -> dict:
    """A 营业执照 sealsvc issued: in the library without being copied."""
    response = api_world.client.post(
        "/v1/licences",
        json={
            "template": "business_licence",
            "data": _example("business_licence"),
            "seals": [api_world.demo_seal(MARKET).code],
            "level": "B-T",
        },
        headers=bearer(tokens["market"]),
    )
    assert response.status_code == 201, response.text
    assert response.json()["identifier"]
    return response.json()


@pytest.fixture(scope="module")
def collected(api_world: ApiWorld, tokens: dict[str, str], trusted: None) -> dict:
    pdf = _foreign_pdf()
    response = _collect(
        api_world,
        tokens["construction"],
        pdf,
        _metadata("ZJ2024-0001"),
        {"操作类别": "塔式起重机司机"},
    )
    assert response.status_code == 201, response.text
    return {**response.json(), "pdf": pdf}


def _grant(world: ApiWorld, department: str, type_code: str) -> None:
    with world.context.database.session() as session:
        grants.grant(session, department, type_code, actor=ACTOR)


# --- 归集 --------------------------------------------------------------------------------------


def test_a_foreign_licence_that_does_not_verify_is_refused_with_the_report(
    api_world: ApiWorld, tokens: dict[str, str], trusted: None
) -> None:
    """The ECDSA test PKI is not trusted by the library: INDETERMINATE, 422, the report."""
    response = _collect(
        api_world, tokens["construction"], _foreign_pdf("ecdsa"), _metadata("ZJ2024-0099")
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["report"]["verdict"] == "INDETERMINATE"
    assert problem["report"]["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    assert problem["report"]["signatures"][0]["chain"]["trusted"] is False
    assert "does not verify against the library's trust anchors" in problem["detail"]
    with api_world.context.database.session(read_only=True) as session:
        assert (
            session.scalar(select(CollectedLicence).where(CollectedLicence.number == "ZJ2024-0099"))
            is None
        )
    assert not list((api_world.settings.data_dir / "licences").glob("*collected*"))


def test_a_tampered_licence_is_refused_total_failed(
    api_world: ApiWorld, tokens: dict[str, str], trusted: None
) -> None:
    pdf = bytearray(_foreign_pdf())
    at = pdf.index(b"BT") if b"BT" in pdf else len(pdf) // 3
    pdf[at + 1 : at + 2] = b"X"  # inside the signed range
    response = _collect(api_world, tokens["construction"], bytes(pdf), _metadata("ZJ2024-0098"))
    assert response.status_code == 422, response.text
    assert response.json()["report"]["verdict"] != "TOTAL_PASSED"


def test_the_services_own_roots_are_not_the_librarys(
    api_world: ApiWorld, tokens: dict[str, str], trusted: None
) -> None:
    """A PDF sealed by sealsvc's own seal verifies for citizens, but the library trusts
    only the roots configured for it: pushed as a foreign licence, it is refused."""
    signer = api_world.api_key(department=MARKET, scopes={"sign"})
    sealed = api_world.client.post(
        f"/v1/seals/{api_world.demo_seal(MARKET).code}/sign",
        files={"file": ("a.pdf", chinese_pdf(1), "application/pdf")},
        data={"level": "B-LT", "invisible": "true"},
        headers=bearer(signer),
    )
    assert sealed.status_code == 200, sealed.text
    public = api_world.client.post(
        "/v1/verify", files={"file": ("a.pdf", sealed.content, "application/pdf")}
    )
    assert public.json()["verdict"] == "TOTAL_PASSED"
    response = _collect(api_world, api_world.admin_token, sealed.content, _metadata("ZJ2024-0095"))
    assert response.status_code == 422, response.text
    assert response.json()["report"]["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"


def test_collect_stores_the_licence_with_its_identifier(
    api_world: ApiWorld, collected: dict
) -> None:
    assert collected["source"] == "collected" and collected["status"] == "valid"
    assert collected["identifier"] == _identifier("ZJ2024-0001")
    assert collected["holder_code"] == "1101**********002X"
    assert collected["face"] == {"操作类别": "塔式起重机司机"}
    with api_world.context.database.session(read_only=True) as session:
        row = session.scalar(
            select(CollectedLicence).where(CollectedLicence.identifier == collected["identifier"])
        )
        assert row.document_sha256 == hashlib.sha256(collected["pdf"]).hexdigest()
    stored = api_world.settings.data_dir / "licences" / row.file_name
    assert stored.read_bytes() == collected["pdf"]
    entry = _audit(api_world, "library.collect")[-1]
    assert entry["details"]["identifier"] == collected["identifier"]
    assert entry["department_code"] == CONSTRUCTION and entry["details"]["client"]


def test_a_department_pushes_only_licences_it_issued(
    api_world: ApiWorld, tokens: dict[str, str], trusted: None
) -> None:
    metadata = _metadata("ZJ2024-0097")
    other = str(
        LicenceIdentifier.for_licence(
            type_code=WORKER_PERMIT,
            issuer_code="11410100EXAMPL266M",  # the market regulator's code
            number="ZJ2024-0097",
            version=1,
        )
    )
    metadata["identifier"] = other
    response = _collect(api_world, tokens["construction"], _foreign_pdf(), metadata)
    assert response.status_code == 403, response.text


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"identifier": "1.2.156.3005.2.bogus"}, "not a GB/T 36904 licence identifier"),
        ({"holder_code": "12345"}, "neither a valid 统一社会信用代码"),
        ({"valid_until": "2020-01-01"}, "before valid_from"),
        ({"type_code": BUSINESS_LICENCE}, "differs from the identifier"),
    ],
)
def test_bad_metadata_is_a_clear_400(
    api_world: ApiWorld, tokens: dict[str, str], trusted: None, overrides: dict, needle: str
) -> None:
    response = _collect(
        api_world,
        tokens["construction"],
        b"%PDF-1.7 not read",
        _metadata("ZJ2024-0096", **overrides),
    )
    assert response.status_code == 400, response.text
    assert needle in response.json()["detail"]
    assert "11010519491231002X" not in response.text


# --- 共享 / 用证 -------------------------------------------------------------------------------


def _lookup(world: ApiWorld, token: str, holder: str, type_code: str, **purpose: str):
    body = {"holder_code": holder, "type_code": type_code, **purpose}
    return world.client.post("/v1/library/lookup", json=body, headers=bearer(token))


def test_a_department_without_a_grant_gets_403_and_the_refusal_is_audited(
    api_world: ApiWorld, tokens: dict[str, str], business_licence: dict
) -> None:
    response = _lookup(
        api_world, tokens["construction"], business_licence["data"]["uscc"], BUSINESS_LICENCE,
        **PURPOSE,
    )  # fmt: skip
    assert response.status_code == 403, response.text
    assert "not granted licence type" in response.json()["detail"]
    refused = _audit(api_world, "library.refused")[-1]
    assert refused["department_code"] == CONSTRUCTION
    assert refused["details"]["refused"] == "library.lookup"
    assert refused["details"]["purpose"] == PURPOSE["purpose"]
    file = api_world.client.get(
        f"/v1/library/licences/{business_licence['identifier']}/file",
        params=PURPOSE,
        headers=bearer(tokens["construction"]),
    )
    assert file.status_code == 403


def test_a_lookup_without_a_purpose_is_refused(
    api_world: ApiWorld, tokens: dict[str, str], business_licence: dict
) -> None:
    _grant(api_world, TAX, BUSINESS_LICENCE)
    uscc = business_licence["data"]["uscc"]
    before = len(_audit(api_world, "library.lookup"))
    missing_parts = (
        {},
        {"purpose": PURPOSE["purpose"]},
        {"item_code": "X1"},
        {"purpose": " ", "item_code": "X1"},
    )
    for missing in missing_parts:
        response = _lookup(api_world, tokens["tax"], uscc, BUSINESS_LICENCE, **missing)
        assert response.status_code == 400, response.text
        assert "required" in response.json()["detail"]
    identifier = business_licence["identifier"]
    for path in (f"/v1/library/licences/{identifier}", f"/v1/library/licences/{identifier}/file"):
        response = api_world.client.get(path, headers=bearer(tokens["tax"]))
        assert response.status_code == 400 and "用证事由" in response.json()["detail"]
    assert len(_audit(api_world, "library.lookup")) == before


def test_lookup_finds_an_issued_licence_and_the_purpose_lands_in_the_audit_log(
    api_world: ApiWorld, tokens: dict[str, str], business_licence: dict
) -> None:
    _grant(api_world, TAX, BUSINESS_LICENCE)
    uscc = business_licence["data"]["uscc"]
    response = _lookup(api_world, tokens["tax"], uscc, BUSINESS_LICENCE, **PURPOSE)
    assert response.status_code == 200, response.text
    (entry,) = response.json()["licences"]
    assert entry["source"] == "issued"
    assert entry["identifier"] == business_licence["identifier"]
    assert entry["holder_code"] == uscc and entry["status"] == "valid"
    assert entry["face"]["名称"] == business_licence["data"]["name"]
    assert entry["valid_until"] == "长期"
    logged = _audit(api_world, "library.lookup")[-1]
    assert logged["department_code"] == TAX
    assert logged["actor"] == "api:" + tokens["tax"].split("_")[1]
    assert logged["details"]["purpose"] == PURPOSE["purpose"]
    assert logged["details"]["item_code"] == PURPOSE["item_code"]
    assert logged["details"]["api_key"] == tokens["tax"].split("_")[1]
    assert logged["details"]["client"] == "testclient"
    assert logged["details"]["identifiers"] == [business_licence["identifier"]]

    file = api_world.client.get(entry["file_url"].split("127.0.0.1:8000")[-1], params=PURPOSE,
                                headers=bearer(tokens["tax"]))  # fmt: skip
    assert file.status_code == 200 and file.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(file.content).hexdigest() == business_licence["document_sha256"]
    assert _audit(api_world, "library.file")[-1]["details"]["purpose"] == PURPOSE["purpose"]


def test_lookup_by_id_number_finds_a_collected_licence_and_never_keeps_the_number(
    api_world: ApiWorld, tokens: dict[str, str], collected: dict
) -> None:
    _grant(api_world, TAX, WORKER_PERMIT)
    response = _lookup(api_world, tokens["tax"], PERSON_ID.lower(), WORKER_PERMIT, **PURPOSE)
    assert response.status_code == 200, response.text
    (entry,) = response.json()["licences"]
    assert entry["identifier"] == collected["identifier"]
    assert entry["holder_code"] == "1101**********002X"
    file = api_world.client.get(
        f"/v1/library/licences/{entry['identifier']}/file",
        params=PURPOSE,
        headers=bearer(tokens["tax"]),
    )
    assert file.content == collected["pdf"]
    assert "Signature is Valid." in _pdfsig(file.content)  # poppler agrees the seal holds
    # the ID number is nowhere in the database: not in the audit log, not in the rows
    with api_world.context.database.session(read_only=True) as session:
        details = " ".join(session.scalars(select(AuditEntry.details)))
        holders = " ".join(session.scalars(select(CollectedLicence.holder_key)))
        dump = session.execute(text("SELECT * FROM collected_licences")).all()
    assert PERSON_ID not in details and PERSON_ID not in holders
    assert PERSON_ID not in repr(dump) and PERSON_ID[:-1] not in repr(dump)


def test_a_revoked_grant_takes_effect_at_once(
    api_world: ApiWorld, tokens: dict[str, str], collected: dict
) -> None:
    _grant(api_world, TAX, WORKER_PERMIT)
    assert _lookup(api_world, tokens["tax"], PERSON_ID, WORKER_PERMIT, **PURPOSE).status_code == 200
    with api_world.context.database.session() as session:
        grants.revoke(session, TAX, WORKER_PERMIT, actor=ACTOR)
    try:
        response = _lookup(api_world, tokens["tax"], PERSON_ID, WORKER_PERMIT, **PURPOSE)
        assert response.status_code == 403, response.text
        check = api_world.client.post(
            "/v1/library/check",
            json={"identifier": collected["identifier"]},
            headers=bearer(tokens["tax"]),
        )
        assert check.status_code == 403
    finally:
        _grant(api_world, TAX, WORKER_PERMIT)


# --- 核验 and status changes -------------------------------------------------------------------


def _check(world: ApiWorld, token: str, **body: str) -> dict:
    response = world.client.post("/v1/library/check", json=body, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert "face" not in response.json() and "file_url" not in response.json()
    return response.json()


def _feed(world: ApiWorld, token: str, since: int = 0, limit: int = 100) -> dict:
    response = world.client.get(
        "/v1/library/changes", params={"since": since, "limit": limit}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_annulment_shows_in_check_and_feed_at_once(
    api_world: ApiWorld, tokens: dict[str, str], business_licence: dict
) -> None:
    _grant(api_world, TAX, BUSINESS_LICENCE)
    identifier, number = business_licence["identifier"], business_licence["number"]
    assert _check(api_world, tokens["tax"], identifier=identifier)["status"] == "valid"
    cursor = _feed(api_world, tokens["tax"])["next"]
    annulled = api_world.client.post(
        f"/v1/licences/{number}/annul",
        json={"kind": "revoked", "reason": "虚报注册资本"},
        headers=bearer(tokens["market"]),
    )
    assert annulled.status_code == 200, annulled.text
    status = _check(api_world, tokens["tax"], identifier=identifier)
    assert (status["status"], status["annul_kind"], status["status_reason"]) == (
        "annulled", "revoked", "虚报注册资本",
    )  # fmt: skip
    by_number = _check(
        api_world, tokens["tax"], number=number, holder_code=business_licence["data"]["uscc"]
    )
    assert by_number["status"] == "annulled"
    page = _feed(api_world, tokens["tax"], since=cursor)
    assert [(c["event"], c["identifier"], c["annul_kind"]) for c in page["changes"]] == [
        ("annulled", identifier, "revoked")
    ]
    assert page["next"] > cursor


def test_check_by_number_needs_the_right_holder(
    api_world: ApiWorld, tokens: dict[str, str], collected: dict
) -> None:
    _grant(api_world, TAX, WORKER_PERMIT)
    ok = _check(api_world, tokens["tax"], number="ZJ2024-0001", holder_code=PERSON_ID)
    assert ok["identifier"] == collected["identifier"]
    wrong = api_world.client.post(
        "/v1/library/check",
        json={"number": "ZJ2024-0001", "holder_code": "110101199003074514"},
        headers=bearer(tokens["tax"]),
    )
    assert wrong.status_code == 404


def test_a_new_version_supersedes_and_annulment_of_a_collected_licence(
    api_world: ApiWorld, tokens: dict[str, str], trusted: None
) -> None:
    _grant(api_world, TAX, WORKER_PERMIT)
    cursor = _feed(api_world, tokens["tax"])["next"]
    first = _collect(api_world, tokens["construction"], _foreign_pdf(), _metadata("ZJ2024-0002"))
    second = _collect(
        api_world, tokens["construction"], _foreign_pdf(), _metadata("ZJ2024-0002", version=2)
    )
    assert first.status_code == second.status_code == 201, second.text
    old, new = first.json()["identifier"], second.json()["identifier"]
    assert _check(api_world, tokens["tax"], identifier=old)["status"] == "superseded"
    assert _check(api_world, tokens["tax"], identifier=new)["status"] == "valid"
    annul = api_world.client.post(
        f"/v1/library/licences/{new}/annul",
        json={"kind": "cancelled", "reason": "持证人申请注销"},
        headers=bearer(tokens["construction"]),
    )
    assert annul.status_code == 200, annul.text
    assert _check(api_world, tokens["tax"], identifier=new)["status"] == "annulled"
    events = [(c["event"], c["identifier"], c["superseded"]) for c in
              _feed(api_world, tokens["tax"], since=cursor)["changes"]]  # fmt: skip
    assert events == [
        ("collected", old, []),
        ("collected", new, [old]),
        ("annulled", new, []),
    ]
    again = api_world.client.post(
        f"/v1/library/licences/{new}/annul",
        json={"kind": "cancelled", "reason": "again"},
        headers=bearer(tokens["construction"]),
    )
    assert again.status_code == 409


def test_an_expired_licence_says_expired(
    api_world: ApiWorld, tokens: dict[str, str], trusted: None
) -> None:
    _grant(api_world, TAX, WORKER_PERMIT)
    response = _collect(
        api_world,
        tokens["construction"],
        _foreign_pdf(),
        _metadata("ZJ2019-0001", valid_from="2019-01-01", valid_until="2024-12-31"),
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "expired"
    status = _check(api_world, tokens["tax"], identifier=response.json()["identifier"])
    assert status["status"] == "expired"


def test_the_feed_pages_with_a_growing_cursor_and_only_granted_types(
    api_world: ApiWorld, tokens: dict[str, str], business_licence: dict, collected: dict
) -> None:
    admin = _feed(api_world, api_world.admin_token)
    everything = admin["changes"]
    assert {c["identifier"] for c in everything} >= {
        business_licence["identifier"], collected["identifier"],
    }  # fmt: skip
    cursors, since = [], 0
    while True:
        page = _feed(api_world, api_world.admin_token, since=since, limit=2)
        cursors += [c["cursor"] for c in page["changes"]]
        assert page["next"] >= since
        if not page["more"]:
            break
        since = page["next"]
    assert cursors == [c["cursor"] for c in everything] and cursors == sorted(set(cursors))
    nobody = api_world.api_key(department="ZZ-D14", scopes={"library"})
    types = {c["type_code"] for c in _feed(api_world, nobody)["changes"]}
    assert types == set()
    assert _feed(api_world, tokens["tax"], since=10**9)["changes"] == []
    bad = api_world.client.get(
        "/v1/library/changes", params={"since": -1}, headers=bearer(tokens["tax"])
    )
    assert bad.status_code == 422


def test_library_routes_need_the_library_scope(api_world: ApiWorld, tokens: dict[str, str]) -> None:
    body = {"holder_code": PERSON_ID, "type_code": WORKER_PERMIT, **PURPOSE}
    assert api_world.client.post("/v1/library/lookup", json=body).status_code == 401
    response = api_world.client.post(
        "/v1/library/lookup", json=body, headers=bearer(tokens["market"])
    )
    assert response.status_code == 403 and "'library' scope" in response.json()["detail"]


# --- 亮证 -------------------------------------------------------------------------------------


def _show_code(world: ApiWorld, token: str, identifier: str, holder: str):
    return world.client.post(
        "/v1/library/show-codes",
        json={"identifier": identifier, "holder_code": holder},
        headers=bearer(token),
    )


def _show(world: ApiWorld, holder: str, code: str, file: bool = False):
    return world.client.post(
        "/v1/library/show", json={"holder_code": holder, "code": code, "file": file}
    )


def test_a_show_code_works_once(
    api_world: ApiWorld, tokens: dict[str, str], collected: dict
) -> None:
    _grant(api_world, TAX, WORKER_PERMIT)
    issued = _show_code(api_world, tokens["tax"], collected["identifier"], PERSON_ID)
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    assert len(code) == 6 and code.isdigit()
    shown = _show(api_world, PERSON_ID, code, file=True)
    assert shown.status_code == 200, shown.text
    assert shown.content == collected["pdf"]
    assert shown.headers["x-licence-identifier"] == collected["identifier"]
    again = _show(api_world, PERSON_ID, code)
    assert again.status_code == 403
    entry = _audit(api_world, "library.show")[-1]
    assert entry["details"]["identifier"] == collected["identifier"]
    assert entry["details"]["issued_by"] == tokens["tax"].split("_")[1]
    assert code not in json.dumps(_audit(api_world, "library.show_code")[-1])


def test_a_show_code_is_only_for_the_holders_own_licence(
    api_world: ApiWorld, tokens: dict[str, str], collected: dict
) -> None:
    _grant(api_world, TAX, WORKER_PERMIT)
    other = _show_code(api_world, tokens["tax"], collected["identifier"], "110101199003074514")
    assert other.status_code == 403


def test_a_show_code_expires_after_five_minutes(
    api_world: ApiWorld,
    tokens: dict[str, str],
    collected: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _grant(api_world, TAX, WORKER_PERMIT)
    start = now_utc()
    monkeypatch.setattr(showcodes, "now_utc", lambda: start)
    code = _show_code(api_world, tokens["tax"], collected["identifier"], PERSON_ID).json()["code"]
    monkeypatch.setattr(showcodes, "now_utc", lambda: start + timedelta(minutes=5, seconds=1))
    assert _show(api_world, PERSON_ID, code).status_code == 403
    monkeypatch.setattr(showcodes, "now_utc", lambda: start + timedelta(minutes=4, seconds=59))
    face = _show(api_world, PERSON_ID, code)
    assert face.status_code == 200 and face.json()["identifier"] == collected["identifier"]


def test_wrong_codes_lock_the_holders_live_codes(
    api_world: ApiWorld, tokens: dict[str, str], collected: dict
) -> None:
    _grant(api_world, TAX, WORKER_PERMIT)
    code = _show_code(api_world, tokens["tax"], collected["identifier"], PERSON_ID).json()["code"]
    wrong = [f"{(int(code) + n) % 10**6:06d}" for n in range(1, showcodes.MAX_FAILURES + 1)]
    for guess in wrong:
        assert _show(api_world, PERSON_ID, guess).status_code == 403
    locked = _show(api_world, PERSON_ID, code)
    assert locked.status_code == 403, "the right code must be locked after the failures"
    refusals = _audit(api_world, "library.show.refused")
    assert len(refusals) >= showcodes.MAX_FAILURES and refusals[-1]["details"]["locked"]
    assert _show(api_world, PERSON_ID, "12ab56").status_code == 400


# --- usage ------------------------------------------------------------------------------------


def test_usage_report_counts_per_department_and_purpose(
    api_world: ApiWorld, tokens: dict[str, str], collected: dict
) -> None:
    _grant(api_world, TAX, WORKER_PERMIT)
    other = {"purpose": "特种作业人员资格核查", "item_code": "11410100JS-0002"}
    for _ in range(2):
        assert (
            _lookup(api_world, tokens["tax"], PERSON_ID, WORKER_PERMIT, **other).status_code == 200
        )
    with api_world.context.database.session(read_only=True) as session:
        rows = usage_report(session, department=TAX)
    row = next(r for r in rows if r["purpose"] == other["purpose"])
    assert (row["department"], row["item_code"], row["lookups"]) == (TAX, other["item_code"], 2)
    assert all(r["department"] == TAX for r in rows)
