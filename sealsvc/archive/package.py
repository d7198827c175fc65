"""Export one record as an archive information package (归档信息包): ``sealctl archive export``.

A package is a ZIP that needs nothing else to be checked (:mod:`.import_check`)::

    document/<file>             the record as stored (a renewed licence: its newest copy)
    report/verification.json    the service's verification report at export (with the
                                licence's registry status)
    report/verification.pdf     the same for people, in Chinese
    evidence/certificates/*.cer every certificate of the seals', time-stamps' and
                                revocation answers' paths, our CAs included
    evidence/trust/*.cer        the service's roots (compare with the published ones)
    evidence/crls/*.crl, evidence/ocsp/*.ocsp, evidence/timestamps/*.tst
                                from the document (DSS, SES objects) and from the service
    evidence/revocation.json    which URL answered what at export (replayed offline)
    audit/trail.json            the record's audit entries, the chain segment, the anchor
    metadata/metadata.xml       GB/T 36903 elements for licences; format, creator, dates
    long-term/<stem>-ofd-a.ofd  with --ofd-a: the OFD-A copy (GB/T 42133), seals as annotations
    manifest.xml                size, SHA-256 and SM3 of every file above
    seal/manifest.ses           the archive seal over SM3(manifest.xml), time-stamped
    seal/evidence.json          revocation answers and CA certificates for that seal

Why a ZIP of plain files, and what it borrows from BagIt, E-ARK and DA/T 48:
``docs/archive-packages.md``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ofd.package import is_ofd
from pki.certificates import Profile
from pki.clock import CHINA_TIME, now_utc
from sealsvc import audit
from sealsvc.archive.archive_seal import seal_manifest
from sealsvc.archive.audit_trail import TRAIL, record_trail
from sealsvc.archive.evidence import (
    REVOCATION_INDEX,
    RecordingFetcher,
    document_evidence,
)
from sealsvc.archive.manifest import MANIFEST, SEAL_EVIDENCE, SEAL_FILE, build_manifest, digests
from sealsvc.archive.metadata_xml import metadata_xml
from sealsvc.archive.ofd_a import ofd_a_copy
from sealsvc.archive.renew import archival_copy
from sealsvc.archive.report_pdf import report_pdf
from sealsvc.errors import InvalidInput
from sealsvc.licences.metadata import LicenceMetadata
from sealsvc.licences.pipeline import get_licence, record_metadata
from sealsvc.models import Certificate
from sealsvc.sealing import check_upload_size
from sealsvc.trust_services import TrustServices
from sealsvc.verification.service import DocumentVerifier
from sealsvc.verification.ses import SesVerifier

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["ExportedPackage", "PackageExporter"]

_SAFE_NAME = re.compile(r"[^\w.\-]")
"""What a caller's file name may keep in ``document/``: letters (CJK too), digits, ``._-``;
anything else (controls, spaces, slashes) would make a name the package reader refuses."""
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""Entry times are fixed: the dates that matter are in the signed files, not the ZIP."""


@dataclass(frozen=True)
class ExportedPackage:
    """A package and what went into it."""

    data: bytes
    record: str
    """The licence number (``NUMBER-vN``) or, for a file, its SHA-256."""
    document_sha256: str
    files: int
    """Files in the manifest."""
    accepted: bool
    """The document's verdict at export (TOTAL_PASSED, and the licence still valid)."""
    archive_seal: str
    """The code of the archive seal that sealed the manifest."""
    audit_seq: int
    """The ``archive.export`` audit entry."""
    package_sha256: str


@dataclass(frozen=True)
class _Record:
    """What a package is made of, whether the record is a licence or a file."""

    document: bytes
    file_name: str
    record: str
    number: str | None
    title: str
    metadata: LicenceMetadata | None
    dates: dict[str, str]


