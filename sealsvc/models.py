"""The persistent model of sealsvc: departments, seals, certificates, CRLs and the audit log.

SQLAlchemy 2 declarative classes with typed ``Mapped[...]`` columns. The tables are created
and changed by the Alembic scripts in ``sealsvc/migrations`` only; a test checks that the
newest migration and these classes agree (``alembic.autogenerate.compare_metadata``), so a
change here without a migration fails CI.

Choices that matter to callers:

* Closed vocabularies (statuses, kinds, profiles) are ``StrEnum`` classes stored as short
  strings with a CHECK constraint: readable in ``psql``/``sqlite3``, portable, and a member
  compares equal to the stored string.
* Every timestamp is :class:`UtcDateTime`: stored in UTC, always read back timezone-aware
  (SQLite would otherwise return naive values and PostgreSQL the session's zone), so the
  audit hash and validity checks see the same instant on both backends.
* Certificate serial numbers are decimal strings: RFC 5280 allows 20 octets (160 bits),
  more than any portable integer column, and SQLite's NUMERIC would round them to a REAL.
* Constraint names follow :data:`NAMING_CONVENTION`, so later migrations can name what they
  alter on every backend.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from pki.algorithms import KeyAlgorithm
from pki.certificates import Profile

__all__ = [
    "NAMING_CONVENTION",
    "AnnulKind",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Certificate",
    "CertificateProfile",
    "CertificateStatus",
    "Crl",
    "Department",
    "DepartmentKind",
    "DepartmentNameHistory",
    "Enterprise",
    "Hierarchy",
    "IdentityProvider",
    "IdentityTokenUse",
    "ImageSource",
    "InstallationSecret",
    "Person",
    "PersonStatus",
    "Seal",
    "SealAlgorithm",
    "SealStatus",
    "SesSeal",
    "SesSealReason",
    "SignatureImage",
    "SigningRequest",
    "SigningRequestStatus",
    "UtcDateTime",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC (the only kind of datetime stored)."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A ``TIMESTAMP WITH TIME ZONE`` that refuses naive input and always returns UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware (UTC) datetimes only")
        value = value.astimezone(UTC)
        # SQLite keeps the text as given; a fixed UTC form keeps ORDER BY chronological.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime()}  # noqa: RUF012 - SQLAlchemy's hook


def _one_of(column: str, values: type[StrEnum], name: str) -> CheckConstraint:
    """A CHECK that ``column`` holds one of the enum's values (name gets the ``ck_`` prefix)."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)


# --- vocabularies ---------------------------------------------------------------------------


class DepartmentKind(StrEnum):
    """What kind of body a department is; decides nothing technical, shown to operators."""

    GOVERNMENT = "government"
    DEPARTMENT = "department"
    PUBLIC_SERVICE_UNIT = "public_service_unit"
    MANAGEMENT_COMMITTEE = "management_committee"
    ENTERPRISE = "enterprise"
    """A registered enterprise holding the seal set issued with its 营业执照
    (:class:`Enterprise`, :mod:`sealsvc.enterprise`); not an organ of the city."""


SealAlgorithm = KeyAlgorithm
"""Key algorithm of a seal: pki's own vocabulary, stored by its values (one enum, not two)."""


class SealStatus(StrEnum):
    """Lifecycle state of a seal; only ``active`` seals may seal documents."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ImageSource(StrEnum):
    """Whether a seal's image is drawn by the service or an uploaded scan of the physical seal."""

    GENERATED = "generated"
    UPLOADED = "uploaded"


class Hierarchy(StrEnum):
    """The CA hierarchy a certificate belongs to (international RSA/ECDSA, or SM2)."""

    RSA = "rsa"
    SM2 = "sm2"


CertificateProfile = Profile
"""What a certificate is for (decides its extensions): pki's profiles, stored by value."""


class CertificateStatus(StrEnum):
    """Revocation-relevant state; ``superseded`` = replaced by a renewal, still not revoked."""

    VALID = "valid"
    SUPERSEDED = "superseded"
    ON_HOLD = "on_hold"
    REVOKED = "revoked"


# --- departments ----------------------------------------------------------------------------


