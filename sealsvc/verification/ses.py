"""Verification of a GB/T 38540 / GM/T 0031 ``SES_Signature`` over data the caller supplies.

The same ETSI EN 319 102-1 vocabulary as PDF verification (:mod:`.validator`), and the same
engine for everything that is not SES-specific: certificate paths through :mod:`.paths`
(one RFC 5280 rule set for every key family), revocation through :mod:`.revocation` at the
proven signing time, time-stamp tokens through the validator's token check (CMS, imprint,
TSA path and revocation).  What is SES-specific — the maker's signature over the seal,
the signer's over ``TBS_Sign``, the certList, ``dataHash``, the seal's validity window —
is :func:`pki.ses.check_signature`'s, mapped to sub-indications here.

Order of the checks (the first failing one decides):

1. format — the DER parses as SES v4 or v1 (FORMAT_FAILURE otherwise);
2. maker signature over the seal info, then signer signature over ``TBS_Sign``
   (SIG_CRYPTO_FAILURE); ``dataHash`` = SM3(data) (HASH_FAILURE; no data given:
   SIGNED_DATA_NOT_FOUND); signer certificate in the seal's certList
   (SIG_CONSTRAINTS_FAILURE);
3. time — the time-stamp over the signature value, when present and valid, is the proof of
   existence (best signature time); an unusable token is a warning, as for PDFs;
4. the seal's validity window contains the signing time (NOT_YET_VALID / EXPIRED);
5. signer and maker certificate paths to a trust anchor, now or — for a certificate that
   has expired since — at the proven time (NO_CERTIFICATE_CHAIN_FOUND for a seal of
   another issuer: we do not hold their roots);
6. revocation of both at the proven time (REVOKED / REVOKED_NO_POE / TRY_LATER);
7. our registry, for our own seals (``esID`` is a seal code and the ``SESeal`` one we
   made): a seal revoked before the proven signing time, or with no proof of time, fails
   like a revoked certificate; a suspended seal is TRY_LATER.  Revocation data says the
   same for the seal certificate; the registry also covers a seal object the CRL knows
   nothing of.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asn1crypto import cms, x509
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic
from sqlalchemy import select

from pki import algorithms
from pki.certificates import POLICY_SEAL_MAKER, load_certificate
from pki.chain import ChainFailure
from pki.clock import now_utc
from pki.errors import PkiError
from pki.ses import Layer, LayerResult, LayerStatus, SesSignature, check_signature, parse_signature
from pki.ses.check import clear_caches as clear_seal_checks
from sealsvc.db import Database
from sealsvc.models import Certificate, CertificateProfile, Seal, SealStatus, SesSeal
from sealsvc.trust_services import TrustServices
from sealsvc.verification.anchors import registry_anchors
from sealsvc.verification.certificates import shared_certificate
from sealsvc.verification.indication import CHAIN_SUBINDICATION, REVOCATION_SUBINDICATION, status_of
from sealsvc.verification.paths import Purpose, validate_path
from sealsvc.verification.pdf_signatures import CmsCheck
from sealsvc.verification.registry import database_lookup
from sealsvc.verification.report import (
    CertificateInfo,
    ChainCheck,
    RegistryMatch,
    RevocationCheck,
    SignatureReport,
    TimestampCheck,
    indication_name,
    iso_time,
    plain_fields,
    sub_indication_name,
)
from sealsvc.verification.revocation import EvidencePool, Outcome, RevocationFetcher
from sealsvc.verification.sentence import signature_sentence
from sealsvc.verification.validator import (
    RegistryLookup,
    TrustAnchors,
    VerificationContext,
    certificate_info,
    check_revocation,
    check_time_stamp,
)

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = [
    "SesRegistryLookup",
    "SesRegistryMatch",
    "SesVerification",
    "SesVerifier",
    "certificate_path",
    "clear_caches",
    "database_ses_lookup",
    "verify_ses",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SesRegistryMatch:
    """What our registry knows about the seal an ``SES_Signature`` names by its ``esID``."""

    seal_code: str
    seal_status: str
    """Stored status now: ``active``, ``suspended`` or ``revoked``."""
    revoked_at: datetime | None
    known_object: bool
    """The embedded ``SESeal`` is one our seal maker made for this seal."""
    superseded_at: datetime | None
    """When that object was replaced by a newer one (rotation, renewal, new image)."""


SesRegistryLookup = Callable[[str, str], SesRegistryMatch | None]
"""(``esID``, hex SHA-256 of the embedded ``SESeal``) → our registry's view, or ``None``."""


