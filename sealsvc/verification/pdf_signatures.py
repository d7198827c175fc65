"""Find the signatures in a PDF and judge what is algorithm-independent about them.

pyHanko reads the file, enumerates filled signature fields and checks, per signature:
the ``/ByteRange`` coverage (only the ``/Contents`` hole may be left out, and the whole
revision must be covered), the digest over it, and — for later revisions — its difference
analysis (:mod:`pyhanko.sign.diff_analysis`), which classifies every change as a further
signature, DSS/time-stamp update, form filling, annotation, or anything else.  None of this
depends on the signature algorithm, so SM2 seals go through exactly the same code as RSA
ones; only the CMS signature check (:func:`check_cms`) needs the SM2-aware validator.

Bad input never escapes as an exception: an unreadable file raises :class:`FormatProblem`
(one sentence), an unreadable signature becomes a :class:`FoundSignature` with ``problem``.
Size and complexity are bounded (:data:`MAX_PDF_BYTES`, :data:`MAX_SIGNATURES`,
:data:`MAX_REVISIONS`) so a hostile file cannot make validation run away.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from asn1crypto import cms, core, x509
from pyhanko.pdf_utils.generic import DictionaryObject
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    DiffResult,
    ModificationLevel,
    SuspiciousModification,
)
from pyhanko.sign.fields import MDPPerm, enumerate_sig_fields
from pyhanko.sign.general import SignedDataCerts
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import extract_certs_for_validation, validate_sig_integrity
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, read_certification_data
from pyhanko.sign.validation.status import SignatureCoverageLevel

from pki.chain import SmSignatureValidator
from sealsvc.verification.report import IntegrityCheck, ModificationCheck

__all__ = [
    "MAX_PDF_BYTES",
    "MAX_REVISIONS",
    "MAX_SIGNATURES",
    "CmsCheck",
    "Document",
    "FormatProblem",
    "FoundSignature",
    "check_cms",
    "read_document",
    "signature_timestamp_token",
]

MAX_PDF_BYTES = 100 * 1024 * 1024
"""Largest file the validator reads (the API applies its own, smaller upload limit)."""
MAX_SIGNATURES = 64
"""Most signature fields examined; a licence carries a handful."""
MAX_REVISIONS = 512
"""Most incremental updates accepted; each one costs a difference analysis."""

PARSE_ERRORS = (PdfError, ValueError, TypeError, KeyError, IndexError, AttributeError)
"""What pyHanko and asn1crypto raise on malformed input (asn1crypto: ValueError/TypeError)."""

_VALIDATOR = SmSignatureValidator()


class FormatProblem(Exception):
    """The file is not a readable PDF; the message says why in one sentence."""


@dataclass
class FoundSignature:
    """One filled signature field; ``embedded`` is ``None`` when it could not be parsed."""

    field_name: str
    kind: str
    embedded: EmbeddedPdfSignature | None
    problem: str | None = None

    @property
    def signed_revision(self) -> int:
        return self.embedded.signed_revision if self.embedded is not None else -1


@dataclass
class Document:
    """A parsed PDF and its signatures, oldest revision first."""

    reader: PdfFileReader
    signatures: list[FoundSignature]

    @property
    def revisions(self) -> int:
        return self.reader.xrefs.total_revisions


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def read_document(pdf: bytes) -> Document:
    """Parse ``pdf`` and collect its signatures; raise :class:`FormatProblem` if unreadable."""
    if len(pdf) > MAX_PDF_BYTES:
        raise FormatProblem(f"the file is larger than {MAX_PDF_BYTES} bytes")
    if b"%PDF-" not in pdf[:1024]:
        raise FormatProblem("the file is not a PDF (no %PDF- header)")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        if reader.xrefs.total_revisions > MAX_REVISIONS:
            raise FormatProblem(f"the PDF has more than {MAX_REVISIONS} revisions")
        if reader.encrypted:
            raise FormatProblem("the PDF is encrypted; signatures cannot be checked")
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except FormatProblem:
        raise
    except (*PARSE_ERRORS, RecursionError) as exc:
        raise FormatProblem(f"the PDF cannot be parsed: {_first_line(exc)}") from None
    if len(fields) > MAX_SIGNATURES:
        raise FormatProblem(f"the PDF has more than {MAX_SIGNATURES} signatures")
    found = [_found(reader, name, value, field) for name, value, field in fields]
    found.sort(key=lambda s: s.signed_revision)
    return Document(reader, found)


def _found(reader: PdfFileReader, name: str, value, field) -> FoundSignature:
    kind = "signature"
    try:
        sig_object = value.get_object()
        if sig_object.get("/Type") == "/DocTimeStamp":
            kind = "document_timestamp"
        embedded = EmbeddedPdfSignature(reader, field, name)
        _ = embedded.signer_info["signature"].native  # force parsing of the SignerInfo
    except (*PARSE_ERRORS, SignatureValidationError) as exc:
        return FoundSignature(
            name, kind, None, f"the signature data cannot be read: {_first_line(exc)}"
        )
    return FoundSignature(name, kind, embedded)


@dataclass(frozen=True)
class CmsCheck:
    """The CMS-level result of a signature or time-stamp token."""

    signer: x509.Certificate | None
    intact: bool
    valid: bool
    others: tuple[x509.Certificate, ...]
    problem: str | None


def check_cms(signed_data: cms.SignedData, content_digest: bytes, content_type: str) -> CmsCheck:
    """Check the one SignerInfo of ``signed_data`` against a digest of its content.

    ``intact`` is messageDigest == ``content_digest``; ``valid`` is the signature over the
    signed attributes (pyHanko's ``validate_sig_integrity`` with :class:`SmSignatureValidator`,
    so SM2 uses the Z value over the default signer ID).  A ``problem`` means the
    structure is unusable (FORMAT_FAILURE): no signer certificate, wrong content type,
    an algorithm we do not know.
    """
    try:
        certs = _signer_and_others(signed_data)
        signer_info = signed_data["signer_infos"][0]
        algorithm = signer_info["signature_algorithm"]
        try:
            if algorithm["algorithm"].native != "sm2_sm3":
                algorithm.signature_algo  # noqa: B018 - raises ValueError for an unknown OID
        except ValueError:
            return CmsCheck(
                certs.signer_cert,
                False,
                False,
                (),
                f"unknown signature algorithm {algorithm['algorithm'].dotted}",
            )
        intact, valid = validate_sig_integrity(
            signer_info, certs.signer_cert, content_type, content_digest, _VALIDATOR
        )
    except SignatureValidationError as exc:
        return CmsCheck(None, False, False, (), exc.failure_message)
    except (*PARSE_ERRORS, NotImplementedError) as exc:
        return CmsCheck(None, False, False, (), f"unusable CMS signature: {_first_line(exc)}")
    return CmsCheck(certs.signer_cert, intact, valid, tuple(certs.other_certs), None)


def _signer_and_others(signed_data: cms.SignedData) -> SignedDataCerts:
    """The signer's certificate by issuer DER and serial, else pyHanko's RFC 5280 lookup.

    pyHanko compares issuer names with asn1crypto's ``Name.__eq__``, which runs stringprep
    over every attribute (slow for CJK names); a byte-equal issuer is the normal case.
    """
    signer_info = signed_data["signer_infos"][0]
    sid = signer_info["sid"]
    certificates = [c.chosen for c in signed_data["certificates"] or [] if c.name == "certificate"]
    if sid.name == "issuer_and_serial_number":
        issuer, serial = sid.chosen["issuer"].dump(), sid.chosen["serial_number"].native
        for index, cert in enumerate(certificates):
            if cert.serial_number == serial and cert.issuer.dump() == issuer:
                others = certificates[:index] + certificates[index + 1 :]
                return SignedDataCerts(cert, others, [])
    return extract_certs_for_validation(signed_data)


def integrity(found: FoundSignature, cms_check: CmsCheck) -> IntegrityCheck:
    """Coverage and digest of an already parsed signature, with its CMS result."""
    embedded = found.embedded
    assert embedded is not None
    coverage = embedded.evaluate_signature_coverage()
    embedded.coverage = coverage
    return IntegrityCheck(
        byte_range=tuple(int(v) for v in embedded.byte_range),
        coverage=coverage.name,
        digest_algorithm=embedded.md_algorithm,
        digest_matches=cms_check.intact,
        signature_valid=cms_check.valid,
    )


def digest(found: FoundSignature) -> bytes:
    """Digest over the byte range with the algorithm the signature (or its imprint) names."""
    assert found.embedded is not None
    return found.embedded.compute_digest()


def coverage_ok(check: IntegrityCheck) -> bool:
    return check.coverage in (
        SignatureCoverageLevel.ENTIRE_FILE.name,
        SignatureCoverageLevel.ENTIRE_REVISION.name,
    )


def modifications(document: Document, found: FoundSignature) -> ModificationCheck:
    """pyHanko's difference analysis of everything after ``found``'s revision.

    The DocMDP permission is the one of the certification signature (if it precedes this
    signature) or of this signature's own field lock; changes beyond it, or changes pyHanko
    classes as ``OTHER`` (page content, replaced objects), are not allowed.
    """
    embedded = found.embedded
    assert embedded is not None and embedded.coverage is not None
    certification = read_certification_data(document.reader)
    is_certification = False
    docmdp: MDPPerm | None = embedded.docmdp_level
    if certification is not None:
        author = certification.author_sig
        is_certification = author.container_ref == embedded.sig_object.container_ref
        if author_revision(document, author) <= embedded.signed_revision:
            docmdp = _stricter(docmdp, certification.permission)
    later = document.revisions - 1 - embedded.signed_revision
    try:
        result = embedded.evaluate_modifications(DEFAULT_DIFF_POLICY)
    except PARSE_ERRORS as exc:
        result = SuspiciousModification(_first_line(exc))
    if isinstance(result, DiffResult):
        level = result.modification_level
        detail = None
    else:
        level = ModificationLevel.OTHER
        detail = _first_line(result)
    allowed = level is not ModificationLevel.OTHER and (
        docmdp is None or level.value <= docmdp.value
    )
    if not allowed and detail is None:
        detail = f"{level.name} changes exceed the DocMDP permission P={docmdp.value}"
    return ModificationCheck(
        later_revisions=later,
        level=level.name,
        allowed=allowed,
        docmdp=None if docmdp is None else docmdp.value,
        certification=is_certification,
        detail=detail,
    )


def author_revision(document: Document, author_sig: DictionaryObject) -> int:
    ref = author_sig.container_ref
    try:
        return document.reader.xrefs.get_last_change(ref)
    except (*PARSE_ERRORS, AttributeError):
        return 0


def _stricter(a: MDPPerm | None, b: MDPPerm) -> MDPPerm:
    return b if a is None else min(a, b, key=lambda p: p.value)


def signature_timestamp_token(embedded: EmbeddedPdfSignature) -> cms.SignedData | None:
    """The RFC 3161 token in the signature-time-stamp unsigned attribute (B-T), if any."""
    attrs = embedded.signer_info["unsigned_attrs"]
    if isinstance(attrs, core.Void):  # never ``.native``: it would decode the whole token
        return None
    for attr in attrs:
        if attr["type"].native == "signature_time_stamp_token":
            return attr["values"][0]["content"]
    return None
