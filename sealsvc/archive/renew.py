"""Scheduled renewal of stored licences (``sealctl archive renew``): extend before evidence expires.

A sealed PDF licence stays provable only while its newest time-stamp does: until the
TSA certificate that signed it expires, or until its digest algorithm is no longer
accepted (:mod:`sealsvc.verification.algorithm_policy`).  This job finds every stored PDF
licence whose newest time-stamp reaches that point within a window and extends it with
the B-LTA renewal of :mod:`.extend`.

Where the renewed file goes.  The registered file stays as issued — its SHA-256 is how a
citizen's download is recognised — and the renewed copy is the *archival copy*,
``<data dir>/licences/archive/<number>-v<version>.pdf``, which ``archive export``
packages.  A copy counts only once its ``archive.renew`` audit entry (whose
``document_hash`` is the copy's SHA-256) has committed: the file is written inside that
transaction, so

* a crash before the commit leaves either no file or a file no entry names: the licence
  is still due, and the next run extends it again from the last committed copy;
* a crash after the commit leaves a committed copy: the next run sees a fresh time-stamp
  and skips it.

Hence idempotent and resumable without a progress table.  A licence is due only when a
renewal would help: when the current TSA certificate outlives the newest time-stamp's,
else the job says to renew the TSA certificate first (and stays idempotent).  OFD
licences cannot be extended (an OFD has no DSS; GB/T 38540 defines no archive
time-stamp): they are listed, not changed.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from pki.clock import now_utc
from pki.fsutil import atomic_write
from sealsvc.archive.extend import ArchiveExtender
from sealsvc.errors import InvalidInput
from sealsvc.licences.pipeline import LicenceRecord, get_licence, get_licence_file
from sealsvc.models import AuditEntry, Licence, LicenceFormat
from sealsvc.trust_services import TrustServices
from sealsvc.verification.algorithm_policy import SUNSET
from sealsvc.verification.pdf_signatures import signature_timestamp_token

if TYPE_CHECKING:
    from pathlib import Path

    from sealsvc.context import ServiceContext

__all__ = ["RENEW_ACTION", "RenewItem", "RenewReport", "archival_copy", "parse_window", "renew"]

RENEW_ACTION = "archive.renew"


def parse_window(text: str) -> timedelta:
    """``2y``, ``18m``, ``90d`` → a window (a year counts 365 days, a month 30)."""
    units = {"y": 365, "m": 30, "d": 1}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise InvalidInput(f"window {text!r}: write a number and y, m or d (2y, 18m, 90d)")
    return timedelta(days=int(text[:-1]) * units[text[-1]])


def _archive_path(context: ServiceContext, record: LicenceRecord) -> Path:
    return (
        context.settings.data_dir
        / "licences"
        / "archive"
        / f"{record.number}-v{record.version}.pdf"
    )


def _store(context: ServiceContext, record: LicenceRecord, pdf: bytes) -> None:
    path = _archive_path(context, record)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, pdf)


def _versions(context: ServiceContext) -> list[tuple[str, int]]:
    """Every stored licence version, oldest first (a resumed run redoes the same order)."""
    with context.database.session(read_only=True) as session:
        return list(session.execute(select(Licence.number, Licence.version).order_by(Licence.id)))


def archival_copy(context: ServiceContext, record: LicenceRecord) -> tuple[bytes, str]:
    """The newest committed copy of a licence version and its file name: the renewed copy
    if its ``archive.renew`` entry committed, else the registered file."""
    path = _archive_path(context, record)
    if record.format == LicenceFormat.PDF.value and path.is_file():
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        with context.database.session(read_only=True) as session:
            committed = session.scalar(
                select(AuditEntry.seq)
                .where(AuditEntry.action == RENEW_ACTION, AuditEntry.document_hash == digest)
                .limit(1)
            )
        if committed is not None:
            return data, path.name
    return get_licence_file(context, record.number, record.version), record.file_name


@dataclass(frozen=True)
class _Horizon:
    """Until when a PDF's newest time-stamp proves it, and why then."""

    until: datetime | None
    """``None``: no time-stamp at all (B-B)."""
    reason: str
    tsa_issuer: bytes | None


