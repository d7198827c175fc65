"""Every SM2 seal's GB/T 38540 ``SESeal`` (电子印章数据), made by the seal maker (制章者).

An electronic seal in the Chinese sense is not only a key and a picture: it is a data
object the seal maker signs, binding the seal's code, name, type, validity, picture and
the certificate(s) of the key that seals with it.  Every ``SES_Signature`` embeds it.  This
module makes those objects from the registry, keeps them (``ses_seals`` table, one current
object per seal plus every earlier one) and hands them out; :mod:`pki.ses` builds and signs
the DER and knows nothing of the registry.

What goes in, from the registry:

* ``esID`` — the 14-digit seal code (unique, stable for the seal's whole life);
* ``name`` — the seal's certificate common name: its text plus its kind (a 公章 is named by
  its text alone), e.g. 中国（河南）自由贸易试验区郑州片区管理委员会行政审批专用章;
* ``type`` — :data:`SES_TYPES`: GM/T 0031 and GB/T 38540 define the value as 1 单位印章
  (an organisation's seal) or 2 个人印章 (a person's), not as the seal's purpose; every kind
  this registry issues is an organisation's seal, so 1, except an enterprise's
  法定代表人名章, which shows a person's name and is that person's seal: 2.  The kind
  itself is in the name and in digits 7-8 of ``esID``.  (Mapping kinds to 1…5 would make
  every validator that reads the standard's values call a 行政审批专用章 something unknown.)
* ``certList`` — the seal's current certificate (a new object follows each new one);
* validity — the current certificate's notBefore … notAfter;
* picture — the seal image as PNG (:func:`sealsvc.seals.seal_png`: the drawing, or the
  uploaded scan) with the stamp's printed size in millimetres.

Issue, rotate, renew and image changes make a new object in the same transaction as the
change (:mod:`sealsvc.seals` calls :func:`make`); the previous one gets ``superseded_at``.
Suspension and revocation make none: the seal's registry status is what verification
consults (:mod:`sealsvc.verification.ses`).  SM2 seals issued before this existed get
theirs from :func:`sealsvc.seals.backfill_ses_seals` (``sealctl seal ses-backfill``).
RSA seals have none: GB/T 38540 is SM2 only, and asking for one is a
:class:`NoSesSeal` (409).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from pki.certificates import load_certificate, name_text
from pki.ses import SealPicture, make_seal, parse_seal
from sealsvc import audit, locks
from sealsvc.ca import CertificateAuthority
from sealsvc.errors import Conflict, NotFound
from sealsvc.models import Certificate, Seal, SealAlgorithm, SesSeal, SesSealReason

__all__ = [
    "ACTION",
    "ORGANISATION_SEAL",
    "PERSONAL_SEAL",
    "SES_TYPES",
    "CurrentSesSeal",
    "NoSesSeal",
    "SesSealView",
    "current",
    "current_for_signing",
    "describe",
    "make",
    "seal_maker",
]

ACTION = "ses.make"
"""Audit action of one ``SESeal`` signed by the seal maker's key."""

ORGANISATION_SEAL = 1
"""``SES_ESPropertyInfo.type`` 1 = 单位印章 (GM/T 0031-2014 §7.1; GB/T 38540-2020 keeps it)."""
PERSONAL_SEAL = 2
"""``SES_ESPropertyInfo.type`` 2 = 个人印章."""

SES_TYPES: dict[str, int] = {
    "公章": ORGANISATION_SEAL,
    "财务专用章": ORGANISATION_SEAL,
    "合同专用章": ORGANISATION_SEAL,
    "业务专用章": ORGANISATION_SEAL,
    "行政审批专用章": ORGANISATION_SEAL,
    "发票专用章": ORGANISATION_SEAL,
    "法定代表人名章": PERSONAL_SEAL,
}
"""Seal kind → ``SES_ESPropertyInfo.type``; see the module note."""


class NoSesSeal(Conflict):
    """The seal exists but has no ``SESeal``: an RSA seal, or an SM2 seal not backfilled."""

    kind = "no-ses-seal"


def seal_maker(
    session: Session, ca: CertificateAuthority, *, actor: str, created_keys: list[str]
) -> Certificate:
    """The current seal-maker certificate; created (audited) in a data directory that was
    initialised before the seal maker existed, so upgrading needs no extra step."""
    try:
        return ca.seal_maker(session)
    except NotFound:
        locks.hold(session, locks.Resource.CA)  # one node makes it; the others see it
        try:
            return ca.seal_maker(session)
        except NotFound:
            return ca.create_seal_maker(session, actor=actor, created_keys=created_keys)


