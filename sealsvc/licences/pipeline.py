"""Issue, re-issue, annul and serve electronic licences.

issue: validate (the data, and the issuer against the seals: :mod:`.issuer`) → number → QR
(hash of the data, see :mod:`.qr`) → render → seal with each seal in turn → store the file
and the record → audit ``licence.issue``.

A licence is issued in one format (:class:`~sealsvc.models.LicenceFormat`) and kept and
served in that one; a re-issue keeps it.

* **PDF** (PAdES): the first seal certifies with DocMDP P=2 so the others may still seal;
  with B-LTA the earlier seals get B-LT and the last one adds the document time-stamp
  over all.
* **OFD** (GB/T 33190): the same page layout (:mod:`.render_ofd`), each seal one GB/T
  38540 ``SES_Signature`` (:func:`sealsvc.ofd_sealing.seal_ofd`) at the template's seal
  spot, like the PDF's stamps. GB/T 38540 is SM2 only, so RSA seals are refused (and the
  refusal audited) while validating, before anything is rendered, signed or stored. Levels: B-B
  (no time-stamp) or B-T (each ``SES_Signature`` time-stamped by our SM2 TSA); OFD has no
  place for B-LT/B-LTA's validation data.

Storage and its crash windows. With a shared database (PostgreSQL, several nodes) the
sealed file is a row of ``stored_files`` written in the record's transaction: nothing to
reconcile.  Otherwise the record (table ``licences``) and the file
``<data dir>/licences/<number>-v<version>.<pdf|ofd>`` are written so that a failure at any step
leaves neither: the sealed bytes go to a temporary file in the same directory (written,
fsynced), then the record and its audit entry commit in one transaction, then the
temporary file is renamed to its final name and the directory fsynced. If the
transaction fails the temporary file is removed. What a crash can leave:

* before the commit: a ``.<name>.*.tmp`` file and no record — unreferenced garbage that
  nothing serves (safe to delete);
* after the commit, before the rename reaches the disk: a record whose file still has its
  temporary name — :func:`get_licence_file` finds it by its SHA-256 (stored in the record)
  and completes the rename, so the licence is never lost.

Each seal writes its own ``seal.use`` audit entry when it is applied (that is the
Sealer's contract: a signature was made). If a later step fails, those entries stay and
no ``licence.issue`` follows them: the log says truthfully that a seal signed a document
that was then discarded.

Licence numbers are ``<template prefix><yyyymmdd><8 random digits>`` or supplied by the
caller; either way they must match :data:`NUMBER_PATTERN` (letters, digits, ``-``), which
keeps them safe as file names and in URLs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhanko.sign import fields
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ofd.package import OfdPackage
from pki.clock import CHINA_TIME, now_utc
from pki.fsutil import fsync_directory, move_into_place, write_temporary
from sealsvc import audit, refusals, seals, ses_seals, stored_files
from sealsvc.enterprise import lifecycle as enterprise_lifecycle
from sealsvc.errors import Conflict, InvalidInput, InvalidTransition, NotFound, SealsvcError
from sealsvc.licences.identifier import LicenceIdentifier
from sealsvc.licences.issuer import (
    IssuerRefused,
    SealHolder,
    bind_issuer,
    issuer_code,
    seal_holders,
)
from sealsvc.licences.metadata import LicenceMetadata, licence_metadata
from sealsvc.licences.qr import QrCode, data_hash, verification_url
from sealsvc.licences.render import LicencePage, render_licence
from sealsvc.licences.render_ofd import render_licence_package
from sealsvc.licences.status import check_number
from sealsvc.licences.templates import Template, load_template
from sealsvc.models import (
    AnnulKind,
    CollectedLicence,
    Licence,
    LicenceFormat,
    LicenceStatus,
    SealAlgorithm,
)
from sealsvc.ofd_sealing import seal_ofd, timestamp_for
from sealsvc.pades import MM, Level, Placement, SealOptions, incremental_writer
from sealsvc.sealing import Sealer

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = [
    "LicenceFileProblem",
    "LicenceRecord",
    "WrongFormat",
    "annul_licence",
    "get_licence",
    "get_licence_file",
    "get_licence_ofd",
    "get_licence_pdf",
    "issue_licence",
    "licence_versions",
    "list_licences",
    "read_licence_file",
    "record_metadata",
    "reissue_licence",
    "storing_licence_file",
]

STAGES = ("validate", "render", "qr", "seal", "store")
"""Stages :func:`issue_licence` reports in ``timings`` (seconds per stage)."""

InTransaction = Callable[[Session, Licence], None]
"""Work that commits or fails with a new licence's record: called in the storing
transaction after the record is flushed (the "1+X" seal set, :mod:`sealsvc.enterprise`)."""


class LicenceFileProblem(SealsvcError):
    """The stored file of a licence is missing or does not match its record."""

    status = 500
    kind = "licence-file-problem"


class WrongFormat(Conflict):
    """The licence was issued in another format than the one asked for (it has one file)."""

    kind = "licence-format"


@dataclass(frozen=True)
class LicenceRecord:
    """One version of an issued licence, as stored."""

    id: int
    number: str
    version: int
    template: str
    data: dict[str, str]
    data_hash: str
    """16 hex digits of SHA-256 over the canonical data (what the QR code carries)."""
    verify_url: str
    seal_codes: tuple[str, ...]
    document_sha256: str
    file_name: str
    status: str
    issued_at: datetime
    status_changed_at: datetime | None
    status_reason: str | None
    annul_kind: str | None
    """``revoked`` (吊销) or ``cancelled`` (注销) when annulled (``None``: not, or not recorded)."""
    previous_id: int | None
    identifier: str | None
    """The GB/T 36904 identifier of this version (``None``: issued before identifiers, or
    a template without a licence type)."""
    format: str
    """``pdf`` or ``ofd`` (:class:`~sealsvc.models.LicenceFormat`): the one file it has."""

    def as_dict(self) -> dict[str, Any]:
        result = asdict(self)
        result["seal_codes"] = list(self.seal_codes)
        for key in ("issued_at", "status_changed_at"):
            value = result[key]
            result[key] = value.isoformat() if value else None
        return result


# --- reading --------------------------------------------------------------------------------


def _record(row: Licence, base_url: str) -> LicenceRecord:
    data = json.loads(row.data)
    short = data_hash(row.number, row.version, row.template, data)
    return LicenceRecord(
        id=row.id,
        number=row.number,
        version=row.version,
        template=row.template,
        data=data,
        data_hash=short,
        verify_url=verification_url(base_url, row.number, short),
        seal_codes=tuple(json.loads(row.seal_codes)),
        document_sha256=row.document_sha256,
        file_name=row.file_name,
        status=row.status,
        issued_at=row.issued_at,
        status_changed_at=row.status_changed_at,
        status_reason=row.status_reason,
        annul_kind=row.annul_kind,
        previous_id=row.previous_id,
        identifier=row.identifier,
        format=row.format,
    )


def _row(session: Session, number: str, version: int | None, *, lock: bool = False) -> Licence:
    query = select(Licence).where(Licence.number == check_number(number))
    if version is None:
        query = query.order_by(Licence.version.desc()).limit(1)
    else:
        query = query.where(Licence.version == version)
    if lock:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        which = f" version {version}" if version is not None else ""
        raise NotFound(f"no licence {number}{which}")
    return row


def get_licence(context: ServiceContext, number: str, version: int | None = None) -> LicenceRecord:
    """The record of licence ``number`` (latest version unless ``version`` is given)."""
    with context.database.session(read_only=True) as session:
        return _record(_row(session, number, version), context.settings.base_url)


def licence_versions(
    context: ServiceContext, numbers: Collection[str]
) -> dict[str, list[LicenceRecord]]:
    """Every version of each licence of ``numbers`` that is registered, oldest first, in
    one query: a batch (the archive check) asks once, not once per record."""
    found: dict[str, list[LicenceRecord]] = {}
    if not numbers:
        return found
    with context.database.session(read_only=True) as session:
        rows = session.scalars(
            select(Licence)
            .where(Licence.number.in_(sorted(set(numbers))))
            .order_by(Licence.number, Licence.version)
        )
        for row in rows:
            found.setdefault(row.number, []).append(_record(row, context.settings.base_url))
    return found


def record_metadata(context: ServiceContext, record: LicenceRecord) -> LicenceMetadata | None:
    """The GB/T 36903 metadata of a stored licence version (what its file carries).

    ``None`` when it cannot be derived any more: the template was removed, or the stored
    data predates a rule of the current template (a validity field that does not read as
    a period). The record itself must stay readable either way.
    """
    try:
        return licence_metadata(
            load_template(record.template, context.settings),
            number=record.number,
            data=record.data,
            identifier=record.identifier,
            issued_at=record.issued_at,
        )
    except SealsvcError:
        return None


def list_licences(
    context: ServiceContext,
    *,
    template: str | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[LicenceRecord]:
    """The latest version of each licence, newest first, optionally filtered."""
    if status is not None and status not in {s.value for s in LicenceStatus}:
        raise InvalidInput(f"unknown status {status!r} (valid, annulled, superseded)")
    latest = (
        select(Licence.number, func.max(Licence.version).label("version"))
        .group_by(Licence.number)
        .subquery()
    )
    query = (
        select(Licence)
        .join(latest, (Licence.number == latest.c.number) & (Licence.version == latest.c.version))
        .order_by(Licence.issued_at.desc(), Licence.id.desc())
        .limit(limit)
    )
    if template is not None:
        query = query.where(Licence.template == template)
    if status is not None:
        query = query.where(Licence.status == status)
    with context.database.session(read_only=True) as session:
        return [_record(row, context.settings.base_url) for row in session.scalars(query)]


def _licence_dir(context: ServiceContext) -> Path:
    return context.settings.data_dir / "licences"


def get_licence_file(
    context: ServiceContext,
    number: str,
    version: int | None = None,
    *,
    expected: LicenceFormat | None = None,
) -> bytes:
    """The stored sealed file, byte for byte as issued (checked against its SHA-256).

    ``expected`` names the format the caller serves: a licence issued in the other one
    is :class:`WrongFormat` (409), which names the format it has.
    """
    record = get_licence(context, number, version)
    if expected is not None and record.format != expected:
        raise WrongFormat(
            f"licence {number} v{record.version} was issued as {record.format.upper()}, "
            f"not {expected.upper()}: only its {record.format.upper()} file exists"
        )
    return read_licence_file(
        context, record.file_name, record.document_sha256, f"licence {number} v{record.version}"
    )


def get_licence_pdf(context: ServiceContext, number: str, version: int | None = None) -> bytes:
    """The stored sealed PDF (:class:`WrongFormat` for an OFD licence)."""
    return get_licence_file(context, number, version, expected=LicenceFormat.PDF)


def get_licence_ofd(context: ServiceContext, number: str, version: int | None = None) -> bytes:
    """The stored sealed OFD (:class:`WrongFormat` for a PDF licence)."""
    return get_licence_file(context, number, version, expected=LicenceFormat.OFD)


def _finish_interrupted_rename(directory: Path, file_name: str, sha256: str) -> None:
    """Complete a rename a crash interrupted (see the module docstring)."""
    for candidate in directory.glob(f".{file_name}.*.tmp"):
        if hashlib.sha256(candidate.read_bytes()).hexdigest() == sha256:
            os.replace(candidate, directory / file_name)
            fsync_directory(directory)
            return


@contextmanager
def storing_licence_file(
    context: ServiceContext, file_name: str, data: bytes
) -> Iterator[Callable[[Session], object]]:
    """Store ``data`` as licence file ``file_name`` with the transaction the body commits.

    Yields ``keep``, which the body calls with the session that commits the file's record
    (an issued licence, or a licence the library collected).  With a shared database the
    file is a row of ``stored_files`` added by ``keep``: it commits with the record or not
    at all.  In the single-node layout the bytes are on disk under a temporary name before
    the body runs, removed if it raises and renamed into place after it commits;
    :func:`reconcile_licence_files` finishes a rename a crash interrupted.
    """
    if context.database.is_shared:
        yield lambda session: stored_files.add(session, stored_files.LICENCE, file_name, data)
        return
    directory = _licence_dir(context)
    tmp = _write_temporary(directory, file_name, data)
    try:
        yield lambda session: None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    move_into_place(tmp, directory / file_name)


def read_licence_file(context: ServiceContext, file_name: str, sha256: str, what: str) -> bytes:
    """The bytes of licence file ``file_name`` (an issued licence's, or one stored by
    :func:`storing_licence_file`), checked against ``sha256``; ``what`` names it in errors.

    From ``stored_files`` when the database is shared, else from ``licences/``."""
    if context.database.is_shared:
        with context.database.session(read_only=True) as session:
            document = stored_files.read(session, stored_files.LICENCE, file_name)
        if document is None:
            raise LicenceFileProblem(f"the file of {what} is not in the database")
    else:
        directory = _licence_dir(context)
        path = directory / file_name
        if not path.exists():
            _finish_interrupted_rename(directory, file_name, sha256)
        try:
            document = path.read_bytes()
        except OSError as exc:
            raise LicenceFileProblem(f"the file of {what} cannot be read: {exc.strerror}") from None
    if hashlib.sha256(document).hexdigest() != sha256:
        raise LicenceFileProblem(f"the file of {what} does not match its record")
    return document


def reconcile_licence_files(
    context: ServiceContext, older_than: timedelta = timedelta(minutes=10)
) -> tuple[list[str], list[str]]:
    """Clean up after crashes: finish renames of committed licences, delete the rest.

    A temporary older than ``older_than`` whose bytes are a registered licence whose file
    is missing is renamed into place (crash after the commit); any other one is garbage
    from a crash before the commit and is removed.  Returns (finished, removed) names.
    The age threshold leaves issuances that are in progress alone.
    """
    directory = _licence_dir(context)
    if not directory.is_dir():
        return [], []
    cutoff = time.time() - older_than.total_seconds()
    finished: list[str] = []
    removed: list[str] = []
    with context.database.session(read_only=True) as session:
        for candidate in sorted(directory.glob(".*.tmp")):
            try:
                if candidate.stat().st_mtime >= cutoff:
                    continue
                digest = hashlib.sha256(candidate.read_bytes()).hexdigest()
            except FileNotFoundError:
                continue
            name = session.scalar(
                select(Licence.file_name).where(Licence.document_sha256 == digest)
            ) or session.scalar(
                select(CollectedLicence.file_name).where(CollectedLicence.document_sha256 == digest)
            )
            if name is not None and not (directory / name).exists():
                os.replace(candidate, directory / name)
                finished.append(name)
            else:
                candidate.unlink(missing_ok=True)
                removed.append(candidate.name)
    if finished or removed:
        fsync_directory(directory)
    return finished, removed


# --- issuing --------------------------------------------------------------------------------


@contextmanager
def _stage(timings: dict[str, float] | None, name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def _template(context: ServiceContext, template: Template | str) -> Template:
    return template if isinstance(template, Template) else load_template(template, context.settings)


def _check_seal_codes(template: Template, seal_codes: Sequence[str]) -> tuple[str, ...]:
    codes = tuple(seal_codes)
    if not codes:
        raise InvalidInput("a licence needs at least one seal code")
    if len(set(codes)) != len(codes):
        raise InvalidInput("the same seal is given twice")
    spots = len(template.spec.seals)
    if len(codes) > spots:
        raise InvalidInput(f"template {template.name} has room for {spots} seals, got {len(codes)}")
    return codes


def _bound_data(
    context: ServiceContext,
    template: Template,
    data: Any,
    codes: tuple[str, ...],
    *,
    actor: str,
    number: str | None = None,
    audit_details: Mapping[str, str] | None = None,
    file_format: LicenceFormat = LicenceFormat.PDF,
) -> tuple[dict[str, str], str | None]:
    """The validated data, its issuer field bound to the seals' departments, and the issuer
    code of its identifier (:func:`.issuer.issuer_code`); for an OFD, SM2 seals only
    (:func:`_check_sm2`).

    A refusal of the issuer rule (or a first department without a credit code) is audited
    (``licence.refused``) before it is raised: a seal offered for a licence that names
    another department, or of a kind not made for it, is an attempt the log should show
    even though nothing was sealed.
    """
    with context.database.session(read_only=True) as session:
        holders = seal_holders(session, codes)
    if file_format is LicenceFormat.OFD:
        _check_sm2(context, holders, actor=actor, audit_details=audit_details)
    try:
        bound = bind_issuer(template, data, holders)
        code = issuer_code(template, holders)
    except IssuerRefused as exc:
        with context.database.session() as session:
            audit.append(
                session,
                action="licence.refused",
                actor=actor,
                seal_code=codes[0],
                department_code=holders[0].department_code,
                details={
                    "template": template.name,
                    "number": number,
                    "seal_codes": list(codes),
                    "field": ".".join(str(part) for part in exc.location),
                    "reason": str(exc),
                    **(audit_details or {}),
                },
            )
        raise
    return template.validate_data(bound), code


_NUMBER_TAKEN = select(Licence.id).where(Licence.number == bindparam("number")).limit(1)
"""Whether a licence number is taken, built once: building a select costs about as much
as running this one, once or twice per issue."""


def _new_number(session: Session, template: Template, now: datetime) -> str:
    day = now.astimezone(CHINA_TIME).strftime("%Y%m%d")
    for _ in range(10):
        number = f"{template.spec.number_prefix}{day}{secrets.randbelow(10**8):08d}"
        if session.scalar(_NUMBER_TAKEN, {"number": number}) is None:
            return number
    raise Conflict("could not find a free licence number; try again")


def _licence_format(value: LicenceFormat | str) -> LicenceFormat:
    try:
        return LicenceFormat(value)
    except ValueError:
        raise InvalidInput(f"unknown licence format {value!r}: pdf or ofd") from None


def _level_for(file_format: LicenceFormat, level: Level | None) -> Level:
    """The level asked for, else the format's default: B-LTA for a PDF (archive material),
    B-T for an OFD, whose ``SES_Signature`` can carry a time-stamp but no validation data
    (so B-LT and B-LTA are refused for OFD, by :func:`timestamp_for`, not lowered)."""
    if level is None:
        return Level.B_LTA if file_format is LicenceFormat.PDF else Level.B_T
    if file_format is LicenceFormat.OFD:
        timestamp_for(SealOptions(level=level))
    return level


def _check_sm2(
    context: ServiceContext,
    holders: Sequence[SealHolder],
    *,
    actor: str,
    audit_details: Mapping[str, str] | None,
) -> None:
    """An OFD licence is sealed with GB/T 38540 seals, which are SM2 only: an RSA seal is
    refused while validating, before anything is rendered or signed, and the refusal is
    audited (``seal.refused``) like any seal refusal. (An SM2 seal still without its
    ``SESeal`` is refused by :func:`seal_ofd`, also before anything is stored.)"""
    for holder in holders:
        if holder.algorithm != SealAlgorithm.SM2:
            refusal = ses_seals.NoSesSeal(
                f"an OFD licence needs SM2 seals: seal {holder.code} is an {holder.algorithm} "
                "seal, and GB/T 38540 electronic seals are SM2 only"
            )
            details = {"licence_format": LicenceFormat.OFD.value, **(audit_details or {})}
            refusals.record(
                context, actor=actor, seal_code=holder.code, refusal=refusal, details=details
            )
            raise refusal


def _seal_level(level: Level, is_last: bool) -> Level:
    """B-LTA's document time-stamp is needed once, after the last seal."""
    return Level.B_LT if level is Level.B_LTA and not is_last else level


