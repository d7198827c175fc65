"""The seal registry: which seals exist, who owns them, and their lifecycle.

A seal is a department's signing key in the key store plus its current certificate from
the CA of the seal's hierarchy (RSA keys → the RSA hierarchy, SM2 keys → the SM2 one),
its text and kind, and its image. Every lifecycle change is one database transaction
together with its audit entry; a change that affects revocation (suspend, resume, revoke)
publishes the issuing CA's next CRL in that same transaction, so a revocation is never
committed without being on a CRL, and the PEM/CRL files under ``<data dir>/ca/`` are
rewritten after the commit.

Seal codes (印章编码) are 14 digits::

    410100 05 000001
    │      │  └─ sequence number within division and kind, 000001-999999
    │      └──── kind code (:data:`KIND_CODES`): 01 公章, 02 财务专用章, 03 合同专用章,
    │            04 业务专用章, 05 行政审批专用章, 06 发票专用章, 07 法定代表人名章
    └─────────── administrative division code (GB/T 2260), 410100 = 郑州市

This is sealsvc's own scheme (the kind codes and sequences are assigned here, not by the
public-security seal registry): a code is unique in one deployment, stable for the seal's
whole life (rotation and renewal keep it), sortable, and short enough for the seal image.

Lifecycle (stored status; a seal whose current certificate has passed ``notAfter`` is
*reported* ``expired`` whatever is stored, see :func:`effective_status`)::

    issue → active ⇄ suspended          suspend = certificate on hold (certificateHold on
              │  │                       the CRL), resume = hold lifted (off the next CRL)
              │  ├─ rotate: new key + certificate, old certificate superseded
              │  │   (rotate with revoke_old: the old key's certificates revoked instead)
              │  └─ renew: new certificate for the same key, old one superseded
              └─ revoke (from active, suspended or expired) → revoked, for ever

An SM2 seal's GB/T 38540 seal object (``SESeal``, :mod:`sealsvc.ses_seals`) binds its
current certificate and image: issue, rotate, renew and image changes make a new one in
the same transaction; suspend and revoke leave it, verification asks the registry.

A plain rotation (routine key change) leaves the old certificate superseded, not revoked:
documents sealed before it stay valid. A rotation for a suspected compromise
(``revoke_old``) revokes the old key's certificates in the same transaction. Revoking a
seal revokes every unexpired certificate it ever had, of every key: a seal is usually
revoked because a key is suspected, and rotation is what one does on such a suspicion, so
a superseded certificate left off the CRL would keep the suspected key's documents valid.
Documents sealed before the revocation stay valid only with a time-stamp proving it.

Concurrency: a seal row carries an optimistic-lock ``version``; a change that lost a race
raises :class:`Conflict` ("try again"). :func:`signing_material` reads key id and
certificate from the same certificate row in one statement, so a concurrent rotation is
seen entirely or not at all, never as a key of one and a certificate of the other.

Keys are generated inside the transaction that records them; if it fails, the key is
deleted again. A crash between writing the key file and the commit leaves an unreferenced
key file (never a row pointing at a missing key); :func:`reconcile_orphan_keys` removes
such files.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from asn1crypto import x509
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from pki.algorithms import KeyAlgorithm
from pki.certificates import Profile, build_name
from pki.crl import REASONS
from pki.errors import KeyStoreError
from pki.fsutil import remove_stale_temporaries
from pki.ses import SealPicture
from sealsvc import audit, departments, sealimage, ses_seals
from sealsvc.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    SealNotUsable,
    SealsvcError,
)
from sealsvc.models import (
    AuditEntry,
    Certificate,
    CertificateStatus,
    Department,
    DepartmentKind,
    ImageSource,
    Seal,
    SealAlgorithm,
    SealStatus,
    SesSeal,
    SesSealReason,
    utcnow,
)
from sealsvc.sealimage import ImageSpec
from sealsvc.sealimage.design import SealAppearance, seal_name

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = [
    "DIVISION_CODE",
    "KIND_CODES",
    "REVOCATION_REASONS",
    "SET_ONLY_KINDS",
    "CertificateView",
    "SealAppearance",
    "SealBatch",
    "SealSigningMaterial",
    "SealView",
    "appearance",
    "backfill_ses_seals",
    "effective_status",
    "export_ca_files",
    "get",
    "hierarchy_of",
    "issue",
    "joined",
    "list_seals",
    "owner_department_code",
    "predraw_new",
    "reconcile_orphan_keys",
    "renew",
    "resolve_algorithm",
    "resume",
    "revoke",
    "rotate",
    "seal_png",
    "seal_stamp_pdf",
    "seal_subject",
    "set_uploaded_image",
    "set_usage_limit",
    "show",
    "signing_material",
    "suspend",
    "use_generated_image",
]

DIVISION_CODE = "410100"
"""GB/T 2260 code of 郑州市, the first six digits of every seal code this deployment issues."""

KIND_CODES: dict[str, str] = {
    "公章": "01",
    "财务专用章": "02",
    "合同专用章": "03",
    "业务专用章": "04",
    "行政审批专用章": "05",
    "发票专用章": "06",
    "法定代表人名章": "07",
}
"""Seal kinds the registry issues and their two-digit code inside the seal code."""

SET_ONLY_KINDS = frozenset({"法定代表人名章"})
"""Kinds issued only within an enterprise's seal set (:class:`SealBatch` with the set's
image): a 法定代表人名章 shows a person's name, which only the 营业执照 gives."""

REVOCATION_REASONS = tuple(sorted(REASONS - {"certificate_hold"}))
"""Reasons ``revoke`` accepts (RFC 5280 names); a hold is ``suspend``, not a revocation."""

_SUBJECT_PLACE = {
    "country_name": "CN",
    "state_or_province_name": "河南省",
    "locality_name": "郑州市",
}
_SEQUENCE_DIGITS = 6
_ISSUE_ATTEMPTS = 3
_ALGORITHM_ALIASES = {"rsa": SealAlgorithm.RSA2048}


# --- vocabulary -----------------------------------------------------------------------------


def resolve_algorithm(name: str) -> SealAlgorithm:
    """``rsa`` (= rsa2048), ``rsa2048``, ``rsa3072``, ``p256`` or ``sm2``."""
    key = name.strip().lower()
    if key in _ALGORITHM_ALIASES:
        return _ALGORITHM_ALIASES[key]
    try:
        return SealAlgorithm(key)
    except ValueError:
        choices = ", ".join(["rsa", *(a.value for a in SealAlgorithm)])
        raise InvalidInput(f"unknown seal algorithm {name!r}: use one of {choices}") from None


