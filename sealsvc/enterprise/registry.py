"""Which enterprises hold seal sets, and what their sets look like now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealsvc import departments, seals
from sealsvc.errors import NotFound
from sealsvc.models import Enterprise

__all__ = ["EnterpriseView", "find", "get", "show"]


@dataclass(frozen=True)
class EnterpriseView:
    """An enterprise and its seals (effective status), detached from the session."""

    credit_code: str
    name: str
    legal_representative: str
    department_code: str
    """The seal holder's code (the credit code): the seal directory's ``department``."""
    licence_number: str
    """The 营业执照 whose lifecycle the seals follow."""
    created_at: datetime
    closed_at: datetime | None
    """When the licence was annulled and the seals revoked."""
    seals: tuple[seals.SealView, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "credit_code": self.credit_code,
            "name": self.name,
            "legal_representative": self.legal_representative,
            "department_code": self.department_code,
            "licence_number": self.licence_number,
            "created_at": self.created_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "seals": [
                {
                    "code": s.code,
                    "kind": s.kind,
                    "text": s.text,
                    "status": s.status.value,
                    "revoked_at": s.revoked_at.isoformat() if s.revoked_at else None,
                    "revocation_reason": s.revocation_reason,
                }
                for s in self.seals
            ],
        }


def find(session: Session, credit_code: str) -> Enterprise | None:
    """The enterprise with this 统一社会信用代码, if it has one."""
    code = departments.normalise_credit_code(credit_code)
    return session.scalars(select(Enterprise).where(Enterprise.credit_code == code)).one_or_none()


def get(session: Session, credit_code: str) -> Enterprise:
    enterprise = find(session, credit_code)
    if enterprise is None:
        raise NotFound(f"no enterprise seal set for 统一社会信用代码 {credit_code!r}")
    return enterprise


def show(session: Session, credit_code: str) -> EnterpriseView:
    """The enterprise and its seals as they are now."""
    enterprise = get(session, credit_code)
    return EnterpriseView(
        credit_code=enterprise.credit_code,
        name=enterprise.name,
        legal_representative=enterprise.legal_representative,
        department_code=enterprise.department.code,
        licence_number=enterprise.licence_number,
        created_at=enterprise.created_at,
        closed_at=enterprise.closed_at,
        seals=tuple(seals.list_seals(session, department=enterprise.department.code)),
    )
