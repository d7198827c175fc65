"""A record under examination: its bytes, what the file shows, what the service knows.

:class:`RecordInspector` is built once per process (each batch worker builds its own, as
the API builds one :class:`~sealsvc.verification.service.DocumentVerifier` per worker) and
turns bytes into a :class:`Record`:

* the file's facts (:mod:`.pdf_facts`, :mod:`.ofd_facts`);
* the verification engine's verdict on every seal and time-stamp, with the registry's
  word on the licence the file is (the same :class:`DocumentCheck` ``POST /v1/verify``
  answers with: one engine, one set of trust rules);
* for a registered licence, the registry's own record — its GB/T 36903 metadata as
  issued, its issuer and the day of its first issue (the serial check groups by them).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import select

from pki.algorithms import digest
from pki.clock import CHINA_TIME
from sealsvc.archival_check.facts import FileFacts
from sealsvc.archival_check.ofd_facts import inspect_ofd
from sealsvc.archival_check.pdf_facts import inspect_pdf
from sealsvc.archival_check.rendering import render_problem
from sealsvc.licences.identifier import LicenceIdentifier
from sealsvc.licences.pipeline import get_licence, get_licence_file, record_metadata
from sealsvc.models import Licence
from sealsvc.ofd_sealing import is_ofd
from sealsvc.verification.service import DocumentCheck, DocumentVerifier

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["Record", "RecordInspector", "RegisteredLicence", "issuer_of"]


@dataclass(frozen=True)
class RegisteredLicence:
    """The registry's record of the licence a file is (or claims to be)."""

    number: str
    version: int | None
    """The version whose file this is byte for byte; ``None`` if it is none of them."""
    status: str
    sentence: str | None
    """Why the licence no longer counts (annulled, superseded), ``None`` while valid."""
    document_matches: bool
    metadata: dict[str, str]
    """The GB/T 36903 record as issued (of the matched version, else the latest)."""
    issuer: str
    """Who issued it: the identifier's issuer code, else the first seal's code."""
    first_issued: datetime
    """When version 1 was issued: its day (Beijing time) is the serial's day."""
    first_id: int
    """Row id of version 1: the registry's issue order within a day."""

    @property
    def issue_day(self) -> str:
        return self.first_issued.astimezone(CHINA_TIME).date().isoformat()


@dataclass(frozen=True)
class Record:
    source: str
    data: bytes
    facts: FileFacts
    verification: DocumentCheck | None
    """``None`` for a file that is neither PDF nor OFD (nothing to verify)."""
    licence: RegisteredLicence | None
    render_problem: str | None
    rendered: bool
    """Whether page 1 was painted (``--render``); else only parsed."""

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def sm3(self) -> str:
        return digest("sm3", self.data).hex()

    @property
    def licence_number(self) -> str | None:
        if self.licence is not None:
            return self.licence.number
        return self.facts.licence_metadata.get("number")


def issuer_of(row: Licence) -> str:
    """The issuer a licence row's serial belongs to (identifier's issuer code, else the
    first seal): the same key for every row, so a day's serials group consistently."""
    if row.identifier:
        return LicenceIdentifier.parse(row.identifier).issuer_code
    return f"seal:{json.loads(row.seal_codes)[0]}"


class RecordInspector:
    """Bytes or licence numbers → :class:`Record`; one per process, thread-safe."""

    def __init__(
        self,
        context: ServiceContext,
        *,
        render: bool = False,
        verifier: DocumentVerifier | None = None,
    ) -> None:
        """``verifier``: the process's own, when it has one (the API's), so that its
        caches serve both ``POST /v1/verify`` and the archive check."""
        self.context = context
        self.render = render
        self.verifier = verifier or DocumentVerifier(context)

    def from_number(self, number: str) -> Record:
        """The stored file of licence ``number`` (latest version), checked as a record."""
        return self.from_bytes(f"licence:{number}", get_licence_file(self.context, number))

    def from_bytes(self, source: str, data: bytes) -> Record:
        if is_ofd(data):
            facts = inspect_ofd(data)
        elif b"%PDF-" in data[:1024]:
            facts = inspect_pdf(data)
        else:
            facts = FileFacts("unknown", problem="既不是 PDF 也不是 OFD 文件")
        verification = None
        if facts.format != "unknown":
            verification = self.verifier.check(data, ofd=facts.format == "ofd")
        licence = self._registered(verification) if verification else None
        problem, rendered = None, False
        if self.render and facts.readable:
            problem, rendered = render_problem(data, facts.format), True
        return Record(source, data, facts, verification, licence, problem, rendered)

    def _registered(self, check: DocumentCheck) -> RegisteredLicence | None:
        match = check.licence
        if match is None:
            return None
        number = match.registry.number
        record = get_licence(self.context, number, match.version)
        metadata = record_metadata(self.context, record)
        with self.context.database.session(read_only=True) as session:
            first = session.scalars(
                select(Licence).where(Licence.number == number, Licence.version == 1)
            ).one()
            issuer, first_issued, first_id = issuer_of(first), first.issued_at, first.id
        return RegisteredLicence(
            number=number,
            version=match.version,
            status=match.status,
            sentence=match.sentence,
            document_matches=match.document_matches,
            metadata=metadata.as_dict() if metadata else {},
            issuer=issuer,
            first_issued=first_issued,
            first_id=first_id,
        )
