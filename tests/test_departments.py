"""Departments: the bundled seed, import, add, rename, deactivate, and ``sealctl dept``."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from sealsvc import audit, departments
from sealsvc.config import Settings
from sealsvc.db import Database, open_database
from sealsvc.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from sealsvc.models import DepartmentKind, Seal, utcnow

ACTOR = "test"


def _import(database: Database) -> departments.ImportResult:
    with database.session() as session:
        return departments.import_seed(session, actor=ACTOR)


# --- the bundled seed -----------------------------------------------------------------------


def test_bundled_seed_lists_what_the_documents_list() -> None:
    seed = departments.load_seed()
    kinds = Counter(entry.kind for entry in seed.departments)
    assert kinds == {
        DepartmentKind.GOVERNMENT: 1,
        DepartmentKind.DEPARTMENT: 48,  # 郑政办〔2020〕11号: "市级审批服务职能部门（共 48 个）"
        DepartmentKind.PUBLIC_SERVICE_UNIT: 8,  # "公共服务提供单位（共 8 个）"
        DepartmentKind.MANAGEMENT_COMMITTEE: 1,
    }
    assert set(seed.sources) == {"郑政办〔2020〕11号", "郑政文〔2017〕247号"}
    by_name = {entry.name: entry for entry in seed.departments}
    assert by_name["郑州市发展和改革委员会"].listed_as == "市发展和改革委员会"
    assert by_name["郑州市发展和改革委员会"].parent == "ZZ-GOV"
    assert "郑州华润燃气股份有限公司" in by_name  # a line break in the source, joined
    assert all(not entry.name.startswith("市") for entry in seed.departments)
    ftz = by_name["中国（河南）自由贸易试验区郑州片区管理委员会"]
    assert ftz.source == "郑政文〔2017〕247号"
    assert [seal.kind for seal in ftz.seals] == ["行政审批专用章"]
    assert ftz.seals[0].text == ftz.name


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not UTF-8 JSON"),
        ('{"format": "other", "departments": []}', "format"),
        (
            '{"format": "sealsvc-departments/1", "departments": ['
            '{"code": "A", "name": "x"}, {"code": "a", "name": "y"}]}',
            "listed twice",
        ),
        (
            '{"format": "sealsvc-departments/1", "departments": ['
            '{"code": "B", "name": "x", "parent": "A"}, {"code": "A", "name": "y"}]}',
            "listed before",
        ),
        (
            '{"format": "sealsvc-departments/1", "departments": [{"code": "A", "name": ""}]}',
            r"departments\[0\].name",
        ),
        (
            '{"format": "sealsvc-departments/1", "departments": '
            '[{"code": "A", "name": "x", "kind": "club"}]}',
            "club",
        ),
    ],
)
def test_malformed_seed_files_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "seed.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput, match=message) as caught:
        departments.load_seed(path)
    assert str(path) in str(caught.value)


def test_missing_seed_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read seed file"):
        departments.load_seed(tmp_path / "nope.json")


# --- import ---------------------------------------------------------------------------------


def test_import_creates_every_department_once(database: Database) -> None:
    first = _import(database)
    assert len(first.created) == 58 and first.existing == ()
    second = _import(database)
    assert second.created == () and len(second.existing) == 58
    with database.session() as session:
        listed = departments.list_departments(session)
        assert len(listed) == 58
        government = departments.get(session, "郑州市人民政府")
        assert government.code == "ZZ-GOV" and government.kind == "government"
        assert departments.get(session, "zz-d01").name == "郑州市发展和改革委员会"
        assert departments.get(session, "ZZ-FTZ").parent is government
        entries = audit.query(session, action="dept.add")
        assert len(entries) == 58  # one audit entry per created department, none on re-import
        assert json.loads(entries[0].details)["source"] == "郑政办〔2020〕11号"
        assert audit.verify(session).intact


def test_reimport_keeps_an_operators_rename(database: Database) -> None:
    _import(database)
    with database.session() as session:
        departments.rename(session, "ZZ-D21", "郑州市地方金融监督管理局", actor=ACTOR)
    _import(database)
    with database.session() as session:
        assert departments.get(session, "ZZ-D21").name == "郑州市地方金融监督管理局"


# --- changes --------------------------------------------------------------------------------


def test_rename_keeps_history_and_is_audited(database: Database) -> None:
    _import(database)
    with database.session() as session:
        departments.rename(session, "ZZ-D21", "郑州市地方金融监督管理局", actor=ACTOR)
    with database.session() as session:
        department = departments.get(session, "郑州市地方金融监督管理局")
        history = [(h.old_name, h.new_name) for h in department.name_history]
        assert history == [("郑州市金融工作局", "郑州市地方金融监督管理局")]
        assert departments.department_to_dict(department)["former_names"] == ["郑州市金融工作局"]
        (entry,) = audit.query(session, action="dept.rename")
        assert entry.department_code == "ZZ-D21"
        assert json.loads(entry.details) == {
            "old_name": "郑州市金融工作局",
            "new_name": "郑州市地方金融监督管理局",
        }
        with pytest.raises(NotFound):
            departments.get(session, "郑州市金融工作局")


def test_rename_refusals(database: Database) -> None:
    _import(database)
    with pytest.raises(Conflict, match="ZZ-D02"), database.session() as session:
        departments.rename(session, "ZZ-D01", "郑州市教育局", actor=ACTOR)
    with pytest.raises(InvalidInput, match="already named"), database.session() as session:
        departments.rename(session, "ZZ-D01", "郑州市发展和改革委员会", actor=ACTOR)
    with pytest.raises(NotFound), database.session() as session:
        departments.rename(session, "ZZ-X99", "whatever", actor=ACTOR)


def test_deactivate(database: Database) -> None:
    _import(database)
    with database.session() as session:
        departments.deactivate(session, "ZZ-D46", actor=ACTOR)
    with database.session() as session:
        assert not departments.get(session, "ZZ-D46").active
        assert len(departments.list_departments(session)) == 57
        assert len(departments.list_departments(session, include_inactive=True)) == 58
        assert [e.department_code for e in audit.query(session, action="dept.deactivate")] == [
            "ZZ-D46"
        ]
    with pytest.raises(InvalidTransition, match="deactivated"), database.session() as session:
        departments.deactivate(session, "ZZ-D46", actor=ACTOR)
    with pytest.raises(InvalidTransition), database.session() as session:
        departments.rename(session, "ZZ-D46", "新名称", actor=ACTOR)
    # the name of a deactivated department is free for its successor
    with database.session() as session:
        departments.add(session, code="ZZ-D60", name="郑州市新闻出版局", actor=ACTOR)


def test_deactivate_refuses_parents_and_departments_with_usable_seals(database: Database) -> None:
    _import(database)
    with pytest.raises(InvalidTransition, match="sub-departments"), database.session() as session:
        departments.deactivate(session, "ZZ-GOV", actor=ACTOR)
    with database.session() as session:
        session.add(
            Seal(
                code="41010000000001",
                text="郑州市公安局",
                kind="公章",
                department=departments.get(session, "ZZ-D09"),
                algorithm="sm2",
                key_id="k",
                valid_until=utcnow() + timedelta(days=365),
            )
        )
    with pytest.raises(InvalidTransition, match="seals"), database.session() as session:
        departments.deactivate(session, "ZZ-D09", actor=ACTOR)
    with database.session() as session:
        assert departments.get(session, "ZZ-D09").active
        assert audit.query(session, action="dept.deactivate") == []


def test_add_validates(database: Database) -> None:
    _import(database)
    with database.session() as session:
        added = departments.add(
            session,
            code="zz-d49",
            name="  郑州市数据局 ",
            kind="department",
            parent="郑州市人民政府",
            actor=ACTOR,
        )
        assert (added.code, added.name, added.parent.code) == ("ZZ-D49", "郑州市数据局", "ZZ-GOV")
    cases = [
        ({"code": "ZZ D50", "name": "x"}, InvalidInput, "department code"),
        ({"code": "ZZ-D50", "name": "x", "kind": "club"}, InvalidInput, "kind"),
        ({"code": "ZZ-D50", "name": "a\nb"}, InvalidInput, "control"),
        ({"code": "ZZ-D01", "name": "x"}, Conflict, "ZZ-D01 already exists"),
        ({"code": "ZZ-D50", "name": "郑州市教育局"}, Conflict, "already named"),
        ({"code": "ZZ-D50", "name": "x", "parent": "ZZ-NONE"}, NotFound, "ZZ-NONE"),
    ]
    for arguments, error, message in cases:
        with pytest.raises(error, match=message), database.session() as session:
            departments.add(session, actor=ACTOR, **arguments)


# --- CLI ------------------------------------------------------------------------------------


def _create_database() -> None:
    """The migrated, empty database ``sealctl init`` leaves: ``dept`` commands refuse a data
    directory without one (only ``init`` and ``serve`` create it)."""
    open_database(Settings.load()).dispose()


def test_cli_import_list_and_changes(sealctl, settings_on_each_db) -> None:
    _create_database()
    imported = sealctl("dept", "import", "--json")
    assert imported.exit_code == 0, imported.output
    assert len(json.loads(imported.stdout)["created"]) == 58
    again = sealctl("dept", "import")
    assert again.exit_code == 0 and "0 departments, 58 already present" in again.stdout

    listed = json.loads(sealctl("dept", "list", "--json").stdout)
    assert len(listed) == 58
    ftz = next(row for row in listed if row["code"] == "ZZ-FTZ")
    assert (ftz["kind"], ftz["parent"], ftz["active"]) == ("management_committee", "ZZ-GOV", True)

    added = sealctl("dept", "add", "郑州市数据局", "--code", "ZZ-D49", "--parent", "ZZ-GOV")
    assert added.exit_code == 0, added.output
    renamed = sealctl("dept", "rename", "ZZ-D49", "郑州市大数据管理局", "--json")
    assert json.loads(renamed.stdout)["former_names"] == ["郑州市数据局"]
    assert sealctl("dept", "deactivate", "ZZ-D49").exit_code == 0
    assert len(json.loads(sealctl("dept", "list", "--json").stdout)) == 58
    everything = json.loads(sealctl("dept", "list", "--all", "--json").stdout)
    assert [row["active"] for row in everything if row["code"] == "ZZ-D49"] == [False]
    table = sealctl("dept", "list")
    assert table.exit_code == 0 and "郑州市人民政府" in table.stdout

    shown = json.loads(sealctl("audit", "show", "--dept", "ZZ-D49", "--json").stdout)
    assert [row["action"] for row in shown] == ["dept.add", "dept.rename", "dept.deactivate"]
    assert shown[0]["actor"].startswith("cli:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dept", "rename", "ZZ-NOPE", "x"), "no department"),
        (("dept", "add", "郑州市人民政府", "--code", "ZZ-NEW"), "already named"),
        (("dept", "add", "x", "--code", "bad code"), "department code"),
        (("dept", "deactivate", "ZZ-GOV"), "sub-departments"),
        (("dept", "import", "/nonexistent/seed.json"), "cannot read seed file"),
    ],
)
def test_cli_errors_are_one_line(sealctl, args: tuple[str, ...], message: str) -> None:
    _create_database()
    assert sealctl("dept", "import").exit_code == 0
    result = sealctl(*args)
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split())  # rich may wrap a long line
    assert "Traceback" not in result.output and result.stderr.startswith("error:")
