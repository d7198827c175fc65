"""Re-verify an archive information package on its own, offline: ``sealctl archive import-check``.

Nothing of the service is consulted — no database, no data directory, no URL: an
archive receives the package years later, on a machine that never knew the service.
The checks, each passed or failed with a reason:

1. ``container`` — the ZIP is readable within the limits of :func:`ofd.package.read_zip`
   (no ``../`` or absolute names, no bombs, no duplicates, no links);
2. ``archive_seal`` — ``seal/manifest.ses`` is a valid GB/T 38540 signature of the
   service's *archive seal* over ``manifest.xml``: signatures, seal, time-stamp, both
   certificate paths to the trust anchors and their revocation, all from the package;
3. ``files`` — every file the manifest lists is present with its size, SHA-256 and SM3,
   and no file is present that it does not list (besides the seal and its evidence);
4. ``document`` — the document's seals verify with the package's evidence only (the
   service's recorded CRL/OCSP answers replayed, :class:`.evidence.ReplayFetcher`);
   ``pdfa_claim`` — a PDF's PDF/A claim holds (:mod:`.pdfa_check`); ``ofd_a`` — an
   OFD-A copy opens, without seals, its stamps as annotations (:mod:`.ofd_a`);
5. ``audit_trail`` — the chain segment's hashes and links hold and it names the document.

The trust anchors are the roots given with ``--trust`` (what an archive should do: roots
obtained from the service's publication, not from the package), else the roots the
package carries — reported with their SHA-256 fingerprints, so they can be compared.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import x509

from ofd.errors import OfdFormatError
from ofd.package import OfdPackage, is_ofd, read_zip
from ofd.signatures import read_signatures
from pki.certificates import POLICY_SEAL_MAKER
from pki.clock import now_utc
from sealsvc.archive.archive_seal import ARCHIVE_SEAL_KIND, ARCHIVE_SEAL_TEXT
from sealsvc.archive.audit_trail import TRAIL, check_trail
from sealsvc.archive.evidence import REVOCATION_INDEX, ReplayFetcher, certificates_in
from sealsvc.archive.manifest import (
    MANIFEST,
    SEAL_EVIDENCE,
    SEAL_FILE,
    ManifestEntry,
    ManifestProblem,
    digests,
    read_manifest,
)
from sealsvc.archive.pdfa_check import check_pdfa
from sealsvc.verification.ofd import verify_ofd
from sealsvc.verification.report import ValidationReport
from sealsvc.verification.ses import verify_ses
from sealsvc.verification.validator import TrustAnchors, verify

__all__ = ["SCHEMA_ID", "CheckResult", "ImportCheckReport", "import_check"]

SCHEMA_ID = "sealsvc.archive-import-check/1"
_ARCHIVE_SEAL_NAME = ARCHIVE_SEAL_TEXT + ARCHIVE_SEAL_KIND


@dataclass(frozen=True)
class CheckResult:
    """One check of the module docstring."""

    name: str
    passed: bool
    reason: str


@dataclass(frozen=True)
class ImportCheckReport:
    """The verdict on one package; ``passed`` only when every check passed."""

    record: str | None
    validation_time: datetime
    checks: tuple[CheckResult, ...]
    trust_anchors: tuple[str, ...]
    """SHA-256 fingerprints of the roots used, and where they came from."""
    document: ValidationReport | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_ID,
            "passed": self.passed,
            "record": self.record,
            "validation_time": self.validation_time.isoformat(),
            "trust_anchors": list(self.trust_anchors),
            "checks": [
                {"name": c.name, "passed": c.passed, "reason": c.reason} for c in self.checks
            ],
            "document": self.document.to_dict() if self.document else None,
        }


def _fingerprints(anchors: TrustAnchors, source: str) -> tuple[str, ...]:
    return tuple(
        f"{hashlib.sha256(c.dump()).hexdigest()} ({source}: {c.subject.human_friendly})"
        for c in anchors.certificates
    )


def _seal_check(files: Mapping[str, bytes], anchors: TrustAnchors, now: datetime) -> CheckResult:
    manifest, ses = files.get(MANIFEST), files.get(SEAL_FILE)
    if manifest is None or ses is None:
        missing = MANIFEST if manifest is None else SEAL_FILE
        return CheckResult(
            "archive_seal", False, f"{missing} is missing: the package is not sealed"
        )
    try:
        evidence = json.loads(files.get(SEAL_EVIDENCE, b"{}"))
        fetcher = ReplayFetcher(
            [{**item, "file": str(i)} for i, item in enumerate(evidence.get("revocation", []))],
            {
                str(i): _b64(item.get("data"))
                for i, item in enumerate(evidence.get("revocation", []))
            },
        )
        intermediates = [x509.Certificate.load(_b64(c)) for c in evidence.get("certificates", [])]
    except (ValueError, TypeError, AttributeError):
        return CheckResult("archive_seal", False, f"{SEAL_EVIDENCE} is not readable")
    result = verify_ses(
        ses, manifest, trust=anchors, intermediates=intermediates, now=now, fetcher=fetcher,
        maker_policy=POLICY_SEAL_MAKER,
    )  # fmt: skip
    if not result.passed:
        return CheckResult("archive_seal", False, f"the manifest's seal: {result.report.message}")
    if result.seal_name != _ARCHIVE_SEAL_NAME:
        return CheckResult(
            "archive_seal", False,
            f"the manifest is sealed with {result.seal_name!r}, not the archive seal "
            f"{_ARCHIVE_SEAL_NAME!r}",
        )  # fmt: skip
    when = result.report.best_signature_time
    return CheckResult(
        "archive_seal", True,
        f"sealed by {result.seal_name} ({result.es_id}), time-stamped {when:%Y-%m-%d %H:%M:%S}Z",
    )  # fmt: skip


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError("not base64 text")
    return base64.b64decode(value, validate=True)


def _files_check(files: Mapping[str, bytes], entries: Sequence[ManifestEntry]) -> CheckResult:
    problems = []
    listed = {entry.path for entry in entries}
    for entry in entries:
        data = files.get(entry.path)
        if data is None:
            problems.append(f"{entry.path} is missing (removed)")
        elif len(data) != entry.size or digests(data) != (entry.sha256, entry.sm3):
            problems.append(
                f"{entry.path} does not match its SHA-256/SM3 in the manifest (changed)"
            )
    for path in sorted(set(files) - listed - {MANIFEST, SEAL_FILE, SEAL_EVIDENCE}):
        problems.append(f"{path} is not in the manifest (added)")
    if problems:
        return CheckResult("files", False, "; ".join(problems))
    return CheckResult("files", True, f"all {len(entries)} files match their SHA-256 and SM3")


def _document_check(
    files: Mapping[str, bytes], path: str | None, anchors: TrustAnchors, now: datetime
) -> tuple[CheckResult, ValidationReport | None]:
    document = files.get(path or "")
    if document is None:
        return CheckResult("document", False, f"the document {path!r} is missing"), None
    fetcher = ReplayFetcher.from_json(files.get(REVOCATION_INDEX, b"[]"), files)
    if is_ofd(document):
        report = verify_ofd(
            document, trust=anchors, intermediates=certificates_in(files, "evidence/certificates/"),
            now=now, fetcher=fetcher, maker_policy=POLICY_SEAL_MAKER,
        )  # fmt: skip
    else:
        report = verify(document, trust=anchors, now=now, allow_fetching=True, fetcher=fetcher)
    reason = f"{report.verdict.value}: {report.message}"
    return CheckResult("document", report.passed, reason), report


def _claim_check(document: bytes) -> CheckResult:
    """A PDF's PDF/A claim must hold (:mod:`.pdfa_check`); a PDF without one says so."""
    found = check_pdfa(document)
    if found.claim is None:
        return CheckResult("pdfa_claim", True, "the PDF claims no PDF/A conformance")
    if found.conforms:
        return CheckResult("pdfa_claim", True, f"{found.claim}: the file meets the claim")
    return CheckResult(
        "pdfa_claim", False, f"{found.claim} claimed, but: {'; '.join(found.problems)}"
    )


