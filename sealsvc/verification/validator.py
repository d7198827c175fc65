"""``verify(pdf, trust=...)``: the validation report for every seal in a PDF.

Order of the checks per signature (the first failing one decides, as in EN 319 102-1
§5.3 basic validation followed by §5.5/§5.6 time and LTA processing):

1. format — the CMS can be read, the signer certificate is inside, the algorithm is known;
2. integrity — ByteRange covers the whole revision, digest = messageDigest, signature;
3. modifications — pyHanko's difference analysis and DocMDP;
4. time — the signature time-stamp (B-T) and later document time-stamps (B-LTA) are
   validated (token signature, imprint, TSA chain) and give the *best signature time*, the
   earliest proven moment the seal existed;
5. chain — to a trust anchor at the validation time; if a certificate has expired since,
   at the best signature time (that is what the time-stamp buys);
6. revocation — at the best signature time (:mod:`.revocation`).

Document time-stamps are reported like seals.  A time-stamp whose TSA certificate has
expired is still accepted when a later document time-stamp proves it existed before
(the B-LTA renewal chain), so documents keep validating years later.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from asn1crypto import cms, pem, tsp, x509
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import extract_self_reported_ts
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from pki import algorithms
from pki.chain import ChainFailure
from pki.chain import clear_caches as clear_chain_caches
from pki.clock import now_utc
from pki.errors import PkiError
from sealsvc.verification import pdf_signatures as pdfsig
from sealsvc.verification.algorithm_policy import SUNSET, digest_problem
from sealsvc.verification.cache import VerdictCache
from sealsvc.verification.certificates import clear_cache as clear_certificate_cache
from sealsvc.verification.certificates import shared_certificate
from sealsvc.verification.indication import (
    CHAIN_SUBINDICATION,
    REVOCATION_SUBINDICATION,
    document_verdict,
    status_of,
)
from sealsvc.verification.paths import Purpose, key_family, validate_path
from sealsvc.verification.report import (
    CertificateInfo,
    ChainCheck,
    DocumentVerdict,
    PersonInfo,
    RegistryMatch,
    RevocationCheck,
    SignatureReport,
    TimestampCheck,
    ValidationReport,
    clear_person_cache,
    person_info,
)
from sealsvc.verification.revocation import (
    TOLERANCE,
    Evidence,
    EvidencePool,
    Outcome,
    RevocationFetcher,
    decide,
    http_fetcher,
)
from sealsvc.verification.revocation import clear_caches as clear_revocation_caches
from sealsvc.verification.sentence import document_sentence, signature_sentence

__all__ = ["RegistryLookup", "TrustAnchors", "certificate_info", "clear_caches", "verify"]

_log = logging.getLogger(__name__)

_MAX_DSS_ENTRIES = 1000
"""Most certificates, CRLs or OCSP responses read from the DSS (each kind)."""
_MAX_DSS_BYTES = 64 * 1024 * 1024
"""Most bytes the decoded DSS may take: far above real CRLs and OCSP responses."""

RegistryLookup = Callable[[str], RegistryMatch | None]
"""Certificate SHA-256 (hex) → what the registry knows about the seal, or ``None``."""


@dataclass(frozen=True)
class TrustAnchors:
    """The certificates a path must end in: the service's RSA and SM2 roots plus imports."""

    certificates: tuple[x509.Certificate, ...]

    def __post_init__(self) -> None:
        # Shared objects read from DER (:mod:`.certificates`): an asn1crypto object built in
        # memory re-encodes itself on every dump(), one parsed from DER still walks its
        # parsed parts — and path building and CRL/OCSP matching dump anchors many times
        # per document.
        object.__setattr__(
            self, "certificates", tuple(shared_certificate(c.dump()) for c in self.certificates)
        )

    @classmethod
    def from_pem(cls, *blobs: bytes) -> TrustAnchors:
        """Anchors from PEM (one or more certificates per blob) or DER blobs."""
        found: list[x509.Certificate] = []
        for blob in blobs:
            if pem.detect(blob):
                found.extend(
                    x509.Certificate.load(der) for _, _, der in pem.unarmor(blob, multiple=True)
                )
            else:
                found.append(x509.Certificate.load(blob))
        return cls(tuple(found))

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> TrustAnchors:
        return cls.from_pem(*(Path(p).read_bytes() for p in paths))

    def __add__(self, other: TrustAnchors) -> TrustAnchors:
        return TrustAnchors(self.certificates + other.certificates)


