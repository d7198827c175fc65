"""The library's one view of a licence, whether sealsvc issued it or another system did.

Licences sealsvc issues are read straight from the licence registry (``licences``), not
copied: an annulment or a re-issue there is what the library shows at once.  Collected
licences (:mod:`.collect`) come from ``collected_licences``.  Both become a
:class:`LibraryEntry` carrying the GB/T 36903 elements, the 照面信息 (face data) and a status
that also says ``expired`` once the validity period has ended — a status no stored row
holds, because expiry is a matter of the date, not of an event.

An issued licence is in the library when it has a GB/T 36904 identifier (its template has a
licence type); licences without one cannot be named across platforms.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pki.clock import CHINA_TIME
from sealsvc.errors import InvalidInput, NotFound, SealsvcError
from sealsvc.library.holders import CREDIT_CODE, HolderCode, holder_code
from sealsvc.licences.metadata import LONG_TERM, licence_metadata
from sealsvc.licences.pipeline import get_licence_file, read_licence_file
from sealsvc.licences.templates import Template, list_templates, load_template
from sealsvc.models import CollectedLicence, Licence, LicenceStatus

if TYPE_CHECKING:
    from sealsvc.config import Settings
    from sealsvc.context import ServiceContext

__all__ = [
    "EXPIRED",
    "LibraryEntry",
    "by_holder",
    "by_identifier",
    "by_number",
    "effective_status",
    "entry_file",
    "newly_expired",
]

EXPIRED = "expired"
"""The status of a licence still ``valid`` in its registry whose validity period ended."""


@dataclass(frozen=True)
class LibraryEntry:
    """One licence version as the library shows it (GB/T 36903 elements plus status)."""

    source: str
    """``issued`` (by sealsvc) or ``collected`` (pushed by another issuing system)."""
    identifier: str
    """证照标识 (GB/T 36904): the name every library call takes."""
    number: str
    version: int
    name: str
    type_code: str
    issuer_name: str
    issuer_code: str | None
    issue_date: str
    holder_name: str | None
    holder_code: str | None
    """The credit code, or the masked ID number (never an ID number in clear)."""
    holder_code_type: str | None
    valid_from: str
    valid_until: str
    status: str
    """``valid``, ``annulled``, ``superseded`` or ``expired`` (:func:`effective_status`)."""
    annul_kind: str | None
    status_changed_at: datetime | None
    status_reason: str | None
    format: str
    face: dict[str, str]
    """照面信息: the licence's face, label → value, as printed."""
    holder_key: str | None = field(default=None, repr=False)
    file_name: str = field(default="", repr=False)
    document_sha256: str = field(default="", repr=False)

    def status_dict(self) -> dict[str, Any]:
        """What 核验 (check) answers: the licence and its status, no face and no file."""
        return {
            "identifier": self.identifier,
            "number": self.number,
            "version": self.version,
            "name": self.name,
            "type_code": self.type_code,
            "issuer_name": self.issuer_name,
            "valid_until": self.valid_until,
            "status": self.status,
            "annul_kind": self.annul_kind,
            "status_changed_at": self.status_changed_at and self.status_changed_at.isoformat(),
            "status_reason": self.status_reason,
        }

    def as_dict(self) -> dict[str, Any]:
        """The entry as the API and ``--json`` show it (without storage details)."""
        result = asdict(self)
        for private in ("holder_key", "file_name", "document_sha256"):
            del result[private]
        result["status_changed_at"] = self.status_changed_at and self.status_changed_at.isoformat()
        return result


def effective_status(stored: str, valid_until: str, now: datetime) -> str:
    """``expired`` for a ``valid`` licence whose period ended before today (Beijing time)."""
    today = now.astimezone(CHINA_TIME).date().isoformat()
    if stored == LicenceStatus.VALID and valid_until != LONG_TERM and valid_until < today:
        return EXPIRED
    return stored


# --- issued licences (a view over the licence registry) ---------------------------------------


