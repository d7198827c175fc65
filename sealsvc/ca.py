"""The service's two certificate authorities (RSA and SM2) with their state in the registry.

``pki`` builds certificates and CRLs as pure functions; this module adds what makes a CA:
which keys and certificates are the current root, issuing CA, TSA and OCSP signer of each
hierarchy, which serials were revoked or put on hold, the CRL numbers, the audit trail, and
the PEM files under ``<data dir>/ca/`` that operators publish.

Each hierarchy is root CA → issuing CA → leaves (seals, TSA, OCSP signer), and beside the
issuing CA a personal-signing CA (``person_ca``) → natural persons' certificates (issue #18):
a separate CA so that a person's certificate can never pass for a seal's, and its CRL lists
persons only.  The root signs only the two CAs and its own CRL, so it can be kept offline
later without changing the shape of anything issued.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import keys, x509
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from pki.algorithms import KeyAlgorithm, SigningKey
from pki.certificates import (
    IssuerUrls,
    Profile,
    build_name,
    certificate_pem,
    issue_certificate,
    load_certificate,
    name_text,
)
from pki.crl import RevokedEntry, build_crl, crl_pem, load_crl
from pki.fsutil import atomic_write
from pki.keystore import KeyStore
from sealsvc import audit, locks
from sealsvc.config import Settings
from sealsvc.errors import Conflict, NotFound
from sealsvc.models import Certificate, CertificateStatus, Crl, utcnow

__all__ = [
    "HIERARCHIES",
    "MAKER_HIERARCHY",
    "CaSet",
    "CertificateAuthority",
    "pki_urls",
]

HIERARCHIES: dict[str, dict[str, KeyAlgorithm]] = {
    # CA keys are longer-lived than leaf keys, hence RSA-3072 for the RSA CAs.
    "rsa": {"ca": KeyAlgorithm.RSA3072, "leaf": KeyAlgorithm.RSA2048},
    "sm2": {"ca": KeyAlgorithm.SM2, "leaf": KeyAlgorithm.SM2},
}

VALIDITY = {
    Profile.ROOT_CA: timedelta(days=25 * 365),
    Profile.ISSUING_CA: timedelta(days=15 * 365),
    Profile.TSA: timedelta(days=10 * 365),
    Profile.OCSP: timedelta(days=3 * 365),
    Profile.SEAL: timedelta(days=3 * 365),
    Profile.SEAL_MAKER: timedelta(days=10 * 365),
    Profile.PERSON_CA: timedelta(days=15 * 365),
    Profile.PERSON: timedelta(days=2 * 365),
    Profile.PERSON_EVENT: timedelta(minutes=10),
}
"""Default lifetimes; a TSA or seal-maker certificate outlives many seal certificates on
purpose (every ``SESeal`` the maker signed is checked against its certificate)."""

MAKER_HIERARCHY = "sm2"
"""GB/T 38540 seals are SM2 only, so the seal maker (制章者) lives in the SM2 hierarchy."""

CRL_LIFETIME = {
    Profile.ROOT_CA: timedelta(days=90),
    Profile.ISSUING_CA: timedelta(days=7),
    Profile.PERSON_CA: timedelta(days=7),
}
"""nextUpdate distance: relying parties treat an older CRL as stale."""

_SUBJECT_BASE = {
    "country_name": "CN",
    "state_or_province_name": "河南省",
    "locality_name": "郑州市",
    "organization_name": "郑州市人民政府",
    "organizational_unit_name": "郑州市大数据管理局",
}
_COMMON_NAMES = {
    Profile.ROOT_CA: "郑州市电子印章根CA",
    Profile.ISSUING_CA: "郑州市电子印章签发CA",
    Profile.TSA: "郑州市电子印章时间戳服务",
    Profile.OCSP: "郑州市电子印章OCSP服务",
    Profile.SEAL_MAKER: "郑州市电子印章制章系统",
    Profile.PERSON_CA: "郑州市电子签名个人证书签发CA",
}
_URL_NAMES = {Profile.ROOT_CA: "root", Profile.ISSUING_CA: "issuing", Profile.PERSON_CA: "person"}
"""The file name under ``/pki/<hierarchy>/`` of each CA's certificate and CRL."""
_DEV_MARK = "（开发测试用）"