@dataclass
class VerificationContext:
    """What one verification run knows: anchors, time, evidence, the registry."""

    anchors: tuple[x509.Certificate, ...]
    now: datetime
    pool: EvidencePool
    dss_certs: list[x509.Certificate]
    registry_lookup: RegistryLookup | None
    doc_ts_times: dict[int, datetime] = field(default_factory=dict)
    """Revision of each *valid* document time-stamp → its genTime (proof of existence)."""
    bounds: set[datetime] = field(default_factory=set)
    """Moments at which an input of the verdict changes with time: a certificate's
    notBefore/notAfter, an answer's nextUpdate, an algorithm's end date (see
    :meth:`valid_until`)."""

    def note_certificates(self, certificates: Iterable[x509.Certificate]) -> None:
        for certificate in certificates:
            try:
                validity = certificate["tbs_certificate"]["validity"]
                start, end = validity["not_before"].native, validity["not_after"].native
            except pdfsig.PARSE_ERRORS:
                continue  # undecodable: its paths fail as MALFORMED at any moment
            # Valid *at* notAfter, expired just after it.
            self.bounds.update((start, end + timedelta(microseconds=1)))

    def evidence(
        self,
        certificate: x509.Certificate,
        issuers: tuple[x509.Certificate, ...],
        best_time: datetime | None,
    ) -> list[Evidence]:
        """The pool's evidence for :func:`.revocation.decide`, noting the moments at which
        its reading changes: a hold taking effect and — judged at ``now`` when nothing
        proves an earlier signing time — an answer no longer being fresh."""
        found = self.pool.evidence(certificate, issuers)
        for e in found:
            if e.revoked_at is not None:
                self.bounds.add(e.revoked_at)
            if best_time is None and e.next_update is not None:
                # Usable while issued within TOLERANCE of now or now <= nextUpdate.
                after = max(e.issued_at + TOLERANCE, e.next_update + timedelta(microseconds=1))
                self.bounds.add(after)
        return found

    def valid_until(self) -> datetime:
        """The first moment after ``now`` at which this verdict may read differently."""
        later = [t for t in (*self.bounds, *SUNSET.values()) if t > self.now]
        return min(later, default=datetime.max.replace(tzinfo=self.now.tzinfo))


def verify(
    pdf: bytes,
    *,
    trust: TrustAnchors,
    registry_lookup: RegistryLookup | None = None,
    now: datetime | None = None,
    allow_fetching: bool = False,
    fetcher: RevocationFetcher | None = None,
    cache: VerdictCache | None = None,
    state: Hashable = None,
    reader: PdfFileReader | None = None,
) -> ValidationReport:
    """Validate every signature in ``pdf``; never raises for bad input.

    ``now`` is the validation time (default: the clock); ``allow_fetching`` lets revocation
    data be fetched from the certificates' CRL/OCSP URLs through ``fetcher`` (default:
    HTTP, :func:`.revocation.http_fetcher`).  With a ``cache`` (:class:`.VerdictCache`) a
    report computed before is returned while it still holds; when the registry is
    consulted or data fetched, only if the caller names the ``state`` those answers
    come from (a token that changes whenever they may).  ``reader``: ``pdf`` already
    opened by :func:`.pdf_signatures.open_reader`, shared with the caller.
    """
    now = now or now_utc()
    digest = hashlib.sha256(pdf).hexdigest()
    external = registry_lookup is not None or allow_fetching
    if cache is None or (external and state is None):
        return _verify(pdf, digest, trust, registry_lookup, now, allow_fetching, fetcher, reader)[0]
    key = VerdictCache.key(digest, trust.certificates, state)
    report = cache.get(key, now)
    if report is None:
        report, valid_until = _verify(
            pdf, digest, trust, registry_lookup, now, allow_fetching, fetcher, reader
        )
        cache.put(key, report, valid_until)
    return report


