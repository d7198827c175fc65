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

import decimal
import hashlib
import io
import logging
import re
from dataclasses import dataclass
from typing import BinaryIO

from asn1crypto import cms, core, x509
from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.crypt.api import AuthStatus
from pyhanko.pdf_utils.generic import DictionaryObject
from pyhanko.pdf_utils.misc import PDF_WHITESPACE, PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    DiffResult,
    ModificationLevel,
    SuspiciousModification,
)
from pyhanko.sign.fields import MDPPerm, enumerate_sig_fields
from pyhanko.sign.general import SignedDataCerts
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import extract_certs_for_validation, validate_sig_integrity
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, read_certification_data
from pyhanko.sign.validation.status import SignatureCoverageLevel

from pki.chain import SmSignatureValidator
from pki.lru import LruCache
from sealsvc.verification import pdf_frames, pdf_history  # noqa: F401 (install their readers)
from sealsvc.verification.certificates import shared_certificate
from sealsvc.verification.effects import Unclassifiable, effect_of_later_revisions
from sealsvc.verification.pdf_reading import hex_string
from sealsvc.verification.pdf_reading import read_object as _read_object  # noqa: F401 (installs it)
from sealsvc.verification.report import IntegrityCheck, ModificationCheck
from sealsvc.verification.revisions import RevisionIndex

__all__ = [
    "MAX_PDF_BYTES",
    "MAX_REVISIONS",
    "MAX_SIGNATURES",
    "CmsCheck",
    "Document",
    "EncryptedPdf",
    "FormatProblem",
    "FoundSignature",
    "check_cms",
    "open_reader",
    "read_document",
    "release",
    "signature_timestamp_token",
    "signer_certificate",
]

MAX_PDF_BYTES = 100 * 1024 * 1024
"""Largest file the validator reads (the API applies its own, smaller upload limit)."""
MAX_SIGNATURES = 64
"""Most signature fields examined; a licence carries a handful."""
MAX_REVISIONS = 512
"""Most incremental updates accepted; each one costs a difference analysis."""

PARSE_ERRORS = (
    PdfError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    decimal.InvalidOperation,
)
"""What pyHanko and asn1crypto raise on malformed input (asn1crypto: ValueError/TypeError;
pyHanko hands a number such as ``1.2.3`` to ``Decimal``, whose error is no ValueError)."""

_VALIDATOR = SmSignatureValidator()


def _without_diff_tracebacks(record: logging.LogRecord) -> bool:
    """Drop pyHanko's warning-with-traceback for a difference it cannot explain.

    :func:`modifications` receives the same exception as its result and reports it (or,
    judged by effect, finds the change harmless); the traceback on stderr only alarmed.
    """
    return not (record.exc_info and record.getMessage().startswith("Error in diff operation"))


logging.getLogger("pyhanko.sign.diff_analysis.policies").addFilter(_without_diff_tracebacks)


_read_hex_string_bytewise = generic.read_hex_string_from_stream
_HEX_DIGITS = b"0123456789abcdefABCDEF"


def _read_hex_string(stream: BinaryIO) -> generic.ByteStringObject | generic.TextStringObject:
    """pyHanko's ``read_hex_string_from_stream``, reading a block at a time.

    pyHanko reads a hex string one byte at a time through a generator; a signature's
    ``/Contents`` is 16-64 KiB of hex, so that loop was 40 % of verifying a one-seal
    licence.  This reads up to the closing ``>`` in blocks and decodes with ``binascii``.
    Anything unusual — a comment, a character that is neither hex nor whitespace, no
    closing ``>`` — is handed back to pyHanko's reader, so the result and every error
    stay exactly pyHanko's.
    """
    start = stream.tell()
    parts: list[bytes] = []
    while True:
        block = stream.read(1 << 16)
        if not block:
            stream.seek(start)
            return _read_hex_string_bytewise(stream)
        end = block.find(b">")
        if end >= 0:
            parts.append(block[:end])
            break
        parts.append(block)
    body = b"".join(parts)[1:]  # after the opening "<"
    digits = body.translate(None, PDF_WHITESPACE)
    if b"%" in body or digits.translate(None, _HEX_DIGITS):
        stream.seek(start)
        return _read_hex_string_bytewise(stream)
    stream.seek(start + len(body) + 2)
    return hex_string(digits)