def database_ses_lookup(database: Database) -> SesRegistryLookup:
    """A :data:`SesRegistryLookup` over the ``seals`` and ``ses_seals`` tables."""

    def lookup(es_id: str, seal_sha256: str) -> SesRegistryMatch | None:
        with database.session(read_only=True) as session:
            seal = session.scalars(select(Seal).where(Seal.code == es_id)).one_or_none()
            if seal is None:
                return None
            made = session.scalars(
                select(SesSeal).where(SesSeal.sha256 == seal_sha256, SesSeal.seal_id == seal.id)
            ).one_or_none()
            return SesRegistryMatch(
                seal.code,
                seal.status,
                seal.revoked_at,
                made is not None,
                made.superseded_at if made is not None else None,
            )

    return lookup


@dataclass(frozen=True)
class SesVerification:
    """The report on one ``SES_Signature``: the ETSI verdict with everything behind it."""

    report: SignatureReport
    """Indication, sub-indication, English message, Chinese sentence; the signer, its
    path, revocation, the time-stamp and the registry match, in the PDF report's terms
    (``field_name`` is the signature's ``propertyInfo``)."""
    version: int | None
    """SES version read from the structure: 4 (GB/T 38540) or 1 (GM/T 0031); ``None`` when
    the DER could not be read."""
    es_id: str | None
    seal_name: str | None
    layers: tuple[LayerResult, ...]
    """The cryptographic layers (:func:`pki.ses.check_signature`), each passed, failed
    with a reason, or not checked."""
    maker: CertificateInfo | None
    """The seal maker's (制章者) certificate."""
    maker_chain: ChainCheck | None
    maker_revocation: RevocationCheck | None
    seal_registry: SesRegistryMatch | None
    seal_der: bytes | None = field(default=None, repr=False)
    """The embedded ``SESeal`` as read (an OFD's ``Seal.esl`` must be these bytes);
    ``None`` when the DER could not be read."""

    @property
    def passed(self) -> bool:
        return self.report.passed

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the PDF report's signature fields plus the SES ones."""
        return {
            "indication": indication_name(self.report.indication),
            "sub_indication": sub_indication_name(self.report.sub_indication),
            "message": self.report.message,
            "sentence": self.report.sentence,
            "version": self.version,
            "es_id": self.es_id,
            "seal_name": self.seal_name,
            "property_info": self.report.field_name,
            "signer": plain_fields(self.report.signer),
            "claimed_signing_time": iso_time(self.report.claimed_signing_time),
            "best_signature_time": iso_time(self.report.best_signature_time),
            "layers": [
                {
                    "layer": r.layer.value,
                    "status": r.status.value,
                    "reason": r.reason.value if r.reason else None,
                    "message": r.message,
                }
                for r in self.layers
            ],
            "chain": plain_fields(self.report.chain),
            "revocation": plain_fields(self.report.revocation),
            "timestamp": plain_fields(self.report.timestamp),
            "maker": plain_fields(self.maker),
            "maker_chain": plain_fields(self.maker_chain),
            "maker_revocation": plain_fields(self.maker_revocation),
            "registry": plain_fields(self.report.registry),
            "seal_registry": plain_fields(self.seal_registry),
            "warnings": list(self.report.warnings),
        }