def _verify(
    pdf: bytes,
    digest: str,
    trust: TrustAnchors,
    registry_lookup: RegistryLookup | None,
    now: datetime,
    allow_fetching: bool,
    fetcher: RevocationFetcher | None,
    reader: PdfFileReader | None = None,
) -> tuple[ValidationReport, datetime]:
    """The report, and the first moment after ``now`` at which it may read differently."""
    try:
        document = pdfsig.read_document(pdf, reader)
        crls, ocsps, dss_certs = _read_dss(document)
    except pdfsig.FormatProblem as exc:
        encrypted = isinstance(exc, pdfsig.EncryptedPdf)
        return _unreadable(str(exc), now, digest, encrypted=encrypted), datetime.max.replace(
            tzinfo=now.tzinfo
        )
    try:
        archived_crls, archived_ocsps = _archived_revocation_info(document)
        pool = EvidencePool(
            [*crls, *archived_crls],
            [*ocsps, *archived_ocsps],
            (fetcher or http_fetcher) if allow_fetching else None,
            dss_certs,
        )
        ctx = VerificationContext(trust.certificates, now, pool, dss_certs, registry_lookup)
        ctx.note_certificates((*trust.certificates, *dss_certs))
        reports: dict[int, SignatureReport] = {}
        # Latest document time-stamp first: each proves the existence of everything before it.
        for index in reversed(range(len(document.signatures))):
            found = document.signatures[index]
            if found.kind == "document_timestamp":
                reports[index] = _guard(
                    found, functools.partial(_document_timestamp, document, found, ctx)
                )
        for index, found in enumerate(document.signatures):
            if found.kind == "signature":
                reports[index] = _guard(found, functools.partial(_signature, document, found, ctx))
        signatures = tuple(reports[i] for i in range(len(document.signatures)))
        return document_report(signatures, "PDF", now, digest), ctx.valid_until()
    finally:
        if reader is None:  # opened here: nothing else will ask it for objects
            pdfsig.release(document.reader)


def document_report(
    signatures: tuple[SignatureReport, ...], kind: str, now: datetime, digest: str
) -> ValidationReport:
    """The report on a document (``kind``: ``PDF`` or ``OFD``) from its signatures' own:
    the deciding signature gives the verdict, the message and the sentence."""
    verdict, deciding = document_verdict(signatures)
    if deciding is None:
        message = f"the {kind} carries no signature"
    elif deciding.passed:
        message = f"all {len(signatures)} signature(s) are valid"
    else:
        message = f"{deciding.field_name}: {deciding.message}"
    return ValidationReport(
        verdict=verdict,
        sub_indication=None if deciding is None else deciding.sub_indication,
        message=message,
        sentence=document_sentence(signatures, deciding),
        validation_time=now,
        document_sha256=digest,
        signatures=signatures,
    )


def clear_caches() -> None:
    """Empty the process's path, revocation-evidence and certificate caches: the next
    verification starts cold (a benchmark's "cold" column; verdicts never depend on it)."""
    clear_chain_caches()
    clear_revocation_caches()
    _certificate_info.cache_clear()
    clear_certificate_cache()
    clear_person_cache()


def _unreadable(
    problem: str, now: datetime, digest: str, *, encrypted: bool = False
) -> ValidationReport:
    sentence = (
        "文件已加密（需要打开密码），无法验证电子印章；请提供未加密的文件。"
        if encrypted
        else "文件不是有效的PDF文件或已损坏，无法验证电子印章。"
    )
    return ValidationReport(
        verdict=DocumentVerdict.TOTAL_FAILED,
        sub_indication=AdESFailure.FORMAT_FAILURE,
        message=problem,
        sentence=sentence,
        validation_time=now,
        document_sha256=digest,
    )