class Department(Base):
    """A body that owns seals: the city government, its departments, service units.

    ``code`` is the stable identifier scripts use; ``name`` may change (see
    :class:`DepartmentNameHistory`) and is unique among active departments only, so a
    dissolved department's name can be reused by its successor.
    """

    __tablename__ = "departments"
    __table_args__ = (
        _one_of("kind", DepartmentKind, "kind"),
        Index(
            "uq_departments_active_name",
            "name",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    credit_code: Mapped[str | None] = mapped_column(String(18))
    """The body's 统一社会信用代码 (GB 32100): the issuer code of the GB/T 36904 identifier
    on every licence it issues. ``None`` until set; such a department cannot issue licences."""
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[Department | None] = relationship(remote_side=[id])
    name_history: Mapped[list[DepartmentNameHistory]] = relationship(
        back_populates="department", order_by="DepartmentNameHistory.id"
    )

    def __repr__(self) -> str:
        return f"Department(code={self.code!r}, name={self.name!r}, active={self.active})"


class DepartmentNameHistory(Base):
    """One rename of a department: old seals and documents carry the old name."""

    __tablename__ = "department_name_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    old_name: Mapped[str] = mapped_column(String(200))
    new_name: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department] = relationship(back_populates="name_history")


# --- seals and certificates -----------------------------------------------------------------


class Seal(Base):
    """An electronic seal: a department's key, its current certificate and its image.

    ``code`` is the 14-digit seal code (印章编码) every seal command and API path takes.
    ``version`` is SQLAlchemy's optimistic lock: two concurrent lifecycle changes of one
    seal cannot both commit (the second raises ``StaleDataError``).
    """

    __tablename__ = "seals"
    __table_args__ = (
        _one_of("algorithm", SealAlgorithm, "algorithm"),
        _one_of("status", SealStatus, "status"),
        _one_of("image_source", ImageSource, "image_source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    text: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(String(128))
    current_certificate_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificates.id", use_alter=True)
    )
    status: Mapped[str] = mapped_column(String(16), default=SealStatus.ACTIVE.value)
    image_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    image_source: Mapped[str] = mapped_column(String(16), default=ImageSource.GENERATED.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    valid_until: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    usage_limit: Mapped[int | None] = mapped_column(Integer)
    """Signatures this seal's current key may make (``sealctl seal set-limit``); ``None``:
    only the service-wide ``SEALSVC_SEAL_USAGE_LIMIT`` applies."""
    image_design: Mapped[str | None] = mapped_column(Text)
    """Shape and size of the drawn image as JSON (:class:`sealsvc.sealimage.ImageSpec`);
    ``None``: the round 42 mm seal of a government body (every seal before revision 0011)."""

    department: Mapped[Department] = relationship()
    current_certificate: Mapped[Certificate | None] = relationship(
        foreign_keys=[current_certificate_id], post_update=True
    )
    certificates: Mapped[list[Certificate]] = relationship(
        foreign_keys="Certificate.seal_id", back_populates="seal", order_by="Certificate.id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's hook

    def __repr__(self) -> str:
        return f"Seal(code={self.code!r}, kind={self.kind!r}, status={self.status!r})"


def _der_fingerprint(context: DefaultExecutionContext) -> str:
    return hashlib.sha256(context.get_current_parameters()["der"]).hexdigest()


class Certificate(Base):
    """Every certificate the service issued or holds: CA, seal, TSA and OCSP certificates.

    ``serial`` is the decimal serial number (see the module note); it is unique within a
    hierarchy, which implies the RFC 5280 uniqueness per issuer and lets OCSP and CRL code
    find a certificate by (hierarchy, serial). ``sha256`` (hex of the DER) is filled in
    automatically and finds the row for a certificate met inside a signed document.
    """

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("hierarchy", "serial"),
        _one_of("hierarchy", Hierarchy, "hierarchy"),
        _one_of("profile", CertificateProfile, "profile"),
        _one_of("status", CertificateStatus, "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(64))
    hierarchy: Mapped[str] = mapped_column(String(8))
    profile: Mapped[str] = mapped_column(String(16))
    issuer_certificate_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificates.id"), index=True
    )
    seal_id: Mapped[int | None] = mapped_column(ForeignKey("seals.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(Text)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, default=_der_fingerprint)
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=CertificateStatus.VALID.value)
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(64))
    superseded_at: Mapped[datetime | None]

    issuer: Mapped[Certificate | None] = relationship(remote_side=[id])
    seal: Mapped[Seal | None] = relationship(foreign_keys=[seal_id], back_populates="certificates")

    @property
    def serial_number(self) -> int:
        return int(self.serial)

    def __repr__(self) -> str:
        return f"Certificate(serial={self.serial}, profile={self.profile!r})"


class SesSealReason(StrEnum):
    """Why a seal got a new ``SESeal``: every change of what the object binds makes one."""

    ISSUE = "issue"
    ROTATE = "rotate"
    RENEW = "renew"
    IMAGE = "image"
    BACKFILL = "backfill"
    """Made for an SM2 seal issued before seals had ``SESeal`` objects (revision 0004)."""


class SesSeal(Base):
    """A GB/T 38540 ``SESeal`` (电子印章数据) of an SM2 seal, as the seal maker signed it.

    ``der`` is the exact DER handed out and embedded in every ``SES_Signature`` made with it;
    the other columns repeat what it binds so the registry can be queried without parsing.
    A seal has one current object (``superseded_at`` NULL, enforced by a partial unique
    index) and keeps every earlier one: a signature made with an earlier one still names it.
    """

    __tablename__ = "ses_seals"
    __table_args__ = (
        _one_of("reason", SesSealReason, "reason"),
        Index(
            "uq_ses_seals_current",
            "seal_id",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id"), index=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    """The seal certificate in its ``certList`` (the seal's current one when it was made)."""
    maker_certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    der: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, default=_der_fingerprint)
    reason: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    """``createDate`` inside the object."""
    valid_start: Mapped[datetime]
    valid_end: Mapped[datetime]
    superseded_at: Mapped[datetime | None]

    seal: Mapped[Seal] = relationship()
    certificate: Mapped[Certificate] = relationship(foreign_keys=[certificate_id])
    maker_certificate: Mapped[Certificate] = relationship(foreign_keys=[maker_certificate_id])

    def __repr__(self) -> str:
        return f"SesSeal(seal_id={self.seal_id}, reason={self.reason!r}, id={self.id})"


class Crl(Base):
    """A CRL as issued (DER), one row per CRL number of an issuing CA."""

    __tablename__ = "crls"
    __table_args__ = (UniqueConstraint("issuer_certificate_id", "crl_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    crl_number: Mapped[int] = mapped_column(BigInteger)
    this_update: Mapped[datetime]
    next_update: Mapped[datetime]
    der: Mapped[bytes] = mapped_column(LargeBinary)

    issuer: Mapped[Certificate] = relationship()


# --- audit log ------------------------------------------------------------------------------


class AuditEntry(Base):
    """One entry of the hash-chained audit log; written only by :mod:`sealsvc.audit`.

    ``entry_hash`` is SHA-256 over the canonical encoding of every other column, which
    includes ``prev_hash``, the hash of entry ``seq - 1``. ``details`` is canonical JSON
    text (sorted keys, no floats).
    """

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), index=True)
    seal_code: Mapped[str | None] = mapped_column(String(32), index=True)
    department_code: Mapped[str | None] = mapped_column(String(32), index=True)
    document_hash: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"AuditEntry(seq={self.seq}, action={self.action!r})"


class AuditHead(Base):
    """The single row naming the newest audit entry.

    Appenders lock this row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write lock is
    taken by ``BEGIN IMMEDIATE``), which serialises appends and keeps ``seq`` gap-free. It
    also lets verification notice entries removed from, or added to, the end of the log.
    """

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))


# --- API keys and licences ------------------------------------------------------------------


class ApiKey(Base):
    """A credential of an approval system: bound to one department (or admin) and scopes.

    Only a SHA-256 of the secret is stored. The secret is 256 random bits, so a fast hash
    is enough (no dictionary to guess from); ``key_id`` is the public half that finds the
    row and appears in logs and the audit trail.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    scopes: Mapped[str] = mapped_column(String(200))
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=600)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    department: Mapped[Department | None] = relationship()

    def __repr__(self) -> str:
        return f"ApiKey({self.key_id!r}, scopes={self.scopes!r})"


class LicenceStatus(StrEnum):
    """A licence is valid until annulled (吊销/注销) or replaced by a new version (变更)."""

    VALID = "valid"
    ANNULLED = "annulled"
    SUPERSEDED = "superseded"


class LicenceFormat(StrEnum):
    """The file format a licence version was issued in; it is served in that one only.

    ``pdf``: PAdES-sealed PDF/A-2b; ``ofd``: GB/T 33190 OFD sealed with GB/T 38540
    ``SES_Signature`` objects (SM2 seals only), what the national 电子证照 platforms read.
    """

    PDF = "pdf"
    OFD = "ofd"


class AnnulKind(StrEnum):
    """How a licence was annulled; the two differ in law, so a citizen must see which.

    吊销 (``revoked``) is a sanction by the issuing authority; 注销 (``cancelled``) ends a
    licence without one — at the holder's request, on closure, or after a merger.
    """

    REVOKED = "revoked"
    CANCELLED = "cancelled"

    @property
    def chinese(self) -> str:
        """吊销 or 注销."""
        return "吊销" if self is AnnulKind.REVOKED else "注销"


class Licence(Base):
    """An issued electronic licence (电子证照): its data, its sealed file, its status."""

    __tablename__ = "licences"
    __table_args__ = (
        UniqueConstraint("number", "version"),
        _one_of("status", LicenceStatus, "licence_status"),
        _one_of("annul_kind", AnnulKind, "annul_kind"),
        _one_of("format", LicenceFormat, "licence_format"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    template: Mapped[str] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(Text)
    seal_codes: Mapped[str] = mapped_column(Text)
    document_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=LicenceStatus.VALID.value)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_changed_at: Mapped[datetime | None]
    status_reason: Mapped[str | None] = mapped_column(String(500))
    annul_kind: Mapped[str | None] = mapped_column(String(16))
    """``revoked`` (吊销) or ``cancelled`` (注销) once annulled; ``None`` otherwise, and on
    licences annulled before the kind was recorded (revision 0003)."""
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("licences.id"))
    identifier: Mapped[str | None] = mapped_column(String(160), unique=True, index=True)
    """The GB/T 36904 identifier of this version (:mod:`sealsvc.licences.identifier`);
    ``None`` on licences issued before revision 0004."""

    format: Mapped[str] = mapped_column(
        String(8), default=LicenceFormat.PDF.value, server_default=LicenceFormat.PDF.value
    )
    """:class:`LicenceFormat` of the stored file; licences issued before revision 0006 are
    PDF."""

    previous: Mapped[Licence | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"Licence({self.number!r}, v{self.version}, {self.status!r})"


# --- persons (issue #18) --------------------------------------------------------------------


class InstallationSecret(Base):
    """A secret every node of one installation shares, e.g. the ID-number hashing salt.

    In the database, not in the data directory: nodes on one PostgreSQL must hash the same
    person's ID number the same way (issue #19).  Values never leave the service.
    """

    __tablename__ = "installation_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdentityProvider(Base):
    """An OIDC provider whose ID tokens sealsvc trusts to say who a signer is.

    ``jwks`` is the provider's key set as configured from a file (kept here so that every
    node sees the same keys); ``jwks_url`` instead names where to fetch it.  ``claims`` is a
    JSON object mapping our claim names (``name``, ``id_number``, ``id_type``,
    ``department``, ``role``) to the provider's.
    """

    __tablename__ = "identity_providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    issuer: Mapped[str] = mapped_column(String(500), unique=True)
    audience: Mapped[str] = mapped_column(String(500))
    jwks: Mapped[str | None] = mapped_column(Text)
    jwks_url: Mapped[str | None] = mapped_column(String(1000))
    claims: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"IdentityProvider({self.name!r}, issuer={self.issuer!r})"


class IdentityTokenUse(Base):
    """A token id (``jti`` or nonce) already used: a token is good for one signing event.

    The primary key makes a second use fail on every node at once; rows past
    ``expires_at`` (the token's own expiry plus the leeway) can no longer matter — the token
    is refused as expired — and are deleted.
    """

    __tablename__ = "identity_token_uses"

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("identity_providers.id", ondelete="CASCADE"), primary_key=True
    )
    token_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class PersonStatus(StrEnum):
    """Whether an enrolled person may still sign with their long-lived certificate."""

    ACTIVE = "active"
    REVOKED = "revoked"


class Person(Base):
    """An enrolled official: who the identity provider will say they are, and their key.

    The ID number itself is never stored: ``id_hash`` is its salted hash (what the
    certificate's serialNumber carries) and ``id_masked`` the form shown on pages
    (``4101**********1234``).  (``provider_id``, ``subject``) is unique: one enrolment per
    account of a provider.
    """

    __tablename__ = "persons"
    __table_args__ = (
        UniqueConstraint("provider_id", "subject"),
        _one_of("status", PersonStatus, "person_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("identity_providers.id"), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    id_type: Mapped[str] = mapped_column(String(32))
    id_hash: Mapped[str] = mapped_column(String(64), index=True)
    id_masked: Mapped[str] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100))
    hierarchy: Mapped[str] = mapped_column(String(8))
    key_id: Mapped[str] = mapped_column(String(128))
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    status: Mapped[str] = mapped_column(String(16), default=PersonStatus.ACTIVE.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    provider: Mapped[IdentityProvider] = relationship()
    certificate: Mapped[Certificate] = relationship()

    def __repr__(self) -> str:
        return f"Person(id={self.id}, status={self.status!r})"


# --- the signature pad (issue #18 §3) --------------------------------------------------------


class SignatureImage(Base):
    """A person's handwritten signature as drawn on the pad, kept for reuse and replaceable.

    Keyed by who the identity provider says the person is (provider, ``sub``, salted ID
    hash), not by an enrolment: applicants who sign with event certificates have none.
    """

    __tablename__ = "signature_images"
    __table_args__ = (UniqueConstraint("provider_id", "subject", "id_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("identity_providers.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(255))
    id_hash: Mapped[str] = mapped_column(String(64))
    image_png: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SigningRequestStatus(StrEnum):
    """Where a signing request stands: it is used once, then signed, expired or cancelled."""

    PENDING = "pending"
    SIGNED = "signed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class SigningRequest(Base):
    """A document a platform asks one person to sign on the pad (``/sign/{id}``).

    The id is the capability the person's browser holds (128 random bits).  The person is
    stored as the verified ID token described them — never the ID number; the document and,
    once signed, the result are kept in the database so that any node can serve the pad.
    """

    __tablename__ = "signing_requests"
    __table_args__ = (_one_of("status", SigningRequestStatus, "signing_request_status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    api_key_id: Mapped[str] = mapped_column(String(16), index=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("identity_providers.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(255))
    id_type: Mapped[str] = mapped_column(String(32))
    id_hash: Mapped[str] = mapped_column(String(64))
    id_masked: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    person_role: Mapped[str | None] = mapped_column(String(100))
    token_id: Mapped[str] = mapped_column(String(255))
    document: Mapped[bytes] = mapped_column(LargeBinary)
    document_kind: Mapped[str] = mapped_column(String(8))
    document_sha256: Mapped[str] = mapped_column(String(64))
    options: Mapped[str] = mapped_column(Text)
    """JSON: placement, level and role as the platform gave them."""
    status: Mapped[str] = mapped_column(String(16), default=SigningRequestStatus.PENDING.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    signed_at: Mapped[datetime | None]
    result: Mapped[bytes | None] = mapped_column(LargeBinary)

    def __repr__(self) -> str:
        return f"SigningRequest({self.id!r}, {self.status!r})"


# --- shared storage (several nodes on one database, issue #19) ------------------------------


class KeyStoreHeader(Base):
    """The key store's header (KDF parameters, passphrase verifier) when the key store
    lives in the database: the bytes of ``keystore.json``, see :mod:`pki.keystore`."""

    __tablename__ = "keystore_header"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document: Mapped[bytes] = mapped_column(LargeBinary)


class KeyEnvelope(Base):
    """One encrypted key (the bytes of a ``<key_id>.key`` file) in the database key store."""

    __tablename__ = "key_envelopes"

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    document: Mapped[bytes] = mapped_column(LargeBinary)


class StoredFile(Base):
    """A file every node must see (a sealed licence), kept in the database.

    ``kind`` names the family (``licence``) and ``name`` the file as the single-node layout
    names it under the data directory, so moving a data directory into the database is a
    copy of bytes that can be checked by ``sha256``.
    """

    __tablename__ = "stored_files"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateLimitBucket(Base):
    """The token bucket of one API key, shared by every worker and node."""

    __tablename__ = "rate_limit_buckets"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    """Seconds since the epoch (wall clock: nodes share no monotonic clock)."""
    refused: Mapped[bool] = mapped_column(Boolean, default=False)


# --- the licence library (issue #21 §1) -----------------------------------------------------


class LibraryTrustAnchor(Base):
    """A root an admin trusts for licences other systems push into the library (归集).

    Separate from the service's own roots: a licence sealed elsewhere is judged against the
    roots configured for the library (``sealctl library trust add``), not against ours.
    """

    __tablename__ = "library_trust_anchors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, default=_der_fingerprint)
    subject: Mapped[str] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class CollectedLicence(Base):
    """A licence sealed by another issuing system and pushed into the library (归集).

    The GB/T 36903 elements are columns so lookups need no parsing; ``holder_key`` is what
    lookups match: a 统一社会信用代码 as it is, an ID number only as its salted hash
    (:func:`sealsvc.identity.id_number_hash`) — ``holder_code_shown`` then holds the masked
    form.  The file lives where issued licences' files live (``file_name``).
    """

    __tablename__ = "collected_licences"
    __table_args__ = (
        _one_of("status", LicenceStatus, "collected_licence_status"),
        _one_of("format", LicenceFormat, "collected_licence_format"),
        _one_of("annul_kind", AnnulKind, "collected_annul_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(160), unique=True)
    number: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    type_code: Mapped[str] = mapped_column(String(21), index=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer_name: Mapped[str] = mapped_column(String(200))
    issuer_code: Mapped[str] = mapped_column(String(18))
    issue_date: Mapped[str] = mapped_column(String(10))
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_key: Mapped[str] = mapped_column(String(64), index=True)
    holder_code_shown: Mapped[str] = mapped_column(String(64))
    holder_code_type: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[str] = mapped_column(String(10))
    valid_until: Mapped[str] = mapped_column(String(10))
    face: Mapped[str] = mapped_column(Text)
    """JSON object: further 照面信息 (face data) fields the issuing system sent."""
    format: Mapped[str] = mapped_column(String(8))
    file_name: Mapped[str] = mapped_column(String(200))
    document_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=LicenceStatus.VALID.value)
    status_changed_at: Mapped[datetime | None]
    status_reason: Mapped[str | None] = mapped_column(String(500))
    annul_kind: Mapped[str | None] = mapped_column(String(16))
    collected_at: Mapped[datetime] = mapped_column(default=utcnow)
    collected_by: Mapped[str] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"CollectedLicence({self.identifier!r}, {self.status!r})"


class LibraryGrant(Base):
    """A department may see licences of one type (证照类型代码) in the library."""

    __tablename__ = "library_grants"
    __table_args__ = (UniqueConstraint("department_id", "type_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    type_code: Mapped[str] = mapped_column(String(21))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department] = relationship()


class ShowCode(Base):
    """A holder-authorised 亮证 code: lets a counter clerk see one licence, once, briefly.

    Only an HMAC of the code is stored.  ``failures`` counts wrong codes tried for the same
    holder while this one was live; at the limit the code is locked (see
    :mod:`sealsvc.library.showcodes`).
    """

    __tablename__ = "library_show_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hmac: Mapped[str] = mapped_column(String(64))
    holder_key: Mapped[str] = mapped_column(String(64), index=True)
    identifier: Mapped[str] = mapped_column(String(160))
    api_key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)


# --- enterprises (issue #21 §2) -------------------------------------------------------------


class Enterprise(Base):
    """An enterprise that got its seal set with its 营业执照 ("1+X").

    It holds its seals as a :class:`Department` of kind ``enterprise`` (so seals, API keys,
    the audit log and the seal directory treat it as any seal holder); this row ties that
    holder to its 统一社会信用代码 and to the licence whose lifecycle its seals follow.
    """

    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_representative: Mapped[str] = mapped_column(String(50))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), unique=True)
    licence_number: Mapped[str] = mapped_column(String(64), index=True)
    """Number of the 营业执照 (all its versions): annulling it revokes the seal set."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    """When the licence was annulled and the seals revoked with it."""

    department: Mapped[Department] = relationship()

    def __repr__(self) -> str:
        return f"Enterprise({self.credit_code!r}, {self.name!r})"
