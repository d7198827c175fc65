"""共享 / 用证: departments look licences up, read their face data, download and check them.

Every call names the caller's department and is checked against its grants
(:mod:`.grants`, 403 otherwise); lookups, face data and files also need a 用证事由
(:class:`Purpose`), refused without.  Each use — and each refusal — is one audit entry with
the API key, the department, the client's address and the purpose, which is what
``sealctl library usage`` reports from.  Holder codes appear in the log only in the form
:class:`~.holders.HolderCode` ``shown`` (an ID number masked).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import Session

from pki.clock import now_utc
from sealsvc import audit
from sealsvc.apikeys import Principal
from sealsvc.errors import Forbidden, InvalidInput, NotFound
from sealsvc.library import entries
from sealsvc.library.entries import LibraryEntry
from sealsvc.library.grants import require_grant
from sealsvc.library.holders import holder_code
from sealsvc.licences.identifier import LicenceIdentifier, check_type_code

if TYPE_CHECKING:
    from datetime import datetime

    from sealsvc.context import ServiceContext

__all__ = ["Purpose", "check", "face", "licence_file", "lookup"]

_ITEM_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Purpose:
    """用证事由: why a department uses a licence — free text and the business item it serves."""

    text: str
    """The reason in words (e.g. 企业变更登记核验营业执照)."""
    item_code: str
    """The code of the government service item (事项编码) the use serves."""

    @classmethod
    def of(cls, text: object, item_code: object) -> Purpose:
        """Both parts present and sane, else :class:`InvalidInput` saying what is missing."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("every library lookup must state its 用证事由: purpose is required")
        if not isinstance(item_code, str) or not item_code.strip():
            raise InvalidInput(
                "every library lookup must name the business item it serves: item_code "
                "(事项编码) is required"
            )
        text, item_code = text.strip(), item_code.strip()
        if len(text) > 200:
            raise InvalidInput(f"purpose has {len(text)} characters; at most 200")
        if not _ITEM_CODE.fullmatch(item_code):
            raise InvalidInput("item_code must be 1-64 letters, digits, '.', '_' or '-'")
        return cls(text, item_code)

    def as_details(self) -> dict[str, str]:
        return {"purpose": self.text, "item_code": self.item_code}


def _audited(
    context: ServiceContext,
    principal: Principal,
    action: str,
    details: Mapping[str, Any],
    work: Callable[[Session], tuple[_T, Mapping[str, Any]]],
) -> _T:
    """Run ``work`` (which returns its result and what to add to the audit details) and
    write ``action``; a refusal (403, 404) is written as ``library.refused`` instead."""
    base = {**details, "department": principal.department_code}
    try:
        with context.database.session() as session:
            result, more = work(session)
            audit.append(
                session,
                action=action,
                actor=principal.actor,
                department_code=principal.department_code,
                details={**base, **more},
            )
            return result
    except (Forbidden, NotFound) as refusal:
        with context.database.session() as session:
            audit.append(
                session,
                action="library.refused",
                actor=principal.actor,
                department_code=principal.department_code,
                details={**base, "refused": action, "status": refusal.status, "why": str(refusal)},
            )
        raise


def lookup(
    context: ServiceContext,
    principal: Principal,
    *,
    holder: object,
    type_code: object,
    purpose: Purpose,
    details: Mapping[str, Any],
    now: datetime | None = None,
) -> list[LibraryEntry]:
    """The current licences of ``type_code`` held by ``holder`` (a credit code or ID number)."""
    if not isinstance(type_code, str):
        raise InvalidInput("type_code (证照类型代码) is required")
    type_code = check_type_code(type_code.strip())
    now = now or now_utc()

    def work(session: Session) -> tuple[list[LibraryEntry], dict[str, Any]]:
        code = holder_code(session, holder)
        require_grant(session, principal, type_code)
        found = entries.by_holder(session, context.settings, code, type_code, now)
        return found, {"holder": code.shown, "identifiers": [e.identifier for e in found]}

    return _audited(
        context,
        principal,
        "library.lookup",
        {**details, **purpose.as_details(), "type_code": type_code},
        work,
    )


def _granted_entry(
    context: ServiceContext, session: Session, principal: Principal, identifier: str, now: datetime
) -> LibraryEntry:
    parsed = LicenceIdentifier.parse(identifier)
    require_grant(session, principal, parsed.type_code)
    return entries.by_identifier(session, context.settings, str(parsed), now)


def face(
    context: ServiceContext,
    principal: Principal,
    identifier: str,
    *,
    purpose: Purpose,
    details: Mapping[str, Any],
    now: datetime | None = None,
) -> LibraryEntry:
    """The licence version ``identifier`` with its 照面信息 (face data)."""
    now = now or now_utc()

    def work(session: Session) -> tuple[LibraryEntry, dict[str, Any]]:
        entry = _granted_entry(context, session, principal, identifier, now)
        return entry, {"status": entry.status}

    return _audited(
        context,
        principal,
        "library.face",
        {**details, **purpose.as_details(), "identifier": identifier},
        work,
    )


def licence_file(
    context: ServiceContext,
    principal: Principal,
    identifier: str,
    *,
    purpose: Purpose,
    details: Mapping[str, Any],
    now: datetime | None = None,
) -> tuple[LibraryEntry, bytes]:
    """The sealed file of licence version ``identifier`` (read before the use is audited:
    an unreadable file is a server fault, not a use)."""
    now = now or now_utc()

    def work(session: Session) -> tuple[tuple[LibraryEntry, bytes], dict[str, Any]]:
        entry = _granted_entry(context, session, principal, identifier, now)
        return (entry, entries.entry_file(context, entry)), {
            "status": entry.status,
            "document_sha256": entry.document_sha256,
        }

    return _audited(
        context,
        principal,
        "library.file",
        {**details, **purpose.as_details(), "identifier": identifier},
        work,
    )


def check(
    context: ServiceContext,
    principal: Principal,
    *,
    identifier: str | None = None,
    number: str | None = None,
    holder: object = None,
    details: Mapping[str, Any],
    now: datetime | None = None,
) -> LibraryEntry:
    """核验: the status of a licence named by its identifier, or by number and holder code."""
    if (identifier is None) == (number is None):
        raise InvalidInput("name the licence by identifier, or by number and holder_code")
    now = now or now_utc()

    def work(session: Session) -> tuple[LibraryEntry, dict[str, Any]]:
        if identifier is not None:
            entry = _granted_entry(context, session, principal, identifier, now)
            return entry, {"identifier": entry.identifier, "status": entry.status}
        code = holder_code(session, holder)
        entry = entries.by_number(session, context.settings, str(number), code, now)
        require_grant(session, principal, entry.type_code)
        return entry, {"identifier": entry.identifier, "status": entry.status}

    asked = {"identifier": identifier} if identifier is not None else {"number": number}
    return _audited(context, principal, "library.check", {**details, **asked}, work)