def pki_urls(base_url: str, hierarchy: str, issuer: Profile) -> IssuerUrls:
    """URLs written into certificates issued by ``issuer`` of ``hierarchy``; served by the API.

    Persons' certificates name the personal CA's own responder (``person-ocsp``): the
    seal responder answers for the issuing CA's certificates only.
    """
    prefix = f"{base_url}/pki/{hierarchy}"
    name = _URL_NAMES[issuer]
    return IssuerUrls(
        crl=f"{prefix}/{name}.crl",
        ca_issuers=f"{prefix}/{name}.crt",
        ocsp=f"{prefix}/person-ocsp" if issuer is Profile.PERSON_CA else f"{prefix}/ocsp",
    )


@dataclass(frozen=True)
class CaSet:
    """The current CA-side certificates of one hierarchy (registry rows)."""

    hierarchy: str
    root: Certificate
    issuing: Certificate
    tsa: Certificate
    ocsp: Certificate

    def chain(self) -> tuple[x509.Certificate, x509.Certificate]:
        """Issuing CA and root, the chain every leaf of this hierarchy needs."""
        return load_certificate(self.issuing.der), load_certificate(self.root.der)


_CURRENT = (
    select(Certificate)
    .where(
        Certificate.hierarchy == bindparam("hierarchy"),
        Certificate.profile == bindparam("profile"),
        Certificate.status == CertificateStatus.VALID.value,
    )
    .order_by(Certificate.not_before.desc(), Certificate.id.desc())
    .limit(1)
)
""":meth:`CertificateAuthority.current`'s select, built once: the TSA is looked up for
every time-stamped seal, and building the select cost more than running it."""