def hierarchy_of(algorithm: SealAlgorithm | str) -> str:
    """The CA hierarchy that certifies keys of ``algorithm``: ``sm2`` for SM2, else ``rsa``."""
    return "sm2" if SealAlgorithm(algorithm) is SealAlgorithm.SM2 else "rsa"


def _check_kind(kind: str) -> str:
    kind = kind.strip()
    if kind not in KIND_CODES:
        raise InvalidInput(f"unknown seal kind {kind!r}: use one of {', '.join(KIND_CODES)}")
    return kind


def seal_subject(department: Department, text: str, kind: str, code: str) -> x509.Name:
    """The certificate subject of a seal.

    ``O`` is the body that holds the seal (the department, itself an organ of state with
    its own legal standing, e.g. 郑州市市场监督管理局 — not its parent government), ``CN``
    the seal's text plus kind, ``serialNumber`` the seal code, so a relying party can tie a
    signature to the registry entry and a verifier names the right body ("本文件由郑州市
    市场监督管理局…加盖电子印章").

    An enterprise's seal (the enterprise profile, docs/enterprise-seals.md) also carries
    its 统一社会信用代码 as X.520 ``organizationIdentifier`` in the ETSI EN 319 412-1
    form ``NTRCN-<code>`` (national trade register, China): names change, the code does
    not, and a relying party tells the company by it.
    """
    enterprise = department.kind == DepartmentKind.ENTERPRISE and department.credit_code
    return build_name(
        **_SUBJECT_PLACE,
        organization_name=department.name,
        organization_identifier=f"NTRCN-{department.credit_code}" if enterprise else "",
        common_name=seal_name(text, kind),
        serial_number=code,
    )


def effective_status(seal: Seal, not_after: datetime, now: datetime) -> SealStatus:
    """The status to report and enforce at ``now``: stored status, or ``expired``.

    Expiry is computed, not stored, so it needs no background job and cannot lag: a
    non-revoked seal whose current certificate ends at or before ``now`` is expired.
    """
    if seal.status == SealStatus.REVOKED:
        return SealStatus.REVOKED
    if not_after <= now:
        return SealStatus.EXPIRED
    return SealStatus(seal.status)


# --- read models ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateView:
    """One certificate a seal has had (current or earlier), as shown to operators."""

    serial: str
    """Decimal serial number (unique in the hierarchy)."""

    status: str
    """``valid``, ``on_hold``, ``revoked`` or ``superseded`` (replaced, still not revoked)."""

    current: bool
    """Whether it is the seal's current certificate."""

    key_id: str
    """Key store id of the key it certifies; changes on rotation, not on renewal."""

    subject: str
    """One-line subject, most specific first."""

    not_before: datetime
    not_after: datetime
    sha256: str
    """Hex SHA-256 of the DER, to find it again from a signed document."""

    superseded_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "serial_hex": format(int(self.serial), "x"),
            "status": self.status,
            "current": self.current,
            "key_id": self.key_id,
            "subject": self.subject,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "sha256": self.sha256,
            "superseded_at": _iso(self.superseded_at),
            "revoked_at": _iso(self.revoked_at),
            "revocation_reason": self.revocation_reason,
        }


@dataclass(frozen=True)
class SealView:
    """A seal as the CLI and API report it: detached from the database session."""

    code: str
    text: str
    kind: str
    department_code: str
    department_name: str
    algorithm: str
    hierarchy: str
    key_id: str
    status: SealStatus
    """Effective status at the time the view was made (see :func:`effective_status`)."""

    image_source: str
    created_at: datetime
    valid_until: datetime
    revoked_at: datetime | None
    revocation_reason: str | None
    certificates: tuple[CertificateView, ...] = field(repr=False)
    """Every certificate the seal has had, oldest first."""

    usage_limit: int | None = None
    """Signatures the seal's current key may make (``sealctl seal set-limit``); ``None``:
    only the service-wide ``SEALSVC_SEAL_USAGE_LIMIT``."""

    @property
    def current_certificate(self) -> CertificateView:
        return next(c for c in self.certificates if c.current)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "text": self.text,
            "kind": self.kind,
            "department": {"code": self.department_code, "name": self.department_name},
            "algorithm": self.algorithm,
            "hierarchy": self.hierarchy,
            "key_id": self.key_id,
            "status": self.status.value,
            "image_source": self.image_source,
            "created_at": self.created_at.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "revoked_at": _iso(self.revoked_at),
            "revocation_reason": self.revocation_reason,
            "current_serial": self.current_certificate.serial,
            "usage_limit": self.usage_limit,
            "certificates": [c.as_dict() for c in self.certificates],
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _view(seal: Seal, now: datetime) -> SealView:
    current = seal.current_certificate
    if current is None:  # only possible half-way through issue(), never after a commit
        raise NotFound(f"seal {seal.code} has no certificate")
    return SealView(
        code=seal.code,
        text=seal.text,
        kind=seal.kind,
        department_code=seal.department.code,
        department_name=seal.department.name,
        algorithm=seal.algorithm,
        hierarchy=current.hierarchy,
        key_id=seal.key_id,
        status=effective_status(seal, current.not_after, now),
        image_source=seal.image_source,
        created_at=seal.created_at,
        valid_until=current.not_after,
        revoked_at=seal.revoked_at,
        revocation_reason=seal.revocation_reason,
        usage_limit=seal.usage_limit,
        certificates=tuple(
            CertificateView(
                serial=c.serial,
                status=c.status,
                current=c.id == current.id,
                key_id=c.key_id,
                subject=c.subject,
                not_before=c.not_before,
                not_after=c.not_after,
                sha256=c.sha256,
                superseded_at=c.superseded_at,
                revoked_at=c.revoked_at,
                revocation_reason=c.revocation_reason,
            )
            for c in seal.certificates
        ),
    )


def _normalise_code(code: str) -> str:
    return code.strip()


