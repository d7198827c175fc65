"""Verification of sealed OFD documents (GB/T 33190 §18): the PDF report, for OFD.

An OFD's signatures are listed in ``Signatures.xml``; each ``Signature.xml`` names the files
it protects (``References``, one digest each), where its stamp goes (``StampAnnot``) and its
signed value: a GB/T 38540 / GM/T 0031 ``SES_Signature`` (``Type="Seal"``) or a GB/T 35275
SignedData (``Type="Sign"``, GM/T 0099), both over SM3 of the ``Signature.xml`` bytes.  This
module answers with the same :class:`~.report.ValidationReport` as a PDF — one
:class:`~.report.SignatureReport` per signature, the same indications, sub-indications and
Chinese sentences — so the CLI, the API and the citizens' page need not know the format.

Order of the checks per signature (the first failing one decides):

1. format — ``Signature.xml`` readable, its signed value present, a known ``Type``
   (FORMAT_FAILURE);
2. the signed value's own layers: for a seal :func:`.ses.verify_ses` (maker signature,
   signer signature over ``TBS_Sign``, ``dataHash`` = SM3(``Signature.xml``), certList,
   validity windows, time-stamp, signer and maker paths and revocation, our registry);
   for ``Type="Sign"`` :func:`pki.cms.verify_signed_data` over the ``Signature.xml`` bytes,
   then the same path, time-stamp and revocation engine.  Computed first, reported in the
   order below, so that a report on a tampered file still names who sealed it;
3. every ``Reference`` digest: a changed or missing file is TOTAL_FAILED / HASH_FAILURE,
   a malformed reference FORMAT_FAILURE; ``Seal.esl``, when named, must be the seal inside
   the signed value (HASH_FAILURE otherwise: the stamp shown is another seal's);
4. the stamp: every ``StampAnnot`` on a page that exists (FORMAT_FAILURE);
5. changes after sealing: files no ``Reference`` covers.  Other signatures' own files are
   expected; a file covered by an intact later signature was added with it (reported like
   a PDF's later revision); anything else was added behind every signature's back — if the
   document refers to it (its name appears in a part of the document), it changes what a
   reader shows: TOTAL_FAILED / HASH_FAILURE; if nothing refers to it, a warning;
6. a ``CheckMethod`` we cannot compute (SM3 with a key, an unknown name) leaves the
   integrity unproven: INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE — unless ``dataHash``
   shows ``Signature.xml`` itself was changed (a CheckMethod rewritten to hide changes);
7. the signed value's verdict from step 2 (its own sentence, e.g. the seal-maker wording);
8. ``propertyInfo`` must name this ``Signature.xml``: a signed value moved from another
   signature folder is INDETERMINATE / SIG_CONSTRAINTS_FAILURE.

A package that cannot be read at all — not a ZIP, a zip bomb, a path leaving the package,
``Signatures.xml`` naming a file outside it, XML with entities — is a report with verdict
TOTAL_FAILED / FORMAT_FAILURE, never an exception: :mod:`ofd.package` and :mod:`ofd.xml`
bound memory and refuse hostile input before this module sees it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from asn1crypto import cms, x509
from asn1crypto.core import OctetString
from PIL import Image, UnidentifiedImageError
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic

from ofd.errors import OfdError
from ofd.package import OfdPackage
from ofd.raster import render_page
from ofd.reader import read_package
from ofd.signatures import (
    DigestStatus,
    IntegrityResult,
    OfdSignature,
    SignatureEntry,
    SignatureType,
    check_references,
    document_page_ids,
    read_signature,
    read_signatures,
)
from ofd.xml import child, children, parse_xml
from pki import algorithms
from pki import cms as pki_cms
from pki.asn1 import oids
from pki.clock import now_utc
from pki.errors import PkiError, UnsupportedAlgorithm
from pki.ses import parse_signature
from sealsvc.ofd_attributes import APPEARANCE_ATTRIBUTE, claimed_role
from sealsvc.verification.indication import REVOCATION_SUBINDICATION, status_of
from sealsvc.verification.report import (
    DocumentVerdict,
    IntegrityCheck,
    ModificationCheck,
    RegistryMatch,
    SignatureReport,
    ValidationReport,
    person_info,
)
from sealsvc.verification.revocation import EvidencePool, Outcome, RevocationFetcher
from sealsvc.verification.sentence import signature_sentence
from sealsvc.verification.ses import SesRegistryLookup, certificate_path, verify_ses
from sealsvc.verification.validator import (
    RegistryLookup,
    TrustAnchors,
    VerificationContext,
    certificate_info,
    check_revocation,
    check_time_stamp,
    document_report,
)

__all__ = [
    "face_data_url",
    "licence_number_in_ofd",
    "read_ofd_package",
    "render_face",
    "verify_ofd",
]

_log = logging.getLogger(__name__)

_LICENCE_NUMBER = "证照编号"
"""The GB/T 36903 element our licences carry in ``DocInfo/CustomDatas`` (see
:mod:`sealsvc.licences.metadata`)."""

_SM2_SIGNATURE = "1.2.156.10197.1.301.1"
"""GM/T 0006's "SM2 signature" OID, which GB/T 35275 producers put into a SignerInfo's
``signatureAlgorithm`` with ``digestAlgorithm`` SM3: the same signature as sm2_sm3."""

_DATA_TYPES = frozenset({oids.GBT35275_DATA, "1.2.840.113549.1.7.1"})
_SIGNED_DATA_TYPES = frozenset({oids.GBT35275_SIGNED_DATA, "1.2.840.113549.1.7.2"})

_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError)
"""What asn1crypto raises on malformed DER, lazily, when a field is first read."""

_UNREADABLE_SENTENCE = "文件不是有效的OFD文件或已损坏，无法验证电子印章。"


@dataclass(frozen=True)
class _Found:
    """One listed signature, read and its References checked (or why it could not be)."""

    entry: SignatureEntry
    signature: OfdSignature | None
    integrity: IntegrityResult | None
    problem: str | None

    @property
    def own_files(self) -> set[str]:
        files = {self.entry.path}
        if self.signature is not None:
            files.add(self.signature.signed_value_path)
            if self.signature.seal_path is not None:
                files.add(self.signature.seal_path)
        return files

    @property
    def intact_files(self) -> set[str]:
        if self.integrity is None or not self.integrity.intact:
            return set()
        return {c.path for c in self.integrity.checks if c.path is not None}


@dataclass
class _Run:
    """Everything one signature's checks share."""

    package: OfdPackage
    found: tuple[_Found, ...]
    page_ids: frozenset[str]
    trust: TrustAnchors
    intermediates: Sequence[x509.Certificate]
    registry_lookup: RegistryLookup | None
    ses_lookup: SesRegistryLookup | None
    now: datetime
    fetcher: RevocationFetcher | None
    maker_policy: str | None