def _issued(
    session: Session, row: Licence, template: Template, now: datetime
) -> LibraryEntry | None:
    try:
        metadata = licence_metadata(
            template,
            number=row.number,
            data=json.loads(row.data),
            identifier=row.identifier,
            issued_at=row.issued_at,
        )
    except SealsvcError:  # data from before a template rule: not describable any more
        return None
    try:
        code = holder_code(session, metadata.holder_code) if metadata.holder_code else None
    except InvalidInput:  # a holder code of another kind (passport …): not looked up by
        code = None
    data = json.loads(row.data)
    return LibraryEntry(
        source="issued",
        identifier=row.identifier or "",
        number=row.number,
        version=row.version,
        name=metadata.name,
        type_code=metadata.type_code or "",
        issuer_name=metadata.issuer_name,
        issuer_code=metadata.issuer_code,
        issue_date=metadata.issue_date,
        holder_name=metadata.holder_name,
        holder_code=code.shown if code else None,
        holder_code_type=metadata.holder_code_type,
        valid_from=metadata.valid_from,
        valid_until=metadata.valid_until,
        status=effective_status(row.status, metadata.valid_until, now),
        annul_kind=row.annul_kind,
        status_changed_at=row.status_changed_at,
        status_reason=row.status_reason,
        format=row.format,
        face={f.label: data[f.name] for f in template.spec.fields if f.name in data},
        holder_key=code.key if code else None,
        file_name=row.file_name,
        document_sha256=row.document_sha256,
    )


def _issued_entry(
    session: Session, row: Licence, settings: Settings, now: datetime
) -> LibraryEntry | None:
    if row.identifier is None:
        return None
    try:
        template = load_template(row.template, settings)
    except SealsvcError:  # the template was removed: its licences cannot be described
        return None
    return _issued(session, row, template, now)


# --- collected licences -----------------------------------------------------------------------


def _collected(row: CollectedLicence, now: datetime) -> LibraryEntry:
    return LibraryEntry(
        source="collected",
        identifier=row.identifier,
        number=row.number,
        version=row.version,
        name=row.name,
        type_code=row.type_code,
        issuer_name=row.issuer_name,
        issuer_code=row.issuer_code,
        issue_date=row.issue_date,
        holder_name=row.holder_name,
        holder_code=row.holder_code_shown,
        holder_code_type=row.holder_code_type,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        status=effective_status(row.status, row.valid_until, now),
        annul_kind=row.annul_kind,
        status_changed_at=row.status_changed_at,
        status_reason=row.status_reason,
        format=row.format,
        face=json.loads(row.face),
        holder_key=row.holder_key,
        file_name=row.file_name,
        document_sha256=row.document_sha256,
    )


# --- finding ----------------------------------------------------------------------------------


def by_identifier(
    session: Session, settings: Settings, identifier: str, now: datetime
) -> LibraryEntry:
    """The licence version with this GB/T 36904 identifier; :class:`NotFound` otherwise."""
    issued = session.scalar(select(Licence).where(Licence.identifier == identifier))
    entry = _issued_entry(session, issued, settings, now) if issued is not None else None
    if entry is None:
        collected = session.scalar(
            select(CollectedLicence).where(CollectedLicence.identifier == identifier)
        )
        entry = _collected(collected, now) if collected is not None else None
    if entry is None:
        raise NotFound(f"no licence with identifier {identifier} in the licence library")
    return entry


def _templates_of(settings: Settings, type_code: str) -> list[Template]:
    return [
        t
        for t in list_templates(settings)
        if t.spec.licence_type is not None and t.spec.licence_type.code == type_code
    ]