def get(session: Session, code: str) -> Seal:
    """The seal with this code (its department and certificates loaded with it)."""
    seal = session.scalars(
        select(Seal)
        .where(Seal.code == _normalise_code(code))
        .options(
            joinedload(Seal.department).joinedload(Department.parent),
            joinedload(Seal.current_certificate),
            selectinload(Seal.certificates),
        )
        .execution_options(populate_existing=True)
    ).one_or_none()
    if seal is None:
        raise NotFound(f"no seal with code {code!r}")
    return seal


def owner_department_code(session: Session, code: str) -> str:
    """The code of the department that holds seal ``code`` (one indexed lookup: the API
    asks this on every request to refuse another department's seal)."""
    owner = session.scalar(
        select(Department.code)
        .join(Seal, Seal.department_id == Department.id)
        .where(Seal.code == _normalise_code(code))
    )
    if owner is None:
        raise NotFound(f"no seal with code {code!r}")
    return owner


def show(session: Session, code: str, *, now: datetime | None = None) -> SealView:
    """The seal with this code and its certificate history."""
    return _view(get(session, code), now or utcnow())


def list_seals(
    session: Session,
    *,
    department: str | None = None,
    status: SealStatus | str | None = None,
    expiring_within: timedelta | None = None,
    now: datetime | None = None,
) -> list[SealView]:
    """Seals ordered by code, filtered by department (code or name), effective status and
    whether their current certificate ends within ``expiring_within`` from ``now``
    (non-revoked seals only: a revoked seal needs no renewal)."""
    now = now or utcnow()
    statement = (
        select(Seal)
        .join(Certificate, Certificate.id == Seal.current_certificate_id)
        .options(
            joinedload(Seal.department),
            joinedload(Seal.current_certificate),
            selectinload(Seal.certificates),
        )
        .order_by(Seal.code)
    )
    if department is not None:
        statement = statement.where(Seal.department_id == departments.get(session, department).id)
    if status is not None:
        try:
            wanted = SealStatus(status)
        except ValueError:
            choices = ", ".join(s.value for s in SealStatus)
            raise InvalidInput(f"unknown seal status {status!r}: use one of {choices}") from None
        if wanted is SealStatus.REVOKED:
            statement = statement.where(Seal.status == SealStatus.REVOKED.value)
        elif wanted is SealStatus.EXPIRED:
            statement = statement.where(
                Seal.status != SealStatus.REVOKED.value, Certificate.not_after <= now
            )
        else:
            statement = statement.where(Seal.status == wanted.value, Certificate.not_after > now)
    if expiring_within is not None:
        statement = statement.where(
            Seal.status != SealStatus.REVOKED.value,
            Certificate.not_after > now,
            Certificate.not_after <= now + expiring_within,
        )
    return [_view(seal, now) for seal in session.scalars(statement).unique()]


# --- signing material -----------------------------------------------------------------------


class _AppearanceColumns(Protocol):
    """The columns an appearance is made from: a :class:`Seal` or a row selecting them."""

    text: str
    kind: str
    code: str
    image_source: str
    image_png: bytes | None
    image_design: str | None


def appearance(seal: _AppearanceColumns) -> SealAppearance:
    """The appearance of a registry row (or of the same columns selected without the ORM)."""
    uploaded = seal.image_source == ImageSource.UPLOADED and seal.image_png is not None
    return SealAppearance(
        seal.text, seal.kind, seal.code, seal.image_png if uploaded else None, seal.image_design
    )


@dataclass(frozen=True)
class SealSigningMaterial:
    """What the sealing service needs to sign with a usable seal; the key stays in the store.

    ``key_id`` and ``certificate_der`` come from the same certificate row in one read, so
    they always belong together, even while the seal is being rotated.
    """

    seal_code: str
    department_code: str
    key_id: str
    """Key store id; the caller asks the key store for a signer handle."""

    algorithm: str
    certificate_der: bytes = field(repr=False)
    chain_ders: tuple[bytes, ...] = field(repr=False)
    """Issuing CA first, then the root."""

    hierarchy: str
    certificate_serial: str
    appearance: SealAppearance


_SIGNING_ROW = (
    select(
        Seal.code,
        Seal.status,
        Seal.algorithm,
        Seal.text,
        Seal.kind,
        Seal.image_source,
        Seal.image_png,
        Seal.usage_limit,
        Seal.image_design,
        Department.code.label("department_code"),
        Certificate.key_id,
        Certificate.der,
        Certificate.serial,
        Certificate.hierarchy,
        Certificate.status.label("certificate_status"),
        Certificate.not_before,
        Certificate.not_after,
        Certificate.issuer_certificate_id,
    )
    .join(Certificate, Certificate.id == Seal.current_certificate_id)
    .join(Department, Department.id == Seal.department_id)
    .where(Seal.code == bindparam("code"))
)
"""What :func:`signing_material` reads, built once: building this select took about as
long as running it, twice per seal use."""


def _signing_row(session: Session, code: str, lock: bool) -> Any:
    if lock:
        # Serialise on the audit chain head, not on the seal row: every change that can
        # make a seal unusable appends to the log, so it holds the head until it commits,
        # and this read (a statement after the lock, hence a fresh snapshot) sees it
        # committed or not yet begun its entries. Locking the seal row instead deadlocked
        # on PostgreSQL against a rotation (which takes the head first, for key.generate,
        # then updates the seal), and a FOR UPDATE on this join found no row when a
        # rotation committed meanwhile (PostgreSQL re-checks only the locked row).
        audit.lock_chain(session)
    return session.execute(_SIGNING_ROW, {"code": _normalise_code(code)}).one_or_none()


def _chain(session: Session, issuer_id: int | None) -> tuple[bytes, ...]:
    """DER of the issuer and its issuers up to the self-signed root."""
    chain: list[bytes] = []
    while issuer_id is not None and len(chain) < 4:
        issuer = session.get_one(Certificate, issuer_id)
        chain.append(issuer.der)
        issuer_id = issuer.issuer_certificate_id
    return tuple(chain)


