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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from pyhanko.pdf_utils.reader import PdfFileReader

from ofd.package import is_ofd
from pki.algorithms import digest
from pki.clock import CHINA_TIME
from sealsvc.archival_check.facts import FileFacts
from sealsvc.archival_check.ofd_facts import inspect_ofd
from sealsvc.archival_check.pdf_facts import inspect_pdf
from sealsvc.licences.identifier import LicenceIdentifier
from sealsvc.licences.identify import LicenceMatch
from sealsvc.licences.pipeline import (
    LicenceRecord,
    get_licence_file,
    licence_versions,
    record_metadata,
)
from sealsvc.verification.pdf_signatures import (
    MAX_PDF_BYTES,
    PARSE_ERRORS,
    open_reader,
    release,
)
from sealsvc.verification.service import (
    DocumentCheck,
    DocumentVerifier,
    RegistryState,
    Verified,
    match_licences,
)

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
    verified: Verified | None = None
    """The verification before :meth:`RecordInspector.registered` asked which licence the
    file is (``verification`` then holds the answer too)."""

    @cached_property
    def sha256(self) -> str:
        """The verifier's hash of the file when it saw it (hashing 200 KB twice is a tenth
        of what the checks add to verification)."""
        if self.verification is not None:
            return self.verification.report.document_sha256
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def sm3(self) -> str:
        return digest("sm3", self.data).hex()

    @property
    def licence_number(self) -> str | None:
        if self.licence is not None:
            return self.licence.number
        return self.facts.licence_metadata.get("number")


def issuer_of(identifier: str | None, seal_codes: Sequence[str]) -> str:
    """The issuer a licence's serial belongs to (identifier's issuer code, else the first
    seal): the same key for every version, so a day's serials group consistently."""
    if identifier:
        return LicenceIdentifier.parse(identifier).issuer_code
    return f"seal:{seal_codes[0]}"


def _opened(data: bytes) -> PdfFileReader | None:
    """``data`` opened for both the verifier and the facts; ``None`` when it does not
    open (each then reports why in its own words)."""
    if len(data) > MAX_PDF_BYTES:
        return None
    try:
        return open_reader(data)
    except (*PARSE_ERRORS, RecursionError, NotImplementedError):
        return None


class RecordInspector:
    """Bytes or licence numbers → :class:`Record`; one per process, thread-safe.

    A record is examined on its own (:meth:`examine`); the registry's records of the
    licences a batch holds are read together (:meth:`registered`): one query for a chunk
    of the batch, not several per record.
    """

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

    def registry_state(self) -> RegistryState:
        """What the registry says now (the head of the audit log), for the records that
        :meth:`examine` then checks against it: a chunk of a batch reads it once."""
        return self.verifier.registry_state()

    def from_number(self, number: str, state: RegistryState) -> Record:
        """The stored file of licence ``number`` (latest version), examined."""
        data = get_licence_file(self.context, number)
        return self.examine(f"licence:{number}", data, state)

    def examine(self, source: str, data: bytes, state: RegistryState) -> Record:
        """The file's facts and the verification engine's verdict on its seals as of
        registry ``state`` (:meth:`registry_state`, read when or before this record's
        check began); the licence it is (``verification.licence``, ``licence``) is left
        for :meth:`registered` to fill in."""
        verified: Verified | None
        if is_ofd(data):
            facts, verified = inspect_ofd(data), self.verifier.verified(data, state, ofd=True)
        elif b"%PDF-" in data[:1024]:
            reader = _opened(data)  # parsed once: the verifier's objects are the facts' too
            try:
                verified = self.verifier.verified(data, state, ofd=False, reader=reader)
                facts = inspect_pdf(data, reader)
            finally:
                if reader is not None:
                    release(reader)
        else:
            facts, verified = FileFacts("unknown", problem="既不是 PDF 也不是 OFD 文件"), None
        problem, rendered = None, False
        if self.render and facts.readable:
            # imported here: pdftoppm's wrapper and the OFD rasteriser stay out of the
            # workers of a batch that does not paint (a spawned worker imports afresh)
            from sealsvc.archival_check.rendering import render_problem

            problem, rendered = render_problem(data, facts.format), True
        verification = None if verified is None else DocumentCheck(verified.report, None)
        return Record(source, data, facts, verification, None, problem, rendered, verified)

    def registered(self, records: Sequence[Record]) -> list[Record]:
        """``records`` with the registry's record of the licence each is (or names): which
        licence each file is, and that licence's versions, read once for all of them."""
        verified = [(r.verified, r.data) for r in records if r.verified is not None]
        checks = iter(match_licences(self.context, verified))
        records = [
            replace(r, verification=next(checks)) if r.verified is not None else r for r in records
        ]
        matches = [r.verification.licence if r.verification else None for r in records]
        versions = licence_versions(self.context, {m.registry.number for m in matches if m})
        return [
            replace(record, licence=self._licence(match, versions.get(match.registry.number)))
            if match is not None
            else record
            for record, match in zip(records, matches, strict=True)
        ]

    def _licence(
        self, match: LicenceMatch, versions: list[LicenceRecord] | None
    ) -> RegisteredLicence | None:
        if not versions:  # licences are never deleted; a number gone is none of ours
            return None
        record = next((v for v in versions if v.version == match.version), versions[-1])
        metadata = record_metadata(self.context, record)
        first = versions[0]
        return RegisteredLicence(
            number=match.registry.number,
            version=match.version,
            status=match.status,
            sentence=match.sentence,
            document_matches=match.document_matches,
            metadata=metadata.as_dict() if metadata else {},
            issuer=issuer_of(first.identifier, first.seal_codes),
            first_issued=first.issued_at,
            first_id=first.id,
        )