_SES_SENTENCES: dict[Layer, str] = {
    Layer.MAKER_SIGNATURE: (
        "{who}的电子印章数据（制章者签名）校验失败，印章数据被篡改或伪造，印章无效。"
    ),
    Layer.SIGNER_SIGNATURE: "{who}的电子签章签名校验失败，印章无效。",
    Layer.DATA_HASH: "{who}加盖后，所签内容被篡改，印章无效。",
    Layer.CERT_LIST: "{who}的签章人证书不在电子印章允许的证书列表中，无法确认印章有效。",
}
_VALIDITY_SENTENCE = "{who}盖章时不在电子印章的有效期内，印章无效。"
_NO_DATA_SENTENCE = "未提供{who}所签的内容，无法确认其未被篡改。"
_MAKER_SENTENCE = "{who}的制章者证书不是由受信任的机构签发或已失效，无法确认印章有效。"
_SEAL_STATUS_SENTENCES = {
    SealStatus.REVOKED: "{who}已在登记机关注销（吊销），盖章不在此之前，印章无效。",
    SealStatus.SUSPENDED: "{who}目前已被暂停使用，请待其恢复或注销后再验证。",
}


@dataclass
class _Run:
    """What one verification has established so far (turned into the report at the end)."""

    property_info: str
    warnings: list[str]
    version: int | None = None
    es_id: str | None = None
    seal_name: str | None = None
    layers: tuple[LayerResult, ...] = ()
    signer: CertificateInfo | None = None
    claimed: datetime | None = None
    best_time: datetime | None = None
    registry: RegistryMatch | None = None
    timestamp: TimestampCheck | None = None
    chain: ChainCheck | None = None
    revocation: RevocationCheck | None = None
    maker: CertificateInfo | None = None
    maker_chain: ChainCheck | None = None
    maker_revocation: RevocationCheck | None = None
    seal_registry: SesRegistryMatch | None = None
    seal_der: bytes | None = None

    def finish(
        self,
        sub: AdESSubIndic | None,
        message: str,
        *,
        sentence: str | None = None,
        on_hold: bool = False,
    ) -> SesVerification:
        draft = SignatureReport(
            field_name=self.property_info,
            kind="signature",
            indication=status_of(sub),
            sub_indication=sub,
            message=message,
            sentence="",
            signer=self.signer,
            claimed_signing_time=self.claimed,
            best_signature_time=self.best_time,
            registry=self.registry,
            integrity=None,
            modifications=None,
            chain=self.chain,
            timestamp=self.timestamp,
            revocation=self.revocation,
            warnings=tuple(self.warnings),
        )
        who = f"“{self.seal_name}”" if self.seal_name else "该电子印章"
        text = sentence.format(who=who) if sentence else signature_sentence(draft, on_hold)
        report = SignatureReport(**{**draft.__dict__, "sentence": text})
        return SesVerification(
            report,
            self.version,
            self.es_id,
            self.seal_name,
            self.layers,
            self.maker,
            self.maker_chain,
            self.maker_revocation,
            self.seal_registry,
            self.seal_der,
        )


def verify_ses(
    der: bytes,
    data: bytes | None,
    *,
    trust: TrustAnchors,
    intermediates: Sequence[x509.Certificate] = (),
    registry_lookup: RegistryLookup | None = None,
    ses_lookup: SesRegistryLookup | None = None,
    now: datetime | None = None,
    fetcher: RevocationFetcher | None = None,
    maker_policy: str | None = None,
) -> SesVerification:
    """Verify the ``SES_Signature`` ``der`` over ``data`` (e.g. the raw ``Signature.xml``
    bytes); never raises for bad input.

    ``intermediates`` are CA certificates paths may use (the signature carries only the
    signer's and the maker's); ``fetcher`` answers CRL/OCSP URLs (none: no revocation data,
    so our own seals end TRY_LATER). ``maker_policy``, when given, is a certificate policy
    the maker's certificate must carry: our anchors certify seal keys too, and without it
    any seal's holder could sign a seal object of his own naming another seal.
    """
    run = _Run(property_info="", warnings=[])
    try:
        return _verify(
            run, der, data, trust, intermediates, registry_lookup, ses_lookup,
            now or now_utc(), fetcher, maker_policy,
        )  # fmt: skip
    except PkiError as exc:
        return run.finish(AdESFailure.FORMAT_FAILURE, f"not a readable SES_Signature: {exc}")
    except Exception as exc:  # a validator must answer for any input; log what we missed
        _log.warning("unexpected %s while verifying an SES_Signature", type(exc).__name__)
        _log.debug("traceback", exc_info=exc)
        return run.finish(
            AdESFailure.FORMAT_FAILURE,
            "the signature cannot be processed: its data has a structure we do not know",
        )


