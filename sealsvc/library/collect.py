"""归集: licences other issuing systems sealed, pushed into the library with their metadata.

On entry the file is verified with the verification engine against the library's own trust
anchors (:mod:`.trust`) and refused — with the whole report — unless TOTAL_PASSED.
Revocation data the file does not carry (a PAdES B-T, an OFD's ``SES_Signature``) is fetched
from the CRL/OCSP URLs in its certificates (10 s timeout, size cap): unlike a public upload
to ``/v1/verify``, the sender is an authenticated issuing system, and a path is only built —
so only fetched for — up to a root an admin trusted, whose CA wrote those URLs.

The GB/T 36903 metadata comes as JSON beside the file: its identifier (GB/T 36904, check
character and credit codes checked), type and issuer codes must agree with the identifier,
and a department may push only licences it issued (its 统一社会信用代码 is the identifier's
issuer code); an admin key may push any.  Collecting version *n* of a licence supersedes
the versions before it; the issuing system annuls one with :func:`annul_collected`.  Files
are stored like issued licences' (:func:`~sealsvc.licences.pipeline.storing_licence_file`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pki.clock import now_utc
from sealsvc import audit
from sealsvc.apikeys import Principal
from sealsvc.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound
from sealsvc.library.entries import LibraryEntry, by_identifier
from sealsvc.library.holders import holder_code
from sealsvc.library.trust import library_anchors
from sealsvc.licences.identifier import LicenceIdentifier
from sealsvc.licences.metadata import LONG_TERM
from sealsvc.licences.pipeline import storing_licence_file
from sealsvc.models import (
    AnnulKind,
    CollectedLicence,
    Department,
    Licence,
    LicenceFormat,
    LicenceStatus,
)
from sealsvc.verification import RevocationFetcher, ValidationReport, http_fetcher, verify
from sealsvc.verification.ofd import verify_ofd

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["CollectRefused", "annul_collected", "collect", "read_metadata"]

_REQUIRED = (
    "name",
    "identifier",
    "number",
    "issuer_name",
    "issue_date",
    "holder_name",
    "holder_code",
    "valid_from",
    "valid_until",
)
_OPTIONAL = ("type_code", "issuer_code", "holder_code_type")
_LIMITS = {
    "name": 200,
    "number": 200,
    "issuer_name": 200,
    "holder_name": 200,
    "holder_code_type": 32,
}


class CollectRefused(InvalidInput):
    """The pushed licence does not verify TOTAL_PASSED against the library's trust anchors;
    the problem carries the verification report."""

    status = 422
    kind = "licence-not-verified"

    def __init__(self, report: ValidationReport) -> None:
        reading = report.to_dict()
        sub = f" ({reading['sub_indication']})" if reading["sub_indication"] else ""
        super().__init__(
            "the licence does not verify against the library's trust anchors: "
            f"{reading['verdict']}{sub}"
        )
        self.report = report

    @property
    def problem_extensions(self) -> dict[str, Any]:
        return {"report": self.report.to_dict()}


def _iso_day(value: str, name: str, *, long_term: bool = False) -> str:
    if long_term and value == LONG_TERM:
        return value
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidInput(
            f"metadata {name} must be an ISO date (2024-03-15), got {value!r}"
        ) from None


def read_metadata(metadata: object) -> tuple[dict[str, str], LicenceIdentifier]:
    """The GB/T 36903 elements of a pushed licence, checked; and its parsed identifier."""
    if isinstance(metadata, str | bytes):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            raise InvalidInput("metadata must be a JSON object of GB/T 36903 elements") from None
    if not isinstance(metadata, Mapping):
        raise InvalidInput("metadata must be a JSON object of GB/T 36903 elements")
    unknown = set(metadata) - {*_REQUIRED, *_OPTIONAL}
    if unknown:
        raise InvalidInput(f"unknown metadata elements: {', '.join(sorted(unknown))}")
    values: dict[str, str] = {}
    for name in (*_REQUIRED, *_OPTIONAL):
        value = metadata.get(name)
        if value is None and name in _OPTIONAL:
            continue
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"metadata element {name} is required (text)")
        values[name] = value.strip()
        if len(values[name]) > _LIMITS.get(name, 200):
            raise InvalidInput(f"metadata {name} is longer than {_LIMITS.get(name, 200)}")
    identifier = LicenceIdentifier.parse(values["identifier"])
    for name, expected in (
        ("type_code", identifier.type_code),
        ("issuer_code", identifier.issuer_code),
    ):
        if values.setdefault(name, expected) != expected:
            raise InvalidInput(f"metadata {name} {values[name]} differs from the identifier's")
    values["identifier"] = str(identifier)
    values["issue_date"] = _iso_day(values["issue_date"], "issue_date")
    values["valid_from"] = _iso_day(values["valid_from"], "valid_from")
    values["valid_until"] = _iso_day(values["valid_until"], "valid_until", long_term=True)
    if values["valid_until"] != LONG_TERM and values["valid_until"] < values["valid_from"]:
        raise InvalidInput("metadata valid_until is before valid_from")
    return values, identifier


def _face(face: object) -> dict[str, str]:
    if face is None:
        return {}
    if isinstance(face, str | bytes):
        try:
            face = json.loads(face)
        except ValueError:
            raise InvalidInput("face must be a JSON object of label → text") from None
    if not isinstance(face, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= 40 and len(v) <= 2000
        for k, v in face.items()
    ):
        raise InvalidInput("face must be a JSON object of label (≤ 40) → text (≤ 2000)")
    if len(face) > 100:
        raise InvalidInput("face has more than 100 fields")
    return dict(face)


def _check_issuer(session: Session, principal: Principal, issuer_code: str) -> None:
    if "admin" in principal.scopes:
        return
    credit_code = session.scalar(
        select(Department.credit_code).where(Department.code == principal.department_code)
    )
    if credit_code != issuer_code:
        raise Forbidden(
            f"department {principal.department_code} may push only licences it issued "
            f"(issuer code {credit_code or 'not set'}), not those of {issuer_code}"
        )


def _verified(
    context: ServiceContext,
    data: bytes,
    is_ofd: bool,
    now: datetime,
    fetcher: RevocationFetcher,
) -> None:
    with context.database.session(read_only=True) as session:
        anchors = library_anchors(session)
    if is_ofd:
        report = verify_ofd(data, trust=anchors, now=now, fetcher=fetcher)
    else:
        report = verify(data, trust=anchors, now=now, allow_fetching=True, fetcher=fetcher)
    if not report.passed:
        raise CollectRefused(report)


def collect(
    context: ServiceContext,
    principal: Principal,
    data: bytes,
    *,
    is_ofd: bool,
    metadata: object,
    face: object = None,
    details: Mapping[str, Any],
    now: datetime | None = None,
    fetcher: RevocationFetcher = http_fetcher,
) -> LibraryEntry:
    """Verify and store a licence another system sealed; see the module docstring.

    ``fetcher`` answers CRL/OCSP URLs (tests pass an in-process one)."""
    now = now or now_utc()
    values, identifier = read_metadata(metadata)
    face_data = _face(face)
    with context.database.session() as session:  # may write the installation's ID salt
        _check_issuer(session, principal, identifier.issuer_code)
        holder = holder_code(session, values["holder_code"])
    _verified(context, data, is_ofd, now, fetcher)
    file_format = LicenceFormat.OFD if is_ofd else LicenceFormat.PDF
    sha256 = hashlib.sha256(data).hexdigest()
    file_name = f"collected-{sha256[:32]}.{file_format.value}"
    key = str(identifier)
    already = f"licence {key} (or this very file) is already in the library"
    with (
        storing_licence_file(context, file_name, data) as keep,
        context.database.session() as session,
    ):
        taken = session.scalar(select(Licence.id).where(Licence.identifier == key)) or (
            session.scalar(
                select(CollectedLicence.id).where(
                    (CollectedLicence.identifier == key)
                    | (CollectedLicence.document_sha256 == sha256)
                )
            )
        )
        if taken:
            raise Conflict(already)
        earlier = session.scalars(
            select(CollectedLicence)
            .where(
                CollectedLicence.number == values["number"],
                CollectedLicence.issuer_code == identifier.issuer_code,
                CollectedLicence.type_code == identifier.type_code,
                CollectedLicence.version < identifier.version,
                CollectedLicence.status == LicenceStatus.VALID.value,
            )
            .with_for_update()
        ).all()
        for old in earlier:
            old.status = LicenceStatus.SUPERSEDED.value
            old.status_changed_at = now
            old.status_reason = f"由第{identifier.version}版取代"
        session.add(
            CollectedLicence(
                identifier=key,
                number=values["number"],
                version=identifier.version,
                type_code=identifier.type_code,
                name=values["name"],
                issuer_name=values["issuer_name"],
                issuer_code=identifier.issuer_code,
                issue_date=values["issue_date"],
                holder_name=values["holder_name"],
                holder_key=holder.key,
                holder_code_shown=holder.shown,
                holder_code_type=values.get("holder_code_type", holder.kind),
                valid_from=values["valid_from"],
                valid_until=values["valid_until"],
                face=json.dumps(face_data, ensure_ascii=False, sort_keys=True),
                format=file_format.value,
                file_name=file_name,
                document_sha256=sha256,
                status=LicenceStatus.VALID.value,
                collected_at=now,
                collected_by=principal.actor,
            )
        )
        try:
            session.flush()
        except IntegrityError:  # the same licence pushed twice at once: one wins
            raise Conflict(already) from None
        audit.append(
            session,
            action="library.collect",
            actor=principal.actor,
            department_code=principal.department_code,
            document_hash=sha256,
            details={
                **details,
                "identifier": key,
                "type_code": identifier.type_code,
                "holder": holder.shown,
                "format": file_format.value,
                "superseded": [old.identifier for old in earlier],
            },
        )
        keep(session)
        return by_identifier(session, context.settings, key, now)


def annul_collected(
    context: ServiceContext,
    principal: Principal,
    identifier: str,
    *,
    kind: AnnulKind | str,
    reason: str,
    details: Mapping[str, Any],
    now: datetime | None = None,
) -> LibraryEntry:
    """The issuing system annuls (吊销/注销) a licence it pushed; every view shows it at once."""
    try:
        kind = AnnulKind(kind)
    except ValueError:
        raise InvalidInput(f"unknown annulment kind {kind!r}: revoked or cancelled") from None
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise InvalidInput("annulling needs a reason of 1-500 characters")
    now = now or now_utc()
    key = str(LicenceIdentifier.parse(identifier))
    with context.database.session() as session:
        row = session.scalar(
            select(CollectedLicence).where(CollectedLicence.identifier == key).with_for_update()
        )
        if row is None:
            raise NotFound(f"no collected licence {key} (issued licences are annulled by number)")
        _check_issuer(session, principal, row.issuer_code)
        if row.status != LicenceStatus.VALID:
            raise InvalidTransition(f"licence {key} is already {row.status}")
        row.status = LicenceStatus.ANNULLED.value
        row.status_changed_at = now
        row.status_reason = reason
        row.annul_kind = kind.value
        audit.append(
            session,
            action="library.annul",
            actor=principal.actor,
            department_code=principal.department_code,
            document_hash=row.document_sha256,
            details={**details, "identifier": key, "kind": kind.value, "reason": reason},
        )
        return by_identifier(session, context.settings, key, now)