# Pinned reach-in: pyHanko's object parser (generic.read_object) calls this module-level
# function by its global name; no public hook selects a string reader.
# tests/test_verify_cache.py (test_fast_hex_reader_*) checks that the parser still calls it
# and that both readers agree, byte for byte and error for error.
generic.read_hex_string_from_stream = _read_hex_string


_read_name_bytewise = generic.NameObject.read_from_stream
_NAME_END = re.compile(rb"[ \n\r\t\f\x00()<>\[\]{}/%]")
"""Where a name's bytes end: PDF whitespace or a delimiter (pyHanko's token classes)."""
_PLAIN_NAME = re.compile(rb"[!-~]*")
"""Bytes a name may hold unescaped; ``#`` is left to pyHanko's decoder."""


def _read_name(stream: BinaryIO) -> generic.NameObject:
    """pyHanko's ``NameObject.read_from_stream``, reading a block at a time.

    pyHanko reads a name one byte at a time through a generator and decodes it one byte
    at a time again; a licence's dictionaries hold thousands of names, a tenth of the
    time spent verifying it.  This finds the end of the name in one block and decodes
    plain ASCII at once.  A name with a ``#`` escape or a byte outside ``!``-``~``, one
    longer than the block, or one that ends the file goes to pyHanko's reader and decoder,
    so the result and every error stay exactly pyHanko's.
    """
    start = stream.tell()
    block = stream.read(128)
    end = _NAME_END.search(block, 1)
    if block[:1] != b"/" or end is None:
        stream.seek(start)
        return _read_name_bytewise(stream)
    name = block[1 : end.start()]
    stream.seek(start + end.start())
    if b"#" in name or _PLAIN_NAME.fullmatch(name) is None:
        return generic._decode_name(name)
    return generic.NameObject("/" + name.decode("ascii"))


# Pinned reach-in: pyHanko's object and dictionary parsers call NameObject.read_from_stream
# as a class attribute; no public hook selects a name reader.  tests/test_verify_cache.py
# (test_fast_name_reader_*) checks both readers agree, byte for byte and error for error,
# and that the parser still goes through the attribute.
generic.NameObject.read_from_stream = staticmethod(_read_name)  # type: ignore[method-assign]


_read_non_whitespace_bytewise = misc.read_non_whitespace
_NOT_WHITESPACE = re.compile(rb"[^ \n\r\t\f\x00]")


def _read_non_whitespace(
    stream: BinaryIO, seek_back: bool = False, allow_eof: bool = False
) -> bytes:
    """pyHanko's ``read_non_whitespace`` (the next byte that is not whitespace), from one
    block read instead of one read per byte; the parser calls it before every token.

    A comment (``%``), or no such byte within the block, goes to pyHanko's function.
    """
    start = stream.tell()
    block = stream.read(64)
    found = _NOT_WHITESPACE.search(block)
    if found is None or block[found.start()] == 0x25:  # "%"
        stream.seek(start)
        return _read_non_whitespace_bytewise(stream, seek_back, allow_eof)
    at = found.start()
    stream.seek(start + at + (0 if seek_back else 1))
    return block[at : at + 1]


# Pinned reach-in: pyHanko's parsers call read_non_whitespace through the generic and misc
# module globals; no public hook selects it.  tests/test_verify_cache.py
# (test_fast_whitespace_skip_*) checks both agree and that the globals are still used.
generic.read_non_whitespace = misc.read_non_whitespace = _read_non_whitespace


