"""Keys and certificates for natural persons: event certificates and officials' certificates.

Two kinds, as Chinese e-signature platforms issue them (issue #18 §2):

* **Event certificates (事件型证书)** for applicants: :func:`event_signer` generates a key in
  memory for one signing event, has the personal-signing CA of the hierarchy certify it for
  minutes (:data:`EVENT_VALIDITY`), and hands out a :class:`PersonSigner` that is used
  inside a ``with`` block; on leaving it the key is dropped and the signer refuses to sign
  again.  The key never touches the key store or the disk.  (Python cannot wipe the memory
  an object held; dropping every reference is what "destroy" can mean here.)
* **Long-lived certificates for officials**: :func:`enroll` (``sealctl person enroll``)
  records what the identity provider will assert of an official, keeps a key in the key
  store and certifies it; :func:`person_signer` hands it out only for a *fresh*
  :class:`~sealsvc.identity.PersonIdentity` of that same person — provider, subject and ID
  hash must all match, and the identity must come from a token :func:`verify_id_token`
  used up moments ago.  A department's API key proves no person, so it cannot reach it.

Certificates (``pki.certificates`` profiles ``person``/``person_event``): C=CN, CN = the
name, serialNumber = the salted ID hash; an official's also carries O = their department.
The ID number itself is in no certificate, table, audit entry or answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from asn1crypto import keys, x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from pki import algorithms
from pki.algorithms import KeyAlgorithm, SignatureScheme, SigningKey
from pki.certificates import Profile, build_name, load_certificate
from pki.errors import KeyStoreError
from pki.keystore import compute_key_id
from sealsvc import audit, identity
from sealsvc.ca import HIERARCHIES
from sealsvc.errors import Forbidden, InvalidInput, InvalidTransition, NotFound
from sealsvc.identity import PersonIdentity
from sealsvc.models import (
    Certificate,
    CertificateStatus,
    IdentityProvider,
    IdentityTokenUse,
    Person,
    PersonStatus,
    utcnow,
)

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = [
    "EVENT_VALIDITY",
    "FRESHNESS",
    "REVOCATION_REASONS",
    "PersonSigner",
    "enroll",
    "event_signer",
    "get_person",
    "list_persons",
    "person_dict",
    "person_signer",
    "revoke",
]

EVENT_VALIDITY = timedelta(minutes=10)
"""Lifetime of an event certificate: long enough to sign and time-stamp one document, short
enough that the certificate is worthless soon after (the time-stamp keeps the signature
valid past it)."""

FRESHNESS = timedelta(minutes=5)
"""How long after its token was checked an identity may still unlock an official's key."""

REVOCATION_REASONS = ("unspecified", "key_compromise", "affiliation_changed", "superseded")
"""RFC 5280 reasons that fit a person: left the post, lost the device, replaced."""


class _EventKey:
    """A :class:`SigningKey` held in memory for one event; :meth:`destroy` drops it."""

    def __init__(self, key: SigningKey) -> None:
        self._key: SigningKey | None = key
        self._public = key.public_key_info

    def __repr__(self) -> str:
        return f"_EventKey({'destroyed' if self._key is None else self._public.algorithm})"

    @property
    def key_algorithm(self) -> KeyAlgorithm:
        return KeyAlgorithm(self._live().key_algorithm)

    @property
    def public_key_info(self) -> keys.PublicKeyInfo:
        return self._public

    def sign(self, data: bytes, scheme: SignatureScheme | None = None) -> bytes:
        return self._live().sign(data, scheme)

    def destroy(self) -> None:
        self._key = None

    def _live(self) -> SigningKey:
        if self._key is None:
            raise KeyStoreError("the event key was destroyed after its signing event")
        return self._key


@dataclass(frozen=True)
class PersonSigner:
    """What a personal signature is made with: the key handle, its certificate and chain."""

    signer: SigningKey
    """Signs; for an event certificate, only inside the ``with`` block that made it."""
    certificate: x509.Certificate
    """The person's certificate (profile ``person`` or ``person_event``)."""
    chain: tuple[x509.Certificate, ...]
    """Personal-signing CA, then root: what a verifier needs besides the certificate."""
    identity: PersonIdentity
    """The verified identity the signature is made for (its token id names the event)."""
    event: bool
    """True for an event certificate, False for an official's long-lived one."""
    hierarchy: str
    """``rsa`` or ``sm2``: which CA hierarchy (and so which signature algorithm)."""