def _verify(
    run: _Run,
    der: bytes,
    data: bytes | None,
    trust: TrustAnchors,
    intermediates: Sequence[x509.Certificate],
    registry_lookup: RegistryLookup | None,
    ses_lookup: SesRegistryLookup | None,
    now: datetime,
    fetcher: RevocationFetcher | None,
    maker_policy: str | None,
) -> SesVerification:
    signature = parse_signature(der)
    run.property_info = signature.property_info
    run.seal_der = signature.seal.der
    run.version, run.es_id, run.seal_name = (
        signature.version,
        signature.seal.es_id,
        signature.seal.name,
    )
    run.claimed = signature.signing_time
    check = check_signature(signature, data)
    run.layers = check.layers
    signer, maker = (
        _readable(signature.signer_certificate),
        _readable(signature.seal.maker_certificate),
    )
    run.signer = certificate_info(signer) if signer is not None else None
    run.maker = certificate_info(maker) if maker is not None else None
    if ses_lookup is not None:
        es_id, seal_sha256 = signature.seal.es_id, hashlib.sha256(signature.seal.der).hexdigest()
        run.seal_registry = _consult(lambda: ses_lookup(es_id, seal_sha256), run.warnings)
        if run.seal_registry is not None and not run.seal_registry.known_object:
            run.warnings.append(
                f"esID {es_id} is one of our seal codes, but our seal maker did not make "
                "this seal object"
            )
    if registry_lookup is not None and run.signer is not None:
        sha256 = run.signer.sha256
        run.registry = _consult(lambda: registry_lookup(sha256), run.warnings)
    for layer in (Layer.MAKER_SIGNATURE, Layer.SIGNER_SIGNATURE, Layer.DATA_HASH):
        failed = _failed(check[layer])
        if failed is not None:
            return run.finish(failed[0], failed[1], sentence=_SES_SENTENCES[layer])
    if check[Layer.DATA_HASH].status is LayerStatus.NOT_CHECKED:
        return run.finish(
            AdESIndeterminate.SIGNED_DATA_NOT_FOUND,
            "no data was given to check dataHash against",
            sentence=_NO_DATA_SENTENCE,
        )
    failed = _failed(check[Layer.CERT_LIST])
    if failed is not None:
        return run.finish(*failed, sentence=_SES_SENTENCES[Layer.CERT_LIST])
    if signer is None or maker is None:
        who = "signer" if signer is None else "seal maker"
        return run.finish(AdESFailure.FORMAT_FAILURE, f"the {who} certificate cannot be read")

    # Signer, maker and TSA certificates are asked about together: one OCSP answer from
    # a responder for all those of one CA, one engine set-up for it and for their CRL.
    asked_about = [signer, maker]
    if check.time_stamp_certificate is not None:
        asked_about.append(shared_certificate(check.time_stamp_certificate))
    pool = EvidencePool([], [], fetcher, asked_about=asked_about)
    ctx = VerificationContext(trust.certificates, now, pool, [*intermediates], None)
    _time_stamp(signature, check[Layer.TIME_STAMP], check.time_stamp_certificate, ctx, run)
    failed = _failed(check[Layer.VALIDITY])
    if failed is not None:
        return run.finish(*failed, sentence=_VALIDITY_SENTENCE)

    failure, run.chain, signer_path = certificate_path(signer, ctx, run.best_time)
    if failure is not None:
        return run.finish(*failure)
    failure, run.maker_chain, maker_path = certificate_path(maker, ctx, run.best_time)
    if failure is not None:
        return run.finish(failure[0], f"seal maker: {failure[1]}", sentence=_MAKER_SENTENCE)
    if maker_policy is not None and maker_policy not in _policies(maker):
        return run.finish(
            AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE,
            "seal maker: the certificate that signed the seal is not a seal-maker certificate",
            sentence=_MAKER_SENTENCE,
        )
    if run.best_time is not None and run.best_time < signer.not_valid_before:
        return run.finish(AdESFailure.NOT_YET_VALID, "signed before the certificate was valid")

    outcome, run.revocation = check_revocation(signer_path, run.best_time, ctx)
    if outcome is not Outcome.GOOD:
        return run.finish(
            REVOCATION_SUBINDICATION[outcome],
            f"signer certificate: {outcome.value}",
            on_hold=outcome is Outcome.ON_HOLD,
        )
    outcome, run.maker_revocation = check_revocation(maker_path, run.best_time, ctx)
    if outcome is not Outcome.GOOD:
        return run.finish(
            REVOCATION_SUBINDICATION[outcome],
            f"seal maker certificate: {outcome.value}",
            sentence=_MAKER_SENTENCE,
        )
    refused = _registry_refusal(run.seal_registry, run.best_time, run.warnings)
    if refused is not None:
        return run.finish(*refused)
    return run.finish(None, "the electronic seal signature is valid")