def _name_equal(self: x509.Name, other: object) -> bool:
    """RFC 5280 §7.1 name equality, with byte-equal DER settled first.

    asn1crypto runs stringprep over every attribute on each comparison (a millisecond
    for a CJK name), and certvalidator compares a certificate's issuer with every
    candidate's subject while it builds a path or looks for a CRL issuer.  Equal
    encodings are equal names; otherwise the names' comparison forms (``Name.hashable``,
    remembered per encoding by :mod:`pki.chain`) decide: asn1crypto's ``__eq__`` holds
    exactly when, RDN by RDN, the attribute counts, the types and the stringprepped
    values agree, and the comparison form joins those types and values with separators
    stringprep removes from values — so the same relation, with the count checked here.
    """
    # The RDN sequences: a Name inside a GeneralName carries an explicit tag of its own.
    if not isinstance(other, x509.Name):
        return False
    if self.chosen.dump() == other.chosen.dump():
        return True
    return self.hashable == other.hashable and _rdn_sizes(self) == _rdn_sizes(other)


def _rdn_sizes(name: x509.Name) -> tuple[int, ...]:
    """Attributes per RDN: asn1crypto's equality compares them, the comparison form not."""
    return tuple(len(rdn) for rdn in name.chosen)


# Pinned reach-in: asn1crypto offers no hook for name comparison; the class attribute is
# replaced with the same relation, computed faster for byte-equal names.
# tests/test_verify_cache.py (test_name_equality_*) checks the relation is unchanged.
_rfc5280_name_equal = x509.Name.__eq__
"""asn1crypto's own, for bench/verify_bench.py's reference run of pyHanko as shipped."""
x509.Name.__eq__ = _name_equal


class FormatProblem(Exception):
    """The file is not a readable PDF; the message says why in one sentence."""


class EncryptedPdf(FormatProblem):
    """The PDF is encrypted with a password we do not have: not damaged, just closed."""


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
    index: RevisionIndex
    """What each revision does, worked out once for all signatures."""

    @property
    def revisions(self) -> int:
        return self.reader.xrefs.total_revisions


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def open_reader(pdf: bytes) -> PdfFileReader:
    """The reader every check of ``pdf`` shares (the archive check reads its facts from the
    same objects the verifier parsed); raises what pyHanko raises on a broken file."""
    return PdfFileReader(io.BytesIO(pdf), strict=False)


def release(reader: PdfFileReader) -> None:
    """Drop the objects ``reader`` parsed, once nothing will ask it for more.

    Every object pyHanko parses names its reader (``container_ref``) and the reader keeps
    every object it resolved: a document's whole object graph is one reference cycle,
    which only the cycle collector frees, traversing all of it.  Emptied caches break the
    cycle, and reference counting frees the objects at once (a batch of archive checks
    spent a fifth of its CPU collecting them).
    """
    for resolver in reader._historical_resolver_cache.values():
        resolver.cache.clear()
    reader._historical_resolver_cache.clear()
    reader.resolved_objects.clear()
    reader._embedded_signatures = None


def read_document(pdf: bytes, reader: PdfFileReader | None = None) -> Document:
    """Parse ``pdf`` and collect its signatures; raise :class:`FormatProblem` if unreadable.

    ``reader``: ``pdf`` already opened by :func:`open_reader` (objects parsed once serve
    the caller's own inspection too)."""
    if len(pdf) > MAX_PDF_BYTES:
        raise FormatProblem(f"the file is larger than {MAX_PDF_BYTES} bytes")
    if b"%PDF-" not in pdf[:1024]:
        raise FormatProblem("the file is not a PDF (no %PDF- header)")
    try:
        reader = reader or open_reader(pdf)
        if reader.xrefs.total_revisions > MAX_REVISIONS:
            raise FormatProblem(f"the PDF has more than {MAX_REVISIONS} revisions")
        if reader.encrypted:
            _open_encrypted(reader)
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except FormatProblem:
        raise
    except (*PARSE_ERRORS, RecursionError) as exc:
        raise FormatProblem(f"the PDF cannot be parsed: {_first_line(exc)}") from None
    if len(fields) > MAX_SIGNATURES:
        raise FormatProblem(f"the PDF has more than {MAX_SIGNATURES} signatures")
    found = [_found(reader, name, value, field) for name, value, field in fields]
    found.sort(key=lambda s: s.signed_revision)
    signed = {s.signed_revision for s in found if s.embedded is not None}
    return Document(reader, found, RevisionIndex(reader, pdf, signed))


