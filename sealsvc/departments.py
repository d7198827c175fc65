"""Departments: the bodies that own seals, and the seed list they are imported from.

A department is found by its stable ``code`` (what scripts and seals refer to) or by its
current name. Names change when governments reorganise; :func:`rename` keeps the old
name in ``department_name_history`` because seals and documents made before still show
it. Departments are never deleted, only deactivated, so the audit log and old seals keep
pointing at something.

Every change writes its audit entry in the caller's transaction (see :mod:`sealsvc.audit`).

The seed (``sealsvc/data/departments.json``, data rather than code) lists the city
government, the municipal departments and public-service units of 郑政办〔2020〕11号 and
the free-trade-zone management committee of 郑政文〔2017〕247号; :func:`load_seed` also
exposes the seals a seed entry says the department owns, for the seal registry to issue.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sealsvc import audit, creditcode
from sealsvc.characters import invisible_characters
from sealsvc.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from sealsvc.models import Department, DepartmentKind, DepartmentNameHistory, Seal, SealStatus

__all__ = [
    "SEED_FORMAT",
    "ImportResult",
    "Seed",
    "SeedDepartment",
    "SeedSeal",
    "add",
    "deactivate",
    "department_to_dict",
    "get",
    "import_seed",
    "list_departments",
    "load_seed",
    "normalise_code",
    "normalise_credit_code",
    "rename",
    "set_credit_code",
]

SEED_FORMAT = "sealsvc-departments/1"
_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,31}")
_MAX_NAME = 200


# --- seed file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedSeal:
    """A seal the seed says a department owns; the seal registry issues it."""

    kind: str
    text: str
    note: str | None = None


@dataclass(frozen=True)
class SeedDepartment:
    """One department as listed in the seed file."""

    code: str
    name: str
    kind: DepartmentKind
    parent: str | None
    credit_code: str | None
    source: str | None
    listed_as: str | None
    seals: tuple[SeedSeal, ...]


@dataclass(frozen=True)
class Seed:
    """A parsed seed file: its source documents and departments (parents before children)."""

    sources: dict[str, Any]
    departments: tuple[SeedDepartment, ...]


def _bundled_seed() -> Path:
    return Path(str(files("sealsvc") / "data" / "departments.json"))


def _seed_text(value: Any, what: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must be a non-empty string")
    return value.strip()


def _parse_seed_department(raw: Any, index: int) -> SeedDepartment:
    where = f"departments[{index}]"
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be an object")
    code = normalise_code(str(_seed_text(raw.get("code"), f"{where}.code")))
    try:
        kind = DepartmentKind(raw.get("kind", DepartmentKind.DEPARTMENT.value))
    except ValueError:
        raise InvalidInput(f"{where}.kind {raw.get('kind')!r} is not one of {_kinds()}") from None
    seals = raw.get("seals", [])
    if not isinstance(seals, list):
        raise InvalidInput(f"{where}.seals must be a list")
    name = str(_seed_text(raw.get("name"), f"{where}.name"))
    parsed_seals = []
    for number, seal in enumerate(seals):
        if not isinstance(seal, dict):
            raise InvalidInput(f"{where}.seals[{number}] must be an object")
        parsed_seals.append(
            SeedSeal(
                kind=str(_seed_text(seal.get("kind"), f"{where}.seals[{number}].kind")),
                text=str(_seed_text(seal.get("text", name), f"{where}.seals[{number}].text")),
                note=_seed_text(seal.get("note"), f"{where}.seals[{number}].note", optional=True),
            )
        )
    parent = _seed_text(raw.get("parent"), f"{where}.parent", optional=True)
    credit_code = _seed_text(raw.get("credit_code"), f"{where}.credit_code", optional=True)
    return SeedDepartment(
        code=code,
        name=_check_name(name),
        kind=kind,
        parent=normalise_code(parent) if parent else None,
        credit_code=normalise_credit_code(credit_code) if credit_code else None,
        source=_seed_text(raw.get("source"), f"{where}.source", optional=True),
        listed_as=_seed_text(raw.get("listed_as"), f"{where}.listed_as", optional=True),
        seals=tuple(parsed_seals),
    )


def load_seed(path: Path | str | None = None) -> Seed:
    """Read and check a seed file (default: the bundled ``departments.json``).

    Raises :class:`InvalidInput` naming the file and the entry for anything malformed:
    unreadable or non-JSON file, wrong format tag, duplicate codes, a parent that is not
    listed earlier in the file.
    """
    path = Path(path) if path is not None else _bundled_seed()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read seed file {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"seed file {path} is not UTF-8 JSON: {exc}") from None
    try:
        if not isinstance(document, dict) or document.get("format") != SEED_FORMAT:
            raise InvalidInput(f'"format" must be "{SEED_FORMAT}"')
        raw_departments = document.get("departments")
        if not isinstance(raw_departments, list):
            raise InvalidInput('"departments" must be a list')
        departments = tuple(
            _parse_seed_department(raw, index) for index, raw in enumerate(raw_departments)
        )
        seen: set[str] = set()
        for department in departments:
            if department.code in seen:
                raise InvalidInput(f"department code {department.code} is listed twice")
            if department.parent is not None and department.parent not in seen:
                raise InvalidInput(
                    f"{department.code}: parent {department.parent} must be listed before it"
                )
            seen.add(department.code)
    except InvalidInput as exc:
        raise InvalidInput(f"seed file {path}: {exc}") from None
    sources = document.get("sources")
    return Seed(sources=sources if isinstance(sources, dict) else {}, departments=departments)


# --- lookups --------------------------------------------------------------------------------


def _kinds() -> str:
    return ", ".join(kind.value for kind in DepartmentKind)


def normalise_code(code: str) -> str:
    """Upper-case ``code`` and check it: letters, digits and ``-``, at most 32 characters."""
    normalised = code.strip().upper()
    if not _CODE.fullmatch(normalised):
        raise InvalidInput(
            f"department code {code!r} must be 1-32 letters, digits or '-' (e.g. ZZ-D01)"
        )
    return normalised


def normalise_credit_code(credit_code: str) -> str:
    """Upper-case a 统一社会信用代码 and check it (18 characters, GB 32100 check character).

    A department's code goes into the GB/T 36904 identifier of every licence it issues,
    where a typo would be printed, sealed and published: refuse it here.
    """
    normalised = credit_code.strip().upper() if isinstance(credit_code, str) else credit_code
    if not creditcode.is_valid(normalised):
        raise InvalidInput(
            f"统一社会信用代码 {credit_code!r} is invalid: 18 digits or upper-case letters "
            "(no I, O, Z, S, V) ending in the GB 32100-2015 check character"
        )
    return normalised


def _check_name(name: str) -> str:
    name = name.strip()
    problem = invisible_characters(name, f"department name {name!r}")
    if problem:
        raise InvalidInput(problem)
    if not name or len(name) > _MAX_NAME:
        raise InvalidInput(f"department name {name!r} must be 1-{_MAX_NAME} characters")
    return name


def get(session: Session, code_or_name: str) -> Department:
    """The department with this code, or else the active one with this name."""
    key = code_or_name.strip()
    department = session.scalars(select(Department).where(Department.code == key.upper())).first()
    if department is None:
        department = session.scalars(
            select(Department)
            .where(Department.name == key)
            .order_by(Department.active.desc(), Department.id.desc())
        ).first()
    if department is None:
        raise NotFound(f"no department with code or name {code_or_name!r}")
    return department


def list_departments(session: Session, *, include_inactive: bool = False) -> list[Department]:
    """Departments ordered by code; only active ones unless ``include_inactive``."""
    statement = select(Department).order_by(Department.code)
    if not include_inactive:
        statement = statement.where(Department.active)
    return list(session.scalars(statement))


def department_to_dict(department: Department) -> dict[str, Any]:
    """A department as JSON-ready data (``parent`` as its code)."""
    return {
        "code": department.code,
        "name": department.name,
        "kind": department.kind,
        "credit_code": department.credit_code,
        "parent": department.parent.code if department.parent is not None else None,
        "active": department.active,
        "created_at": department.created_at.isoformat(),
        "former_names": [change.old_name for change in department.name_history],
    }


# --- changes --------------------------------------------------------------------------------


def _name_taken(session: Session, name: str) -> Department | None:
    return session.scalars(
        select(Department).where(Department.name == name, Department.active)
    ).first()


def _flush(session: Session, what: str) -> None:
    """Flush, turning a unique-constraint race with another writer into :class:`Conflict`."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"{what} conflicts with a concurrent change; try again") from None


