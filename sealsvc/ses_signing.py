"""Make a GB/T 38540 ``SES_Signature`` with a registered SM2 seal, over any data's SM3 hash.

The seal-use flow of :mod:`sealsvc.sealing`, for SES instead of PAdES (the OFD sealing of
the next issue calls it with SM3(``Signature.xml``) and that file's path):

registry check (:func:`sealsvc.seals.signing_material`, the one way to a seal's key) and
the seal's current ``SESeal`` (:func:`sealsvc.ses_seals.current`), read in one snapshot →
signer handle from the key store (the key never leaves it) → :func:`pki.ses.sign_ses`,
time-stamped by our SM2 TSA in-process when asked → ``seal.use`` audit entry, in a
transaction that re-checks the seal's status first, so a signature made while a
revocation commits is dropped, never handed out.

Refusals — a suspended, revoked or expired seal, an RSA seal (GB/T 38540 is SM2 only), an
SM2 seal without its ``SESeal`` — are audited as ``seal.refused`` (:mod:`sealsvc.refusals`)
and raised; an unknown code is a plain :class:`~sealsvc.errors.NotFound`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pki.clock import now_utc
from pki.ses import sign_ses
from pki.sm2 import sm3
from sealsvc import audit, refusals, seals, ses_seals
from sealsvc.errors import Conflict, InvalidInput, SealNotUsable
from sealsvc.trust_services import TrustServices

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["FORMAT", "SealMaterial", "SesSignResult", "read_seal", "sign_hash"]

FORMAT = "ses"
"""``details.format`` of the ``seal.use`` entry, beside PAdES entries' ``level``."""

_SM3_BYTES = 32


@dataclass(frozen=True)
class SesSignResult:
    """An ``SES_Signature`` and what the audit log recorded about it."""

    der: bytes = field(repr=False)
    seal_code: str
    certificate_serial: str
    ses_seal_sha256: str
    """SHA-256 of the ``SESeal`` embedded (a row of ``ses_seals``)."""
    sha256: str
    """SHA-256 of ``der``, the ``document_hash`` of the audit entry."""
    time_stamped: bool
    audit_seq: int


@dataclass(frozen=True)
class SealMaterial:
    """What signing with a seal needs from the registry, read in one snapshot: the key and
    certificate (:func:`sealsvc.seals.signing_material`, without the CA chain, which an
    ``SES_Signature`` does not carry) and the seal's current ``SESeal``."""

    signing: seals.SealSigningMaterial
    ses_der: bytes = field(repr=False)
    ses_sha256: str