def _open_encrypted(reader: PdfFileReader) -> None:
    """Open an encrypted PDF with the empty user password, as Acrobat and pyHanko do.

    Files encrypted only against editing (an empty user password) are common and their
    signatures are checkable; a file that needs a password we do not have is refused with
    a sentence saying so, not reported as damaged.
    """
    try:
        result = reader.decrypt("")
    except (*PARSE_ERRORS, NotImplementedError) as exc:
        problem = f"the PDF is encrypted and cannot be opened: {_first_line(exc)}"
        raise FormatProblem(problem) from None
    if result.status is AuthStatus.FAILED:
        raise EncryptedPdf("the PDF is encrypted with a password; signatures cannot be checked")


def _found(
    reader: PdfFileReader, name: str, value: generic.PdfObject, field: DictionaryObject
) -> FoundSignature:
    kind = "signature"
    field_name = str(name)  # not pyHanko's string: it would keep the reader (a report's)
    try:
        sig_object = value.get_object()
        if sig_object.get("/Type") == "/DocTimeStamp":
            kind = "document_timestamp"
        embedded = EmbeddedPdfSignature(reader, field, name)
        _ = embedded.signer_info["signature"].native  # force parsing of the SignerInfo
    except (*PARSE_ERRORS, SignatureValidationError) as exc:
        return FoundSignature(
            field_name, kind, None, f"the signature data cannot be read: {_first_line(exc)}"
        )
    return FoundSignature(field_name, kind, embedded)


@dataclass(frozen=True)
class CmsCheck:
    """The CMS-level result of a signature or time-stamp token."""

    signer: x509.Certificate | None
    intact: bool
    valid: bool
    others: tuple[x509.Certificate, ...]
    problem: str | None


_KEY_OF_SIGNATURE = {"rsassa_pkcs1v15": "rsa", "ecdsa": "ec", "dsa": "dsa"}
"""The public-key algorithm a signature family needs (RSASSA-PSS keys may be either)."""

_DIGESTS = frozenset({"sm3", *hashlib.algorithms_guaranteed})


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
                family = algorithm.signature_algo  # raises ValueError for an unknown OID
                key = certs.signer_cert.public_key.algorithm
                if _KEY_OF_SIGNATURE.get(family, key) != key:
                    # pyHanko would only assert on this; say which two do not fit.
                    return CmsCheck(
                        certs.signer_cert,
                        False,
                        False,
                        (),
                        f"the signature algorithm ({family}) does not fit the signer's"
                        f" {key.upper()} key",
                    )
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


_ESS_ATTRIBUTES = frozenset({"signing_certificate", "signing_certificate_v2"})
_check_signing_certificate_uncached = generic_cms._check_signing_certificate
_SIGNING_CERTIFICATES: LruCache[bool] = LruCache(1024)
"""(certificate DER, DER of each signing-certificate attribute) that pyHanko's check
passed: it is a function of those bytes alone.  A failure is not kept (it raises anew)."""


def _check_signing_certificate(cert: x509.Certificate, signed_attrs: cms.CMSAttributes) -> None:
    """pyHanko's ESS signing-certificate check (the attribute names the signer's
    certificate by hash and issuer/serial), remembered when it passes.

    Every seal of one certificate, and every time-stamp token of one TSA, carries the same
    attribute; hashing the certificate and comparing issuer names (stringprep) for each
    of them was half of checking a CMS signature.
    """
    key = (
        cert.dump(),
        *(a.dump() for a in signed_attrs if a["type"].native in _ESS_ATTRIBUTES),
    )
    if _SIGNING_CERTIFICATES.get(key) is None:
        _check_signing_certificate_uncached(cert, signed_attrs)
        _SIGNING_CERTIFICATES.put(key, True)


# Pinned reach-in: validate_sig_integrity and extract_certs_for_validation call this
# function by its module-global name; no public hook selects it.  tests/test_verify_cache.py
# (test_signing_certificate_check_*) checks that both still call it, and that a certificate
# the attribute does not name still fails after one it names passed.
generic_cms._check_signing_certificate = _check_signing_certificate