def signing_material(
    session: Session,
    code: str,
    now: datetime | None = None,
    *,
    lock: bool = False,
    min_days_left: int = 0,
    usage_limit: int = 0,
    with_chain: bool = True,
) -> SealSigningMaterial:
    """Key id, certificate and chain of a seal that may seal documents at ``now``.

    Raises :class:`NotFound` for an unknown code and :class:`SealNotUsable` ("seal … is
    suspended/revoked/expired") otherwise. ``lock=True`` (in a writing session) first takes
    the audit chain head until the transaction ends, so no revocation commits in between
    and any that committed before is seen; the sealing service uses it for its final
    check in the audit transaction. The key itself is not loaded here.

    ``min_days_left`` (``SEALSVC_MIN_CERT_DAYS_LEFT``) refuses a seal whose certificate
    ends sooner, as SignServer's validity guard does: a document sealed days before the
    end verifies only as long as its time-stamps and validation data hold, and a seal
    nobody renewed is better stopped with a clear "renew or rotate" than left to expire
    mid-workflow.

    ``usage_limit`` (``SEALSVC_SEAL_USAGE_LIMIT``, 0: none) — or the seal's own
    ``usage_limit`` when it is stricter (:func:`set_usage_limit`) — refuses a seal whose
    current key has made that many signatures (SignServer's key usage limit): counted
    from the audit log, as ``seal.use`` entries since the key's ``key.generate``, so a renewal
    keeps counting and a rotation starts afresh. Exact in the final check (``lock=True``:
    the audit chain head is held, no other signature can commit in between).

    ``with_chain=False`` leaves ``chain_ders`` empty, for callers that do not embed the
    chain (an ``SES_Signature``; the final check, which only compares the certificate):
    it is one query per certificate above the seal's.
    """
    now = now or utcnow()
    row = _signing_row(session, code, lock)
    if row is None:
        raise NotFound(f"no seal with code {code!r}")
    if row.status != SealStatus.ACTIVE:
        raise SealNotUsable(f"seal {row.code} is {row.status}")
    if row.not_after <= now:
        raise SealNotUsable(f"seal {row.code} is expired (certificate ended {row.not_after:%F})")
    if row.not_after - now < timedelta(days=min_days_left):
        left = (row.not_after - now).days
        raise SealNotUsable(
            f"seal {row.code} has {left} days of certificate left, fewer than the "
            f"{min_days_left} required (SEALSVC_MIN_CERT_DAYS_LEFT): renew or rotate it"
        )
    limit, source = _usage_limit(row.usage_limit, usage_limit)
    if limit:
        used = _uses_of_current_key(session, row.code)
        if used >= limit:
            raise SealNotUsable(
                f"seal {row.code} has made {used} signatures with its current key, the limit "
                f"({source}={limit}): rotate it for a new key"
            )
    if row.not_before > now:
        raise SealNotUsable(f"seal {row.code} is not valid yet (from {row.not_before:%F %T}Z)")
    if row.certificate_status != CertificateStatus.VALID:
        raise SealNotUsable(f"seal {row.code} has a certificate that is {row.certificate_status}")
    return SealSigningMaterial(
        seal_code=row.code,
        department_code=row.department_code,
        key_id=row.key_id,
        algorithm=row.algorithm,
        certificate_der=row.der,
        chain_ders=_chain(session, row.issuer_certificate_id) if with_chain else (),
        hierarchy=row.hierarchy,
        certificate_serial=row.serial,
        appearance=appearance(row),
    )


def _usage_limit(seal_limit: int | None, service_limit: int) -> tuple[int, str]:
    """The limit in force — the stricter of the seal's own and the service's — and where
    it comes from, for the refusal's message (0: no limit)."""
    if seal_limit is not None and (not service_limit or seal_limit <= service_limit):
        return seal_limit, "the seal's limit, sealctl seal set-limit"
    return service_limit, "SEALSVC_SEAL_USAGE_LIMIT"


def _uses_of_current_key(session: Session, code: str) -> int:
    """Signatures (``seal.use``) of seal ``code`` since its current key was generated."""
    since = session.scalar(
        select(func.max(AuditEntry.seq)).where(
            AuditEntry.action == "key.generate", AuditEntry.seal_code == code
        )
    )
    uses = (
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "seal.use", AuditEntry.seal_code == code)
    )
    if since is not None:
        uses = uses.where(AuditEntry.seq > since)
    return session.scalar(uses) or 0


# --- images ---------------------------------------------------------------------------------


def _as_appearance(seal: Seal | SealAppearance) -> SealAppearance:
    return seal if isinstance(seal, SealAppearance) else appearance(seal)


def seal_stamp_pdf(seal: Seal | SealAppearance) -> bytes:
    """The seal's visible stamp as a one-page PDF (:func:`sealsvc.sealimage.stamp_pdf`)."""
    return sealimage.stamp_pdf(_as_appearance(seal))


def seal_png(seal: Seal | SealAppearance) -> bytes:
    """The seal's image as PNG (:func:`sealsvc.sealimage.stamp_png`); an SM2 seal's
    ``SESeal`` carries it, and :func:`_predraw` draws it before the write lock."""
    return sealimage.stamp_png(_as_appearance(seal))


def _predraw(
    context: ServiceContext, source: SealAppearance | str, *, drawing: bool = False
) -> None:
    """Draw an SM2 seal's image (``source``: its appearance, or the code of an existing
    seal; ``drawing``: the drawing even if it has an uploaded scan) before its lifecycle
    transaction takes the database's write lock, which would otherwise be held for the
    second that drawing takes while the ``SESeal`` is made.

    Only a warm-up: nothing found, or an appearance the transaction then does not use (a
    code taken concurrently), costs a drawing inside the lock, never a wrong picture; a
    design that cannot be drawn is refused by the transaction itself.
    """
    with contextlib.suppress(SealsvcError):
        if isinstance(source, str):
            with context.database.session(read_only=True) as session:
                row = session.scalars(
                    select(Seal).where(Seal.code == _normalise_code(source))
                ).one_or_none()
                if row is None or row.algorithm != SealAlgorithm.SM2:
                    return
                source = appearance(row)
            if drawing:
                source = replace(source, image_png=None)
        seal_png(source)


# --- transactions ---------------------------------------------------------------------------


class _CodeTaken(Conflict):
    """A unique constraint fired: another writer took the same seal code first."""


