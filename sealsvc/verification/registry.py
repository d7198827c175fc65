"""Registry lookup for verification: is this seal certificate one of ours, and its status now."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from sealsvc.db import Database
from sealsvc.models import Certificate
from sealsvc.verification.report import RegistryMatch
from sealsvc.verification.validator import RegistryLookup

__all__ = ["database_lookup"]


def database_lookup(database: Database) -> RegistryLookup:
    """A :data:`RegistryLookup` over the ``certificates`` table (by the DER's SHA-256)."""

    # The seal in the same query: loading it lazily was a second round trip per signature.
    query = select(Certificate).options(joinedload(Certificate.seal))

    def lookup(sha256: str) -> RegistryMatch | None:
        with database.session(read_only=True) as session:
            row = session.scalars(query.where(Certificate.sha256 == sha256)).first()
            if row is None or row.seal is None:
                return None
            return RegistryMatch(row.seal.code, row.seal.status, row.status)

    return lookup