def _signer_and_others(signed_data: cms.SignedData) -> SignedDataCerts:
    """The signer's certificate by issuer DER and serial, else pyHanko's RFC 5280 lookup.

    pyHanko compares issuer names with asn1crypto's ``Name.__eq__``, which runs stringprep
    over every attribute (slow for CJK names); a byte-equal issuer is the normal case.
    """
    signer_info = signed_data["signer_infos"][0]
    sid = signer_info["sid"]
    # One shared object per certificate (:mod:`.certificates`): what is parsed of the
    # city's seal, TSA and CA certificates stays parsed from one document to the next.
    certificates = [
        shared_certificate(c.chosen.dump())
        for c in signed_data["certificates"] or []
        if c.name == "certificate"
    ]
    if sid.name == "issuer_and_serial_number":
        issuer, serial = sid.chosen["issuer"].dump(), sid.chosen["serial_number"].native
        for index, cert in enumerate(certificates):
            if cert.serial_number == serial and cert.issuer.dump() == issuer:
                others = certificates[:index] + certificates[index + 1 :]
                return SignedDataCerts(cert, others, [])
    return extract_certs_for_validation(signed_data)


def signer_certificate(signed_data: cms.SignedData) -> x509.Certificate:
    """The signer's certificate as :func:`check_cms` finds it: the process's shared object
    when the CMS names it by issuer and serial (what is decoded of it stays decoded)."""
    return _signer_and_others(signed_data).signer_cert


def integrity(found: FoundSignature, cms_check: CmsCheck) -> IntegrityCheck:
    """Coverage and digest of an already parsed signature, with its CMS result."""
    embedded = found.embedded
    assert embedded is not None  # noqa: S101  only parsed signatures get here
    coverage = embedded.evaluate_signature_coverage()
    # pyHanko sets the cache to None in __init__ without annotating it, so its type is None.
    embedded.coverage = coverage  # type: ignore[assignment]
    return IntegrityCheck(
        byte_range=tuple(int(v) for v in embedded.byte_range),
        coverage=coverage.name,
        digest_algorithm=embedded.md_algorithm,
        digest_matches=cms_check.intact,
        signature_valid=cms_check.valid,
    )


def digest(found: FoundSignature) -> bytes:
    """The digest the CMS messageDigest must equal: of the byte range, or of its SHA-1.

    A ``/adbe.pkcs7.sha1`` signature (older Acrobat, still in official gazettes) does not
    sign the byte range detached: the SHA-1 of the byte range is the CMS *content*, and the
    messageDigest is the digest of that content.  Its digest is therefore the signer's
    digest over the embedded content, provided that content is the byte range's SHA-1 —
    otherwise the byte range changed, and the digest of the byte range (which cannot
    match) is returned so that the integrity check fails as it must.
    """
    embedded = found.embedded
    assert embedded is not None  # noqa: S101  only parsed signatures get here
    if embedded.md_algorithm not in _DIGESTS:
        # e.g. sha256WithRSAEncryption (1.2.840.113549.1.1.11) written as the digest
        raise ValueError(f"{embedded.md_algorithm} is not a digest algorithm")
    if embedded.sig_object.get("/SubFilter") == "/adbe.pkcs7.sha1":
        content = embedded.signed_data["encap_content_info"]["content"]
        embedded_hash = b"" if isinstance(content, core.Void) else bytes(content.native or b"")
        if embedded_hash == embedded.compute_digest("sha1"):
            return hashlib.new(embedded.md_algorithm, embedded_hash).digest()
    return embedded.compute_digest()


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
    assert embedded is not None and embedded.coverage is not None  # noqa: S101  (idem)
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
        result = _review(document, embedded)
    except (*PARSE_ERRORS, NotImplementedError, AssertionError, RecursionError) as exc:
        # pyHanko asserts on some malformed input; then the effect comparison decides.
        result = SuspiciousModification(_first_line(exc))
    level_name, detail = _judge(document, embedded, result)
    level = ModificationLevel[level_name] if level_name != UNCLASSIFIED else None
    allowed = level is not None and (
        level is not ModificationLevel.OTHER and (docmdp is None or level.value <= docmdp.value)
    )
    if not allowed and detail is None:
        assert docmdp is not None and level is not None  # noqa: S101  not allowed implies both
        detail = f"{level.name} changes exceed the DocMDP permission P={docmdp.value}"
    return ModificationCheck(
        later_revisions=later,
        level=level_name,
        allowed=allowed,
        docmdp=None if docmdp is None else docmdp.value,
        certification=is_certification,
        detail=detail,
    )