@dataclass
class _Change:
    """One lifecycle transaction: its session, the keys it created, whether a CRL changed."""

    context: ServiceContext
    session: Session
    actor: str
    now: datetime
    new_keys: list[str] = field(default_factory=list)
    crl_changed: bool = False

    def generate_key(self, algorithm: SealAlgorithm, code: str, department_code: str) -> str:
        """A new key in the store, deleted again if this transaction does not commit."""
        label = f"seal {code}"
        info = self.context.keystore.generate(KeyAlgorithm(algorithm.value), label=label)
        self.new_keys.append(info.key_id)
        audit.append(
            self.session,
            action="key.generate",
            actor=self.actor,
            seal_code=code,
            department_code=department_code,
            details={"key_id": info.key_id, "algorithm": algorithm.value, "label": label},
        )
        return info.key_id

    def issue_certificate(
        self, seal: Seal, department: Department, key_id: str, validity: timedelta | None
    ) -> Certificate:
        """A seal certificate for ``key_id`` from the issuing CA of the seal's hierarchy."""
        return self.context.ca.issue(
            self.session,
            hierarchy=hierarchy_of(seal.algorithm),
            profile=Profile.SEAL,
            subject=seal_subject(department, seal.text, seal.kind, seal.code),
            key_id=key_id,
            actor=self.actor,
            validity=validity,
            seal_id=seal.id,
            seal_code=seal.code,
        )

    def make_ses_seal(self, seal: Seal, reason: SesSealReason) -> None:
        """An SM2 seal's new GB/T 38540 ``SESeal`` over its current certificate and image,
        in this transaction (:mod:`sealsvc.ses_seals`); nothing for other algorithms."""
        if SealAlgorithm(seal.algorithm) is not SealAlgorithm.SM2:
            return
        source = appearance(seal)
        width_mm, height_mm = source.size_mm
        ses_seals.make(
            self.session,
            self.context.ca,
            seal=seal,
            name=seal_name(seal.text, seal.kind),
            picture=SealPicture("png", seal_png(source), round(width_mm), round(height_mm)),
            now=self.now,
            actor=self.actor,
            reason=reason,
            created_keys=self.new_keys,
        )

    def publish_crl(self, seal: Seal) -> None:
        """The issuing CA's next CRL, in this transaction (the files follow the commit)."""
        self.context.ca.publish_crl(
            self.session, hierarchy_of(seal.algorithm), Profile.ISSUING_CA, actor=self.actor
        )
        self.crl_changed = True

    def record(self, seal: Seal, action: str, **details: Any) -> None:
        audit.append(
            self.session,
            action=action,
            actor=self.actor,
            seal_code=seal.code,
            department_code=seal.department.code,
            details=details,
        )


@contextmanager
def _change(
    context: ServiceContext, *, actor: str, now: datetime | None, revocation: bool = False
) -> Iterator[_Change]:
    """Run one lifecycle change: commit it with its audit entries, or undo it entirely.

    On any failure (the commit included) the keys generated for it are deleted again. A
    lost optimistic-lock race becomes :class:`Conflict`. After a commit that published a
    CRL, the CA files are rewritten so they never lag the registry.

    A ``revocation`` (revoke, suspend, rotate revoking the old key) first takes the audit
    chain head, which the sealing service's final check also takes
    (:func:`signing_material` with ``lock=True``), and only then reads the clock, rounded
    up to the next whole second: every document handed
    out before the revocation was time-stamped before that instant, also as CRLs and OCSP
    state it (whole seconds). A revocation time read before waiting for the lock, or
    truncated by the CRL, fell after documents the service still handed out, which every
    validator then rejects as sealed with a revoked certificate.
    """
    change: _Change | None = None
    try:
        with context.database.session() as session:
            change = _begin(context, session, actor, now, revocation)
            yield change
    except BaseException as exc:
        _delete_new_keys(change)
        if isinstance(exc, StaleDataError):
            raise Conflict("the seal was changed concurrently; try again") from None
        if isinstance(exc, IntegrityError):
            raise _CodeTaken("the seal code was taken concurrently; try again") from None
        raise
    if change.crl_changed:
        export_ca_files(context)


def _begin(
    context: ServiceContext, session: Session, actor: str, now: datetime | None, revocation: bool
) -> _Change:
    """A change in ``session``: for a revocation the audit chain head first, then the clock
    (see :func:`_change`)."""
    if revocation:
        audit.lock_chain(session)
    if now is None:
        now = context.ca.clock()
        if revocation:
            now = now.replace(microsecond=0) + timedelta(seconds=1)
    return _Change(context, session, actor, now)


def _delete_new_keys(change: _Change | None) -> None:
    """Delete the keys a change that did not commit generated."""
    if change is None:
        return
    for key_id in change.new_keys:
        with contextlib.suppress(KeyStoreError):  # left over: reconcile_orphan_keys
            change.context.keystore.delete(key_id)


@dataclass
class SealBatch:
    """Lifecycle changes inside another transaction (:func:`joined`): a licence and the
    seal set issued with it, or an annulment and the revocations it causes, commit or fail
    together."""

    _change: _Change

    @property
    def now(self) -> datetime:
        return self._change.now

    def issue(
        self,
        department: str,
        kind: str,
        *,
        algorithm: SealAlgorithm | str,
        text: str | None = None,
        image: ImageSpec | None = None,
    ) -> Seal:
        """Issue a seal as :func:`issue` does, in this transaction (flushed, not committed)."""
        return _issue_in(
            self._change, department, _check_kind(kind), resolve_algorithm(algorithm),
            text, None, DIVISION_CODE, image,
        )  # fmt: skip

    def revoke(self, code: str, reason: str) -> list[str]:
        """Revoke a seal as :func:`revoke` does, in this transaction; the serials revoked
        (none for a seal already revoked: nothing more to do)."""
        _check_reason(reason)
        seal, current, _status = _load(self._change, code)
        if seal.status == SealStatus.REVOKED:
            return []
        return _revoke_in(self._change, seal, current, reason)


@contextmanager
def joined(
    context: ServiceContext, session: Session, *, actor: str, revocation: bool = False
) -> Iterator[SealBatch]:
    """Lifecycle changes in the caller's ``session`` and transaction.

    Keys generated in the block are deleted if it raises; if the caller's commit fails
    after it, they are left unreferenced and :func:`reconcile_orphan_keys` removes them.
    ``revocation`` (a block that revokes) takes the audit chain head first, as
    :func:`revoke` does. After the caller's commit, a CRL published in the block is
    written to ``<data dir>/ca/`` by :func:`export_ca_files`.
    """
    change = _begin(context, session, actor, None, revocation)
    try:
        yield SealBatch(change)
    except BaseException:
        _delete_new_keys(change)
        raise