def _with_seal_fields(pdf: bytes, template: Template, count: int) -> bytes:
    """Add the empty signature fields Seal1..SealN at the template's seal spots.

    They exist before the first seal certifies the document, so the later seals only
    fill fields: pyHanko's default diff policy (stricter than ISO 32000's P=2) refuses
    new visible signature fields after a certification signature.
    """
    writer = incremental_writer(io.BytesIO(pdf), strict=True)
    for index, spot in enumerate(template.spec.seals[:count]):
        half = spot.size_mm * MM / 2
        cx, cy = spot.x_mm * MM, spot.y_mm * MM
        fields.append_signature_field(
            writer,
            fields.SigFieldSpec(
                sig_field_name=f"Seal{index + 1}",
                on_page=spot.page - 1,
                box=(round(cx - half), round(cy - half), round(cx + half), round(cy + half)),
            ),
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _seal_all(
    sealer: Sealer,
    pdf: bytes,
    template: Template,
    seal_codes: tuple[str, ...],
    *,
    number: str,
    version: int,
    level: Level,
    actor: str,
    now: datetime,
) -> bytes:
    pdf = _with_seal_fields(pdf, template, len(seal_codes))
    for index, code in enumerate(seal_codes):
        options = SealOptions(
            level=_seal_level(level, index == len(seal_codes) - 1),
            placement=Placement(field=f"Seal{index + 1}"),
            reason=f"签发{template.title}（{number}）",
            location="郑州",
            certify=index == 0,
        )
        details = {"licence": number, "licence_version": version}
        pdf = sealer.seal(
            pdf, code, options, actor=actor, details=details, now=now, trusted_input=True
        ).pdf
    return pdf


def _seal_all_ofd(
    context: ServiceContext,
    sealer: Sealer,
    ofd: OfdPackage,
    template: Template,
    seal_codes: tuple[str, ...],
    *,
    number: str,
    version: int,
    level: Level,
    actor: str,
    now: datetime,
) -> bytes:
    """One ``SES_Signature`` per seal, each stamped at its template spot (as on the PDF).

    The rendered package goes from seal to seal as files: no ZIP is read back."""
    sealed = b""
    for code, spot in zip(seal_codes, template.spec.seals, strict=False):
        # the stamp's size is the seal picture's (seal_ofd); the spot gives its centre
        placement = Placement(page=spot.page, x_mm=spot.x_mm, y_mm=spot.y_mm)
        result = seal_ofd(
            context, ofd, code, placement,
            timestamp=timestamp_for(SealOptions(level=level)), actor=actor,
            details={"licence": number, "licence_version": version},
            now=now, trust=sealer.trust, trusted_input=True,
        )  # fmt: skip
        ofd, sealed = result.package, result.ofd
    return sealed


def _write_temporary(directory: Path, name: str, data: bytes) -> Path:
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    return write_temporary(directory / name, data)


def _produce(
    context: ServiceContext,
    template: Template,
    data: dict[str, str],
    seal_codes: tuple[str, ...],
    *,
    number: str,
    version: int,
    actor: str,
    level: Level,
    now: datetime,
    sealer: Sealer | None,
    timings: dict[str, float] | None,
    issuer: str | None,
    file_format: LicenceFormat,
    replaces: tuple[int, str | None] | None = None,
    audit_details: Mapping[str, str] | None = None,
    in_transaction: InTransaction | None = None,
) -> LicenceRecord:
    """Render, seal and store one version; ``replaces`` = (id, reason) of the one it supersedes.

    ``issuer`` is the issuer code of the identifier (``None``: the template has no licence
    type, so the licence gets no identifier).
    """
    with _stage(timings, "qr"):
        short = data_hash(number, version, template.name, data)
        url = verification_url(context.settings.base_url, number, short)
        code = QrCode.encode(url)
    with _stage(timings, "render"):
        licence_type = template.spec.licence_type
        identifier = (
            LicenceIdentifier.for_licence(
                type_code=licence_type.code, issuer_code=issuer, number=number, version=version
            )
            if licence_type is not None and issuer is not None
            else None
        )
        metadata = licence_metadata(
            template, number=number, data=data, identifier=identifier, issued_at=now
        )
        page = LicencePage(
            number, version, data, code, now, str(identifier) if identifier else None, metadata
        )
        if file_format is LicenceFormat.PDF:
            document: bytes | OfdPackage = render_licence(template, page)
        else:
            document = render_licence_package(template, page)
    with _stage(timings, "seal"):
        sealer = sealer or Sealer(context)
        if isinstance(document, bytes):
            sealed = _seal_all(sealer, document, template, seal_codes, number=number,
                               version=version, level=level, actor=actor, now=now)  # fmt: skip
        else:
            sealed = _seal_all_ofd(context, sealer, document, template, seal_codes,
                                   number=number, version=version, level=level, actor=actor,
                                   now=now)  # fmt: skip
    with _stage(timings, "store"):
        return _store(
            context, template, data, seal_codes, sealed,
            number=number, version=version, actor=actor, level=level, now=now,
            short_hash=short, identifier=page.identifier, file_format=file_format,
            replaces=replaces, audit_details=audit_details, in_transaction=in_transaction,
        )  # fmt: skip


def _store(
    context: ServiceContext,
    template: Template,
    data: dict[str, str],
    seal_codes: tuple[str, ...],
    sealed: bytes,
    *,
    number: str,
    version: int,
    actor: str,
    level: Level,
    now: datetime,
    short_hash: str,
    identifier: str | None,
    file_format: LicenceFormat,
    replaces: tuple[int, str | None] | None,
    audit_details: Mapping[str, str] | None,
    in_transaction: InTransaction | None = None,
) -> LicenceRecord:
    file_name = f"{number}-v{version}.{file_format.value}"
    document_sha256 = hashlib.sha256(sealed).hexdigest()
    with (
        storing_licence_file(context, file_name, sealed) as keep,
        context.database.session() as session,
    ):
        details: dict[str, Any] = {
            "number": number,
            "version": version,
            "template": template.name,
            "data_hash": short_hash,
            "identifier": identifier,
            "seal_codes": list(seal_codes),
            "format": file_format.value,
            "level": level.value,
            **(audit_details or {}),
        }
        previous_id = None
        if replaces is not None:
            previous_id, reason = replaces
            old = session.get(Licence, previous_id, with_for_update=True)
            if old is None or old.status != LicenceStatus.VALID:
                raise InvalidTransition(
                    f"licence {number} changed while it was being re-issued; try again"
                )
            old.status = LicenceStatus.SUPERSEDED.value
            old.status_changed_at = now
            old.status_reason = reason or "变更"
            details["previous_version"] = old.version
        row = Licence(
            number=number,
            version=version,
            template=template.name,
            data=json.dumps(data, ensure_ascii=False, sort_keys=True),
            seal_codes=json.dumps(list(seal_codes)),
            document_sha256=document_sha256,
            file_name=file_name,
            status=LicenceStatus.VALID.value,
            issued_at=now,
            previous_id=previous_id,
            identifier=identifier,
            format=file_format.value,
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(
                f"licence {number} version {version} already exists, or another licence "
                f"has its identifier {identifier} (numbers that differ only in '-' do)"
            ) from None
        audit.append(
            session,
            action="licence.reissue" if replaces else "licence.issue",
            actor=actor,
            seal_code=seal_codes[0],
            document_hash=document_sha256,
            details=details,
        )
        if in_transaction is not None:
            in_transaction(session, row)
        keep(session)
        record = _record(row, context.settings.base_url)
    return record


def issue_licence(
    context: ServiceContext,
    template: Template | str,
    data: Mapping[str, Any],
    seal_codes: Sequence[str],
    *,
    actor: str,
    level: Level | None = None,
    file_format: LicenceFormat | str = LicenceFormat.PDF,
    now: datetime | None = None,
    number: str | None = None,
    sealer: Sealer | None = None,
    timings: dict[str, float] | None = None,
    audit_details: Mapping[str, str] | None = None,
    in_transaction: InTransaction | None = None,
) -> LicenceRecord:
    """Issue a licence (version 1): see the module docstring for the steps and guarantees.

    ``file_format`` is ``pdf`` or ``ofd``; ``level`` defaults to B-LTA for a PDF and B-T
    for an OFD. ``number`` may be supplied (an approval system's own numbering) and must be new.
    ``sealer`` lets a long-running process reuse one (its TSA/OCSP keys stay loaded);
    ``timings``, if given, receives seconds per stage (:data:`STAGES`);
    ``audit_details`` (an API call's client and key id) go into the ``licence.issue`` or
    ``licence.refused`` entry; ``in_transaction`` (:data:`InTransaction`) commits or fails
    with the record.
    """
    with _stage(timings, "validate"):
        template = _template(context, template)
        codes = _check_seal_codes(template, seal_codes)
        file_format = _licence_format(file_format)
        level = _level_for(file_format, level)
        if number is not None:
            check_number(number)
        clean, issuer = _bound_data(context, template, data, codes, actor=actor, number=number,
                                    audit_details=audit_details,
                                    file_format=file_format)  # fmt: skip
        now = now or now_utc()
        with context.database.session(read_only=True) as session:
            if number is None:
                number = _new_number(session, template, now)
            elif session.scalar(_NUMBER_TAKEN, {"number": number}):
                raise Conflict(f"licence {number} already exists")
    return _produce(
        context, template, clean, codes,
        number=number, version=1, actor=actor, level=level, now=now,
        sealer=sealer, timings=timings, issuer=issuer, file_format=file_format,
        audit_details=audit_details, in_transaction=in_transaction,
    )  # fmt: skip


def reissue_licence(
    context: ServiceContext,
    number: str,
    changes: Mapping[str, Any],
    *,
    actor: str,
    reason: str | None = None,
    seal_codes: Sequence[str] | None = None,
    level: Level | None = None,
    now: datetime | None = None,
    sealer: Sealer | None = None,
) -> LicenceRecord:
    """变更: a new version of a valid licence with ``changes`` applied to its data.

    The new version keeps the licence's format (``level`` defaults as on issue).

    ``changes`` is merged over the current data (a key set to ``None`` removes an
    optional field); the seals default to the current version's. The issuer field is not
    carried over: unless ``changes`` gives it, it is filled in from the seals again (a
    renamed department, or other seals, print their current names), and a given one must
    match them as on issue. The old version becomes ``superseded`` in the transaction that
    stores the new one.
    """
    if not isinstance(changes, Mapping):
        raise InvalidInput("the changes must be a JSON object")
    current = get_licence(context, number)
    if current.status != LicenceStatus.VALID:
        raise InvalidTransition(
            f"licence {number} is {current.status}; only a valid one can change"
        )
    template = load_template(current.template, context.settings)
    codes = _check_seal_codes(template, seal_codes or current.seal_codes)
    file_format = LicenceFormat(current.format)
    level = _level_for(file_format, level)
    merged = {**current.data, **changes}
    if template.spec.issuer_field not in changes:
        merged.pop(template.spec.issuer_field, None)
    data = {k: v for k, v in merged.items() if v is not None}
    clean, issuer = _bound_data(context, template, data, codes, actor=actor,
                                number=current.number, file_format=file_format)  # fmt: skip
    return _produce(
        context, template, clean, codes,
        number=current.number, version=current.version + 1, actor=actor, level=level,
        now=now or now_utc(), sealer=sealer, timings=None, issuer=issuer,
        file_format=file_format, replaces=(current.id, reason),
    )  # fmt: skip


def annul_licence(
    context: ServiceContext,
    number: str,
    reason: str,
    *,
    kind: AnnulKind | str,
    actor: str,
    now: datetime | None = None,
) -> LicenceRecord:
    """吊销 (``revoked``) or 注销 (``cancelled``): mark the current version annulled.

    ``kind`` has no default: 吊销 is a sanction and 注销 is not, and the citizen's page and
    every verification report name which one it was — a default would put the wrong word
    on a holder's licence.

    An enterprise's seal set issued with this licence is revoked in the same transaction
    (:func:`sealsvc.enterprise.lifecycle.close_with_licence`).
    """
    try:
        kind = AnnulKind(kind)
    except ValueError:
        raise InvalidInput(
            f"unknown annulment kind {kind!r}: revoked (吊销) or cancelled (注销)"
        ) from None
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("annulling a licence needs a reason")
    if len(reason) > 500:
        raise InvalidInput(f"the reason has {len(reason)} characters; at most 500")
    with context.database.session() as session:
        row = _row(session, number, None, lock=True)
        if row.status != LicenceStatus.VALID:
            raise InvalidTransition(f"licence {number} is already {row.status}")
        row.status = LicenceStatus.ANNULLED.value
        row.status_changed_at = now or now_utc()
        row.status_reason = reason
        row.annul_kind = kind.value
        audit.append(
            session,
            action="licence.annul",
            actor=actor,
            document_hash=row.document_sha256,
            details={
                "number": number,
                "version": row.version,
                "kind": kind.value,
                "reason": reason,
            },
        )
        crl_changed = enterprise_lifecycle.close_with_licence(
            context, session, number=row.number, kind=kind, reason=reason, actor=actor
        )
        record = _record(row, context.settings.base_url)
    if crl_changed:
        seals.export_ca_files(context)
    return record