def make(
    session: Session,
    ca: CertificateAuthority,
    *,
    seal: Seal,
    name: str,
    picture: SealPicture,
    now: datetime,
    actor: str,
    reason: SesSealReason,
    created_keys: list[str],
) -> SesSeal:
    """Make, sign, store and audit the seal's new current ``SESeal``, in ``session``.

    ``seal.current_certificate`` must already be the certificate it binds.  The previous
    current object is superseded first (the partial unique index allows one current row).
    Audited as ``ses.make`` with the object's SHA-256 and the maker certificate's serial.
    """
    certificate = seal.current_certificate
    if certificate is None or SealAlgorithm(seal.algorithm) is not SealAlgorithm.SM2:
        raise NoSesSeal(f"seal {seal.code} is not an SM2 seal: GB/T 38540 seals are SM2 only")
    # A new seal object changes the seal: bumping its row's optimistic lock makes a
    # concurrent change of the same seal (another node's rotation, a second backfill) fail
    # as "changed concurrently" instead of replacing what the other one just made.
    seal.updated_at = now
    maker = seal_maker(session, ca, actor=actor, created_keys=created_keys)
    der = make_seal(
        es_id=seal.code,
        seal_type=SES_TYPES[seal.kind],
        name=name,
        signer_certificates=[certificate.der],
        created=now,
        valid_start=certificate.not_before,
        valid_end=certificate.not_after,
        picture=picture,
        maker_certificate=maker.der,
        maker=ca.signer(maker),
    )
    previous = session.scalars(
        select(SesSeal).where(SesSeal.seal_id == seal.id, SesSeal.superseded_at.is_(None))
    ).one_or_none()
    if previous is not None:
        previous.superseded_at = now
        session.flush()
    row = SesSeal(
        seal_id=seal.id,
        certificate_id=certificate.id,
        maker_certificate_id=maker.id,
        der=der,
        reason=reason.value,
        created_at=now,
        valid_start=certificate.not_before,
        valid_end=certificate.not_after,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        action=ACTION,
        actor=actor,
        seal_code=seal.code,
        department_code=seal.department.code,
        details={
            "reason": reason.value,
            "sha256": row.sha256,
            "certificate_serial": certificate.serial,
            "maker_serial": maker.serial,
            "maker_key_id": maker.key_id,
        },
    )
    return row


def current(session: Session, code: str) -> SesSeal:
    """The seal's current ``SESeal``: :class:`NotFound` for an unknown code,
    :class:`NoSesSeal` for an RSA seal or an SM2 seal that has none yet."""
    code = code.strip()
    seal = session.scalars(select(Seal).where(Seal.code == code)).one_or_none()
    if seal is None:
        raise NotFound(f"no seal with code {code!r}")
    if SealAlgorithm(seal.algorithm) is not SealAlgorithm.SM2:
        raise NoSesSeal(
            f"seal {seal.code} is an {seal.algorithm} seal: GB/T 38540 electronic seals "
            "(SESeal) exist for SM2 seals only"
        )
    row = session.scalars(
        select(SesSeal).where(SesSeal.seal_id == seal.id, SesSeal.superseded_at.is_(None))
    ).one_or_none()
    if row is None:
        raise NoSesSeal(
            f"seal {seal.code} was issued before seals had an SESeal: "
            "run `sealctl seal ses-backfill` to make it"
        )
    return row


@dataclass(frozen=True)
class CurrentSesSeal:
    """What signing needs of a seal's current ``SESeal`` (:func:`current_for_signing`)."""

    der: bytes = field(repr=False)
    sha256: str
    certificate_der: bytes = field(repr=False)
    """The seal certificate the ``SESeal`` lists (its ``certList``)."""


_CURRENT_FOR_SIGNING = (
    select(SesSeal.der, SesSeal.sha256, Certificate.der)
    .join(Seal, Seal.id == SesSeal.seal_id)
    .join(Certificate, Certificate.id == SesSeal.certificate_id)
    .where(
        Seal.code == bindparam("code"),
        Seal.algorithm == SealAlgorithm.SM2.value,
        SesSeal.superseded_at.is_(None),
    )
)
"""Built once: building a select costs about as much as running this one."""


def current_for_signing(session: Session, code: str) -> CurrentSesSeal:
    """:func:`current`'s ``SESeal`` and its certificate in one query, for every seal use.

    :func:`current` reads the seal, its ``SESeal`` and then the certificate, three round
    trips that were a sixth of reading a seal for an OFD licence; its errors are the same
    (it is asked for them when this finds nothing).
    """
    found = session.execute(_CURRENT_FOR_SIGNING, {"code": code.strip()}).one_or_none()
    if found is None:  # current() raises the precise NotFound or NoSesSeal
        row = current(session, code)
        return CurrentSesSeal(row.der, row.sha256, row.certificate.der)
    return CurrentSesSeal(*found)


@dataclass(frozen=True)
class SesSealView:
    """What ``sealctl seal show`` and the API show of a seal's current ``SESeal``, read
    back from the DER itself (not from the columns that repeat it)."""

    version: int
    es_id: str
    name: str
    type: int
    created: datetime
    valid_start: datetime
    valid_end: datetime
    maker_subject: str
    maker_serial: str
    picture_type: str
    picture_width_mm: int
    picture_height_mm: int
    picture_bytes: int
    sha256: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "es_id": self.es_id,
            "name": self.name,
            "type": self.type,
            "created": self.created.isoformat(),
            "valid_start": self.valid_start.isoformat(),
            "valid_end": self.valid_end.isoformat(),
            "maker": {"subject": self.maker_subject, "serial": self.maker_serial},
            "picture": {
                "type": self.picture_type,
                "width_mm": self.picture_width_mm,
                "height_mm": self.picture_height_mm,
                "bytes": self.picture_bytes,
            },
            "sha256": self.sha256,
            "reason": self.reason,
        }


def describe(row: SesSeal) -> SesSealView:
    """The fields of a stored ``SESeal`` as its DER says them."""
    parsed = parse_seal(row.der)
    maker = load_certificate(parsed.maker_certificate)
    return SesSealView(
        version=parsed.version,
        es_id=parsed.es_id,
        name=parsed.name,
        type=parsed.seal_type,
        created=parsed.created,
        valid_start=parsed.valid_start,
        valid_end=parsed.valid_end,
        maker_subject=name_text(maker.subject),
        maker_serial=str(maker.serial_number),
        picture_type=parsed.picture.type,
        picture_width_mm=parsed.picture.width_mm,
        picture_height_mm=parsed.picture.height_mm,
        picture_bytes=len(parsed.picture.data),
        sha256=row.sha256,
        reason=row.reason,
    )
