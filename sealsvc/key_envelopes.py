"""The key store's envelopes in the database: one key store for every node (issue #19).

:class:`pki.keystore.EnvelopeKeyStore` encrypts; this module only keeps its documents —
the header (KDF parameters and passphrase verifier) in ``keystore_header`` and each key's
envelope in ``key_envelopes`` — byte for byte what the directory layout writes to files,
so ``sealctl migrate-storage`` moves a key store by copying bytes and can prove it by
their SHA-256.  Each call is its own short transaction: a key is written before the seal
or CA row that names it commits, exactly as with files, and the callers delete it again
if their transaction fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from pki.errors import KeyStoreError
from sealsvc.db import Database
from sealsvc.models import KeyEnvelope, KeyStoreHeader

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

__all__ = ["DatabaseEnvelopes"]


class DatabaseEnvelopes:
    """An :class:`~pki.keystore.EnvelopeStorage` in the service's database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def __str__(self) -> str:
        return f"database {self._database.url.render_as_string(hide_password=True)}"

    def prepare(self) -> None:
        """Nothing to make: the tables come with the schema migrations."""

    def read_header(self) -> bytes | None:
        with self._reading() as session:
            return session.scalar(select(KeyStoreHeader.document).where(KeyStoreHeader.id == 1))

    def create_header(self, document: bytes) -> None:
        self._insert(KeyStoreHeader(id=1, document=document))

    def key_ids(self) -> list[str]:
        with self._reading() as session:
            return list(session.scalars(select(KeyEnvelope.key_id).order_by(KeyEnvelope.key_id)))

    def read_envelope(self, key_id: str) -> bytes | None:
        with self._reading() as session:
            return session.scalar(select(KeyEnvelope.document).where(KeyEnvelope.key_id == key_id))

    def create_envelope(self, key_id: str, document: bytes) -> None:
        self._insert(KeyEnvelope(key_id=key_id, document=document))

    def delete_envelope(self, key_id: str) -> bool:
        try:
            with self._database.session() as session:
                # SQLAlchemy types Session.execute as returning Result; for a DELETE it
                # returns a CursorResult, and only that type declares rowcount.
                result = cast(
                    "CursorResult[Any]",
                    session.execute(delete(KeyEnvelope).where(KeyEnvelope.key_id == key_id)),
                )
                return bool(result.rowcount)
        except SQLAlchemyError as exc:
            raise self._unusable("delete", exc) from None

    def envelope_name(self, key_id: str) -> str:
        return f"key {key_id} in the database key store"

    # -- internals -------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        try:
            with self._database.session(read_only=True) as session:
                yield session
        except SQLAlchemyError as exc:
            raise self._unusable("read", exc) from None

    def _insert(self, row: KeyStoreHeader | KeyEnvelope) -> None:
        """Insert ``row``; :class:`FileExistsError` when its primary key exists (the
        storage contract: two nodes creating the same document cannot both win)."""
        try:
            with self._database.session() as session:
                session.add(row)
        except IntegrityError:
            raise FileExistsError(getattr(row, "key_id", "keystore header")) from None
        except SQLAlchemyError as exc:
            raise self._unusable("write", exc) from None

    def _unusable(self, verb: str, exc: SQLAlchemyError) -> KeyStoreError:
        reason = type(getattr(exc, "orig", None) or exc).__name__
        return KeyStoreError(f"cannot {verb} the key store in the {self}: {reason}")
