"""The change feed (``GET /v1/library/changes?since=<cursor>``): what subscribers follow.

The feed is read from the audit log, not kept beside it: every issue, re-issue and
annulment of a licence — issued here or collected — is audited in the transaction that
makes it, so the feed shows a change exactly when every other view does, and the audit
sequence number is a cursor that only grows and never skips a committed change.  A
subscriber keeps the ``next`` cursor of each page and asks again from there.

Expiry is no event — nothing happens on the day a licence runs out, and every view computes
``expired`` from the validity period (:mod:`.entries`) — so :func:`record_expiries` makes one:
run daily (``sealctl library expire``, e.g. from cron), it audits ``library.expire`` once per
licence version that has run out since, and the feed carries it as ``expired``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pki.clock import now_utc
from sealsvc import audit
from sealsvc.apikeys import Principal
from sealsvc.errors import InvalidInput
from sealsvc.library.entries import newly_expired
from sealsvc.library.grants import granted_types
from sealsvc.licences.identifier import LicenceIdentifier
from sealsvc.models import AuditEntry, Licence

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["MAX_PAGE", "Change", "ChangePage", "changes", "record_expiries"]

MAX_PAGE = 500

_EVENTS = {
    "licence.issue": "issued",
    "licence.reissue": "reissued",
    "licence.annul": "annulled",
    "library.collect": "collected",
    "library.annul": "annulled",
    "library.expire": "expired",
}
"""Audit actions that change what the library shows, and the feed's name for each."""


@dataclass(frozen=True)
class Change:
    cursor: int
    """The audit sequence number of the change."""
    at: str
    event: str
    """``issued``, ``reissued``, ``collected`` or ``annulled``."""
    identifier: str
    type_code: str
    superseded: tuple[str, ...]
    """Identifiers this change made ``superseded`` (a re-issue's previous version)."""
    annul_kind: str | None

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "superseded": list(self.superseded)}


@dataclass(frozen=True)
class ChangePage:
    changes: tuple[Change, ...]
    next: int
    """The cursor to ask from next time (the last audit entry this page read)."""
    more: bool
    """Whether there may be more changes after ``next`` right now."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "changes": [c.as_dict() for c in self.changes],
            "next": self.next,
            "more": self.more,
        }


def _identifier_of(session: Session, number: str, version: int) -> str | None:
    return session.scalar(
        select(Licence.identifier).where(Licence.number == number, Licence.version == version)
    )


def _change(session: Session, entry: AuditEntry) -> Change | None:
    details = json.loads(entry.details)
    identifier = details.get("identifier")
    superseded: list[str] = list(details.get("superseded") or [])
    if entry.action == "licence.annul":
        identifier = _identifier_of(session, details["number"], details["version"])
    elif entry.action == "licence.reissue" and "previous_version" in details:
        previous = _identifier_of(session, details["number"], details["previous_version"])
        superseded += [previous] if previous else []
    if not identifier:  # a licence without a GB/T 36904 identifier is not in the library
        return None
    return Change(
        cursor=entry.seq,
        at=entry.at.isoformat(),
        event=_EVENTS[entry.action],
        identifier=identifier,
        type_code=LicenceIdentifier.parse(identifier).type_code,
        superseded=tuple(superseded),
        annul_kind=details.get("kind"),
    )


def changes(session: Session, principal: Principal, since: int, limit: int = 100) -> ChangePage:
    """Changes after cursor ``since`` to licence types ``principal`` may see, oldest first."""
    if since < 0:
        raise InvalidInput("since must be a cursor from an earlier page, or 0")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE}")
    types = granted_types(session, principal)
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.seq > since, AuditEntry.action.in_(_EVENTS))
        .order_by(AuditEntry.seq)
        .limit(limit)
    ).all()
    found = []
    for entry in entries:
        change = _change(session, entry)
        if change is not None and (types is None or change.type_code in types):
            found.append(change)
    return ChangePage(
        changes=tuple(found),
        next=entries[-1].seq if entries else since,
        more=len(entries) == limit,
    )


def record_expiries(
    context: ServiceContext, *, actor: str, now: datetime | None = None
) -> list[str]:
    """Audit ``library.expire`` for each licence version that expired and has no such entry
    yet; returns their identifiers.  Idempotent: run it as often as you like."""
    now = now or now_utc()
    with context.database.session() as session:
        audit.lock_chain(session)  # two runs at once must not record one expiry twice
        known = {
            json.loads(details).get("identifier")
            for details in session.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "library.expire")
            )
        }
        fresh = [
            e for e in newly_expired(session, context.settings, now) if e.identifier not in known
        ]
        for entry in fresh:
            audit.append(
                session,
                action="library.expire",
                actor=actor,
                document_hash=entry.document_sha256 or None,
                details={"identifier": entry.identifier, "valid_until": entry.valid_until},
            )
        return [entry.identifier for entry in fresh]