def _subject(name: str, id_hash: str, department: str | None) -> x509.Name:
    """GM/T 0015 / RFC 5280 subject of a natural person; the ID appears only hashed."""
    return build_name(
        country_name="CN",
        organization_name=department or "",
        common_name=name,
        serial_number=id_hash,
    )


def _chain(session: Session, person_ca: Certificate) -> tuple[x509.Certificate, ...]:
    root = session.get_one(Certificate, person_ca.issuer_certificate_id)
    return load_certificate(person_ca.der), load_certificate(root.der)


def _check_hierarchy(hierarchy: str) -> None:
    if hierarchy not in HIERARCHIES:
        raise InvalidInput(f"unknown hierarchy {hierarchy!r}: use rsa or sm2")


# --- event certificates -----------------------------------------------------------------------


@contextmanager
def event_signer(
    context: ServiceContext,
    person: PersonIdentity,
    *,
    hierarchy: str,
    actor: str,
    validity: timedelta = EVENT_VALIDITY,
) -> Iterator[PersonSigner]:
    """An event certificate for ``person`` and its in-memory key, for one ``with`` block.

    Audited as ``person.event_cert`` (provider, token id, certificate serial and key id —
    no ID number) when issued and ``key.destroy`` when the block ends, however it ends.
    """
    _check_hierarchy(hierarchy)
    if validity <= timedelta(0) or validity > timedelta(hours=1):
        raise InvalidInput("an event certificate lives for minutes (at most an hour)")
    key = _EventKey(algorithms.generate(HIERARCHIES[hierarchy]["leaf"]))
    key_id = compute_key_id(key.public_key_info)
    try:
        with context.database.session() as session:
            person_ca = context.ca.person_ca(session, hierarchy, actor=actor)
            row = context.ca.issue(
                session,
                hierarchy=hierarchy,
                profile=Profile.PERSON_EVENT,
                subject=_subject(person.name, person.id_hash, None),
                key_id=key_id,
                issuer_row=person_ca,
                actor=actor,
                validity=validity,
                public_key=key.public_key_info,
            )
            audit.append(
                session,
                action="person.event_cert",
                actor=actor,
                details={
                    "provider": person.provider,
                    "token_id": person.token_id,
                    "serial": row.serial,
                    "hierarchy": hierarchy,
                    "key_id": key_id,
                    "not_after": row.not_after.isoformat(),
                },
            )
            handle = PersonSigner(
                signer=key,
                certificate=load_certificate(row.der),
                chain=_chain(session, person_ca),
                identity=person,
                event=True,
                hierarchy=hierarchy,
            )
        yield handle
    finally:
        key.destroy()
        with context.database.session() as session:
            audit.append(
                session,
                action="key.destroy",
                actor=actor,
                details={"key_id": key_id, "reason": "event certificate: signing event over"},
            )


# --- officials --------------------------------------------------------------------------------