def clear_caches() -> None:
    """Forget the certificates read from seals and the maker signatures checked (a
    benchmark's "cold" column)."""
    _readable.cache_clear()
    clear_seal_checks()


def _policies(certificate: x509.Certificate) -> set[str]:
    extension = certificate.certificate_policies_value
    if extension is None:
        return set()
    return {policy["policy_identifier"].dotted for policy in extension}


@functools.lru_cache(maxsize=256)
def _readable(der: bytes) -> x509.Certificate | None:
    """The certificate, or ``None`` if it is not one we can read (the crypto layers may
    still have been checked over its key: pki.ses reads certificates more leniently).

    Decoded in full once, on the process's shared object (:func:`shared_certificate`):
    path validation and revocation then read the very fields decoded here instead of
    parsing the certificate again, and the same seal and maker certificates come back in
    document after document (parsing one in full takes milliseconds: CJK names)."""
    certificate = shared_certificate(der)
    try:
        certificate.native  # noqa: B018  (as load_certificate: malformed input fails here)
    except (ValueError, TypeError):
        return None
    return certificate


def _consult(ask: Callable[[], Any], warnings: list[str]) -> Any:
    try:
        return ask()
    except Exception as exc:
        warnings.append(f"the seal registry could not be consulted: {exc}")
        return None


def _failed(result: LayerResult) -> tuple[AdESSubIndic, str] | None:
    if result.status is not LayerStatus.FAILED or result.reason is None:
        return None
    return result.reason.sub_indication, result.message


def _time_stamp(
    signature: SesSignature,
    layer: LayerResult,
    tsa_certificate: bytes | None,
    ctx: VerificationContext,
    run: _Run,
) -> None:
    """The proof of existence: the token's genTime if the token and its TSA are valid."""
    if signature.time_stamp_token is None:
        return
    if layer.status is LayerStatus.FAILED:
        run.warnings.append(f"time-stamp not usable: {layer.message}")
        return
    signed_data = cms.ContentInfo.load(signature.time_stamp_token)["content"]
    value = signature.signature
    token = check_time_stamp(
        signed_data,
        lambda name: algorithms.digest(name, value),
        [],
        ctx,
        _verified_token(signed_data, tsa_certificate),
    )
    run.timestamp = token.check
    if token.check.valid:
        run.best_time = token.check.time
    else:
        run.warnings.append(f"time-stamp not usable: {token.check.problem}")


def _verified_token(signed_data: cms.SignedData, tsa_certificate: bytes | None) -> CmsCheck | None:
    """The token's CMS result as :func:`pki.ses.check_signature` established it (its
    signature and message digest verified under ``tsa_certificate``), for the engine to
    go on from the TSA's path; ``None`` when that layer did not verify the token."""
    if tsa_certificate is None:
        return None
    certificates = [
        shared_certificate(c.chosen.dump())
        for c in signed_data["certificates"] or []
        if c.name == "certificate"
    ]
    signer = next((c for c in certificates if c.dump() == tsa_certificate), None)
    if signer is None:
        return None
    others = tuple(c for c in certificates if c is not signer)
    return CmsCheck(signer, True, True, others, None)


