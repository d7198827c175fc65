"""The issuer printed on a licence is the department that seals it (issue #14 §2).

Real data directory, seals, SQLite and PDFs: a licence naming another department, or
sealed with a kind of seal its template does not allow, is refused before anything is
sealed or stored (422 over HTTP, exit 1 from ``sealctl``) and the attempt is audited as
``licence.refused``; an absent issuer is filled in with the registered name(s) of the
sealing department(s), which the PDF, its metadata and the QR page then show.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import Result
from sqlalchemy import func, select

from api.problems import PROBLEM_JSON
from sealsvc import audit, departments, seals
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput
from sealsvc.licences import (
    get_licence_pdf,
    issue_licence,
    licence_status,
    load_template,
    reissue_licence,
)
from sealsvc.licences.issuer import IssuerRefused
from sealsvc.models import Licence
from sealsvc.pades import Level

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld

pytest_plugins = ("helpers.seal_fixtures", "helpers.api_fixtures")  # sqlite_seal_context, api_world

ACTOR = "test:issuer"
MARKET = "郑州市市场监督管理局"
FTZ = "中国（河南）自由贸易试验区郑州片区管理委员会"
CONSTRUCTION = "郑州市城乡建设局"


def _seal(context: ServiceContext, department: str, kind: str, algorithm: str = "rsa") -> str:
    view = seals.issue(context, department=department, kind=kind, algorithm=algorithm, actor=ACTOR)
    return view.code


def _without_issuer(template: str) -> dict[str, str]:
    return {k: v for k, v in load_template(template).example.items() if k != "authority"}


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "licence.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-raw", path, "-"], capture_output=True, text=True)
    return re.sub(r"\s+", "", text.stdout)


def _pdf_author(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", path], capture_output=True, text=True, check=True).stdout
    return next(
        line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Author:")
    )


def _licences(context: ServiceContext) -> int:
    with context.database.session(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(Licence))


def _audit(context: ServiceContext) -> list[dict]:
    with context.database.session(read_only=True) as session:
        return [audit.entry_to_dict(e) for e in audit.query(session, limit=1000)]


def _assert_refused_and_nothing_issued(
    context: ServiceContext, before: list[dict], field: str, seal_codes: list[str]
) -> dict:
    """No record, no file, no seal use, no issue entry: just one ``licence.refused``."""
    assert _licences(context) == 0
    directory = context.settings.data_dir / "licences"
    assert not directory.exists() or not any(directory.iterdir())
    new = _audit(context)[len(before) :]
    assert [e["action"] for e in new] == ["licence.refused"], new
    entry = new[0]
    assert entry["details"]["field"] == field
    assert entry["details"]["seal_codes"] == seal_codes
    assert entry["seal_code"] == seal_codes[0]
    return entry


def _assert_refused_and_nothing_issued_since(
    context: ServiceContext, before: list[dict], existing: str
) -> None:
    new = _audit(context)[len(before) :]
    assert [e["action"] for e in new] == ["licence.refused"]
    with context.database.session(read_only=True) as session:
        assert set(session.scalars(select(Licence.number))) == {existing}


# --- the pipeline -----------------------------------------------------------------------------


def test_a_foreign_issuer_is_refused_naming_the_field(sqlite_seal_context: ServiceContext) -> None:
    context = sqlite_seal_context
    code = _seal(context, MARKET, "公章")
    template = load_template("business_licence")
    before = _audit(context)
    data = {**template.example, "authority": CONSTRUCTION}
    with pytest.raises(IssuerRefused) as refused:
        issue_licence(context, template, data, [code], actor=ACTOR, level=Level.B_B)
    assert refused.value.status == 422 and refused.value.location == ("data", "authority")
    message = str(refused.value)
    assert "登记机关 (authority)" in message and MARKET in message and CONSTRUCTION in message
    entry = _assert_refused_and_nothing_issued(context, before, "data.authority", [code])
    assert entry["actor"] == ACTOR and entry["department_code"] == "ZZ-D26"


def test_a_seal_kind_the_template_does_not_allow_is_refused(
    sqlite_seal_context: ServiceContext,
) -> None:
    """A 合同专用章 of the very department the permit names still may not issue it."""
    context = sqlite_seal_context
    contract = _seal(context, CONSTRUCTION, "合同专用章")
    template = load_template("construction_permit")
    before = _audit(context)
    with pytest.raises(IssuerRefused, match=r"seals\[0\]: .*合同专用章.*公章 or 行政审批专用章"):
        issue_licence(context, template, template.example, [contract], actor=ACTOR)
    _assert_refused_and_nothing_issued(context, before, "seals.0", [contract])


def test_an_absent_issuer_is_filled_in_and_shown_everywhere(
    sqlite_seal_context: ServiceContext, tmp_path: Path
) -> None:
    context = sqlite_seal_context
    code = _seal(context, FTZ, "行政审批专用章", "sm2")  # 一枚印章管审批: the FTZ registers firms
    record = issue_licence(context, "business_licence", _without_issuer("business_licence"),
                           [code], actor=ACTOR, level=Level.B_B)  # fmt: skip
    assert record.data["authority"] == FTZ
    pdf = get_licence_pdf(context, record.number)
    assert FTZ in _pdf_text(pdf, tmp_path)
    assert _pdf_author(pdf, tmp_path) == FTZ
    with context.database.session(read_only=True) as session:
        status = licence_status(session, record.number, record.data_hash)
    assert status.issuer == FTZ and FTZ in status.message
    assert [e["action"] for e in _audit(context)[-2:]] == ["seal.use", "licence.issue"]


def test_a_given_issuer_is_compared_by_meaning_and_printed_as_registered(
    sqlite_seal_context: ServiceContext,
) -> None:
    """Half-width brackets and stray spaces are the same name; the registered one is printed."""
    context = sqlite_seal_context
    code = _seal(context, FTZ, "行政审批专用章")
    template = load_template("admin_permit_decision")
    typed = " 中国(河南)自由贸易试验区 郑州片区管理委员会"
    record = issue_licence(context, template, {**template.example, "authority": typed}, [code],
                           actor=ACTOR, level=Level.B_B)  # fmt: skip
    assert record.data["authority"] == FTZ


def test_joint_seals_name_every_department_once_in_seal_order(
    sqlite_seal_context: ServiceContext, tmp_path: Path
) -> None:
    context = sqlite_seal_context
    ftz = _seal(context, FTZ, "行政审批专用章")
    market = _seal(context, MARKET, "行政审批专用章", "sm2")
    template = load_template("admin_permit_decision")
    data = _without_issuer("admin_permit_decision")
    record = issue_licence(context, template, data, [market, ftz], actor=ACTOR, level=Level.B_B)
    joint = f"{MARKET}、{FTZ}"
    assert record.data["authority"] == joint
    text = _pdf_text(get_licence_pdf(context, record.number), tmp_path)
    assert text.count(joint) == 2  # the letterhead and the signature line

    before = _audit(context)
    with pytest.raises(IssuerRefused, match=re.escape(repr(joint))):  # one issuer is not enough
        issue_licence(context, template, {**data, "authority": FTZ}, [market, ftz], actor=ACTOR)
    _assert_refused_and_nothing_issued_since(context, before, record.number)

    market_public = _seal(context, MARKET, "公章")  # two seals of one department: named once
    licence = load_template("business_licence")
    both = issue_licence(context, licence, _without_issuer("business_licence"),
                         [market_public, market], actor=ACTOR, level=Level.B_B)  # fmt: skip
    assert both.data["authority"] == MARKET


def test_reissue_obeys_the_same_rule(sqlite_seal_context: ServiceContext, tmp_path: Path) -> None:
    context = sqlite_seal_context
    market = _seal(context, MARKET, "公章")
    ftz = _seal(context, FTZ, "行政审批专用章")
    contract = _seal(context, MARKET, "合同专用章")
    first = issue_licence(context, "business_licence", _without_issuer("business_licence"),
                          [market], actor=ACTOR, level=Level.B_B)  # fmt: skip
    assert first.data["authority"] == MARKET

    with pytest.raises(IssuerRefused, match=r"登记机关 \(authority\)"):
        reissue_licence(context, first.number, {"authority": CONSTRUCTION}, actor=ACTOR)
    with pytest.raises(IssuerRefused, match=r"seals\[0\].*合同专用章"):
        reissue_licence(context, first.number, {}, actor=ACTOR, seal_codes=[contract])
    refusals = [e for e in _audit(context) if e["action"] == "licence.refused"]
    assert [e["details"]["number"] for e in refusals] == [first.number] * 2

    # Other seals: the issuer follows them (the old one is not carried over).
    moved = reissue_licence(context, first.number, {}, actor=ACTOR, seal_codes=[ftz],
                            reason="登记机关变更", level=Level.B_B)  # fmt: skip
    assert moved.version == 2 and moved.data["authority"] == FTZ

    # A renamed department: the new version prints its current registered name.
    with context.database.session() as session:
        departments.rename(session, "ZZ-FTZ", "郑州航空港经济综合实验区管理委员会", actor=ACTOR)
    renamed = reissue_licence(context, first.number, {"legal_representative": "刘振华"},
                              actor=ACTOR, level=Level.B_B)  # fmt: skip
    assert renamed.data["authority"] == "郑州航空港经济综合实验区管理委员会"
    assert "郑州航空港经济综合实验区管理委员会" in _pdf_text(
        get_licence_pdf(context, first.number), tmp_path
    )


# --- sealctl ------------------------------------------------------------------------------------


def test_sealctl_refuses_a_foreign_issuer_and_fills_an_absent_one(
    sqlite_seal_context: ServiceContext, sealctl: Callable[..., Result], tmp_path: Path
) -> None:
    context = sqlite_seal_context
    code = _seal(context, MARKET, "公章")
    template = load_template("business_licence")
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({**template.example, "authority": CONSTRUCTION},
                                  ensure_ascii=False))  # fmt: skip
    before = _audit(context)
    result = sealctl("licence", "issue", "--template", "business_licence", "--data", str(foreign),
                     "--seal", code)  # fmt: skip
    assert result.exit_code == 1, result.stdout
    assert "登记机关 (authority) must name the department of the seal" in result.stderr
    assert CONSTRUCTION in result.stderr and "Traceback" not in result.stderr + result.stdout
    _assert_refused_and_nothing_issued(context, before, "data.authority", [code])

    contract = _seal(context, MARKET, "合同专用章")
    result = sealctl("licence", "issue", "--template", "business_licence", "--data", str(foreign),
                     "--seal", contract)  # fmt: skip
    assert result.exit_code == 1 and "合同专用章" in result.stderr

    absent = tmp_path / "absent.json"
    absent.write_text(json.dumps(_without_issuer("business_licence"), ensure_ascii=False))
    result = sealctl("licence", "issue", "--template", "business_licence", "--data", str(absent),
                     "--seal", code, "--level", "B-B", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["data"]["authority"] == MARKET

    shown = sealctl("template", "show", "construction_permit")
    assert shown.exit_code == 0 and "公章、行政审批专用章" in re.sub(r"\s+", "", shown.stdout)
    schema = json.loads(sealctl("template", "show", "admin_permit_decision", "--json").stdout)
    assert schema["issuer_field"] == "authority" and schema["seal_kinds"] == ["行政审批专用章"]


# --- HTTP ---------------------------------------------------------------------------------------


def _post(world: ApiWorld, body: dict) -> tuple[int, dict, str]:
    response = world.client.post(
        "/v1/licences", json=body, headers={"Authorization": f"Bearer {world.admin_token}"}
    )
    return response.status_code, response.json(), response.headers["content-type"]


def _stored(world: ApiWorld) -> set[str]:
    with world.context.database.session(read_only=True) as session:
        return set(session.scalars(select(Licence.number)))


@pytest.mark.parametrize(
    ("template", "data", "seal", "loc", "needle"),
    [
        ("business_licence", {"authority": CONSTRUCTION}, ("ZZ-D26", "rsa"),
         ["body", "data", "authority"], "登记机关 (authority)"),
        ("business_licence", {}, ("ZZ-D14", "rsa"), ["body", "seals", "0"], "合同专用章"),
        ("admin_permit_decision", {}, ("ZZ-D26", "sm2"), ["body", "seals", "0"],
         "行政许可决定书 may be sealed only with a 行政审批专用章"),
    ],
)  # fmt: skip
def test_http_refuses_with_a_422_problem_naming_the_field(
    api_world: ApiWorld, template: str, data: dict, seal: tuple[str, str], loc: list, needle: str
) -> None:
    code = api_world.demo_seal(*seal).code
    stored, entries = _stored(api_world), len(_audit(api_world.context))
    body = {"template": template, "data": {**load_template(template).example, **data},
            "seals": [code], "level": "B-B"}  # fmt: skip
    status, problem, media_type = _post(api_world, body)
    assert status == 422 and media_type == PROBLEM_JSON, problem
    assert problem["type"].endswith("/licence-issuer") and needle in problem["detail"]
    assert problem["errors"][0]["loc"] == loc
    assert _stored(api_world) == stored
    (entry,) = _audit(api_world.context)[entries:]
    assert entry["action"] == "licence.refused" and entry["actor"].startswith("api:")
    assert entry["details"]["field"] == ".".join(loc[1:])
    assert entry["details"]["api_key"] == entry["actor"].removeprefix("api:")
    assert entry["details"]["client"]  # the client's address, as sign and archive record it


def test_http_fills_the_issuer_from_the_seal(api_world: ApiWorld) -> None:
    body = {"template": "business_licence", "data": _without_issuer("business_licence"),
            "seals": [api_world.demo_seal("ZZ-D26", "sm2").code], "level": "B-B"}  # fmt: skip
    status, record, _ = _post(api_world, body)
    assert status == 201, record
    assert record["data"]["authority"] == MARKET
    issued = _audit(api_world.context)[-1]
    assert issued["action"] == "licence.issue" and issued["details"]["client"]
    page = api_world.client.get(f"/verify/{record['number']}?h={record['data_hash']}")
    assert page.status_code == 200 and MARKET in page.text


def test_templates_must_declare_known_seal_kinds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = json.loads((load_template("business_licence").directory / "template.json").read_text())
    missing = {k: v for k, v in spec.items() if k != "seal_kinds"}
    cases = [
        ({**spec, "seal_kinds": ["公章", "私章"]}, "unknown kind '私章'"),
        ({**spec, "seal_kinds": []}, "seal_kinds"),
        ({**spec, "seal_kinds": ["公章", "公章"]}, "names a kind twice"),
        (missing, "seal_kinds"),
    ]
    for index, (content, message) in enumerate(cases):
        directory = tmp_path / str(index) / "odd_licence"
        directory.mkdir(parents=True)
        (directory / "template.json").write_text(json.dumps(content, ensure_ascii=False))
        monkeypatch.setenv("SEALSVC_TEMPLATES_DIR", str(directory.parent))
        with pytest.raises(InvalidInput, match=re.escape(message)):
            load_template("odd_licence")


def test_a_refused_value_is_shown_shortened(sqlite_seal_context: ServiceContext) -> None:
    """The refusal repeats at most 80 characters of what was sent, in the answer and the log."""
    context = sqlite_seal_context
    code = _seal(context, MARKET, "公章")
    template = load_template("business_licence")
    huge = "某" * 100_000
    with pytest.raises(IssuerRefused) as refused:
        issue_licence(context, template, {**template.example, "authority": huge}, [code],
                      actor=ACTOR)  # fmt: skip
    assert len(str(refused.value)) < 400 and "某" * 78 + "…" in str(refused.value)
    assert len(json.dumps(_audit(context)[-1], ensure_ascii=False)) < 2000
