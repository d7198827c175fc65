"""Single writers across nodes: PostgreSQL advisory locks held until the transaction ends.

Some operations must not run twice at once even on different nodes: issuing the next CRL
of a CA (its number is the previous one plus one), creating CAs, the seal maker or a
personal CA on first use (two nodes would each make one).  The unique constraints would
turn such a race into an error; a transaction-scoped advisory lock turns it into a queue,
and the second writer then sees what the first committed.  On SQLite every writing
transaction already holds the database's write lock (``BEGIN IMMEDIATE``), so there is
nothing more to take.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["Resource", "hold"]


class Resource(StrEnum):
    """What a lock guards; the name decides the 64-bit advisory lock key."""

    CA = "sealsvc:ca"
    """CA set-up and CA-side certificates (roots, issuing, TSA, OCSP, maker, person CAs)."""

    CRL = "sealsvc:crl"
    """CRL numbers and issuance of every issuer."""


def hold(session: Session, resource: Resource) -> None:
    """Take ``resource`` for the rest of ``session``'s transaction (a no-op on SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(resource)})


def lock_key(resource: Resource) -> int:
    """A stable signed 64-bit key for ``resource`` (advisory locks take a bigint)."""
    digest = hashlib.sha256(resource.value.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
