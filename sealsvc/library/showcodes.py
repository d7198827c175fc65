"""亮证: a code the holder's system gets so a counter clerk can see one licence, once.

The holder's platform (a ``library`` key granted the licence's type) asks for a code for
one licence of the holder, naming the holder's code, which must be the licence's.  It gets
six digits valid for :data:`LIFETIME`; the clerk's terminal needs no key, only the holder's
code and those digits, and sees the licence's face (or file) once: the code is then used.

Six digits are a million guesses, so guessing is cut short per holder: every wrong code
tried for a holder counts against each of that holder's live codes, and a code with
:data:`MAX_FAILURES` failures is locked — an attacker gets that many tries at a million,
and the holder asks for a new code.  Only an HMAC of a code is stored (keyed with the
installation's secret, so a database dump does not reveal live codes by trying all
million).  Issuing, every showing and every wrong code tried against a live one are
audited; a wrong code for a holder without live codes is not — there is nothing to guess,
and an unauthenticated caller must not be able to make the service write at will.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pki.clock import now_utc
from sealsvc import audit
from sealsvc.apikeys import Principal
from sealsvc.errors import Forbidden, InvalidInput
from sealsvc.identity import ensure_id_salt
from sealsvc.library.entries import LibraryEntry, by_identifier, entry_file
from sealsvc.library.grants import require_grant
from sealsvc.library.holders import holder_code
from sealsvc.licences.identifier import LicenceIdentifier
from sealsvc.models import ShowCode

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["LIFETIME", "MAX_FAILURES", "IssuedCode", "Shown", "issue_code", "show"]

LIFETIME = timedelta(minutes=5)
MAX_FAILURES = 5
"""Wrong codes tried for a holder before that holder's live codes lock."""
DIGITS = 6
_REFUSED = "this 亮证 code is wrong, used, expired or locked"


@dataclass(frozen=True)
class IssuedCode:
    code: str
    """The six digits, shown to the holder once (only an HMAC is kept)."""
    identifier: str
    expires_at: datetime


@dataclass(frozen=True)
class Shown:
    """What the clerk sees: the licence, and its file when asked for."""

    entry: LibraryEntry
    file: bytes | None


def _hmac(session: Session, holder_key: str, code: str) -> str:
    message = f"library-show-code\x00{holder_key}\x00{code}".encode()
    return hmac.new(ensure_id_salt(session), message, hashlib.sha256).hexdigest()


def issue_code(
    context: ServiceContext,
    principal: Principal,
    identifier: str,
    *,
    holder: object,
    details: Mapping[str, Any],
    now: datetime | None = None,
) -> IssuedCode:
    """A new code for licence ``identifier`` of ``holder`` (see the module docstring)."""
    now = now or now_utc()
    key = str(LicenceIdentifier.parse(identifier))
    with context.database.session() as session:
        code_of = holder_code(session, holder)
        require_grant(session, principal, LicenceIdentifier.parse(key).type_code)
        entry = by_identifier(session, context.settings, key, now)
        if entry.holder_key != code_of.key:
            raise Forbidden("this licence is not the holder's: no 亮证 code for it")
        code = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
        row = ShowCode(
            code_hmac=_hmac(session, code_of.key, code),
            holder_key=code_of.key,
            identifier=key,
            api_key_id=principal.key_id,
            created_at=now,
            expires_at=now + LIFETIME,
            failures=0,
        )
        session.add(row)
        session.flush()
        audit.append(
            session,
            action="library.show_code",
            actor=principal.actor,
            department_code=principal.department_code,
            details={
                **details,
                "identifier": key,
                "holder": code_of.shown,
                "code_id": row.id,
                "expires_at": row.expires_at.isoformat(),
            },
        )
        return IssuedCode(code, key, row.expires_at)


def show(
    context: ServiceContext,
    *,
    holder: object,
    code: object,
    with_file: bool,
    client: str,
    now: datetime | None = None,
) -> Shown:
    """The licence a live code names, once; :class:`Forbidden` for a wrong, used, expired
    or locked code (one message for all: the answer must not help guessing)."""
    if not isinstance(code, str) or not (code.isascii() and code.isdigit()) or len(code) != DIGITS:
        raise InvalidInput(f"code must be the {DIGITS} digits the holder was given")
    now = now or now_utc()
    # First without the write lock: most wrong requests name a holder with no live code,
    # and an unauthenticated caller must not be able to queue the service's writers.
    with context.database.session(read_only=True) as session:
        code_of = holder_code(session, holder)
        if not _live(session, code_of.key, now):
            raise Forbidden(_REFUSED)
    with context.database.session() as session:
        live = _live(session, code_of.key, now, lock=True)
        digest = _hmac(session, code_of.key, code)
        match = next((r for r in live if hmac.compare_digest(r.code_hmac, digest)), None)
        if match is None:
            for row in live:
                row.failures += 1
            if live:
                audit.append(
                    session,
                    action="library.show.refused",
                    actor=f"counter:{client}",
                    details={
                        "client": client,
                        "holder": code_of.shown,
                        "code_ids": [r.id for r in live],
                        "locked": [r.id for r in live if r.failures >= MAX_FAILURES],
                    },
                )
            shown = None
        else:
            match.used_at = now
            entry = by_identifier(session, context.settings, match.identifier, now)
            shown = Shown(entry, entry_file(context, entry) if with_file else None)
            audit.append(
                session,
                action="library.show",
                actor=f"counter:{client}",
                document_hash=entry.document_sha256 if with_file else None,
                details={
                    "client": client,
                    "identifier": entry.identifier,
                    "holder": code_of.shown,
                    "code_id": match.id,
                    "issued_by": match.api_key_id,
                    "file": with_file,
                },
            )
    if shown is None:
        raise Forbidden(_REFUSED)
    return shown


def _live(
    session: Session, holder_key: str, now: datetime, *, lock: bool = False
) -> list[ShowCode]:
    """The holder's codes that may still be shown: unused, unexpired, not locked."""
    query = select(ShowCode).where(
        ShowCode.holder_key == holder_key,
        ShowCode.used_at.is_(None),
        ShowCode.expires_at > now,
        ShowCode.failures < MAX_FAILURES,
    )
    return list(session.scalars(query.with_for_update() if lock else query))
