"""Enterprise seal sets in the domain layer and ``sealctl``, on SQLite and PostgreSQL.

The "1+X" issue and the annulment that revokes a set each run in one transaction; these
tests check that on both backends: what is stored after success, that a fault in the middle
leaves nothing (rows, keys, licence file), that re-issues keep the set, and that the CLI
issues and shows a set for a licence issued before.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import pytest
from alembic import command
from click.testing import Result
from helpers.enterprise_identities import new_credit_code
from helpers.licence_api import template_example
from sqlalchemy import func, select

from pki.errors import KeyStoreError
from sealsvc import apikeys, seals
from sealsvc.context import ServiceContext
from sealsvc.db import Database, alembic_config
from sealsvc.enterprise import issuance, registry
from sealsvc.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from sealsvc.licences import annul_licence, issue_licence, reissue_licence
from sealsvc.models import ApiKey, Certificate, Crl, Department, Enterprise, Licence, Seal
from sealsvc.pades import Level

pytest_plugins = ("helpers.seal_fixtures",)  # seal_context on each backend

ACTOR = "test:enterprise"
_names = itertools.count(1)


def _data(credit_code: str) -> dict:
    index = next(_names)
    return {
        **template_example("business_licence"),
        "uscc": credit_code,
        "name": f"郑州{'一二三四五六七八九十'[index % 10]}{'甲乙丙丁戊'[index % 5]}商贸有限公司",
        "authority": "郑州市市场监督管理局",
    }


@pytest.fixture
def market_seal(seal_context: ServiceContext) -> str:
    return seals.issue(
        seal_context, department="ZZ-D26", kind="公章", algorithm="rsa", actor=ACTOR
    ).code


def _counts(context: ServiceContext) -> dict[str, int]:
    with context.database.session(read_only=True) as session:
        counted = {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Licence, Seal, Department, Enterprise, ApiKey, Certificate)
        }
    counted["keys"] = len(context.keystore.list())
    counted["licence files"] = len(list((context.settings.data_dir / "licences").glob("*")))
    return counted


def test_one_plus_x_and_annulment_on_each_backend(
    seal_context: ServiceContext, market_seal: str
) -> None:
    credit_code = new_credit_code()
    record, made = issuance.issue_licence_with_seals(
        seal_context, "business_licence", _data(credit_code), [market_seal],
        ["公章", "发票专用章", "法定代表人名章"], actor=ACTOR, level=Level.B_B,
    )  # fmt: skip
    assert made.enterprise.licence_number == record.number
    assert [v.kind for v in made.enterprise.seals] == ["公章", "发票专用章", "法定代表人名章"]
    with seal_context.database.session(read_only=True) as session:
        holder = session.scalars(select(Department).where(Department.code == credit_code)).one()
        assert holder.kind == "enterprise"
        assert apikeys.has_active_key(session, credit_code)
        (key,) = session.scalars(select(ApiKey).where(ApiKey.department_id == holder.id))
        assert key.scopes == "sign"
        crls_before = session.scalar(select(func.count()).select_from(Crl))
    # 变更 keeps the set: the licence number stays, the seals are untouched
    reissue_licence(seal_context, record.number, {"registered_capital": "6000"}, actor=ACTOR,
                    level=Level.B_B)  # fmt: skip
    with seal_context.database.session(read_only=True) as session:
        assert {v.status.value for v in registry.show(session, credit_code).seals} == {"active"}
    annul_licence(seal_context, record.number, "营业期限届满未续", kind="cancelled", actor=ACTOR)
    with seal_context.database.session(read_only=True) as session:
        view = registry.show(session, credit_code)
        assert view.closed_at is not None
        assert {(v.status.value, v.revocation_reason) for v in view.seals} == {
            ("revoked", "cessation_of_operation")
        }
        assert all(v.revoked_at is not None for v in view.seals)
        revoked_serials = set(
            session.scalars(
                select(Certificate.serial).where(
                    Certificate.seal_id.in_(select(Seal.id).where(Seal.department_id == holder.id)),
                    Certificate.status == "revoked",
                )
            )
        )
        assert len(revoked_serials) == 3
        assert session.scalar(select(func.count()).select_from(Crl)) > crls_before
    plan = issuance.plan(
        seal_context, issuance.EnterpriseData.from_licence(_data(credit_code)), ["合同专用章"]
    )
    with (
        pytest.raises(InvalidTransition, match="closed enterprise"),
        seal_context.database.session() as session,
    ):
        issuance.issue_in(seal_context, session, plan, licence_number=record.number, actor=ACTOR)


def test_a_fault_midway_leaves_nothing_on_each_backend(
    seal_context: ServiceContext, market_seal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_class = type(seal_context.keystore)
    generate = store_class.generate
    calls = itertools.count(1)

    def failing(self, *args, **kwargs):
        if next(calls) == 4:
            raise KeyStoreError("the key store refused a write (test fault)")
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(store_class, "generate", failing)
    before = _counts(seal_context)
    with pytest.raises(KeyStoreError):
        issuance.issue_licence_with_seals(
            seal_context, "business_licence", _data(new_credit_code()), [market_seal], None,
            actor=ACTOR, level=Level.B_B,
        )  # fmt: skip
    assert _counts(seal_context) == before


def test_a_set_needs_a_valid_business_licence(
    seal_context: ServiceContext, market_seal: str
) -> None:
    with pytest.raises(NotFound, match="no valid 营业执照"):
        issuance.issue_for_licence(seal_context, new_credit_code(), None, actor=ACTOR)
    credit_code = new_credit_code()
    issue_licence(seal_context, "business_licence", _data(credit_code), [market_seal],
                  actor=ACTOR, level=Level.B_B)  # fmt: skip
    made = issuance.issue_for_licence(seal_context, credit_code, ["contract"], actor=ACTOR)
    assert [v.kind for v in made.enterprise.seals] == ["合同专用章"] and made.api_key
    with pytest.raises(Conflict, match="already holds a 合同专用章"):
        issuance.issue_for_licence(seal_context, credit_code, ["合同专用章"], actor=ACTOR)


def test_sealctl_issues_and_shows_a_set(
    seal_context: ServiceContext, market_seal: str, sealctl: Callable[..., Result]
) -> None:
    credit_code = new_credit_code()
    issue_licence(seal_context, "business_licence", _data(credit_code), [market_seal],
                  actor=ACTOR, level=Level.B_B)  # fmt: skip
    result = sealctl("enterprise", "seals", "issue", credit_code, "--kind", "公章", "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    assert [s["kind"] for s in made["seals"]] == ["公章"] and made["api_key"].startswith("sk_")
    result = sealctl("enterprise", "seals", "issue", credit_code, "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["seals"]) == 5
    again = sealctl("enterprise", "seals", "issue", credit_code)
    assert again.exit_code == 1 and "already holds every seal" in again.output
    shown = sealctl("enterprise", "seals", "show", credit_code)
    assert shown.exit_code == 0 and "发票专用章" in shown.output and "active" in shown.output
    unknown = sealctl("enterprise", "seals", "show", new_credit_code())
    assert unknown.exit_code == 1 and "no enterprise seal set" in unknown.output


def test_an_enterprise_key_may_only_seal(seal_context: ServiceContext, market_seal: str) -> None:
    credit_code = new_credit_code()
    issuance.issue_licence_with_seals(
        seal_context, "business_licence", _data(credit_code), [market_seal], ["公章"],
        actor=ACTOR, level=Level.B_B,
    )  # fmt: skip
    with seal_context.database.session() as session:
        for scopes in ({"licence"}, {"sign", "archive"}, {"admin"}):
            with pytest.raises(InvalidInput, match="may only seal its own documents"):
                apikeys.create_api_key(
                    session, name="more", scopes=scopes, department=credit_code, actor=ACTOR
                )
        row, _token = apikeys.create_api_key(
            session, name="second", scopes={"sign"}, department=credit_code, actor=ACTOR
        )
        assert row.scopes == "sign"


def test_revision_0011_admits_enterprises_and_keeps_the_kind_check(database: Database) -> None:
    """Down to 0008 with a department in it, and up again (SQLite edits the CHECK's text,
    PostgreSQL replaces the constraint): the row stays, ``enterprise`` is a kind, anything
    else is still refused, and seals have their image design column."""
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0008")
        connection.exec_driver_sql(
            "INSERT INTO departments (code, name, kind, active, created_at) VALUES "
            "('ZZ-OLD', '旧部门', 'department', true, '2024-01-01 00:00:00')"
        )
    database.migrate()
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO departments (code, name, kind, active, created_at) VALUES "
            "('91410100MA0000001X', '某公司', 'enterprise', true, '2024-01-01 00:00:00')"
        )
        assert connection.exec_driver_sql("SELECT count(*) FROM departments").scalar() == 2
        connection.exec_driver_sql("SELECT image_design FROM seals").all()
    with database.engine.begin() as connection, pytest.raises(Exception, match=r"(?i)check"):
        connection.exec_driver_sql(
            "INSERT INTO departments (code, name, kind, active, created_at) VALUES "
            "('X', 'x', 'guild', true, '2024-01-01 00:00:00')"
        )


def test_a_name_seal_comes_only_with_a_set(seal_context: ServiceContext) -> None:
    with pytest.raises(InvalidInput, match="issued with an enterprise's seal set"):
        seals.issue(
            seal_context, department="ZZ-D26", kind="法定代表人名章", algorithm="sm2", actor=ACTOR
        )
