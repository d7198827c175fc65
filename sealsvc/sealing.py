"""Seal a PDF with a registered seal: the service-level flow around :mod:`sealsvc.pades`.

registry check → key handle from the key store (the key never leaves it) → pyHanko writes
the PDF (with our TSA / OCSP / CRLs in-process for B-T, B-LT, B-LTA) → audit entry →
sealed bytes.

Two checks guard against a seal used after it was revoked: one before signing (fast
refusal) and one in the transaction that writes the ``seal.use`` audit entry, which
re-reads the seal's status.  A document signed while a revocation commits is therefore
never handed out: its audit transaction sees the revocation and the result is dropped.
Either refusal is audited as ``seal.refused`` (:mod:`sealsvc.refusals`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pki.certificates import load_certificate
from pki.clock import now_utc
from pki.fsutil import atomic_write
from sealsvc import audit, refusals, seals
from sealsvc.config import Settings
from sealsvc.errors import InvalidInput, SealNotUsable
from sealsvc.pades import SealingMaterial, SealOptions, TsaTimeStamper, seal_pdf
from sealsvc.trust_services import TrustServices

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["SealResult", "Sealer", "check_upload_size", "write_output"]


@dataclass(frozen=True)
class SealResult:
    """A sealed document and what the audit log recorded about it."""

    pdf: bytes
    seal_code: str
    level: str
    input_sha256: str
    output_sha256: str
    certificate_serial: str
    audit_seq: int


class Sealer:
    """Seals documents for one service process (CLI invocation or API worker)."""

    def __init__(self, context: ServiceContext, trust: TrustServices | None = None) -> None:
        self._context = context
        self.trust = trust or TrustServices(context)

    def seal(
        self,
        pdf: bytes,
        seal_code: str,
        options: SealOptions,
        *,
        actor: str,
        details: dict[str, Any] | None = None,
        now: datetime | None = None,
        trusted_input: bool = False,
    ) -> SealResult:
        """Seal ``pdf`` with seal ``seal_code``; raise a :class:`SealsvcError` on any refusal.

        The size limit guards against hostile uploads; ``trusted_input`` lifts it for
        documents the service rendered itself (licences), which are not uploads.  A seal
        that may not seal (suspended, revoked, expired) is refused and the refusal audited
        with ``actor`` and ``details``.
        """
        try:
            return self._seal(
                pdf, seal_code, options, actor=actor, details=details, now=now,
                trusted_input=trusted_input,
            )  # fmt: skip
        except SealNotUsable as exc:
            refusals.record(
                self._context, actor=actor, seal_code=seal_code, refusal=exc, details=details
            )
            raise

    def _seal(
        self,
        pdf: bytes,
        seal_code: str,
        options: SealOptions,
        *,
        actor: str,
        details: dict[str, Any] | None,
        now: datetime | None,
        trusted_input: bool,
    ) -> SealResult:
        if not trusted_input:
            check_upload_size(self._context.settings, pdf)
        now = now or now_utc()
        database = self._context.database
        with database.session(read_only=True) as session:
            material = seals.signing_material(
                session,
                seal_code,
                now=now,
                min_days_left=self._context.settings.min_cert_days_left,
                usage_limit=self._context.settings.seal_usage_limit,
            )
        stamp = None if options.placement.invisible else seals.seal_stamp_pdf(material.appearance)
        certificate = load_certificate(material.certificate_der)
        hierarchy = material.hierarchy
        # A time-stamper per seal: the dummy token that sizes the signature is cached per
        # TSA in ``sealsvc.pades``, so this costs one TSA call per seal all the same.
        timestamper = (
            TsaTimeStamper(self.trust.tsa(hierarchy).respond)
            if options.level.needs_timestamp
            else None
        )
        sealed = seal_pdf(
            pdf,
            SealingMaterial(
                key=self._context.keystore.signer(material.key_id),
                certificate=certificate,
                chain=tuple(load_certificate(der) for der in material.chain_ders),
                stamp_pdf=stamp,
                timestamper=timestamper,
                validation_data=lambda: self.trust.validation_data(hierarchy, certificate),
            ),
            options,
        )
        input_sha256 = hashlib.sha256(pdf).hexdigest()
        output_sha256 = hashlib.sha256(sealed).hexdigest()
        with database.session() as session:
            # Re-check inside the audit transaction: a revocation that committed while we
            # were signing wins, and the signed bytes are dropped. Same ``now`` as the first
            # check: with an injected time, the system clock would call a certificate issued
            # at that time "not valid yet".
            seals.signing_material(
                session,
                seal_code,
                now=now,
                lock=True,
                usage_limit=self._context.settings.seal_usage_limit,
                with_chain=False,  # a status check: the chain was read before signing
            )
            entry = audit.append(
                session,
                action="seal.use",
                actor=actor,
                seal_code=seal_code,
                department_code=material.department_code,
                document_hash=output_sha256,
                details={
                    "input_sha256": input_sha256,
                    "level": options.level.value,
                    "certificate_serial": str(certificate.serial_number),
                    "certify": options.certify,
                    **(details or {}),
                },
            )
            audit_seq = entry.seq
        return SealResult(
            pdf=sealed,
            seal_code=seal_code,
            level=options.level.value,
            input_sha256=input_sha256,
            output_sha256=output_sha256,
            certificate_serial=str(certificate.serial_number),
            audit_seq=audit_seq,
        )


def check_upload_size(settings: Settings, pdf: bytes, kind: str = "PDF") -> None:
    """Refuse a document above the configured limit before any parsing touches it.

    ``kind`` names the format in the message (an OFD upload has the same limit).
    """
    limit = settings.max_pdf_bytes
    if len(pdf) > limit:
        raise InvalidInput(f"the {kind} is {len(pdf)} bytes; the limit is {limit} bytes")


def write_output(path: Path, data: bytes) -> None:
    """Write a sealed PDF atomically: a crash leaves the old file or the new, never half."""
    try:
        atomic_write(path, data, mode=0o644)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