def add(
    session: Session,
    *,
    code: str,
    name: str,
    actor: str,
    kind: DepartmentKind | str = DepartmentKind.DEPARTMENT,
    parent: str | None = None,
    source: str | None = None,
    credit_code: str | None = None,
) -> Department:
    """Create an active department; ``parent`` is a code or name. Audited as ``dept.add``."""
    code, name = normalise_code(code), _check_name(name)
    credit_code = normalise_credit_code(credit_code) if credit_code is not None else None
    try:
        kind = DepartmentKind(kind)
    except ValueError:
        raise InvalidInput(f"department kind {kind!r} is not one of {_kinds()}") from None
    if session.scalars(select(Department).where(Department.code == code)).first() is not None:
        raise Conflict(f"department code {code} already exists")
    if (holder := _name_taken(session, name)) is not None:
        raise Conflict(f"an active department is already named {name} ({holder.code})")
    parent_department = get(session, parent) if parent else None
    if parent_department is not None and not parent_department.active:
        raise InvalidTransition(f"parent department {parent_department.code} is deactivated")
    department = Department(
        code=code, name=name, kind=kind.value, parent=parent_department, credit_code=credit_code
    )
    session.add(department)
    _flush(session, f"department {code}")
    details: dict[str, Any] = {"name": name, "kind": kind.value}
    if credit_code is not None:
        details["credit_code"] = credit_code
    if parent_department is not None:
        details["parent"] = parent_department.code
    if source is not None:
        details["source"] = source
    audit.append(session, action="dept.add", actor=actor, department_code=code, details=details)
    return department


