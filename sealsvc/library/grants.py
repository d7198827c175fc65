"""Who may see what: a department sees the licence types (证照类型代码) an admin granted it.

The unit of a grant is the licence type, as national platforms authorise 用证 by type:
a tax office is granted the 营业执照, not every licence of every holder.  An ``admin`` key
sees every type; a key without a department sees none (a ``library`` key must have one).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealsvc import audit, departments
from sealsvc.apikeys import Principal
from sealsvc.errors import Forbidden, NotFound
from sealsvc.licences.identifier import check_type_code
from sealsvc.models import Department, LibraryGrant

__all__ = ["grant", "granted_types", "list_grants", "require_grant", "revoke"]


def grant(session: Session, department: str, type_code: str, *, actor: str) -> LibraryGrant:
    """Let ``department`` (code or name) see licences of ``type_code``; idempotent."""
    row_department = departments.get(session, department)
    type_code = check_type_code(type_code.strip())
    row = session.scalar(
        select(LibraryGrant).where(
            LibraryGrant.department_id == row_department.id, LibraryGrant.type_code == type_code
        )
    )
    if row is not None:
        return row
    row = LibraryGrant(department_id=row_department.id, type_code=type_code)
    session.add(row)
    session.flush()
    audit.append(
        session,
        action="library.grant",
        actor=actor,
        department_code=row_department.code,
        details={"type_code": type_code},
    )
    return row


def revoke(session: Session, department: str, type_code: str, *, actor: str) -> None:
    """Withdraw a grant; the department's next request for that type gets 403."""
    row_department = departments.get(session, department)
    row = session.scalar(
        select(LibraryGrant).where(
            LibraryGrant.department_id == row_department.id,
            LibraryGrant.type_code == type_code.strip(),
        )
    )
    if row is None:
        raise NotFound(f"{row_department.code} has no grant for licence type {type_code}")
    session.delete(row)
    audit.append(
        session,
        action="library.revoke",
        actor=actor,
        department_code=row_department.code,
        details={"type_code": row.type_code},
    )


def list_grants(session: Session, department: str | None = None) -> list[LibraryGrant]:
    query = select(LibraryGrant).join(Department).order_by(Department.code, LibraryGrant.type_code)
    if department is not None:
        query = query.where(LibraryGrant.department_id == departments.get(session, department).id)
    return list(session.scalars(query))


def granted_types(session: Session, principal: Principal) -> frozenset[str] | None:
    """The types ``principal`` may see; ``None`` = every type (an admin key)."""
    if "admin" in principal.scopes:
        return None
    if principal.department_code is None:
        return frozenset()
    return frozenset(
        session.scalars(
            select(LibraryGrant.type_code)
            .join(Department)
            .where(Department.code == principal.department_code)
        )
    )


def require_grant(session: Session, principal: Principal, type_code: str) -> None:
    """:class:`Forbidden` unless ``principal`` may see licences of ``type_code``."""
    types = granted_types(session, principal)
    if types is not None and type_code not in types:
        raise Forbidden(
            f"department {principal.department_code} is not granted licence type {type_code} "
            "in the licence library (sealctl library grant)"
        )