def enroll(
    context: ServiceContext,
    *,
    provider: str,
    subject: str,
    name: str,
    id_number: str,
    id_type: str = identity.DEFAULT_ID_TYPE,
    department: str | None = None,
    role: str | None = None,
    hierarchy: str,
    actor: str,
) -> int:
    """Enroll an official: what ``provider`` will assert of them, a key, a certificate.

    ``id_number`` is hashed at once and dropped; the row keeps the hash and a masked form.
    The key is made in the key store and deleted again if the transaction fails.  Audited
    as ``key.generate``, ``cert.issue`` and ``person.enroll`` (name and ID hash only).
    Returns the new person's id.
    """
    _check_hierarchy(hierarchy)
    for label, value, limit in (("subject", subject, 255), ("name", name, identity.NAME_LIMIT)):
        if not value.strip() or len(value) > limit:
            raise InvalidInput(f"the {label} must be 1-{limit} characters")
    if department is not None and not 0 < len(department) <= identity.NAME_LIMIT:
        raise InvalidInput(f"the department must be 1-{identity.NAME_LIMIT} characters")
    if role is not None and not 0 < len(role) <= 100:
        raise InvalidInput("the role must be 1-100 characters")
    if not 0 < len(id_type) <= 32:
        raise InvalidInput("the ID type must be 1-32 characters")
    algorithm = HIERARCHIES[hierarchy]["leaf"]
    with context.database.session(read_only=True) as session:
        idp_id = identity.get_provider(session, provider).id
        if session.scalar(
            select(Person.id).where(Person.provider_id == idp_id, Person.subject == subject)
        ):
            raise InvalidTransition(
                f"subject {subject!r} of {provider!r} is already enrolled (revoke it first)"
            )
    id_masked = identity.mask_id_number(id_number)
    info = context.keystore.generate(algorithm, label=f"person {hierarchy}")
    try:
        with context.database.session() as session:
            id_hash = identity.id_number_hash(session, id_number, id_type)
            audit.append(
                session,
                action="key.generate",
                actor=actor,
                details={"key_id": info.key_id, "algorithm": algorithm.value, "label": "person"},
            )
            person_ca = context.ca.person_ca(session, hierarchy, actor=actor)
            row = context.ca.issue(
                session,
                hierarchy=hierarchy,
                profile=Profile.PERSON,
                subject=_subject(name.strip(), id_hash, department),
                key_id=info.key_id,
                issuer_row=person_ca,
                actor=actor,
            )
            person = Person(
                provider_id=idp_id,
                subject=subject,
                name=name.strip(),
                id_type=id_type,
                id_hash=id_hash,
                id_masked=id_masked,
                department=department,
                role=role,
                hierarchy=hierarchy,
                key_id=info.key_id,
                certificate_id=row.id,
                status=PersonStatus.ACTIVE.value,
            )
            session.add(person)
            session.flush()
            audit.append(
                session,
                action="person.enroll",
                actor=actor,
                details={**_audit_details(person, provider), "serial": row.serial},
            )
    except BaseException:
        context.keystore.delete(info.key_id)
        raise
    with context.database.session(read_only=True) as session:
        context.ca.export_files(session)
    return person.id


def _audit_details(person: Person, provider: str) -> dict[str, Any]:
    return {
        "person_id": person.id,
        "provider": provider,
        "subject": person.subject,
        "name": person.name,
        "id_hash": person.id_hash,
        "department": person.department,
        "role": person.role,
    }


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no enrolled person with id {person_id} (see `sealctl person list`)")
    return person


def list_persons(session: Session, *, provider: str | None = None) -> list[Person]:
    query = select(Person).order_by(Person.id)
    if provider is not None:
        query = query.where(Person.provider_id == identity.get_provider(session, provider).id)
    return list(session.scalars(query))


def person_dict(person: Person) -> dict[str, Any]:
    """What ``sealctl person list|show --json`` prints: masked ID, never the number."""
    certificate = person.certificate
    return {
        "id": person.id,
        "provider": person.provider.name,
        "subject": person.subject,
        "name": person.name,
        "name_masked": identity.mask_name(person.name),
        "id_type": person.id_type,
        "id_masked": person.id_masked,
        "id_hash": person.id_hash,
        "department": person.department,
        "role": person.role,
        "hierarchy": person.hierarchy,
        "status": person.status,
        "created_at": person.created_at.isoformat(),
        "revoked_at": person.revoked_at.isoformat() if person.revoked_at else None,
        "certificate": {
            "serial": certificate.serial,
            "serial_hex": format(int(certificate.serial), "x"),
            "subject": certificate.subject,
            "not_after": certificate.not_after.isoformat(),
            "status": certificate.status,
        },
    }