def _ofd_a_check(files: Mapping[str, bytes], paths: list[str]) -> CheckResult:
    """An OFD-A copy must open, carry no signature and show its stamps as annotations."""
    for path in paths:
        try:
            copy = OfdPackage.read(files[path])
            signed = read_signatures(copy).entries
        except (OfdFormatError, KeyError) as exc:
            return CheckResult("ofd_a", False, f"{path} does not open as OFD: {exc}")
        if signed or not any(p.endswith("/Annotation.xml") for p in copy):
            return CheckResult("ofd_a", False, f"{path} still has seals, or no stamp annotation")
    return CheckResult(
        "ofd_a", True, f"{', '.join(paths)}: OFD without seals, stamps as annotations"
    )


def import_check(
    data: bytes, *, now: datetime | None = None, trust: TrustAnchors | None = None
) -> ImportCheckReport:
    """Check the package ``data`` as the module docstring says; never raises for bad input."""
    now = now or now_utc()
    try:
        files = read_zip(data, what="archive package")
    except OfdFormatError as exc:
        reason = str(exc).replace("OFD ", "archive package ", 1)
        return ImportCheckReport(None, now, (CheckResult("container", False, reason),), ())
    checks = [CheckResult("container", True, f"{len(files)} files read within the limits")]
    if trust is None:
        anchors = TrustAnchors(tuple(certificates_in(files, "evidence/trust/")))
        fingerprints = _fingerprints(anchors, "from the package")
    else:
        anchors, fingerprints = trust, _fingerprints(trust, "given")
    checks.append(_seal_check(files, anchors, now))
    try:
        attributes, entries = read_manifest(files.get(MANIFEST, b""))
    except ManifestProblem as exc:
        checks.append(CheckResult("files", False, str(exc)))
        return ImportCheckReport(None, now, tuple(checks), fingerprints)
    checks.append(_files_check(files, entries))
    document_check, report = _document_check(files, attributes.get("document"), anchors, now)
    checks.append(document_check)
    document = files.get(attributes.get("document", ""))
    if document is not None and not is_ofd(document):
        checks.append(_claim_check(document))
    copies = [
        e.path for e in entries if e.path.startswith("long-term/") and e.path.endswith(".ofd")
    ]
    if copies:
        checks.append(_ofd_a_check(files, copies))
    document_hash = hashlib.sha256(files.get(attributes.get("document", ""), b"")).hexdigest()
    problems = check_trail(files.get(TRAIL, b""), {document_hash})
    checks.append(
        CheckResult("audit_trail", not problems, "; ".join(problems) or "chain segment intact")
    )
    return ImportCheckReport(attributes.get("record"), now, tuple(checks), fingerprints, report)
