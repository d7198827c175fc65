"""Files every node must serve, kept in the database when it is shared (issue #19).

A sealed licence on one node's disk cannot be downloaded from another.  With PostgreSQL
the file goes into ``stored_files`` in the same transaction as its record and audit
entry, so there is no crash window at all (the directory layout needs a temporary file
and a rename for that).  Rows are named as the directory layout names the files, so a
data directory moves into the database by copying bytes (``sealctl migrate-storage``).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealsvc.models import StoredFile

__all__ = ["LICENCE", "add", "read"]

LICENCE = "licence"
"""The kind of sealed licence files (``licences/<number>-v<version>.<pdf|ofd>``)."""


def add(session: Session, kind: str, name: str, content: bytes) -> StoredFile:
    """Store a new file inside the caller's transaction (a name is never overwritten:
    the primary key refuses a second file of the same kind and name)."""
    row = StoredFile(
        kind=kind, name=name, content=content, sha256=hashlib.sha256(content).hexdigest()
    )
    session.add(row)
    return row


def read(session: Session, kind: str, name: str) -> bytes | None:
    """The file's bytes, ``None`` if there is no such file."""
    return session.scalar(
        select(StoredFile.content).where(StoredFile.kind == kind, StoredFile.name == name)
    )