def read_seal(
    context: ServiceContext,
    code: str,
    *,
    actor: str,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> SealMaterial:
    """The registry check and the seal's current ``SESeal``, read once per seal use.

    A caller that needs the ``SESeal`` before signing (OFD sealing writes it to
    ``Seal.esl``) passes the result on to :func:`sign_hash` instead of having it read the
    seal again.  Refusals are audited (``seal.refused``) and raised as :func:`sign_hash`'s.
    """
    try:
        return _read(context, code, now or now_utc())
    except (SealNotUsable, ses_seals.NoSesSeal) as exc:
        refusals.record(context, actor=actor, seal_code=code, refusal=exc, details=details)
        raise


def _read(context: ServiceContext, code: str, now: datetime) -> SealMaterial:
    with context.database.session(read_only=True) as session:
        material = seals.signing_material(
            session,
            code,
            now=now,
            min_days_left=context.settings.min_cert_days_left,
            usage_limit=context.settings.seal_usage_limit,
            with_chain=False,  # an SES_Signature carries the signer's certificate only
        )
        ses_seal = ses_seals.current_for_signing(session, code)
        ses_der, ses_sha256 = ses_seal.der, ses_seal.sha256
        bound = ses_seal.certificate_der
    if bound != material.certificate_der:
        # Both change in one transaction, but on PostgreSQL (READ COMMITTED) a rotation may
        # commit between the two reads above: never sign with a seal object for another key.
        raise Conflict(f"seal {material.seal_code} changed while signing; try again")
    return SealMaterial(material, ses_der, ses_sha256)


def sign_hash(
    context: ServiceContext,
    code: str,
    data_hash: bytes,
    property_info: str,
    *,
    timestamp: bool,
    actor: str,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
    trust: TrustServices | None = None,
    material: SealMaterial | None = None,
) -> SesSignResult:
    """Sign ``data_hash`` (SM3, 32 bytes) with seal ``code`` as an ``SES_Signature`` v4.

    ``property_info`` is what the signature says it covers (for OFD, the path of
    ``Signature.xml``). ``timestamp`` adds an RFC 3161 token of our SM2 TSA over the
    signature value. ``details`` (e.g. the API's key id and client address) go into the
    ``seal.use`` or ``seal.refused`` entry. ``trust`` shares a process's TSA cache.
    ``material`` is :func:`read_seal`'s for ``code`` when the caller read it already; the
    seal's status is checked again in the audit transaction either way.
    """
    if len(data_hash) != _SM3_BYTES:
        raise InvalidInput(f"the data hash must be an SM3 digest of 32 bytes, not {len(data_hash)}")
    now = now or now_utc()
    material = material or read_seal(context, code, actor=actor, details=details, now=now)
    try:
        return _sign(context, material, data_hash, property_info, timestamp, actor, details, now,
                     trust)  # fmt: skip
    except SealNotUsable as exc:
        refusals.record(context, actor=actor, seal_code=code, refusal=exc, details=details)
        raise


def signature_timestamper(trust: TrustServices, hierarchy: str) -> Callable[[bytes], bytes]:
    """Our TSA of the signer's (SM2) hierarchy, in-process: a DER token whose imprint is
    SM3 of the signature value it is given, as GB/T 38540 asks of an ``SES_Signature``
    and CAdES-T of a GB/T 35275 SignerInfo."""
    tsa = trust.tsa(hierarchy)

    def stamp(signature_value: bytes) -> bytes:
        return tsa.stamp(sm3(signature_value), "sm3").dump()

    return stamp


def _sign(
    context: ServiceContext,
    seal: SealMaterial,
    data_hash: bytes,
    property_info: str,
    timestamp: bool,
    actor: str,
    details: dict[str, Any] | None,
    now: datetime,
    trust: TrustServices | None,
) -> SesSignResult:
    material, ses_sha256 = seal.signing, seal.ses_sha256
    code = material.seal_code
    timestamper = None
    if timestamp:
        timestamper = signature_timestamper(trust or TrustServices(context), material.hierarchy)
    der = sign_ses(
        seal=seal.ses_der,
        signer_certificate=material.certificate_der,
        signer=context.keystore.signer(material.key_id),
        data_hash=data_hash,
        property_info=property_info,
        signing_time=now,
        timestamper=timestamper,
    )
    sha256 = hashlib.sha256(der).hexdigest()
    with context.database.session() as session:
        # Re-check inside the audit transaction, as PDF sealing does: a revocation that
        # committed while we were signing wins and the signature is dropped.  So does a
        # rotation: the signature is the old key's, and an OFD's Seal.esl, written from
        # the same read, would name a seal object that is no longer current.
        current = seals.signing_material(
            session, code, now=now, lock=True, usage_limit=context.settings.seal_usage_limit,
            with_chain=False,
        )  # fmt: skip
        if current.certificate_der != material.certificate_der:
            raise Conflict(f"seal {code} changed while sealing; try again")
        entry = audit.append(
            session,
            action="seal.use",
            actor=actor,
            seal_code=material.seal_code,
            department_code=material.department_code,
            document_hash=sha256,
            details={
                "format": FORMAT,
                "data_hash_sm3": data_hash.hex(),
                "property_info": property_info,
                "certificate_serial": material.certificate_serial,
                "ses_seal_sha256": ses_sha256,
                "time_stamped": timestamp,
                **(details or {}),
            },
        )
        audit_seq = entry.seq
    return SesSignResult(
        der=der,
        seal_code=material.seal_code,
        certificate_serial=material.certificate_serial,
        ses_seal_sha256=ses_sha256,
        sha256=sha256,
        time_stamped=timestamp,
        audit_seq=audit_seq,
    )