def export_ca_files(context: ServiceContext) -> None:
    """Rewrite the CA certificates and CRLs under ``<data dir>/ca/`` from the database."""
    with context.database.session(read_only=True) as session:
        context.ca.export_files(session)


def _load(change: _Change, code: str) -> tuple[Seal, Certificate, SealStatus]:
    seal = get(change.session, code)
    current = seal.current_certificate
    if current is None:
        raise NotFound(f"seal {seal.code} has no certificate")
    return seal, current, effective_status(seal, current.not_after, change.now)


def _refuse(seal: Seal, status: SealStatus, action: str, allowed: tuple[SealStatus, ...]) -> None:
    if status in allowed:
        return
    hints = {
        SealStatus.REVOKED: "a revoked seal can never be used again",
        SealStatus.EXPIRED: "rotate it to give it a new key and certificate",
        SealStatus.SUSPENDED: "resume it first",
        SealStatus.ACTIVE: "it is not suspended",
    }
    raise InvalidTransition(f"cannot {action} seal {seal.code}: it is {status}; {hints[status]}")


def _view_after(change: _Change, seal: Seal) -> SealView:
    change.session.flush()
    change.session.refresh(seal, ["certificates"])
    return _view(seal, change.now)


# --- lifecycle ------------------------------------------------------------------------------


def _next_code(session: Session, kind: str, division: str) -> str:
    prefix = division + KIND_CODES[kind]
    last = session.scalar(select(func.max(Seal.code)).where(Seal.code.like(f"{prefix}%")))
    sequence = int(last[len(prefix) :]) + 1 if last else 1
    if sequence >= 10**_SEQUENCE_DIGITS:
        raise Conflict(f"all seal codes {prefix}…… are used")
    return f"{prefix}{sequence:0{_SEQUENCE_DIGITS}d}"


def issue(
    context: ServiceContext,
    *,
    department: str,
    kind: str,
    actor: str,
    algorithm: SealAlgorithm | str = SealAlgorithm.RSA2048,
    text: str | None = None,
    validity: timedelta | None = None,
    division: str = DIVISION_CODE,
) -> SealView:
    """Issue a new seal: code, key, certificate and registry row in one transaction.

    ``department`` is a code or name of an active department; ``text`` defaults to its
    name; ``validity`` defaults to the CA's seal lifetime. Audited as ``key.generate``,
    ``cert.issue`` and ``seal.issue``. (Seals of other shapes and sizes: :class:`SealBatch`.)
    """
    kind = _check_kind(kind)
    if kind in SET_ONLY_KINDS:
        raise InvalidInput(
            f"a {kind} is issued with an enterprise's seal set: sealctl enterprise seals issue"
        )
    algorithm = resolve_algorithm(algorithm)
    if not re.fullmatch(r"\d{6}", division):
        raise InvalidInput(f"division code {division!r} must be 6 digits (GB/T 2260)")
    if validity is not None and validity <= timedelta(0):
        raise InvalidInput("a seal's validity must be positive")
    if algorithm is SealAlgorithm.SM2:
        _predraw(context, _next_appearance(context, department, kind, text, division))
    attempt = 1
    while True:
        try:
            with _change(context, actor=actor, now=None) as change:
                seal = _issue_in(
                    change, department, kind, algorithm, text, validity, division, None
                )
                return _view_after(change, seal)
        except _CodeTaken:  # another node allocated the same code first: take the next one
            if attempt == _ISSUE_ATTEMPTS:
                raise
            attempt += 1


def _next_appearance(
    context: ServiceContext,
    department_key: str,
    kind: str,
    text: str | None,
    division: str,
) -> SealAppearance:
    """What the seal :func:`issue` is about to make will look like, read before its
    transaction (for :func:`_predraw`; the transaction allocates the code again)."""
    with context.database.session(read_only=True) as session:
        department = departments.get(session, department_key)
        seal_text = (text if text is not None else department.name).strip()
        return _appearance_of(session, seal_text, kind, division, None)


def _appearance_of(
    session: Session, text: str, kind: str, division: str, image: ImageSpec | None
) -> SealAppearance:
    design = image.to_json() if image is not None else None
    return SealAppearance(text, kind, _next_code(session, kind, division), None, design)


def predraw_new(context: ServiceContext, text: str, kind: str, image: ImageSpec) -> None:
    """Draw the image of a seal about to be issued in a :func:`joined` transaction, before
    it takes the write lock (see :func:`_predraw`); the code is the one that kind would get
    now, so a concurrent issue only costs a drawing inside the lock."""
    with context.database.session(read_only=True) as session:
        source = _appearance_of(session, text, _check_kind(kind), DIVISION_CODE, image)
    _predraw(context, source)


def _issue_in(
    change: _Change,
    department_key: str,
    kind: str,
    algorithm: SealAlgorithm,
    text: str | None,
    validity: timedelta | None,
    division: str,
    image: ImageSpec | None,
) -> Seal:
    """Issue one seal in ``change``'s transaction (flushed; :func:`issue`, :class:`SealBatch`)."""
    session = change.session
    department = departments.get(session, department_key)
    if not department.active:
        raise InvalidTransition(f"department {department.code} is deactivated")
    seal_text = (text if text is not None else department.name).strip()
    source = _appearance_of(session, seal_text, kind, division, image)
    # The seal must be drawable, with every character in the font: refused here, not
    # at the first document an approval system sends.
    sealimage.check_drawable(source)
    key_id = change.generate_key(algorithm, source.code, department.code)
    seal = Seal(
        code=source.code,
        text=seal_text,
        kind=kind,
        department=department,
        algorithm=algorithm.value,
        key_id=key_id,
        status=SealStatus.ACTIVE.value,
        image_source=ImageSource.GENERATED.value,
        image_design=source.image_design,
        valid_until=change.now,  # replaced by the certificate's notAfter below
    )
    session.add(seal)
    session.flush()
    certificate = change.issue_certificate(seal, department, key_id, validity)
    seal.current_certificate = certificate
    seal.valid_until = certificate.not_after
    change.make_ses_seal(seal, SesSealReason.ISSUE)
    change.record(
        seal,
        "seal.issue",
        text=seal_text,
        kind=kind,
        algorithm=algorithm.value,
        hierarchy=certificate.hierarchy,
        serial=certificate.serial,
        key_id=key_id,
        not_after=certificate.not_after.isoformat(),
    )
    return seal