class PackageExporter:
    """Builds packages with the service's verifier, evidence, audit log and archive seal."""

    def __init__(
        self,
        context: ServiceContext,
        trust: TrustServices | None = None,
        *,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        """``clock`` is the time of verification and sealing (tests move it)."""
        self._context = context
        self.trust = trust or TrustServices(context)
        self._clock = clock

    def export_licence(
        self, number: str, version: int | None = None, *, actor: str, ofd_a: bool = False
    ) -> ExportedPackage:
        """The package of licence ``number`` (latest version unless ``version``); with
        ``ofd_a``, an OFD licence's OFD-A copy (:mod:`.ofd_a`) goes in beside it."""
        record = get_licence(self._context, number, version)
        metadata = record_metadata(self._context, record)
        document, file_name = archival_copy(self._context, record)
        return self._export(
            _Record(
                document=document,
                file_name=file_name,
                record=f"{record.number}-v{record.version}",
                number=record.number,
                title=metadata.name if metadata else record.template,
                metadata=metadata,
                dates={"issued": record.issued_at.isoformat()},
            ),
            actor,
            ofd_a,
        )

    def export_file(
        self, document: bytes, file_name: str, *, actor: str, ofd_a: bool = False
    ) -> ExportedPackage:
        """The package of a sealed PDF or OFD given as bytes (not necessarily a licence)."""
        check_upload_size(self._context.settings, document)
        if not document:
            raise InvalidInput(f"{file_name} is empty")
        safe_name = _SAFE_NAME.sub("_", file_name.replace("\\", "/").rsplit("/", 1)[-1])
        if safe_name.strip(".") == "":
            safe_name = "document.ofd" if is_ofd(document) else "document.pdf"
        return self._export(
            _Record(
                document=document,
                file_name=safe_name,
                record=hashlib.sha256(document).hexdigest(),
                number=None,
                title=safe_name,
                metadata=None,
                dates={},
            ),
            actor,
            ofd_a,
        )

    def _export(self, record: _Record, actor: str, ofd_a: bool) -> ExportedPackage:
        now = self._clock()
        ofd = is_ofd(record.document)
        if ofd_a and not ofd:
            raise InvalidInput("--ofd-a makes an OFD-A copy of an OFD record; this one is a PDF")
        recorder = RecordingFetcher(self.trust.local_fetcher())
        verifier = DocumentVerifier(self._context, self.trust, clock=self._clock, fetcher=recorder)
        check = verifier.check(record.document, licence_number=record.number, ofd=ofd)
        verification = check.to_dict()
        if verification["verdict"] == "FORMAT_FAILURE" or not check.report.signatures:
            raise InvalidInput(f"{record.file_name} is not a sealed PDF or OFD: {check.conclusion}")
        evidence = document_evidence(record.document, is_ofd=ofd)
        revocation_index = recorder.record_into(evidence)
        roots, cas = self._service_certificates()
        evidence.add_certificates(cas)
        sha256 = digests(record.document)[0]
        files = {
            f"document/{record.file_name}": record.document,
            "report/verification.json": _json(verification),
            **evidence.files(),
            **{f"evidence/trust/{h}-root.cer": der for h, der in roots.items()},
            REVOCATION_INDEX: _json(revocation_index),
        }
        if ofd_a:
            stem = record.file_name.rsplit(".", 1)[0]
            files[f"long-term/{stem}-ofd-a.ofd"] = ofd_a_copy(
                record.document,
                [s for s in verification["signatures"] if s["kind"] == "signature"],
                made_on=now.astimezone(CHINA_TIME).date().isoformat(),
            )
        with self._context.database.session(read_only=True) as session:
            files[TRAIL] = _json(
                record_trail(session, document_hashes={sha256}, number=record.number)
            )
        files.update(self._descriptions(record, verification, ofd, now))
        return self._lock(files, record, actor, now, cas, accepted=check.accepted)

    def _descriptions(
        self, record: _Record, verification: dict[str, Any], ofd: bool, now: datetime
    ) -> dict[str, bytes]:
        """``metadata/metadata.xml`` and the human report."""
        sha256, sm3_hex = digests(record.document)
        signers = sorted(
            {s["signer"]["common_name"] for s in verification["signatures"]
             if s["kind"] == "signature" and s.get("signer") and s["signer"].get("common_name")}
        )  # fmt: skip
        dates = {**record.dates, "exported": now.isoformat()}
        metadata = metadata_xml(
            title=record.title,
            file_format="ofd" if ofd else "pdf",
            file_name=record.file_name,
            digests={"SHA-256": sha256, "SM3": sm3_hex},
            signers=signers,
            dates=dates,
            licence=record.metadata,
        )
        report = report_pdf(
            {
                "档案记录": record.record,
                "题名": record.title,
                "文件": record.file_name,
                "SHA-256": sha256,
                "SM3": sm3_hex,
                "导出时间": now.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S（北京时间）"),
            },
            verification,
        )
        return {"metadata/metadata.xml": metadata, "report/verification.pdf": report}

    def _lock(
        self,
        files: dict[str, bytes],
        record: _Record,
        actor: str,
        now: datetime,
        cas: list[bytes],
        *,
        accepted: bool,
    ) -> ExportedPackage:
        """Manifest, archive seal and its evidence, the ZIP, the ``archive.export`` entry."""
        sha256 = digests(record.document)[0]
        manifest = build_manifest(
            files,
            {
                "record": record.record,
                "created": now.isoformat(),
                "document": f"document/{record.file_name}",
            },
        )
        details = {"purpose": "archive.export", "record": record.record}
        sealed = seal_manifest(
            self._context, manifest, actor=actor, details=details, trust=self.trust, now=now
        )
        listed = len(files)
        files[MANIFEST] = manifest
        files[SEAL_FILE] = sealed.der
        files[SEAL_EVIDENCE] = self._seal_evidence(sealed.der, manifest, cas, now)
        data = _zip(files)
        package_sha256 = hashlib.sha256(data).hexdigest()
        with self._context.database.session() as session:
            entry = audit.append(
                session,
                action="archive.export",
                actor=actor,
                seal_code=sealed.seal_code,
                document_hash=sha256,
                details={
                    "record": record.record,
                    "number": record.number,
                    "package_sha256": package_sha256,
                    "manifest_sm3": digests(manifest)[1],
                    "accepted": accepted,
                },
            )
            audit_seq = entry.seq
        return ExportedPackage(
            data=data,
            record=record.record,
            document_sha256=sha256,
            files=listed,
            accepted=accepted,
            archive_seal=sealed.seal_code,
            audit_seq=audit_seq,
            package_sha256=package_sha256,
        )

    def _service_certificates(self) -> tuple[dict[str, bytes], list[bytes]]:
        """The current roots by hierarchy, and every CA certificate the service ever had."""
        with self._context.database.session(read_only=True) as session:
            rows = session.execute(
                select(Certificate.hierarchy, Certificate.profile, Certificate.der)
                .where(Certificate.profile.in_([Profile.ROOT_CA.value, Profile.ISSUING_CA.value]))
                .order_by(Certificate.id)
            ).all()
        roots = {h: der for h, profile, der in rows if profile == Profile.ROOT_CA.value}
        return roots, [der for _, _, der in rows]

    def _seal_evidence(self, ses: bytes, manifest: bytes, cas: list[bytes], now: datetime) -> bytes:
        """What the archive seal's own paths need offline, recorded while we verify it."""
        recorder = RecordingFetcher(self.trust.local_fetcher())
        result = SesVerifier(self._context, self.trust).verify(
            ses, manifest, now=now, fetcher=recorder
        )
        if not result.passed:  # our own fresh seal: a failure here is a fault of the service
            raise RuntimeError(f"the archive seal does not verify: {result.report.message}")
        return _json(
            {
                "revocation": [
                    {
                        "url": url,
                        "request": None if request is None else base64.b64encode(request).decode(),
                        "data": base64.b64encode(answer).decode(),
                    }
                    for (url, request), answer in recorder.answers.items()
                ],
                "certificates": [base64.b64encode(der).decode() for der in cas],
            }
        )


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def _zip(files: dict[str, bytes]) -> bytes:
    """A ZIP of ``files`` in path order, ``manifest.xml`` first, fixed times (deflated)."""
    out = io.BytesIO()
    order = sorted(files, key=lambda path: (path != MANIFEST, path))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in order:
            info = zipfile.ZipInfo(path, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[path])
    return out.getvalue()