def _review(
    document: Document, embedded: EmbeddedPdfSignature
) -> DiffResult | SuspiciousModification:
    """pyHanko's ``evaluate_modifications``, minus the revisions judged once per document.

    The same loop as pyHanko's ``StandardDiffPolicy.review_file`` (each later revision
    compared with the signed one), except that a revision :class:`.RevisionIndex` shows
    to add validation data only counts as LTA_UPDATES, and one that only adds and fills a
    signature field counts as pyHanko's rules rate it — without re-reading the signed
    revision for every signature, which made the cost grow with signatures × revisions.
    A permission this signature sets (DocMDP of a certification, a FieldMDP lock) only
    changes pyHanko's verdict on form updates that are not valid when certifying or
    locked; an invisible document time-stamp (LTA_UPDATES) makes none, so that revision
    is taken from the index for a certified licence too.  Anything else is pyHanko's.
    """
    coverage = embedded.coverage
    if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        return SuspiciousModification("Nonstandard signature coverage level")
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return DiffResult(ModificationLevel.NONE, set())
    reader = document.reader
    level, changed = ModificationLevel.NONE, set()
    base = None
    # A new signature's level depends on no permission of this one (none is set).
    plain = embedded.fieldmdp is None and embedded.docmdp_level is None
    for revision in range(embedded.signed_revision + 1, document.revisions):
        validation = document.index.adds_only_validation_data_since(
            embedded.signed_revision, revision
        )
        if isinstance(validation, SuspiciousModification):
            return validation  # pyHanko's whole-file rules refuse it: so would its analysis
        if validation:
            level = max(level, ModificationLevel.LTA_UPDATES)
            continue
        signing = document.index.adds_one_signature(revision)
        if signing is not None and (plain or signing is ModificationLevel.LTA_UPDATES):
            level = max(level, signing)
            continue
        base = base or reader.get_historical_resolver(embedded.signed_revision)
        try:
            result = DEFAULT_DIFF_POLICY.apply(
                base,
                reader.get_historical_resolver(revision),
                field_mdp_spec=embedded.fieldmdp,
                doc_mdp=embedded.docmdp_level,
            )
        except SuspiciousModification as exc:
            return exc
        level = max(level, result.modification_level)
        changed |= result.changed_form_fields
    return DiffResult(level, changed)


UNCLASSIFIED = "UNCLASSIFIED"
"""Modification level of later revisions that could not be compared at all."""


def _judge(
    document: Document, embedded: EmbeddedPdfSignature, result: DiffResult | SuspiciousModification
) -> tuple[str, str | None]:
    """The level of the later changes and, when they are not plainly allowed, why.

    pyHanko's whitelist decides first; what it cannot explain is judged by its effect on
    what a reader sees (:mod:`.effects`), so routine updates by other software are not
    read as tampering and a change that cannot be classified is reported as such.
    """
    if isinstance(result, DiffResult) and result.modification_level is not ModificationLevel.OTHER:
        return result.modification_level.name, None
    try:
        effect = effect_of_later_revisions(document.reader, embedded.signed_revision)
    except Unclassifiable as exc:
        return UNCLASSIFIED, f"the later revisions cannot be classified: {exc}"
    if effect.level is ModificationLevel.OTHER:
        return effect.level.name, "; ".join(effect.changes)
    return effect.level.name, None


def author_revision(document: Document, author_sig: DictionaryObject) -> int:
    ref = author_sig.container_ref
    if not isinstance(ref, generic.Reference):  # the trailer, or not read from the file
        return 0
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