def suspend(
    context: ServiceContext, code: str, *, actor: str, now: datetime | None = None
) -> SealView:
    """Suspend an active seal: its certificate goes on hold and onto the CRL at once."""
    with _change(context, actor=actor, now=now, revocation=True) as change:
        seal, current, status = _load(change, code)
        _refuse(seal, status, "suspend", (SealStatus.ACTIVE,))
        seal.status = SealStatus.SUSPENDED.value
        current.status = CertificateStatus.ON_HOLD.value
        current.revoked_at = change.now
        change.publish_crl(seal)
        change.record(seal, "seal.suspend", serial=current.serial)
        return _view_after(change, seal)


def resume(
    context: ServiceContext, code: str, *, actor: str, now: datetime | None = None
) -> SealView:
    """Lift a suspension: the certificate is valid again and left off the next CRL.

    A seal whose certificate expired while suspended is resumed but reported expired.
    """
    with _change(context, actor=actor, now=now) as change:
        seal, current, _status = _load(change, code)
        if seal.status != SealStatus.SUSPENDED:
            _refuse(seal, SealStatus(seal.status), "resume", (SealStatus.SUSPENDED,))
        seal.status = SealStatus.ACTIVE.value
        current.status = CertificateStatus.VALID.value
        current.revoked_at = None
        change.publish_crl(seal)
        change.record(seal, "seal.resume", serial=current.serial)
        return _view_after(change, seal)


def _check_reason(reason: str) -> None:
    if reason not in REVOCATION_REASONS:
        raise InvalidInput(
            f"unknown revocation reason {reason!r}: use one of {', '.join(REVOCATION_REASONS)}"
        )


def _revocable(
    seal: Seal, current: Certificate, now: datetime, *, key_id: str | None = None
) -> list[Certificate]:
    """The seal's certificates a revocation covers: every one not yet revoked that is still
    within its validity at ``now`` (the current one even if expired), of every key the seal
    has had, or only of ``key_id``. An expired certificate needs no CRL entry: no relying
    party accepts it without proof it was used in time."""
    return [
        c
        for c in seal.certificates
        if c.status != CertificateStatus.REVOKED
        and (key_id is None or c.key_id == key_id)
        and (c.id == current.id or c.not_after > now)
    ]


def _revoke_certificates(
    change: _Change, seal: Seal, certificates: list[Certificate], reason: str
) -> list[str]:
    """Revoke ``certificates`` at the change's time, audit each serial (``cert.revoke``) and
    publish the issuing CA's next CRL; return the serials."""
    for certificate in certificates:
        certificate.status = CertificateStatus.REVOKED.value
        certificate.revoked_at = change.now
        certificate.revocation_reason = reason
        change.record(
            seal,
            "cert.revoke",
            serial=certificate.serial,
            hierarchy=certificate.hierarchy,
            key_id=certificate.key_id,
            reason=reason,
            revoked_at=change.now.isoformat(),
        )
    change.publish_crl(seal)
    return [c.serial for c in certificates]


def revoke(
    context: ServiceContext,
    code: str,
    *,
    reason: str,
    actor: str,
    now: datetime | None = None,
) -> SealView:
    """Revoke a seal for good, with an RFC 5280 reason; its serials are on the CRL at once.

    Every unexpired, unrevoked certificate the seal ever had is revoked with ``reason`` —
    the current one and those superseded by rotations and renewals — so no key of the
    seal stays "good" in OCSP. Audited as one ``cert.revoke`` per serial and ``seal.revoke``.
    A seal revoked before revocation covered superseded certificates may be revoked again:
    the certificates it left valid are revoked then (the seal keeps its revocation time);
    a seal with nothing left to revoke is refused as already revoked.
    """
    _check_reason(reason)
    with _change(context, actor=actor, now=now, revocation=True) as change:
        seal, current, _status = _load(change, code)
        _revoke_in(change, seal, current, reason)
        return _view_after(change, seal)


def _revoke_in(change: _Change, seal: Seal, current: Certificate, reason: str) -> list[str]:
    certificates = _revocable(seal, current, change.now)
    if seal.status == SealStatus.REVOKED and not certificates:
        raise InvalidTransition(f"seal {seal.code} is already revoked ({seal.revocation_reason})")
    serials = _revoke_certificates(change, seal, certificates, reason)
    if seal.status != SealStatus.REVOKED:
        seal.status = SealStatus.REVOKED.value
        seal.revoked_at = change.now
        seal.revocation_reason = reason
    change.record(seal, "seal.revoke", reason=reason, serials=serials)
    return serials


def _supersede(change: _Change, seal: Seal, old: Certificate, new: Certificate) -> None:
    old.status = CertificateStatus.SUPERSEDED.value
    old.superseded_at = change.now
    seal.current_certificate = new
    seal.key_id = new.key_id
    seal.valid_until = new.not_after


def rotate(
    context: ServiceContext,
    code: str,
    *,
    actor: str,
    validity: timedelta | None = None,
    revoke_old: str | None = None,
    now: datetime | None = None,
) -> SealView:
    """Give an active (or expired) seal a new key and certificate.

    Plain rotation (routine key change): the old certificate becomes ``superseded`` (not
    revoked) and the old key stays in the key store, so documents sealed before remain
    verifiable and valid. With ``revoke_old`` (an RFC 5280 reason, for a suspected
    compromise) every unexpired certificate of the old key is revoked in the same
    transaction and put on the CRL; a suspended seal may then be rotated too (it is
    active again, with the new key). Audited as ``key.generate``, ``cert.issue``,
    ``cert.revoke`` per revoked serial, ``seal.rotate``.
    """
    allowed: tuple[SealStatus, ...] = (SealStatus.ACTIVE, SealStatus.EXPIRED)
    if revoke_old is not None:
        _check_reason(revoke_old)
        allowed = (*allowed, SealStatus.SUSPENDED)
    _predraw(context, code)
    with _change(context, actor=actor, now=now, revocation=revoke_old is not None) as change:
        seal, old, status = _load(change, code)
        _refuse(seal, status, "rotate", allowed)
        key_id = change.generate_key(SealAlgorithm(seal.algorithm), seal.code, seal.department.code)
        new = change.issue_certificate(seal, seal.department, key_id, validity)
        old_key = seal.key_id
        compromised = _revocable(seal, old, change.now, key_id=old_key)
        _supersede(change, seal, old, new)
        change.make_ses_seal(seal, SesSealReason.ROTATE)
        revoked: list[str] = []
        if revoke_old is not None:
            revoked = _revoke_certificates(change, seal, compromised, revoke_old)
            seal.status = SealStatus.ACTIVE.value
        change.record(
            seal,
            "seal.rotate",
            old_serial=old.serial,
            old_key_id=old_key,
            serial=new.serial,
            key_id=key_id,
            not_after=new.not_after.isoformat(),
            revoked_serials=revoked,
            revocation_reason=revoke_old,
        )
        return _view_after(change, seal)