def _guard(found: pdfsig.FoundSignature, run: Callable[[], SignatureReport]) -> SignatureReport:
    """A malformed structure deep inside one signature fails that signature, not the run."""
    try:
        return run()
    except (*pdfsig.PARSE_ERRORS, PkiError, NotImplementedError, RecursionError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "malformed data"
        return _format_failure(found, f"the signature cannot be processed: {reason}")
    except Exception as exc:  # a validator must answer for any input; log what we missed
        # One line for operators; the traceback only when debugging.  A library's words
        # (AssertionError, attribute names) mean nothing to the reader of the report.
        _log.warning("unexpected %s while validating %s", type(exc).__name__, found.field_name)
        _log.debug("traceback", exc_info=exc)
        return _format_failure(
            found, "the signature cannot be processed: its data has a structure we do not know"
        )


def _read_dss(document: pdfsig.Document) -> tuple[list[bytes], list[bytes], list[x509.Certificate]]:
    try:
        dss = document.reader.root.get("/DSS")
        if dss is None:
            return [], [], []
        dss = dss.get_object()
        budget = _MAX_DSS_BYTES

        def streams(key: str, purpose: DecodePurpose) -> list[bytes]:
            # pyHanko's per-purpose limits (a certificate inflates to 1 MiB at most, a CRL
            # to 50x its size …) and a total: the decoded DSS stays in memory while we
            # validate, so without both a 5 MB upload held ~900 MB.
            nonlocal budget
            found = []
            # The arrays may themselves be indirect objects (EU DSS writes them so).
            entries = dss.get(key)
            entries = () if entries is None else entries.get_object()
            for ref in islice(entries, _MAX_DSS_ENTRIES):
                data = ref.get_object().read_data(purpose)
                budget -= len(data)
                if budget < 0:
                    raise pdfsig.FormatProblem(
                        f"the document security store holds over {_MAX_DSS_BYTES} bytes"
                    )
                found.append(data)
            return found

        certs = []
        for data in streams("/Certs", DecodePurpose.CERTIFICATE):
            try:
                certs.append(shared_certificate(data))
            except ValueError:
                continue
        return (
            streams("/CRLs", DecodePurpose.CRL),
            streams("/OCSPs", DecodePurpose.OCSP_RESPONSE),
            certs,
        )
    except pdfsig.PARSE_ERRORS as exc:
        raise pdfsig.FormatProblem(f"the document security store cannot be read: {exc}") from None


def _archived_revocation_info(document: pdfsig.Document) -> tuple[list[bytes], list[bytes]]:
    """CRLs and OCSP answers in Acrobat's signed ``adbe-revocationInfoArchival`` attributes.

    Acrobat (and PAdES-B-LT producers before the DSS) embed revocation data inside the
    signature; it is evidence like the DSS's, and each item is verified before use.
    """
    crls: list[bytes] = []
    ocsps: list[bytes] = []
    for found in document.signatures:
        if found.embedded is None:
            continue
        try:
            attrs = found.embedded.signer_info["signed_attrs"]
            for attr in attrs:
                if attr["type"].native != "adobe_revocation_info_archival":
                    continue
                for archive in attr["values"]:
                    crls.extend(c.dump() for c in islice(archive["crl"] or (), _MAX_DSS_ENTRIES))
                    ocsps.extend(o.dump() for o in islice(archive["ocsp"] or (), _MAX_DSS_ENTRIES))
        except pdfsig.PARSE_ERRORS:
            continue  # unreadable archive: no evidence from it, the signature says the rest
    return crls, ocsps


def certificate_info(certificate: x509.Certificate) -> CertificateInfo:
    """The :class:`CertificateInfo` of a certificate (worked out once per certificate:
    the same seal and TSA certificates come back in document after document)."""
    return _certificate_info(certificate.dump())


@functools.lru_cache(maxsize=1024)
def _certificate_info(der: bytes) -> CertificateInfo:
    # The shared object: names and validity the path check (or an SES seal's full decode)
    # has read already are not decoded again.
    certificate = shared_certificate(der)
    names = certificate.subject.native

    def first(value: object) -> str | None:
        if isinstance(value, list):
            return str(value[0]) if value else None
        return None if value is None else str(value)

    return CertificateInfo(
        subject=certificate.subject.human_friendly,
        common_name=first(names.get("common_name")),
        organizational_unit=first(names.get("organizational_unit_name")),
        organization=first(names.get("organization_name")),
        serial_hex=f"{certificate.serial_number:x}",
        issuer=certificate.issuer.human_friendly,
        algorithm=key_family(certificate),
        sha256=hashlib.sha256(der).hexdigest(),
        not_before=certificate.not_valid_before,
        not_after=certificate.not_valid_after,
    )


def _format_failure(found: pdfsig.FoundSignature, problem: str, **known: Any) -> SignatureReport:
    return _finish(found, AdESFailure.FORMAT_FAILURE, problem, **known)


def _finish(
    found: pdfsig.FoundSignature,
    sub: AdESSubIndic | None,
    message: str,
    *,
    on_hold: bool = False,
    **known: Any,
) -> SignatureReport:
    fields = dict(known)
    person = _person(found)
    signer = fields.get("signer")
    if person is not None and signer is not None and signer.common_name:
        message, fields = _masked(signer.common_name, person.name, message, fields)
    draft = SignatureReport(
        field_name=found.field_name,
        kind=found.kind,
        indication=status_of(sub),
        sub_indication=sub,
        message=message,
        sentence="",
        **fields,
        person=person,
    )
    return SignatureReport(
        **{**draft.__dict__, "sentence": signature_sentence(draft, on_hold=on_hold)}
    )


def _masked(
    name: str, masked: str, message: str, fields: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The report's texts with a person's ``name`` masked: a public answer shows 张*三 in
    the signer's names, the certificate path, the message and the warnings alike."""
    signer, chain = fields["signer"], fields.get("chain")  # the caller found a signer
    fields = {
        **fields,
        "signer": dataclasses.replace(
            signer, common_name=masked, subject=signer.subject.replace(name, masked)
        ),
        "warnings": tuple(w.replace(name, masked) for w in fields.get("warnings", ())),
    }
    if chain is not None:
        path = tuple(p.replace(name, masked) for p in chain.path)
        problem = chain.problem.replace(name, masked) if chain.problem else chain.problem
        fields["chain"] = dataclasses.replace(chain, path=path, problem=problem)
    return message.replace(name, masked), fields


def _person(found: pdfsig.FoundSignature) -> PersonInfo | None:
    """Who signed as a person, for a personal signature (its certificate's policy says so);
    the role is the signature's ``/Reason``."""
    embedded = found.embedded
    if embedded is None or found.kind != "signature":
        return None
    try:
        reason = embedded.sig_object.get("/Reason")
        # The shared certificate (:func:`.pdf_signatures.signer_certificate`), not
        # pyHanko's copy parsed afresh from every document.
        signer = pdfsig.signer_certificate(embedded.signed_data)
        return person_info(signer, str(reason) if reason is not None else None)
    except (*pdfsig.PARSE_ERRORS, SignatureValidationError):
        return None


# --- time-stamps -------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenCheck:
    """An RFC 3161 token checked: shared by PDF signatures and SES signatures."""

    check: TimestampCheck
    certificate: x509.Certificate | None
    cms: pdfsig.CmsCheck
    """The token's own CMS result; ``intact`` here also requires the imprint to match."""
    sub: AdESSubIndic | None
    """Why the token is not usable, as a sub-indication (``None`` when it is)."""


def _unique(certificates: list[x509.Certificate]) -> list[x509.Certificate]:
    """Each certificate once: the CMS and the DSS usually carry the same CA certificates."""
    return list({c.dump(): c for c in certificates}.values())


def _hash(algorithm: str, data: bytes) -> bytes:
    try:
        return algorithms.digest(algorithm, data)
    except PkiError:
        return hashlib.new(algorithm, data).digest()


def check_time_stamp(
    signed_data: cms.SignedData,
    imprint_of: Callable[[str], bytes],
    poe_times: Sequence[datetime],
    ctx: VerificationContext,
    integrity: pdfsig.CmsCheck | None = None,
) -> TokenCheck:
    """Validate an RFC 3161 token: CMS, imprint, TSA chain (now, else at a later POE).

    ``integrity`` is the token's CMS check when the caller has already made it (an SES
    signature's time-stamp layer verifies the same token): verifying its signature again
    would cost a parse and a signature verification per document for nothing."""
    tst_info = tsp.TSTInfo.load(bytes(signed_data["encap_content_info"]["content"]))
    gen_time = tst_info["gen_time"].native
    token = integrity
    if token is None:
        signer_info = signed_data["signer_infos"][0]
        algorithm = signer_info["digest_algorithm"]["algorithm"].native
        content_digest = _hash(algorithm, tst_info.dump())
        token = pdfsig.check_cms(signed_data, content_digest, "tst_info")
    ctx.note_certificates((*token.others, *([token.signer] if token.signer else ())))
    authority = "?"
    if token.signer is not None:
        info = certificate_info(token.signer)
        authority = info.common_name or info.subject

    def result(
        problem: str | None, sub: AdESSubIndic | None, checked: pdfsig.CmsCheck = token
    ) -> TokenCheck:
        check = TimestampCheck(gen_time, authority, problem is None, problem)
        return TokenCheck(check, token.signer, checked, sub)

    if token.problem or token.signer is None:
        problem = token.problem or "the time-stamp token has no signer certificate"
        return result(problem, AdESFailure.FORMAT_FAILURE)
    if not (token.intact and token.valid):
        return result(
            "the time-stamp token's signature does not verify", AdESFailure.SIG_CRYPTO_FAILURE
        )
    imprint = tst_info["message_imprint"]
    if (
        imprint_of(imprint["hash_algorithm"]["algorithm"].native)
        != imprint["hashed_message"].native
    ):
        mismatch = pdfsig.CmsCheck(token.signer, False, True, token.others, None)
        return result(
            "the time-stamp does not cover what it stamps", AdESFailure.HASH_FAILURE, mismatch
        )
    intermediates = _unique([*token.others, *ctx.dss_certs])
    path = validate_path(token.signer, intermediates, ctx.anchors, ctx.now, Purpose.TSA)
    if path.failure is ChainFailure.EXPIRED:
        later = sorted(t for t in poe_times if t >= gen_time)
        if later:
            path = validate_path(token.signer, intermediates, ctx.anchors, later[0], Purpose.TSA)
    if not path.ok:
        assert path.failure is not None  # noqa: S101  a path that is not ok names why
        return result(
            f"the time-stamp authority is not trusted: {path.message}",
            CHAIN_SUBINDICATION[path.failure],
        )
    for index, certificate in enumerate(path.path[:-1]):
        for evidence in ctx.pool.evidence(certificate, path.path[index + 1 :]):
            if evidence.status == "revoked" and evidence.revoked_at <= gen_time:
                return result(
                    "the time-stamp authority's certificate was revoked", AdESFailure.REVOKED
                )
    return result(None, None)


def _document_timestamp(
    document: pdfsig.Document, found: pdfsig.FoundSignature, ctx: VerificationContext
) -> SignatureReport:
    if found.embedded is None:
        return _format_failure(found, found.problem or "unreadable document time-stamp")
    embedded = found.embedded
    later = [t for rev, t in ctx.doc_ts_times.items() if rev > found.signed_revision]
    token = check_time_stamp(
        embedded.signed_data, lambda alg: embedded.compute_digest(alg), later, ctx
    )
    known: dict[str, Any] = {
        "signer": certificate_info(token.certificate) if token.certificate else None,
        "timestamp": token.check,
        "claimed_signing_time": token.check.time,
    }
    if token.sub is AdESFailure.FORMAT_FAILURE:
        return _format_failure(found, token.check.problem or "unreadable token", **known)
    known["integrity"] = integrity = pdfsig.integrity(found, token.cms)
    if not pdfsig.coverage_ok(integrity) or not integrity.digest_matches:
        message = "the time-stamped bytes were changed"
        return _finish(found, AdESFailure.HASH_FAILURE, message, **known)
    if not integrity.signature_valid:
        return _finish(found, AdESFailure.SIG_CRYPTO_FAILURE, token.check.problem or "", **known)
    known["modifications"] = modifications = pdfsig.modifications(document, found)
    if modifications.level == pdfsig.UNCLASSIFIED:
        known["warnings"] = (modifications.detail or "",)
        return _finish(found, AdESIndeterminate.GENERIC, modifications.detail or "", **known)
    if not modifications.allowed:
        return _finish(found, AdESFailure.HASH_FAILURE, modifications.detail or "", **known)
    if token.sub is not None:
        return _finish(found, token.sub, token.check.problem or "", **known)
    ctx.doc_ts_times[found.signed_revision] = token.check.time
    known["best_signature_time"] = token.check.time
    return _finish(found, None, "the document time-stamp is valid", **known)


# --- seals -------------------------------------------------------------------------------


def _registry(
    ctx: VerificationContext, info: CertificateInfo, warnings: list[str]
) -> RegistryMatch | None:
    if ctx.registry_lookup is None:
        return None
    try:
        return ctx.registry_lookup(info.sha256)
    except Exception as exc:
        warnings.append(f"the seal registry could not be consulted: {exc}")
        return None


def _signature(
    document: pdfsig.Document, found: pdfsig.FoundSignature, ctx: VerificationContext
) -> SignatureReport:
    if found.embedded is None:
        return _format_failure(found, found.problem or "unreadable signature")
    embedded = found.embedded
    warnings: list[str] = []
    cms_check = pdfsig.check_cms(embedded.signed_data, pdfsig.digest(found), "data")
    known: dict[str, Any] = {"claimed_signing_time": _claimed_time(embedded), "warnings": ()}
    if cms_check.problem or cms_check.signer is None:
        return _format_failure(found, cms_check.problem or "no signer certificate", **known)
    signer = cms_check.signer
    ctx.note_certificates((signer, *cms_check.others))
    info = certificate_info(signer)
    known["signer"] = info
    known["registry"] = _registry(ctx, info, warnings)
    known["integrity"] = integrity = pdfsig.integrity(found, cms_check)

    def finish(sub: AdESSubIndic | None, message: str, **more: Any) -> SignatureReport:
        return _finish(found, sub, message, **{**known, "warnings": tuple(warnings)}, **more)

    if not pdfsig.coverage_ok(integrity):
        return finish(
            AdESFailure.HASH_FAILURE,
            f"the byte range does not cover the revision ({integrity.coverage})",
        )
    if not integrity.digest_matches:
        return finish(AdESFailure.HASH_FAILURE, "the signed bytes were changed (digest mismatch)")
    if not integrity.signature_valid:
        return finish(AdESFailure.SIG_CRYPTO_FAILURE, "the signature value does not verify")
    known["modifications"] = modifications = pdfsig.modifications(document, found)
    if modifications.level == pdfsig.UNCLASSIFIED:
        # Never "tampered" for what we could not classify: say so, at worst INDETERMINATE.
        warnings.append(modifications.detail or "the later revisions cannot be classified")
        return finish(AdESIndeterminate.GENERIC, f"changes after signing: {modifications.detail}")
    if not modifications.allowed:
        sub = (
            AdESFailure.HASH_FAILURE
            if modifications.level == "OTHER"
            else AdESIndeterminate.SIG_CONSTRAINTS_FAILURE
        )
        return finish(sub, f"not allowed changes after signing: {modifications.detail}")

    # Time: the signature time-stamp, else the earliest later document time-stamp.
    poe_times = [t for rev, t in ctx.doc_ts_times.items() if rev > found.signed_revision]
    best_time = min(poe_times) if poe_times else None
    token_data = pdfsig.signature_timestamp_token(embedded)
    if token_data is not None:
        signature_value = embedded.signer_info["signature"].native
        token = check_time_stamp(
            token_data, lambda alg: _hash(alg, signature_value), poe_times, ctx
        )
        known["timestamp"] = token.check
        if token.check.valid:
            best_time = token.check.time if best_time is None else min(best_time, token.check.time)
        else:
            warnings.append(f"signature time-stamp not usable: {token.check.problem}")
    known["best_signature_time"] = best_time
    claimed = known["claimed_signing_time"]
    if claimed and best_time and abs((claimed - best_time).total_seconds()) > 3600:
        warnings.append("the claimed signing time differs from the time-stamp by over an hour")

    # Algorithms: a digest past its end date proves nothing unless the seal is older.
    for algorithm in (integrity.digest_algorithm, _signature_hash(embedded)):
        weak = digest_problem(algorithm, best_time, ctx.now)
        if weak is not None:
            return finish(AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE, weak)

    # Chain, at the validation time; for an expired certificate at the proven time.
    intermediates = _unique([*cms_check.others, *ctx.dss_certs])
    path = validate_path(signer, intermediates, ctx.anchors, ctx.now, Purpose.SEAL)
    validated_at: datetime | None = ctx.now
    if path.failure is ChainFailure.EXPIRED and best_time is not None:
        path = validate_path(signer, intermediates, ctx.anchors, best_time, Purpose.SEAL)
        validated_at = best_time
    known["chain"] = ChainCheck(
        trusted=path.ok,
        path=tuple(c.subject.human_friendly for c in path.path),
        validated_at=validated_at if path.ok else None,
        validator=path.validator,
        problem=path.message,
    )
    if not path.ok:
        assert path.failure is not None  # noqa: S101  a path that is not ok names why
        return finish(CHAIN_SUBINDICATION[path.failure], path.message or "untrusted chain")
    if best_time is not None and best_time < signer.not_valid_before:
        return finish(AdESFailure.NOT_YET_VALID, "sealed before the certificate became valid")

    # Revocation at the proven signing time: the signer, then the CA certificates.
    outcome, check = check_revocation(path.path, best_time, ctx)
    known["revocation"] = check
    if outcome is not Outcome.GOOD:
        return finish(
            REVOCATION_SUBINDICATION[outcome],
            _REVOCATION_MESSAGES[outcome],
            on_hold=outcome is Outcome.ON_HOLD,
        )
    return finish(None, "the seal is valid")


_REVOCATION_MESSAGES = {
    Outcome.REVOKED: "the certificate was revoked before the proven signing time",
    Outcome.REVOKED_NO_POE: "the certificate is revoked and nothing proves the seal is older",
    Outcome.ON_HOLD: "the certificate is on hold (suspended) at validation time",
    Outcome.NO_DATA: "no usable revocation information for the signing time",
}


def check_revocation(
    path: tuple[x509.Certificate, ...], best_time: datetime | None, ctx: VerificationContext
) -> tuple[Outcome, RevocationCheck]:
    if len(path) < 2:  # the signer is itself a trust anchor
        return Outcome.GOOD, RevocationCheck("good", None, None, None, None, None)
    outcome, check = decide(ctx.evidence(path[0], path[1:], best_time), best_time, ctx.now)
    if outcome is not Outcome.GOOD:
        return outcome, check
    for index in range(1, len(path) - 1):
        evidence = ctx.evidence(path[index], path[index + 1 :], best_time)
        ca_outcome, ca_check = decide(evidence, best_time, ctx.now)
        if ca_outcome in (Outcome.REVOKED, Outcome.REVOKED_NO_POE):
            return ca_outcome, ca_check
    return outcome, check


def _signature_hash(embedded: EmbeddedPdfSignature) -> str | None:
    """The hash inside the signature algorithm (sha1 of sha1WithRSA), if it names one."""
    try:
        return embedded.signer_info["signature_algorithm"].hash_algo
    except (ValueError, KeyError):
        return None


def _claimed_time(embedded: EmbeddedPdfSignature) -> datetime | None:
    try:
        return extract_self_reported_ts(embedded.signer_info) or embedded.self_reported_timestamp
    except (*pdfsig.PARSE_ERRORS,):
        return None