class CertificateAuthority:
    """Issuing, revocation bookkeeping and CRLs for both hierarchies."""

    def __init__(
        self,
        settings: Settings,
        keystore: Callable[[], KeyStore],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self._keystore = keystore
        self.clock = clock

    @property
    def keystore(self) -> KeyStore:
        """Opened on first use: reading certificates and CRLs needs no passphrase."""
        return self._keystore()

    # --- set-up -------------------------------------------------------------------------

    @staticmethod
    def is_initialised(session: Session) -> bool:
        count = session.scalar(
            select(func.count())
            .select_from(Certificate)
            .where(Certificate.profile == Profile.ROOT_CA.value)
        )
        return bool(count)

    def initialise(self, session: Session, *, actor: str, dev: bool = False) -> list[CaSet]:
        """Create root, issuing CA, TSA and OCSP signer for both hierarchies, in ``session``.

        Refuses when a root already exists: re-initialising would orphan every seal.  Keys
        are written to the key store first; if anything fails before the transaction
        commits, they are deleted again, so no key is left without its certificate row.
        """
        locks.hold(session, locks.Resource.CA)
        if self.is_initialised(session):
            raise Conflict("the certificate authorities already exist in this data directory")
        created_keys: list[str] = []
        try:
            sets = [
                self._create_hierarchy(session, h, actor, dev, created_keys) for h in HIERARCHIES
            ]
            self.create_seal_maker(session, actor=actor, dev=dev, created_keys=created_keys)
            for ca_set in sets:
                self.create_person_ca(
                    session, ca_set.hierarchy, actor=actor, dev=dev, created_keys=created_keys
                )
                self.publish_crl(session, ca_set.hierarchy, Profile.ROOT_CA, actor=actor)
                self.publish_crl(session, ca_set.hierarchy, Profile.ISSUING_CA, actor=actor)
            session.flush()
        except BaseException:
            for key_id in created_keys:
                self.keystore.delete(key_id)
            raise
        return sets

    def _generate_key(
        self,
        session: Session,
        hierarchy: str,
        kind: str,
        profile: Profile,
        actor: str,
        created_keys: list[str] | None,
    ) -> str:
        """A new CA-side key (``kind`` ca or leaf), audited as ``key.generate``; its id is
        added to ``created_keys`` so a failed transaction can delete it again."""
        label = f"{hierarchy} {profile.value}"
        info = self.keystore.generate(HIERARCHIES[hierarchy][kind], label=label)
        if created_keys is not None:
            created_keys.append(info.key_id)
        audit.append(
            session,
            action="key.generate",
            actor=actor,
            details={"key_id": info.key_id, "algorithm": info.algorithm.value, "label": label},
        )
        return info.key_id

    def _create_hierarchy(
        self, session: Session, hierarchy: str, actor: str, dev: bool, created_keys: list[str]
    ) -> CaSet:
        rows: dict[Profile, Certificate] = {}
        for profile, issuer in (
            (Profile.ROOT_CA, None),
            (Profile.ISSUING_CA, Profile.ROOT_CA),
            (Profile.TSA, Profile.ISSUING_CA),
            (Profile.OCSP, Profile.ISSUING_CA),
        ):
            kind = "ca" if profile in (Profile.ROOT_CA, Profile.ISSUING_CA) else "leaf"
            key_id = self._generate_key(session, hierarchy, kind, profile, actor, created_keys)
            common_name = _COMMON_NAMES[profile] + f" ({hierarchy.upper()})"
            subject = build_name(
                **_SUBJECT_BASE, common_name=common_name + (_DEV_MARK if dev else "")
            )
            rows[profile] = self.issue(
                session,
                hierarchy=hierarchy,
                profile=profile,
                subject=subject,
                key_id=key_id,
                issuer_row=rows.get(issuer) if issuer else None,
                actor=actor,
            )
        return CaSet(
            hierarchy,
            *(rows[p] for p in (Profile.ROOT_CA, Profile.ISSUING_CA, Profile.TSA, Profile.OCSP)),
        )

    # --- lookup ---------------------------------------------------------------------------

    @staticmethod
    def current(session: Session, hierarchy: str, profile: Profile) -> Certificate:
        """The newest valid certificate of ``profile`` in ``hierarchy`` (CA, TSA or OCSP)."""
        row = session.scalars(_CURRENT, {"hierarchy": hierarchy, "profile": profile.value}).first()
        if row is None:
            raise NotFound(
                f"no {profile.value} certificate in the {hierarchy} hierarchy: run `sealctl init`"
            )
        return row

    def ca_set(self, session: Session, hierarchy: str) -> CaSet:
        return CaSet(
            hierarchy,
            *(
                self.current(session, hierarchy, p)
                for p in (Profile.ROOT_CA, Profile.ISSUING_CA, Profile.TSA, Profile.OCSP)
            ),
        )

    def seal_maker(self, session: Session) -> Certificate:
        """The current seal-maker certificate (newest valid one): it signs new ``SESeal``s."""
        return self.current(session, MAKER_HIERARCHY, Profile.SEAL_MAKER)

    def create_seal_maker(
        self,
        session: Session,
        *,
        actor: str,
        dev: bool | None = None,
        created_keys: list[str] | None = None,
    ) -> Certificate:
        """A new seal-maker key in the key store and its certificate from the SM2 issuing CA.

        Used by :meth:`initialise`, and for a data directory made before the seal maker
        existed; ``sealctl ca issue-cert --profile seal_maker`` rotates it the same way the
        TSA is renewed (the newest certificate is the current one; seals made by the old
        key keep verifying against the old certificate).  ``dev=None`` follows the root:
        a development hierarchy gets a development maker.  Audited as ``key.generate`` and
        ``cert.issue``; the key is deleted again if the caller's transaction fails (the
        caller passes ``created_keys`` and does so).
        """
        if dev is None:
            root = self.current(session, MAKER_HIERARCHY, Profile.ROOT_CA)
            dev = _DEV_MARK in root.subject
        key_id = self._generate_key(
            session, MAKER_HIERARCHY, "leaf", Profile.SEAL_MAKER, actor, created_keys
        )
        subject = build_name(
            **_SUBJECT_BASE,
            common_name=_COMMON_NAMES[Profile.SEAL_MAKER] + (_DEV_MARK if dev else ""),
        )
        return self.issue(
            session,
            hierarchy=MAKER_HIERARCHY,
            profile=Profile.SEAL_MAKER,
            subject=subject,
            key_id=key_id,
            actor=actor,
        )

    def person_ca(self, session: Session, hierarchy: str, *, actor: str) -> Certificate:
        """The current personal-signing CA of ``hierarchy``, made now if the data directory
        predates it (as the seal maker is made with a first ``SESeal``)."""
        try:
            return self.current(session, hierarchy, Profile.PERSON_CA)
        except NotFound:
            locks.hold(session, locks.Resource.CA)  # one node makes it; the others see it
            with contextlib.suppress(NotFound):
                return self.current(session, hierarchy, Profile.PERSON_CA)
            created: list[str] = []
            try:
                return self.create_person_ca(session, hierarchy, actor=actor, created_keys=created)
            except BaseException:
                for key_id in created:
                    self.keystore.delete(key_id)
                raise

    def create_person_ca(
        self,
        session: Session,
        hierarchy: str,
        *,
        actor: str,
        dev: bool | None = None,
        created_keys: list[str] | None = None,
    ) -> Certificate:
        """A personal-signing CA under the current root of ``hierarchy``, and its first CRL.

        ``dev=None`` follows the root, as for the seal maker.  Audited as ``key.generate``,
        ``cert.issue`` and ``crl.publish``; the key is in ``created_keys`` for the caller to
        delete if its transaction fails.
        """
        root = self.current(session, hierarchy, Profile.ROOT_CA)
        if dev is None:
            dev = _DEV_MARK in root.subject
        key_id = self._generate_key(
            session, hierarchy, "ca", Profile.PERSON_CA, actor, created_keys
        )
        common_name = _COMMON_NAMES[Profile.PERSON_CA] + f" ({hierarchy.upper()})"
        row = self.issue(
            session,
            hierarchy=hierarchy,
            profile=Profile.PERSON_CA,
            subject=build_name(
                **_SUBJECT_BASE, common_name=common_name + (_DEV_MARK if dev else "")
            ),
            key_id=key_id,
            issuer_row=root,
            actor=actor,
        )
        self.publish_crl(session, hierarchy, Profile.PERSON_CA, actor=actor)
        return row

    def signer(self, row: Certificate) -> SigningKey:
        return self.keystore.signer(row.key_id)

    # --- issuing --------------------------------------------------------------------------

    def issue(
        self,
        session: Session,
        *,
        hierarchy: str,
        profile: Profile,
        subject: x509.Name,
        key_id: str,
        actor: str,
        issuer_row: Certificate | None = None,
        validity: timedelta | None = None,
        seal_id: int | None = None,
        seal_code: str | None = None,
        public_key: keys.PublicKeyInfo | None = None,
    ) -> Certificate:
        """Issue a certificate for key ``key_id`` and record it, inside the caller's transaction.

        Leaves are issued by the current issuing CA of the hierarchy unless ``issuer_row``
        says otherwise; a root (``issuer_row=None`` and profile root) signs itself.
        ``public_key`` is given for a key that is not in the key store (an event
        certificate's, held in memory for one signature); ``key_id`` is then its
        :func:`~pki.keystore.compute_key_id`.
        """
        if hierarchy not in HIERARCHIES:
            raise NotFound(f"unknown hierarchy {hierarchy!r} (rsa or sm2)")
        profile = Profile(profile)
        if issuer_row is None and profile is not Profile.ROOT_CA:
            issuer_row = self.current(session, hierarchy, Profile.ISSUING_CA)
        now = self.clock()
        if public_key is None:
            public_key = self.keystore.info(key_id).public_key_info
        if issuer_row is None:
            issuer_key, issuer_cert, urls = self.keystore.signer(key_id), None, None
        else:
            issuer_key = self.signer(issuer_row)
            issuer_cert = load_certificate(issuer_row.der)
            urls = pki_urls(self.settings.base_url, hierarchy, Profile(issuer_row.profile))
        certificate = issue_certificate(
            profile=profile,
            subject=subject,
            subject_public_key=public_key,
            issuer_key=issuer_key,
            issuer_certificate=issuer_cert,
            not_before=now - timedelta(minutes=5),  # tolerate clock skew of relying parties
            not_after=now + (validity or VALIDITY[profile]),
            urls=urls,
        )
        row = Certificate(
            serial=str(certificate.serial_number),
            hierarchy=hierarchy,
            profile=profile.value,
            issuer_certificate_id=issuer_row.id if issuer_row else None,
            seal_id=seal_id,
            key_id=key_id,
            subject=name_text(certificate.subject),
            der=certificate.dump(),
            not_before=certificate.not_valid_before,
            not_after=certificate.not_valid_after,
        )
        session.add(row)
        session.flush()
        audit.append(
            session,
            action="cert.issue",
            actor=actor,
            seal_code=seal_code,
            details={
                "hierarchy": hierarchy,
                "profile": profile.value,
                "serial": row.serial,
                "key_id": key_id,
                "subject": row.subject,
            },
        )
        return row

    # --- revocation and CRLs ----------------------------------------------------------------

    def publish_crl(self, session: Session, hierarchy: str, issuer: Profile, *, actor: str) -> Crl:
        """Issue the next CRL of the current root or issuing CA and write it to ``ca/``.

        Revoked and held certificates of that issuer are listed; superseded ones are not
        (a plain rotation is no compromise, and old documents stay valid) until a
        revocation of their seal, or a rotation that revokes the old key, revokes them.
        """
        locks.hold(session, locks.Resource.CRL)  # numbers follow each other across nodes
        issuer_row = self.current(session, hierarchy, issuer)
        revoked = session.scalars(
            select(Certificate).where(
                Certificate.issuer_certificate_id == issuer_row.id,
                Certificate.status.in_(
                    [CertificateStatus.REVOKED.value, CertificateStatus.ON_HOLD.value]
                ),
            )
        ).all()
        last = session.scalar(
            select(func.max(Crl.crl_number)).where(Crl.issuer_certificate_id == issuer_row.id)
        )
        now = self.clock()
        number = (last or 0) + 1
        certificate_list = build_crl(
            issuer_certificate=load_certificate(issuer_row.der),
            issuer_key=self.signer(issuer_row),
            revoked=[
                RevokedEntry(
                    int(row.serial),
                    row.revoked_at or now,
                    "certificate_hold"
                    if row.status == CertificateStatus.ON_HOLD.value
                    else (row.revocation_reason or "unspecified"),
                )
                for row in revoked
            ],
            crl_number=number,
            this_update=now,
            next_update=now + CRL_LIFETIME[issuer],
        )
        crl_row = Crl(
            issuer_certificate_id=issuer_row.id,
            crl_number=number,
            this_update=now,
            next_update=now + CRL_LIFETIME[issuer],
            der=certificate_list.dump(),
        )
        session.add(crl_row)
        session.flush()
        audit.append(
            session,
            action="crl.publish",
            actor=actor,
            details={
                "hierarchy": hierarchy,
                "issuer": issuer.value,
                "crl_number": number,
                "revoked": len(revoked),
            },
        )
        return crl_row

    @staticmethod
    def latest_crl(session: Session, issuer_row: Certificate) -> Crl | None:
        return session.scalars(
            select(Crl)
            .where(Crl.issuer_certificate_id == issuer_row.id)
            .order_by(Crl.crl_number.desc())
            .limit(1)
        ).first()

    def export_files(self, session: Session) -> list[str]:
        """Write CA certificates and their latest CRLs as PEM under ``ca/``.

        Called after the transaction that changed them has committed: the files are what
        operators publish, so they must never show a state the registry does not have.
        """
        self.settings.ca_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for hierarchy in HIERARCHIES:
            ca_set = self.ca_set(session, hierarchy)
            for name in ("root", "issuing", "tsa", "ocsp"):
                row: Certificate = getattr(ca_set, name)
                path = self.settings.ca_dir / f"{hierarchy}-{name}.pem"
                atomic_write(path, certificate_pem(load_certificate(row.der)))
                written.append(str(path))
            issuers = {"root": ca_set.root, "issuing": ca_set.issuing}
            try:
                issuers["person"] = self.current(session, hierarchy, Profile.PERSON_CA)
            except NotFound:  # a data directory from before issue #18, until its first person
                pass
            else:
                path = self.settings.ca_dir / f"{hierarchy}-person.pem"
                atomic_write(path, certificate_pem(load_certificate(issuers["person"].der)))
                written.append(str(path))
            for name, issuer_row in issuers.items():
                crl_row = self.latest_crl(session, issuer_row)
                if crl_row is not None:
                    path = self.settings.ca_dir / f"{hierarchy}-{name}.crl"
                    atomic_write(path, crl_pem(load_crl(crl_row.der)))
                    written.append(str(path))
        return written