def renew(
    context: ServiceContext,
    code: str,
    *,
    actor: str,
    validity: timedelta | None = None,
    now: datetime | None = None,
) -> SealView:
    """A new certificate for the same key, before the current one expires.

    An expired seal is not renewed (its key outlived its certified lifetime): rotate it.
    """
    _predraw(context, code)
    with _change(context, actor=actor, now=now) as change:
        seal, old, status = _load(change, code)
        _refuse(seal, status, "renew", (SealStatus.ACTIVE,))
        new = change.issue_certificate(seal, seal.department, seal.key_id, validity)
        _supersede(change, seal, old, new)
        change.make_ses_seal(seal, SesSealReason.RENEW)
        change.record(
            seal,
            "seal.renew",
            old_serial=old.serial,
            serial=new.serial,
            key_id=seal.key_id,
            not_after=new.not_after.isoformat(),
        )
        return _view_after(change, seal)


def set_usage_limit(
    context: ServiceContext, code: str, limit: int | None, *, actor: str
) -> SealView:
    """Allow the seal's current key ``limit`` signatures (``None``: no limit of its own).

    SignServer's per-worker key usage limit: the count is the key's ``seal.use`` entries
    in the audit log, read under the chain head's lock in the final check before every
    signature, so the limit holds exactly across nodes and workers.  A rotation starts the
    count afresh, a renewal keeps it.  Audited as ``seal.set_limit``.
    """
    if limit is not None and (isinstance(limit, bool) or not 1 <= limit <= 2**31 - 1):
        raise InvalidInput("a seal's usage limit must be a whole number from 1 to 2147483647")
    with _change(context, actor=actor, now=None) as change:
        seal, _current, _status = _load(change, code)
        if seal.status == SealStatus.REVOKED:
            raise InvalidTransition(f"seal {seal.code} is revoked; it makes no more signatures")
        previous, seal.usage_limit = seal.usage_limit, limit
        change.record(seal, "seal.set_limit", usage_limit=limit, previous=previous)
        return _view_after(change, seal)


def set_uploaded_image(context: ServiceContext, code: str, png: bytes, *, actor: str) -> SealView:
    """Use an uploaded scan of the physical seal as its image (validated, paper made
    transparent by :func:`sealsvc.sealimage.load_uploaded_png`). Audited as ``seal.image``."""
    image = sealimage.load_uploaded_png(png)
    return _set_image(context, code, image, actor)


def use_generated_image(context: ServiceContext, code: str, *, actor: str) -> SealView:
    """Go back to drawing the seal's image from its data. Audited as ``seal.image``."""
    return _set_image(context, code, None, actor)


def _set_image(context: ServiceContext, code: str, image: bytes | None, actor: str) -> SealView:
    if image is None:  # back to the drawing: draw it before the lock
        _predraw(context, code, drawing=True)
    with _change(context, actor=actor, now=None) as change:
        seal, _current, _status = _load(change, code)
        if seal.status == SealStatus.REVOKED:
            raise InvalidTransition(f"seal {seal.code} is revoked; its image is kept as it was")
        seal.image_png = image
        source = ImageSource.GENERATED if image is None else ImageSource.UPLOADED
        seal.image_source = source.value
        change.make_ses_seal(seal, SesSealReason.IMAGE)
        details: dict[str, Any] = {"source": source.value}
        if image is not None:
            details["png_bytes"] = len(image)
        change.record(seal, "seal.image", **details)
        return _view_after(change, seal)


def backfill_ses_seals(context: ServiceContext, *, actor: str) -> list[str]:
    """Make the ``SESeal`` of every SM2 seal that has none (issued before revision 0004);
    return their codes. Revoked seals get none: they can never seal again. One transaction
    per seal, audited as ``ses.make`` with reason ``backfill``; running it again does
    nothing."""
    with context.database.session(read_only=True) as session:
        codes = list(
            session.scalars(
                select(Seal.code)
                .where(
                    Seal.algorithm == SealAlgorithm.SM2.value,
                    Seal.status != SealStatus.REVOKED.value,
                    ~select(SesSeal.id).where(SesSeal.seal_id == Seal.id).exists(),
                )
                .order_by(Seal.code)
            )
        )
    for code in codes:
        _predraw(context, code)
        with _change(context, actor=actor, now=None) as change:
            seal, _current, _status = _load(change, code)
            change.make_ses_seal(seal, SesSealReason.BACKFILL)
    return codes


# --- key store hygiene ----------------------------------------------------------------------


def reconcile_orphan_keys(
    context: ServiceContext,
    older_than: timedelta = timedelta(minutes=10),
    *,
    actor: str = "system:reconcile",
    now: datetime | None = None,
) -> list[str]:
    """Delete key files that no certificate or seal refers to and that are older than
    ``older_than``; return their ids. Audited as ``key.delete``.

    Such files are what a crash between writing a key and committing its seal leaves
    behind. The age threshold keeps this from deleting the key of an issuance that is in
    progress right now. Stale temporaries of interrupted key writes go too.
    """
    now = now or utcnow()
    deleted: list[str] = []
    remove_stale_temporaries(context.settings.keys_dir, older_than.total_seconds())
    with context.database.session() as session:
        referenced = set(session.scalars(select(Certificate.key_id).distinct()))
        referenced.update(session.scalars(select(Seal.key_id).distinct()))
        for info in context.keystore.list():
            if info.key_id in referenced or info.created_at > now - older_than:
                continue
            context.keystore.delete(info.key_id)
            deleted.append(info.key_id)
            audit.append(
                session,
                action="key.delete",
                actor=actor,
                details={
                    "key_id": info.key_id,
                    "algorithm": info.algorithm.value,
                    "label": info.label,
                    "created_at": info.created_at.isoformat(),
                    "reason": "orphan: referenced by no certificate",
                },
            )
    return deleted