@dataclass(frozen=True)
class ImportResult:
    """Codes created by :func:`import_seed` and codes that already existed (left as they are)."""

    created: tuple[str, ...]
    existing: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"created": list(self.created), "existing": list(self.existing)}


def import_seed(session: Session, seed: Seed | None = None, *, actor: str) -> ImportResult:
    """Add every seed department whose code is not in the database yet.

    Idempotent: a department already present (matched by code) is left untouched, even if
    it was renamed or deactivated since, so re-importing never undoes an operator's change
    — except that one without a 统一社会信用代码 (a database from before revision 0004)
    gets the seed's, audited as ``dept.credit_code``.
    """
    seed = seed or load_seed()
    created: list[str] = []
    existing: list[str] = []
    for entry in seed.departments:
        present = session.scalars(select(Department).where(Department.code == entry.code)).first()
        if present is not None:
            existing.append(entry.code)
            if present.credit_code is None and entry.credit_code is not None:
                set_credit_code(session, entry.code, entry.credit_code, actor=actor)
            continue
        add(
            session,
            code=entry.code,
            name=entry.name,
            kind=entry.kind,
            parent=entry.parent,
            source=entry.source,
            credit_code=entry.credit_code,
            actor=actor,
        )
        created.append(entry.code)
    return ImportResult(tuple(created), tuple(existing))


def _active(session: Session, code: str) -> Department:
    department = get(session, code)
    if not department.active:
        raise InvalidTransition(f"department {department.code} is deactivated")
    return department


def rename(session: Session, code: str, new_name: str, *, actor: str) -> Department:
    """Give an active department a new name, keeping the old one in its history."""
    department = _active(session, code)
    new_name = _check_name(new_name)
    if new_name == department.name:
        raise InvalidInput(f"department {department.code} is already named {new_name}")
    if (holder := _name_taken(session, new_name)) is not None:
        raise Conflict(f"an active department is already named {new_name} ({holder.code})")
    old_name = department.name
    department.name = new_name
    session.add(DepartmentNameHistory(department=department, old_name=old_name, new_name=new_name))
    _flush(session, f"renaming {department.code}")
    audit.append(
        session,
        action="dept.rename",
        actor=actor,
        department_code=department.code,
        details={"old_name": old_name, "new_name": new_name},
    )
    return department


def set_credit_code(session: Session, code: str, credit_code: str, *, actor: str) -> Department:
    """Record (or correct) a department's 统一社会信用代码; audited as ``dept.credit_code``.

    Licences already issued keep the identifier they were issued with; the new code goes
    into the identifiers of licences issued from now on.
    """
    department = get(session, code)
    new = normalise_credit_code(credit_code)
    if new == department.credit_code:
        raise InvalidInput(f"department {department.code} already has credit code {new}")
    old, department.credit_code = department.credit_code, new
    _flush(session, f"credit code of {department.code}")
    audit.append(
        session,
        action="dept.credit_code",
        actor=actor,
        department_code=department.code,
        details={"old_credit_code": old, "new_credit_code": new},
    )
    return department


def deactivate(session: Session, code: str, *, actor: str) -> Department:
    """Deactivate a department that has no active sub-departments and no usable seals.

    Its seals must be revoked first (a seal of a dissolved body must not stay usable) and
    its sub-departments deactivated or moved.
    """
    department = _active(session, code)
    child = session.scalars(
        select(Department.code).where(Department.parent_id == department.id, Department.active)
    ).first()
    if child is not None:
        raise InvalidTransition(
            f"department {department.code} has active sub-departments ({child}, …)"
        )
    usable = exists().where(
        Seal.department_id == department.id,
        Seal.status.in_([SealStatus.ACTIVE.value, SealStatus.SUSPENDED.value]),
    )
    if session.scalar(select(usable)):
        raise InvalidTransition(
            f"department {department.code} still has active or suspended seals; revoke them first"
        )
    department.active = False
    _flush(session, f"deactivating {department.code}")
    audit.append(
        session,
        action="dept.deactivate",
        actor=actor,
        department_code=department.code,
        details={"name": department.name},
    )
    return department