def _newest_token_certificate(pdf: bytes) -> tuple[x509.Certificate, str] | None:
    """The TSA certificate and digest algorithm of the file's newest time-stamp token."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    newest = None
    for embedded in reader.embedded_signatures:  # oldest revision first
        if embedded.sig_object.get("/Type") == "/DocTimeStamp":
            newest = embedded.signed_data
        else:
            newest = signature_timestamp_token(embedded) or newest
    if newest is None:
        return None
    signer = newest["signer_infos"][0]
    sid = signer["sid"].chosen
    for choice in newest["certificates"] or ():
        certificate = choice.chosen
        if (
            choice.name == "certificate"
            and certificate.serial_number == sid["serial_number"].native
            and certificate.issuer.dump() == sid["issuer"].dump()
        ):
            return certificate, signer["digest_algorithm"]["algorithm"].native
    return None


def _horizon(pdf: bytes) -> _Horizon:
    found = _newest_token_certificate(pdf)
    if found is None:
        return _Horizon(None, "no time-stamp", None)
    certificate, digest = found
    until = certificate["tbs_certificate"]["validity"]["not_after"].native
    reason = "TSA certificate expires"
    sunset = SUNSET.get(digest)
    if sunset is not None and sunset < until:
        until, reason = sunset, f"digest algorithm {digest} is retired"
    return _Horizon(until, reason, certificate.issuer.dump())


@dataclass(frozen=True)
class RenewItem:
    """One licence version the job looked at and what it did."""

    number: str
    version: int
    action: str
    """``renewed``, ``due`` (dry run), ``skipped``."""
    reason: str
    evidence_until: str | None
    """When the newest time-stamp stops proving the file (ISO 8601), before renewal."""
    output_sha256: str | None = None


@dataclass
class RenewReport:
    """What one run found and did."""

    window_days: int
    dry_run: bool
    items: list[RenewItem] = field(default_factory=list)
    checked: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "window_days": self.window_days,
            "dry_run": self.dry_run,
            "checked": self.checked,
            "items": [asdict(item) for item in self.items],
        }


def renew(
    context: ServiceContext,
    *,
    within: timedelta,
    actor: str,
    dry_run: bool = False,
    trust: TrustServices | None = None,
    now: datetime | None = None,
) -> RenewReport:
    """Extend (or, ``dry_run``, list) every stored licence due within ``within``."""
    now = now or now_utc()
    extender = ArchiveExtender(context, trust)
    trust = extender.trust
    issuers = extender.our_issuers()
    tsa_until: dict[str, datetime] = {}
    report = RenewReport(window_days=within.days, dry_run=dry_run)
    for number, version in _versions(context):
        record = get_licence(context, number, version)
        report.checked += 1
        if record.format != LicenceFormat.PDF.value:
            report.items.append(
                RenewItem(record.number, record.version, "skipped", "OFD cannot be extended", None)
            )
            continue
        document, _ = archival_copy(context, record)
        horizon = _horizon(document)
        until = horizon.until.isoformat() if horizon.until else None
        if horizon.until is not None and horizon.until - now > within:
            continue
        hierarchy = issuers.get(horizon.tsa_issuer or b"")
        if hierarchy is not None:
            if hierarchy not in tsa_until:
                tsa_until[hierarchy] = trust.tsa(hierarchy).certificate.not_valid_after
            if tsa_until[hierarchy] <= (horizon.until or now):
                report.items.append(
                    RenewItem(
                        record.number, record.version, "skipped",
                        f"{horizon.reason} no later than the current {hierarchy.upper()} TSA "
                        "certificate: renew the TSA certificate first "
                        "(sealctl ca issue-cert --profile tsa)",
                        until,
                    )
                )  # fmt: skip
                continue
        if dry_run:
            report.items.append(
                RenewItem(record.number, record.version, "due", horizon.reason, until)
            )
            continue
        extension = extender.extend(
            document,
            actor=actor,
            action=RENEW_ACTION,
            details={"number": record.number, "version": record.version, "reason": horizon.reason},
            before_commit=partial(_store, context, record),
        )
        report.items.append(
            RenewItem(
                record.number, record.version, "renewed", horizon.reason, until,
                extension.output_sha256,
            )
        )  # fmt: skip
    return report
