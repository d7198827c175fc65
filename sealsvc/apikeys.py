"""API keys of approval systems: issued once, stored hashed, bound to a department and scopes.

A key is shown once as ``sk_<key id>_<secret>``.  The key id is public (logs, audit
trail); the secret is 256 random bits of which only a SHA-256 is stored.  A fast hash is
right here: a guessable password needs a slow KDF, a 256-bit random secret does not, and
every API request must authenticate quickly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealsvc import audit, departments
from sealsvc.errors import InvalidInput, NotFound, Unauthorized
from sealsvc.models import ApiKey, Department, DepartmentKind, utcnow

__all__ = [
    "ENTERPRISE_SCOPES",
    "REMOVED_SCOPES",
    "SCOPES",
    "Principal",
    "authenticate",
    "create_api_key",
    "has_active_key",
    "list_api_keys",
    "revoke_api_key",
]

SCOPES = frozenset({"sign", "licence", "archive", "signature", "library", "admin"})
"""``signature``: the platform has persons sign (``POST /v1/signatures``); it signs only
with an ID token of the person, so it needs no department.  ``library``: the licence library
(``/v1/library``) — a department sees the licence types granted to it, so it needs one."""
REMOVED_SCOPES = {
    "verify": "POST /v1/verify is public: it needs no key and checks none",
}
"""Scopes that no longer exist, and why.  Verification is public by design (citizens
verify without a key), so a ``verify`` scope granted nothing; rather than invent a
privilege to give it meaning, it went.  Old keys that hold it keep working: the scope is
ignored, ``sealctl apikey list`` says so, and a new key cannot be given it."""
ENTERPRISE_SCOPES = frozenset({"sign"})
"""What a key of an enterprise (a seal set's holder) may have: sealing its own documents
with its own seals. Licences, archives and administration are the city's."""
_TOKEN = re.compile(r"sk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key id, its department (None for an admin key) and scopes."""

    key_id: str
    name: str
    department_code: str | None
    scopes: frozenset[str]
    rate_per_minute: int

    @property
    def actor(self) -> str:
        return f"api:{self.key_id}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_api_key(
    session: Session,
    *,
    name: str,
    scopes: set[str],
    department: str | None,
    actor: str,
    rate_per_minute: int = 600,
) -> tuple[ApiKey, str]:
    """A new key; returns the row and the token, which is never stored and never shown again."""
    removed = sorted(set(scopes) & REMOVED_SCOPES.keys())
    if removed:
        raise InvalidInput(
            f"the {removed[0]!r} scope no longer exists ({REMOVED_SCOPES[removed[0]]}); "
            "leave it out"
        )
    unknown = set(scopes) - SCOPES
    if unknown or not scopes:
        raise InvalidInput(f"scopes must be a non-empty subset of {', '.join(sorted(SCOPES))}")
    if not name.strip():
        raise InvalidInput("an API key needs a name")
    department_row = departments.get(session, department) if department else None
    if department_row is None and "admin" not in scopes and {"sign", "licence", "library"} & scopes:
        raise InvalidInput(
            "a key that signs, issues licences or uses the licence library must belong to a "
            "department"
        )
    if department_row is not None and department_row.kind == DepartmentKind.ENTERPRISE:
        beyond = sorted(set(scopes) - ENTERPRISE_SCOPES)
        if beyond:
            raise InvalidInput(
                f"an enterprise's key may only seal its own documents (scope "
                f"{', '.join(sorted(ENTERPRISE_SCOPES))}), not {', '.join(beyond)}"
            )
    key_id = secrets.token_hex(8)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    row = ApiKey(
        key_id=key_id,
        secret_sha256=_digest(secret),
        name=name.strip(),
        department_id=department_row.id if department_row else None,
        scopes=",".join(sorted(scopes)),
        rate_per_minute=rate_per_minute,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        action="apikey.create",
        actor=actor,
        department_code=department_row.code if department_row else None,
        details={"key_id": key_id, "name": row.name, "scopes": row.scopes},
    )
    return row, f"sk_{key_id}_{secret}"


def authenticate(session: Session, token: str) -> Principal:
    """The principal for ``token``; :class:`Unauthorized` for anything else."""
    match = _TOKEN.fullmatch(token.strip())
    if not match:
        raise Unauthorized("malformed API key")
    key_id, secret = match.groups()
    # One Core query, the key with its department's code: every API request runs it, and
    # loading ORM objects (and the department lazily) took twice as long.
    row = session.execute(
        select(
            ApiKey.secret_sha256,
            ApiKey.revoked_at,
            ApiKey.name,
            ApiKey.scopes,
            ApiKey.rate_per_minute,
            Department.code.label("department_code"),
        )
        .outerjoin(Department, Department.id == ApiKey.department_id)
        .where(ApiKey.key_id == key_id)
    ).first()
    # compare even when the row is missing, so timing does not tell which key ids exist
    expected = row.secret_sha256 if row else "0" * 64
    if not hmac.compare_digest(expected, _digest(secret)) or row is None:
        raise Unauthorized("unknown API key")
    if row.revoked_at is not None:
        raise Unauthorized("this API key has been revoked")
    return Principal(
        key_id=key_id,
        name=row.name,
        department_code=row.department_code,
        scopes=frozenset(row.scopes.split(",")) - REMOVED_SCOPES.keys(),
        rate_per_minute=row.rate_per_minute,
    )


def has_active_key(session: Session, department_code: str) -> bool:
    """Whether the department holds an API key that is not revoked."""
    return (
        session.scalar(
            select(ApiKey.id)
            .join(Department, Department.id == ApiKey.department_id)
            .where(Department.code == department_code, ApiKey.revoked_at.is_(None))
            .limit(1)
        )
        is not None
    )


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_api_key(session: Session, key_id: str, *, actor: str) -> ApiKey:
    row = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).first()
    if row is None:
        raise NotFound(f"no API key {key_id!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.append(session, action="apikey.revoke", actor=actor, details={"key_id": key_id})
    return row