def verify_ofd(
    data: bytes,
    *,
    package: OfdPackage | None = None,
    trust: TrustAnchors,
    intermediates: Sequence[x509.Certificate] = (),
    registry_lookup: RegistryLookup | None = None,
    ses_lookup: SesRegistryLookup | None = None,
    now: datetime | None = None,
    fetcher: RevocationFetcher | None = None,
    maker_policy: str | None = None,
) -> ValidationReport:
    """Validate every signature of an OFD file; never raises for bad input.

    The arguments are :func:`.ses.verify_ses`'s: ``intermediates`` the CA certificates
    paths may use, ``fetcher`` the CRL/OCSP source (none: no revocation data, so our own
    seals end TRY_LATER), ``maker_policy`` the policy a seal maker's certificate must carry.
    ``package``, when given, is ``data`` already read (:func:`read_ofd_package`).
    """
    now = now or now_utc()
    digest = hashlib.sha256(data).hexdigest()
    try:
        package = package or OfdPackage.read(data)
        listing = read_signatures(package)
        page_ids = frozenset(document_page_ids(package)) if listing.entries else frozenset()
    except OfdError as exc:
        return _unreadable(str(exc), now, digest)
    found = tuple(_read(package, entry) for entry in listing.entries)
    run = _Run(
        package, found, page_ids, trust, intermediates, registry_lookup, ses_lookup, now,
        fetcher, maker_policy,
    )  # fmt: skip
    signatures = tuple(_guard(run, index) for index in range(len(found)))
    return document_report(signatures, "OFD", now, digest)


