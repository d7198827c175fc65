"""The seal set follows its 营业执照: annulled with it, kept through its re-issues.

Annulling (吊销 or 注销) the licence revokes every seal of the set in the annulment's own
transaction (:func:`close_with_licence`, called by
:func:`sealsvc.licences.pipeline.annul_licence`): the licence is never annulled while its
seals stay usable, and a failed revocation leaves the licence valid. Each seal is revoked
as ``sealctl seal revoke`` would (every unexpired certificate on the CRL, audited per
serial), with the RFC 5280 reason that says why:

* 吊销 (a sanction) → ``privilege_withdrawn``;
* 注销 (the enterprise ends) → ``cessation_of_operation``.

Documents sealed before keep verifying when a time-stamp proves they were sealed before
the revocation time, which is recorded on each seal and certificate. A re-issue (补发,
换发, 变更) keeps the licence number, so the set stays with it untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealsvc import audit, seals
from sealsvc.models import AnnulKind, Enterprise, Seal, SealStatus

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["REVOCATION_REASONS", "close_with_licence"]

REVOCATION_REASONS = {
    AnnulKind.REVOKED: "privilege_withdrawn",
    AnnulKind.CANCELLED: "cessation_of_operation",
}
"""The RFC 5280 reason a seal is revoked with, by how its licence was annulled."""


def close_with_licence(
    context: ServiceContext,
    session: Session,
    *,
    number: str,
    kind: AnnulKind,
    reason: str,
    actor: str,
) -> bool:
    """Revoke the seal set of the enterprise whose licence ``number`` is being annulled,
    in ``session``; whether a seal was revoked (then a CRL changed: the caller writes the
    CA files after its commit, :func:`sealsvc.seals.export_ca_files`). Audited per seal
    and as ``enterprise.close``."""
    enterprise = session.scalars(
        select(Enterprise).where(
            Enterprise.licence_number == number, Enterprise.closed_at.is_(None)
        )
    ).one_or_none()
    if enterprise is None:
        return False
    codes = list(
        session.scalars(
            select(Seal.code)
            .where(
                Seal.department_id == enterprise.department_id,
                Seal.status != SealStatus.REVOKED.value,
            )
            .order_by(Seal.code)
        )
    )
    crl_reason = REVOCATION_REASONS[kind]
    with seals.joined(context, session, actor=actor, revocation=True) as batch:
        for code in codes:
            batch.revoke(code, crl_reason)
        enterprise.closed_at = batch.now
    audit.append(
        session,
        action="enterprise.close",
        actor=actor,
        department_code=enterprise.department.code,
        details={
            "credit_code": enterprise.credit_code,
            "licence_number": number,
            "annul_kind": kind.value,
            "reason": reason,
            "revocation_reason": crl_reason,
            "revoked_seals": codes,
        },
    )
    return bool(codes)