def revoke(
    context: ServiceContext, person_id: int, *, reason: str = "unspecified", actor: str
) -> dict[str, Any]:
    """Revoke an official's certificate and enrolment and publish the personal CA's CRL.

    Audited as ``person.revoke`` (and ``crl.publish``); the CRL files are re-exported.
    Returns the person as :func:`person_dict` shows them.
    """
    if reason not in REVOCATION_REASONS:
        raise InvalidInput(f"unknown reason {reason!r}: use {', '.join(REVOCATION_REASONS)}")
    with context.database.session() as session:
        person = get_person(session, person_id)
        if person.status == PersonStatus.REVOKED.value:
            raise InvalidTransition(f"person {person_id} is already revoked")
        now = utcnow()
        person.status, person.revoked_at = PersonStatus.REVOKED.value, now
        certificate = person.certificate
        certificate.status = CertificateStatus.REVOKED.value
        certificate.revoked_at, certificate.revocation_reason = now, reason
        session.flush()
        audit.append(
            session,
            action="person.revoke",
            actor=actor,
            details={
                **_audit_details(person, person.provider.name),
                "serial": certificate.serial,
                "reason": reason,
            },
        )
        issuer = session.get_one(Certificate, certificate.issuer_certificate_id)
        if issuer.status == CertificateStatus.VALID.value:
            context.ca.publish_crl(session, person.hierarchy, Profile.PERSON_CA, actor=actor)
    with context.database.session(read_only=True) as session:
        context.ca.export_files(session)
        return person_dict(get_person(session, person_id))


def _refuse(context: ServiceContext, person: PersonIdentity, reason: str, actor: str) -> NoReturn:
    """Audit ``person.refused`` in a transaction of its own, then raise :class:`Forbidden`."""
    with context.database.session() as session:
        audit.append(
            session,
            action="person.refused",
            actor=actor,
            details={
                "provider": person.provider,
                "subject": person.subject,
                "token_id": person.token_id,
                "reason": reason,
            },
        )
    raise Forbidden(f"cannot sign as this person: {reason}")


def _usable_enrolment(session: Session, person: PersonIdentity) -> Person | str:
    """The official's enrolment whose key ``person`` may use, or why it may not: one lookup
    decides both, so the key used is the enrolment that was checked."""
    now = utcnow()
    idp = session.scalar(select(IdentityProvider).where(IdentityProvider.name == person.provider))
    if idp is None:
        return "the identity is not from a verified token"
    use = session.get(IdentityTokenUse, (idp.id, person.token_id))
    if use is None:
        return "the identity is not from a verified token"
    if use.expires_at <= now or now - use.used_at > FRESHNESS or person.expires_at <= now:
        return "the identity token is no longer fresh"
    enrolled = session.scalar(
        select(Person).where(Person.provider_id == idp.id, Person.subject == person.subject)
    )
    if enrolled is None:
        return "no official is enrolled for this account"
    if enrolled.id_hash != person.id_hash:
        return "the ID number differs from the enrolment"
    if enrolled.status != PersonStatus.ACTIVE.value:
        return "the official's enrolment is revoked"
    certificate = enrolled.certificate
    if certificate.status != CertificateStatus.VALID.value or certificate.not_after <= now:
        return "the official's certificate is not valid"
    return enrolled


def person_signer(context: ServiceContext, person: PersonIdentity, *, actor: str) -> PersonSigner:
    """The official's key and certificate, for a fresh identity of that same official.

    Refused (``person.refused``, :class:`Forbidden`) unless: the identity's token was used up
    by :func:`~sealsvc.identity.verify_id_token` less than :data:`FRESHNESS` ago and has
    not expired; an active enrolment has the same provider and subject; its ID hash is the
    identity's; and its certificate is valid.  So nothing but a verified token of the
    person — no API key, no identity object made up by a caller — unlocks the key.
    Audited as ``person.key_use``.
    """
    with context.database.session() as session:
        enrolled = _usable_enrolment(session, person)
        if isinstance(enrolled, Person):
            certificate = enrolled.certificate
            audit.append(
                session,
                action="person.key_use",
                actor=actor,
                details={
                    "person_id": enrolled.id,
                    "provider": person.provider,
                    "token_id": person.token_id,
                    "serial": certificate.serial,
                    "key_id": enrolled.key_id,
                },
            )
            chain = _chain(session, session.get_one(Certificate, certificate.issuer_certificate_id))
            handle = PersonSigner(
                signer=context.keystore.signer(enrolled.key_id),
                certificate=load_certificate(certificate.der),
                chain=chain,
                identity=person,
                event=False,
                hierarchy=enrolled.hierarchy,
            )
    if isinstance(enrolled, str):
        _refuse(context, person, enrolled, actor)
    return handle
