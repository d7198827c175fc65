"""The service's archive seal (归档章): the seal that locks each archive information package.

DA/T 48 closes an electronic record's package with a 锁定签名, a signature over the
whole package.  Ours is a GB/T 38540 ``SES_Signature`` made with a registered SM2 seal
over SM3(``manifest.xml``), time-stamped by the SM2 TSA — the structure every Chinese seal
verifier (ofdrw, 电子证照 platforms) already reads, checked here by the same engine as an
OFD's seals, and carrying the seal's picture and maker.  See ``docs/archive-packages.md``
for why not a CAdES/GB/T 35275 SignedData.

The seal is an ordinary seal of the registry — a 业务专用章 of :data:`ARCHIVE_DEPARTMENT`
whose text is :data:`ARCHIVE_SEAL_TEXT` — so suspension, revocation, rotation and the
audit log (``seal.use``, ``seal.refused``) apply to it as to any other.  It is created on
first use and found again by department, kind and text (the newest such seal).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pki.sm2 import sm3
from sealsvc import seals, ses_signing
from sealsvc.models import Department, Seal, SealAlgorithm

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext
    from sealsvc.trust_services import TrustServices

__all__ = [
    "ARCHIVE_DEPARTMENT",
    "ARCHIVE_SEAL_KIND",
    "ARCHIVE_SEAL_TEXT",
    "archive_seal_code",
    "seal_manifest",
]

ARCHIVE_DEPARTMENT = "郑州市档案馆"
"""The department holding the archive seal: the city archive of the seed list."""
ARCHIVE_SEAL_KIND = "业务专用章"
ARCHIVE_SEAL_TEXT = "郑州市档案馆归档"
"""With the kind its name reads 郑州市档案馆归档业务专用章 (a 归档专用章)."""
PROPERTY_INFO = "manifest.xml"
"""What the ``SES_Signature`` says it covers."""


def archive_seal_code(context: ServiceContext, *, actor: str) -> str:
    """The code of the newest archive seal, whatever its status; issued now (SM2, audited)
    only if there has never been one.

    A suspended, revoked or expired archive seal is used all the same, so the export is
    refused and audited (``seal.refused``) instead of a new seal quietly taking its place:
    replacing it is the operator's decision (``sealctl seal issue`` or ``seal rotate``).
    """
    with context.database.session(read_only=True) as session:
        code = session.scalar(
            select(Seal.code)
            .join(Department, Department.id == Seal.department_id)
            .where(
                Department.name == ARCHIVE_DEPARTMENT,
                Seal.kind == ARCHIVE_SEAL_KIND,
                Seal.text == ARCHIVE_SEAL_TEXT,
                Seal.algorithm == SealAlgorithm.SM2.value,
            )
            .order_by(Seal.id.desc())
            .limit(1)
        )
    if code is not None:
        return code
    return seals.issue(
        context,
        department=ARCHIVE_DEPARTMENT,
        kind=ARCHIVE_SEAL_KIND,
        text=ARCHIVE_SEAL_TEXT,
        algorithm=SealAlgorithm.SM2,
        actor=actor,
    ).code


def seal_manifest(
    context: ServiceContext,
    manifest: bytes,
    *,
    actor: str,
    details: dict[str, Any],
    trust: TrustServices | None = None,
    now: datetime | None = None,
) -> ses_signing.SesSignResult:
    """The archive seal's time-stamped ``SES_Signature`` over SM3(``manifest``) (``seal.use``)."""
    code = archive_seal_code(context, actor=actor)
    return ses_signing.sign_hash(
        context,
        code,
        sm3(manifest),
        PROPERTY_INFO,
        timestamp=True,
        actor=actor,
        details=details,
        trust=trust,
        now=now,
    )