def _unreadable(problem: str, now: datetime, digest: str) -> ValidationReport:
    return ValidationReport(
        verdict=DocumentVerdict.TOTAL_FAILED,
        sub_indication=AdESFailure.FORMAT_FAILURE,
        message=f"not a readable OFD file: {problem}",
        sentence=_UNREADABLE_SENTENCE,
        validation_time=now,
        document_sha256=digest,
    )


def _read(package: OfdPackage, entry: SignatureEntry) -> _Found:
    try:
        signature = read_signature(package, entry)
        return _Found(entry, signature, check_references(package, signature), None)
    except OfdError as exc:
        return _Found(entry, None, None, str(exc))


def _finish(
    field_name: str,
    sub: AdESSubIndic | None,
    message: str,
    *,
    sentence: str | None = None,
    on_hold: bool = False,
    **known: Any,
) -> SignatureReport:
    draft = SignatureReport(
        field_name=field_name,
        kind="signature",
        indication=status_of(sub),
        sub_indication=sub,
        message=message,
        sentence="",
        **known,
    )
    return replace(draft, sentence=sentence or signature_sentence(draft, on_hold=on_hold))


def _guard(run: _Run, index: int) -> SignatureReport:
    """A malformed structure deep inside one signature fails that signature, not the run."""
    found = run.found[index]
    try:
        return _signature(run, index)
    except (OfdError, PkiError, *_PARSE_ERRORS, RecursionError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "malformed data"
        return _finish(
            found.entry.path,
            AdESFailure.FORMAT_FAILURE,
            f"the signature cannot be processed: {reason}",
        )
    except Exception as exc:  # a validator must answer for any input; log what we missed
        _log.warning("unexpected %s while validating %s", type(exc).__name__, found.entry.path)
        _log.debug("traceback", exc_info=exc)
        return _finish(
            found.entry.path,
            AdESFailure.FORMAT_FAILURE,
            "the signature cannot be processed: its data has a structure we do not know",
        )


@dataclass(frozen=True)
class _Layers:
    """The signed value's verdict: its report (field name still to set) and the seal
    inside it, for a ``Type="Seal"`` signature."""

    report: SignatureReport
    seal_der: bytes | None = None
    property_info: str | None = None


def _signature(run: _Run, index: int) -> SignatureReport:
    found = run.found[index]
    name = found.entry.path
    signature, integrity = found.signature, found.integrity
    if signature is None or integrity is None:
        return _finish(name, AdESFailure.FORMAT_FAILURE, found.problem or "unreadable signature")
    if signature.signed_value_path not in run.package:
        return _finish(
            name,
            AdESFailure.FORMAT_FAILURE,
            f"the signed value {signature.signed_value_path} is not in the package",
        )
    signed_value = run.package[signature.signed_value_path]
    if found.entry.type == SignatureType.SEAL:
        layers = _seal_layers(run, signed_value, signature.signature_xml)
    elif found.entry.type == SignatureType.SIGN:
        layers = _Layers(_sign_layers(run, signed_value, signature.signature_xml))
    else:
        return _finish(
            name,
            AdESFailure.FORMAT_FAILURE,
            f"unknown signature type {found.entry.type[:40]!r} (Seal or Sign expected)",
        )
    base = layers.report
    warnings = list(base.warnings)
    modifications, shown = _modifications(run, index, integrity, warnings)
    known: dict[str, Any] = {
        "signer": base.signer,
        "person": base.person,
        "claimed_signing_time": base.claimed_signing_time,
        "best_signature_time": base.best_signature_time,
        "registry": base.registry,
        "chain": base.chain,
        "timestamp": base.timestamp,
        "revocation": base.revocation,
        "integrity": IntegrityCheck(
            byte_range=(),
            coverage="ALL_FILES" if not modifications.detail else "REFERENCED_FILES",
            digest_algorithm=integrity.method,
            digest_matches=integrity.intact,
            signature_valid=base.sub_indication
            not in (AdESFailure.SIG_CRYPTO_FAILURE, AdESFailure.FORMAT_FAILURE),
        ),
        "modifications": modifications,
    }

    def finish(sub: AdESSubIndic | None, message: str, **more: Any) -> SignatureReport:
        return _finish(name, sub, message, **known, warnings=tuple(warnings), **more)

    broken = [c for c in integrity.checks if c.status is DigestStatus.MALFORMED]
    if broken:
        return finish(AdESFailure.FORMAT_FAILURE, broken[0].message)
    changed = [
        c for c in integrity.checks if c.status in (DigestStatus.MISMATCH, DigestStatus.MISSING)
    ]
    if changed:
        detail = "; ".join(c.message for c in changed[:3])
        if changed[0].status is DigestStatus.MISSING:
            detail = f"a file listed in References is missing: {detail}"
        return finish(AdESFailure.HASH_FAILURE, detail)
    if (
        layers.seal_der is not None
        and signature.seal_path is not None
        and run.package.get(signature.seal_path) != layers.seal_der
    ):
        return finish(
            AdESFailure.HASH_FAILURE,
            f"{signature.seal_path} is not the seal inside the signed value",
        )
    elsewhere = sorted({s.page_ref for s in signature.stamp_annots} - run.page_ids)
    if elsewhere:
        return finish(
            AdESFailure.FORMAT_FAILURE,
            f"the stamp is placed on page ID {elsewhere[0][:40]!r}, which the document lacks",
        )
    if shown:
        return finish(
            AdESFailure.HASH_FAILURE,
            f"added after sealing, covered by no signature, and shown by the document: "
            f"{', '.join(shown[:3])}",
        )
    if integrity.method is None and base.sub_indication is not AdESFailure.HASH_FAILURE:
        # (a dataHash that fails says Signature.xml itself changed: that decides, below)
        if not base.passed:
            warnings.append(f"the signed value: {base.message}")
        return finish(
            AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
            integrity.unsupported_reason or "the digest method is not supported",
        )
    if not base.passed:
        return finish(base.sub_indication, base.message, sentence=base.sentence)
    if layers.property_info is not None and not _names(layers.property_info, name):
        return finish(
            AdESIndeterminate.SIG_CONSTRAINTS_FAILURE,
            f"the signed value was made for {layers.property_info[:120]!r}, not for {name}",
        )
    if found.entry.type == SignatureType.SEAL and not signature.stamp_annots:
        warnings.append("the seal has no StampAnnot: no stamp is shown on any page")
    return finish(None, base.message)


def _names(property_info: str, path: str) -> bool:
    """``propertyInfo`` names the ``Signature.xml`` at ``path`` (absolute or not)."""
    return posixpath.normpath("/" + property_info.strip().lstrip("/")) == "/" + path


def _seal_layers(run: _Run, der: bytes, signature_xml: bytes) -> _Layers:
    result = verify_ses(
        der,
        signature_xml,
        trust=run.trust,
        intermediates=run.intermediates,
        registry_lookup=run.registry_lookup,
        ses_lookup=run.ses_lookup,
        now=run.now,
        fetcher=run.fetcher,
        maker_policy=run.maker_policy,
    )
    if result.version is None:  # not a readable SES_Signature: no seal, no propertyInfo
        return _Layers(result.report)
    return _Layers(result.report, result.seal_der, result.report.field_name)


def _modifications(
    run: _Run, index: int, integrity: IntegrityResult, warnings: list[str]
) -> tuple[ModificationCheck, list[str]]:
    """What was added after signature ``index`` (whose References gave ``integrity``); the
    added files the document shows."""
    later = run.found[index + 1 :]
    owned = set().union(*(f.own_files for f in run.found))
    owned.add(run.found[index].entry.signatures_path)
    covered_later = set().union(*(f.intact_files for f in later))
    extra = [p for p in integrity.uncovered if p not in owned]
    with_later = [p for p in extra if p in covered_later]
    behind = [p for p in extra if p not in covered_later]
    shown = [p for p in behind if _referenced(run.package, p, owned)]
    hidden = [p for p in behind if p not in shown]
    if with_later:
        warnings.append(f"added after this signature with a later one: {', '.join(with_later[:5])}")
    if hidden:
        warnings.append(
            f"files no signature covers (not shown by the document): {', '.join(hidden[:5])}"
        )
    if shown:
        level, detail = "OTHER", f"files added and shown, covered by no signature: {shown[:5]}"
    elif later:
        level, detail = "FORM_FILLING", None
    else:
        level, detail = "NONE", None
    if hidden and detail is None:
        detail = f"files no signature covers: {', '.join(hidden[:5])}"
    return (
        ModificationCheck(
            later_revisions=len(later),
            level=level,
            allowed=not shown,
            docmdp=None,
            certification=False,
            detail=detail,
        ),
        shown,
    )


def _referenced(package: OfdPackage, path: str, owned: set[str]) -> bool:
    """Some part of the document names ``path``'s file (``BaseLoc``, ``MediaFile``,
    ``FontFile`` …, which are absolute or relative: the file name is what they share)."""
    name = posixpath.basename(path).encode("utf-8")
    return any(
        name in package[other]
        for other in package
        if other != path and other not in owned and other.lower().endswith(".xml")
    )


# --- Type="Sign": GM/T 0099 / GB/T 35275 SignedData ----------------------------------------


def _sign_layers(run: _Run, der: bytes, signature_xml: bytes) -> SignatureReport:
    """A detached SignedData over the ``Signature.xml`` bytes, through :mod:`pki.cms` and
    the engine's path, time-stamp and revocation checks."""
    try:
        # the same two fields under RFC 5652's or GB/T 35275's signedData OID
        value = pki_cms.Gbt35275ContentInfo.load(der)
        if value["content_type"].dotted not in _SIGNED_DATA_TYPES:
            raise ValueError(f"content type {value['content_type'].dotted} is not signedData")
        signed_data = value["content"]
        signer_info = signed_data["signer_infos"][0]
        digest_algorithm = signer_info["digest_algorithm"]["algorithm"].native
        attributes = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
        signed_digest = attributes["message_digest"].native
        signed_data = _as_rfc5652(signed_data, attributes["content_type"].dotted)
        content_info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
        certificates = [
            c.chosen for c in signed_data["certificates"] or [] if c.name == "certificate"
        ]
    except (*_PARSE_ERRORS, PkiError) as exc:
        return _finish("", AdESFailure.FORMAT_FAILURE, f"not a readable SignedData: {exc}")
    try:
        content_digest = algorithms.digest(digest_algorithm, signature_xml)
    except UnsupportedAlgorithm as exc:
        return _finish("", AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE, str(exc))
    try:
        identity = pki_cms.verify_signed_data(content_info, signature_xml)
    except UnsupportedAlgorithm as exc:
        return _finish("", AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE, str(exc))
    except PkiError as exc:
        if content_digest != signed_digest:
            return _finish(
                "", AdESFailure.HASH_FAILURE, "the signed digest is not SM3 of Signature.xml"
            )
        return _finish("", AdESFailure.SIG_CRYPTO_FAILURE, str(exc))
    signer = identity.certificate
    info = certificate_info(signer)
    warnings: list[str] = []
    known: dict[str, Any] = {
        "signer": info,
        "person": person_info(signer, _role(signer_info)),
        "claimed_signing_time": identity.signing_time,
        "registry": _registry(run, info.sha256, warnings),
    }
    ctx = VerificationContext(
        run.trust.certificates,
        run.now,
        EvidencePool([], [], run.fetcher),
        [*certificates, *run.intermediates],
        None,
    )
    best_time = _signature_time_stamp(signer_info, ctx, known, warnings)

    def finish(sub: AdESSubIndic | None, message: str, **more: Any) -> SignatureReport:
        return _finish("", sub, message, **known, warnings=tuple(warnings), **more)

    failure, known["chain"], path = certificate_path(signer, ctx, best_time)
    if failure is not None:
        return finish(*failure)
    if best_time is not None and best_time < signer.not_valid_before:
        return finish(AdESFailure.NOT_YET_VALID, "signed before the certificate was valid")
    outcome, known["revocation"] = check_revocation(path, best_time, ctx)
    if outcome is not Outcome.GOOD:
        return finish(
            REVOCATION_SUBINDICATION[outcome],
            f"signer certificate: {outcome.value}",
            on_hold=outcome is Outcome.ON_HOLD,
        )
    return finish(None, "the signature is valid")


def _role(signer_info: cms.SignerInfo) -> str | None:
    """The signer's claimed role; an unreadable one is no role (the signature still
    verifies over the attribute's bytes, whatever they hold)."""
    try:
        return claimed_role(signer_info)
    except _PARSE_ERRORS:
        return None


def _as_rfc5652(signed_data: cms.SignedData, attribute_type: str) -> cms.SignedData:
    """``signed_data`` in the names :func:`pki.cms.verify_signed_data` checks, where a
    GB/T 35275 producer uses its own for the same thing: SM2 signature OID
    ``1.2.156.10197.1.301.1`` (with SM3 as digestAlgorithm) for sm2_sm3, and eContentType
    id-data under a content-type attribute of GB/T 35275 data.  Only unsigned fields change
    (the signature covers the signed attributes), so nothing signed is reinterpreted."""
    signed_data = signed_data.copy()
    signer_info = signed_data["signer_infos"][0]
    if signer_info["signature_algorithm"]["algorithm"].dotted == _SM2_SIGNATURE:
        signer_info = signer_info.copy()
        signer_info["signature_algorithm"] = {"algorithm": "sm2_sm3"}
        signed_data["signer_infos"] = [signer_info]
    encap = signed_data["encap_content_info"]
    if {encap["content_type"].dotted, attribute_type} == _DATA_TYPES:
        signed_data["encap_content_info"] = {"content_type": attribute_type}
    return signed_data


def _registry(run: _Run, sha256: str, warnings: list[str]) -> RegistryMatch | None:
    """Our registry's view of a ``Type="Sign"`` signer's certificate (a seal key of ours
    may sign without a seal object); a failing lookup is a warning, not a verdict."""
    if run.registry_lookup is None:
        return None
    try:
        return run.registry_lookup(sha256)
    except Exception as exc:
        warnings.append(f"the seal registry could not be consulted: {exc}")
        return None


def _signature_time_stamp(
    signer_info: cms.SignerInfo,
    ctx: VerificationContext,
    known: dict[str, Any],
    warnings: list[str],
) -> datetime | None:
    """The proof of time of a SignedData: its signature time-stamp token, if valid."""
    unsigned = signer_info["unsigned_attrs"]
    tokens = [
        a["values"][0] for a in unsigned or [] if a["type"].native == "signature_time_stamp_token"
    ]
    if not tokens:
        return None
    value = signer_info["signature"].native
    token = check_time_stamp(
        tokens[0]["content"], lambda name: algorithms.digest(name, value), [], ctx
    )
    known["timestamp"] = token.check
    if not token.check.valid:
        warnings.append(f"signature time-stamp not usable: {token.check.problem}")
        return None
    known["best_signature_time"] = token.check.time
    return token.check.time


# --- what the citizens' page shows ---------------------------------------------------------


def read_ofd_package(data: bytes) -> OfdPackage | None:
    """``data`` as a package, ``None`` if it is not one (:func:`verify_ofd` then says why):
    read once for both the verification and the licence lookup."""
    try:
        return OfdPackage.read(data)
    except OfdError:
        return None


def licence_number_in_ofd(package: OfdPackage | None) -> str | None:
    """The licence number in ``DocInfo/CustomDatas`` (证照编号), as our renderer writes it;
    ``None`` for a file without one or one that cannot be read.  Like the PDF's XMP it only
    chooses which registered licence to compare with."""
    if package is None:
        return None
    try:
        root = parse_xml(package.file("OFD.xml"), "OFD.xml")
    except OfdError:
        return None
    for body in children(root, "DocBody"):
        info = child(body, "DocInfo")
        customs = child(info, "CustomDatas") if info is not None else None
        for custom in children(customs, "CustomData") if customs is not None else ():
            if custom.get("Name") == _LICENCE_NUMBER and custom.text and custom.text.strip():
                return custom.text.strip()[:64]
    return None


def render_face(data: bytes, *, dpi: float = 96, max_pixels: int = 4_000_000) -> bytes | None:
    """Page 1 of the OFD as a PNG, with each seal's picture where its ``StampAnnot`` puts
    it on that page (:mod:`ofd.raster` draws page content only; a stamp is a signature's
    appearance).  ``None`` when the file cannot be read or the page is over ``max_pixels``."""
    try:
        package = OfdPackage.read(data)
        document = read_package(package)
        if not document.pages:
            return None
        page = document.pages[0]
        if page.width * page.height * (dpi / 25.4) ** 2 > max_pixels:
            return None
        image = render_page(page, dpi).convert("RGBA")
        first_page = document_page_ids(package)[0]
        for entry in document.signatures:
            _draw_stamps(package, entry, first_page, image, dpi)
    except (OfdError, PkiError, *_PARSE_ERRORS) as exc:
        _log.info("no face for an uploaded OFD: %s", exc)
        return None
    out = io.BytesIO()
    image.convert("RGB").save(out, "PNG", optimize=True)
    return out.getvalue()


def _draw_stamps(
    package: OfdPackage, entry: SignatureEntry, page_id: str, image: Image.Image, dpi: float
) -> None:
    """Paste a signature's picture into its ``StampAnnot`` boundaries on the page: a seal's
    from its ``SESeal``, a ``Type="Sign"``'s from its signed appearance attribute."""
    try:
        signature = read_signature(package, entry)
        picture = _picture(entry, package[signature.signed_value_path])
        if picture is None:
            return
        if picture.width * picture.height > _MAX_PICTURE_PIXELS:
            return  # a decompression bomb is no stamp to show
        picture.load()
    except (OfdError, PkiError, KeyError, UnidentifiedImageError, OSError, *_PARSE_ERRORS):
        return  # no picture we can show (an OFD-vector seal, an unreadable one)
    scale = dpi / 25.4
    for stamp in signature.stamp_annots:
        if stamp.page_ref != page_id:
            continue
        x, y, width, height = (round(v * scale) for v in stamp.boundary)
        if not (0 < width <= image.width and 0 < height <= image.height):
            continue
        fitted = picture.convert("RGBA").resize((width, height))
        image.paste(fitted, (x, y), fitted)  # clipped at the page's edges


_MAX_PICTURE_PIXELS = 16_000_000
"""Largest stamp picture decoded for the page (a 4,000-pixel square)."""


def _picture(entry: SignatureEntry, signed_value: bytes) -> Image.Image | None:
    """The picture a signature shows, opened lazily (not yet decoded), or ``None``."""
    if entry.type == SignatureType.SEAL:
        return Image.open(io.BytesIO(parse_signature(signed_value).seal.picture.data))
    if entry.type != SignatureType.SIGN:
        return None
    signer_info = pki_cms.Gbt35275ContentInfo.load(signed_value)["content"]["signer_infos"][0]
    for attribute in signer_info["signed_attrs"] or []:
        if attribute["type"].dotted == APPEARANCE_ATTRIBUTE:
            png = attribute["values"][0].parsed
            if isinstance(png, OctetString):
                return Image.open(io.BytesIO(png.native))
    return None


def face_data_url(png: bytes) -> str:
    """A PNG as a ``data:`` URL, for a page that keeps no state between requests."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
