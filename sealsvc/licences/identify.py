"""Which registered licence is this PDF, and does it match the registered file?

A citizen uploads a file that claims to be a licence.  We find the licence by, in order:

1. the number the caller names (the QR page's upload form says which licence it is about);
2. the file's SHA-256, equal to a registered version's ``document_sha256`` (an untouched
   download);
3. the number the renderer wrote into the XMP metadata (``<pdf:Keywords>template,
   number</pdf:Keywords>``; PDF/A keeps that stream unfiltered, so a byte search finds it
   without parsing the hostile file a second time).  This finds altered or re-sealed
   copies of our licences.

The metadata is the uploader's to forge, so it only chooses *which* record to compare
with: whether the file is the one registered is decided by the SHA-256 alone, and whether
its seals hold by the verification report.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealsvc.config import Settings
from sealsvc.errors import NotFound
from sealsvc.licences.status import (
    NUMBER_PATTERN,
    LicenceStatusReport,
    check_number,
    status_of_rows,
)
from sealsvc.licences.wording import VersionState, no_longer_valid, status_label
from sealsvc.models import Licence

__all__ = ["LicenceMatch", "identify_licence", "identify_licences", "number_in_metadata"]

_KEYWORDS = re.compile(rb"<pdf:Keywords>[a-z0-9_]{1,64}, ([A-Z0-9][A-Z0-9-]{5,63})</pdf:Keywords>")


@dataclass(frozen=True)
class LicenceMatch:
    """A registered licence an uploaded file was matched with, and how well it matches."""

    registry: LicenceStatusReport
    """The licence's registry record (latest version's status, title, issuer, message)."""
    found_by: str
    """``requested`` (the caller named the number), ``sha256`` (the file is a registered
    file) or ``metadata`` (the file's metadata names the number)."""
    version: int | None
    """The registered version whose file the upload is byte for byte, ``None`` if none."""
    status: str
    """Status of that version (``valid``, ``annulled``, ``superseded``), else of the latest."""
    annul_kind: str | None
    """``revoked`` (吊销) or ``cancelled`` (注销) when that version is annulled."""
    status_changed_at: datetime | None
    """When that version was annulled or superseded."""
    sentence: str | None
    """Why the licence no longer counts (``该证照已于 … 被注销，不再有效。``); ``None`` if valid."""
    document_matches: bool
    """The upload's SHA-256 equals a registered file of this licence."""
    registered_sha256: str
    """SHA-256 of the matched version's file, else of the latest version's."""
    identifier: str | None
    """GB/T 36904 identifier of that version (``None`` if it was issued without one)."""

    def as_dict(self) -> dict[str, Any]:
        registry = self.registry
        return {
            "number": registry.number,
            "template": registry.template,
            "title": registry.title,
            "issuer": registry.issuer,
            "found_by": self.found_by,
            "version": self.version,
            "latest_version": registry.latest_version,
            "status": self.status,
            "status_label": status_label(self.status, self.annul_kind),
            "annul_kind": self.annul_kind,
            "status_changed_at": self.status_changed_at and self.status_changed_at.isoformat(),
            "sentence": self.sentence,
            "latest_status": registry.status,
            "status_reason": registry.status_reason,
            "issued_at": registry.issued_at.isoformat(),
            "document_matches": self.document_matches,
            "registered_sha256": self.registered_sha256,
            "identifier": self.identifier,
        }


def number_in_metadata(pdf: bytes) -> str | None:
    """The licence number our renderer wrote into the XMP metadata (the last one found)."""
    found = _KEYWORDS.findall(pdf)
    return found[-1].decode("ascii") if found else None


def identify_licence(
    session: Session,
    pdf_sha256: str,
    pdf: bytes,
    *,
    number: str | None = None,
    settings: Settings | None = None,
    metadata_number: str | None = None,
) -> LicenceMatch | None:
    """The licence the file is (or claims to be); ``None`` when it is none of ours.

    A ``number`` the caller names must be well-formed (:class:`InvalidInput`) and
    registered (:class:`NotFound`).  ``metadata_number`` is the number the file's metadata
    names when the caller has read it (an OFD's ``CustomDatas``); else the PDF's XMP is
    searched.
    """
    if number is None:
        return identify_licences(session, [(pdf_sha256, pdf, metadata_number)], settings=settings)[
            0
        ]
    rows = _versions(session, [check_number(number)]).get(number)
    if not rows:
        raise NotFound(f"no licence {number}")
    return _match(rows, pdf_sha256, "requested", settings)


def identify_licences(
    session: Session,
    files: Sequence[tuple[str, bytes, str | None]],
    *,
    settings: Settings | None = None,
) -> list[LicenceMatch | None]:
    """:func:`identify_licence` of each file of a batch — (SHA-256, bytes, the number its
    metadata names or ``None``) — in two queries for all of them, not three per file."""
    by_sha256: dict[str, str] = {}
    wanted = sorted({sha256 for sha256, _, _ in files})
    if wanted:
        query = select(Licence.number, Licence.document_sha256)
        for found, sha256 in session.execute(query.where(Licence.document_sha256.in_(wanted))):
            by_sha256.setdefault(sha256, found)
    numbers: list[tuple[str | None, str]] = []
    for sha256, pdf, metadata_number in files:
        number = by_sha256.get(sha256)
        if number is not None:
            numbers.append((number, "sha256"))
        else:
            numbers.append((metadata_number or number_in_metadata(pdf), "metadata"))
    versions = _versions(
        session, {n for n, _ in numbers if n is not None and NUMBER_PATTERN.fullmatch(n)}
    )
    return [
        _match(versions[number], sha256, found_by, settings) if number in versions else None
        for (number, found_by), (sha256, _, _) in zip(numbers, files, strict=True)
    ]


def _versions(session: Session, numbers: Collection[str]) -> dict[str, list[Licence]]:
    """Every version of each licence of ``numbers`` that is registered, oldest first."""
    found: dict[str, list[Licence]] = {}
    if numbers:
        query = select(Licence).where(Licence.number.in_(sorted(numbers)))
        for row in session.scalars(query.order_by(Licence.number, Licence.version)):
            found.setdefault(row.number, []).append(row)
    return found


def _match(
    rows: Sequence[Licence], pdf_sha256: str, found_by: str, settings: Settings | None
) -> LicenceMatch:
    """The :class:`LicenceMatch` of a file with SHA-256 ``pdf_sha256`` and the licence whose
    versions (oldest first) are ``rows``."""
    matched = next((r for r in rows if r.document_sha256 == pdf_sha256), None)
    shown = matched or rows[-1]
    return LicenceMatch(
        registry=status_of_rows(rows, settings=settings),
        found_by=found_by,
        version=matched.version if matched else None,
        status=shown.status,
        annul_kind=shown.annul_kind,
        status_changed_at=shown.status_changed_at,
        sentence=no_longer_valid(VersionState.of(shown), VersionState.of(rows[-1])),
        document_matches=matched is not None,
        registered_sha256=shown.document_sha256,
        identifier=shown.identifier,
    )