def certificate_path(
    certificate: x509.Certificate, ctx: VerificationContext, best_time: datetime | None
) -> tuple[tuple[AdESSubIndic, str] | None, ChainCheck, tuple[x509.Certificate, ...]]:
    """The path now, or at the proven time for a certificate that has expired since: the
    failure (if any), its report, and the path for the revocation checks."""
    result = validate_path(certificate, ctx.dss_certs, ctx.anchors, ctx.now, Purpose.SEAL)
    at: datetime = ctx.now
    if result.failure is ChainFailure.EXPIRED and best_time is not None:
        result = validate_path(certificate, ctx.dss_certs, ctx.anchors, best_time, Purpose.SEAL)
        at = best_time
    chain = ChainCheck(
        trusted=result.ok,
        path=tuple(c.subject.human_friendly for c in result.path),
        validated_at=at if result.ok else None,
        validator=result.validator,
        problem=result.message,
    )
    if result.failure is None:
        return None, chain, result.path
    failure = (CHAIN_SUBINDICATION[result.failure], result.message or "untrusted chain")
    return failure, chain, result.path


def _registry_refusal(
    match: SesRegistryMatch | None, best_time: datetime | None, warnings: list[str]
) -> tuple[AdESSubIndic, str] | None:
    """A revoked or suspended seal of ours: its use after that is not valid."""
    if match is None or not match.known_object:
        return None
    if (
        match.superseded_at is not None
        and best_time is not None
        and best_time > match.superseded_at
    ):
        warnings.append("the seal object had been replaced by a newer one before signing")
    if match.seal_status == SealStatus.REVOKED and match.revoked_at is not None:
        if best_time is None:
            return AdESIndeterminate.REVOKED_NO_POE, (
                "the seal is revoked and nothing proves the signature is older"
            )
        if best_time >= match.revoked_at:
            return AdESFailure.REVOKED, "the seal was revoked before the proven signing time"
    if match.seal_status == SealStatus.SUSPENDED:
        return AdESIndeterminate.TRY_LATER, "the seal is suspended at validation time"
    return None


class SesVerifier:
    """:func:`verify_ses` against the service's anchors, CA certificates, revocation data
    (answered in-process, as for PDFs) and registry, with seal makers held to our seal-maker
    policy; one per process, thread-safe."""

    def __init__(self, context: ServiceContext, trust: TrustServices | None = None) -> None:
        self._context = context
        self._anchors: TrustAnchors | None = None
        self._lock = threading.Lock()
        self._fetcher = (trust or TrustServices(context)).local_fetcher()
        self._lookup = database_lookup(context.database)
        self._ses_lookup = database_ses_lookup(context.database)

    def anchors(self) -> TrustAnchors:
        """Read once from the registry; re-read while still empty (a service started
        before its first CA)."""
        with self._lock:
            if self._anchors is None or not self._anchors.certificates:
                with self._context.database.session(read_only=True) as session:
                    self._anchors = registry_anchors(session)
            return self._anchors

    def intermediates(self) -> list[x509.Certificate]:
        """Our issuing CAs' certificates: an SES signature carries only its leaves."""
        with self._context.database.session(read_only=True) as session:
            ders = session.scalars(
                select(Certificate.der).where(
                    Certificate.profile == CertificateProfile.ISSUING_CA.value
                )
            ).all()
        return [load_certificate(der) for der in ders]

    def verify(
        self,
        der: bytes,
        data: bytes | None,
        *,
        now: datetime | None = None,
        fetcher: RevocationFetcher | None = None,
    ) -> SesVerification:
        """``fetcher`` replaces the in-process one (a caller that caches our answers)."""
        return verify_ses(
            der,
            data,
            trust=self.anchors(),
            intermediates=self.intermediates(),
            registry_lookup=self._lookup,
            ses_lookup=self._ses_lookup,
            now=now,
            fetcher=fetcher or self._fetcher,
            maker_policy=POLICY_SEAL_MAKER,
        )