def _latest_issued(
    session: Session, templates: Iterable[Template], containing: str | None
) -> Iterator[Licence]:
    """The latest version of every licence of ``templates`` whose data contains the text
    ``containing`` (if given)."""
    names = [t.name for t in templates]
    if not names:
        return iter(())
    latest = (
        select(Licence.number, func.max(Licence.version).label("version"))
        .where(Licence.template.in_(names))
        .group_by(Licence.number)
        .subquery()
    )
    query = (
        select(Licence)
        .join(latest, (Licence.number == latest.c.number) & (Licence.version == latest.c.version))
        .order_by(Licence.issued_at.desc(), Licence.id.desc())
    )
    if containing is not None:
        query = query.where(Licence.data.contains(containing, autoescape=True))
    return iter(session.scalars(query))


def by_holder(
    session: Session, settings: Settings, holder: HolderCode, type_code: str, now: datetime
) -> list[LibraryEntry]:
    """The current version of every licence of ``type_code`` held by ``holder``.

    Issued licences keep the holder code inside their data, so the registry is read per
    template of that type; a credit code narrows the rows in SQL first.
    """
    found: list[LibraryEntry] = []
    templates = {t.name: t for t in _templates_of(settings, type_code)}
    containing = holder.key if holder.kind == CREDIT_CODE else None
    for row in _latest_issued(session, templates.values(), containing):
        if row.identifier is None:
            continue
        entry = _issued(session, row, templates[row.template], now)
        if entry is not None and entry.holder_key == holder.key:
            found.append(entry)
    collected = session.scalars(
        select(CollectedLicence)
        .where(
            CollectedLicence.holder_key == holder.key,
            CollectedLicence.type_code == type_code,
            CollectedLicence.status != LicenceStatus.SUPERSEDED.value,
        )
        .order_by(CollectedLicence.collected_at.desc(), CollectedLicence.id.desc())
    )
    found.extend(_collected(row, now) for row in collected)
    return found


def by_number(
    session: Session, settings: Settings, number: str, holder: HolderCode, now: datetime
) -> LibraryEntry:
    """The latest version of licence ``number`` held by ``holder`` (核验 by number: the
    holder code must match, so a number alone tells nobody anything)."""
    row = session.scalar(
        select(Licence).where(Licence.number == number).order_by(Licence.version.desc()).limit(1)
    )
    entry = _issued_entry(session, row, settings, now) if row is not None else None
    if entry is None or entry.holder_key != holder.key:
        collected = session.scalar(
            select(CollectedLicence)
            .where(CollectedLicence.number == number, CollectedLicence.holder_key == holder.key)
            .order_by(CollectedLicence.version.desc())
            .limit(1)
        )
        entry = _collected(collected, now) if collected is not None else None
    if entry is None:
        raise NotFound(f"no licence {number} of this holder in the licence library")
    return entry


def newly_expired(session: Session, settings: Settings, now: datetime) -> list[LibraryEntry]:
    """Every current licence version whose registry says ``valid`` but whose validity
    period has ended: what the feed's expiry events are made from."""
    today = now.astimezone(CHINA_TIME).date().isoformat()
    typed = {t.name: t for t in list_templates(settings) if t.spec.licence_type is not None}
    found: list[LibraryEntry] = []
    for row in _latest_issued(session, typed.values(), None):
        if row.status != LicenceStatus.VALID or row.identifier is None:
            continue
        entry = _issued(session, row, typed[row.template], now)
        if entry is not None and entry.status == EXPIRED:
            found.append(entry)
    collected = session.scalars(
        select(CollectedLicence).where(
            CollectedLicence.status == LicenceStatus.VALID.value,
            CollectedLicence.valid_until != LONG_TERM,
            CollectedLicence.valid_until < today,
        )
    )
    return found + [_collected(row, now) for row in collected]


def entry_file(context: ServiceContext, entry: LibraryEntry) -> bytes:
    """The sealed file of ``entry``, byte for byte as issued or collected."""
    if entry.source == "issued":
        return get_licence_file(context, entry.number, entry.version)
    return read_licence_file(
        context, entry.file_name, entry.document_sha256, f"collected licence {entry.identifier}"
    )
