"""The OFD signature container (GB/T 33190 §18, GM/T 0099): read, check digests, add one.

A signed OFD lists its signatures in a ``Signatures.xml`` that ``OFD.xml`` links from its
``DocBody``; each signature is a folder ``Signs/Sign_N`` with a ``Signature.xml`` that names
the files it protects (``References``: one base64 digest per file), where its stamp appears
(``StampAnnot``: page and boundary in mm) and where its signed value is (``SignedValue.dat``).
What the signed value *is* — a GB/T 38540 ``SES_Signature`` for ``Type="Seal"``, a GB/T 35275
``SignedData`` for ``Type="Sign"`` — is not this module's business: it reads the container,
checks every ``Reference`` digest, lists the files no digest covers, and adds a signature
around a signed value that a caller-supplied function makes from the ``Signature.xml`` bytes.

Facts from other issuers' files (tests/data/ofd-samples) that shape the code:

* ``CheckMethod`` is written as the SM3 OID ``1.2.156.10197.1.401`` or as ``SM3`` (ofdrw);
  SHA-256 and SHA-1 names occur elsewhere.  One issuer writes ``1.2.156.10197.1.401.2``,
  which GM/T 0006 assigns to SM3 *with a key*: without that key the digests cannot be
  checked, and the result says so instead of calling them wrong.
* ``FileRef``, ``BaseLoc`` and ``SignedValue`` are absolute (``/Doc_0/…``) or relative to the
  file they are written in (one issuer writes ``SignedValue.dat``).
* A signature whose References cover ``Signatures.xml`` is broken by the next signature,
  which must add itself there; :func:`add_signature` therefore never covers it.
* ``Provider`` carries its fields as attributes (the standard) or as child elements.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import math
import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from lxml import etree

from ofd.errors import OfdError, OfdFormatError
from ofd.package import ROOT_FILE, OfdPackage, resolve_loc
from ofd.xml import (
    child,
    child_text,
    children,
    new_root,
    ofd_tag,
    parse_xml,
    sub_element,
    xml_bytes,
)
from pki import algorithms
from pki.asn1 import oids

__all__ = [
    "DigestStatus",
    "IntegrityResult",
    "OfdSignature",
    "Provider",
    "Reference",
    "ReferenceCheck",
    "SignatureEntry",
    "SignatureList",
    "SignatureType",
    "StampAnnot",
    "StampPlacement",
    "add_signature",
    "broken_by_adding",
    "check_references",
    "read_signature",
    "read_signatures",
]


class SignatureType(StrEnum):
    """``Signature@Type`` in ``Signatures.xml`` (GB/T 33190 table 66; ``Seal`` if absent)."""

    SEAL = "Seal"
    """An electronic seal (电子签章): the signed value is a GB/T 38540 ``SES_Signature``."""
    SIGN = "Sign"
    """A plain digital signature (GM/T 0099): the signed value is a GB/T 35275 SignedData."""


@dataclass(frozen=True)
class SignatureEntry:
    """One ``Signature`` element of ``Signatures.xml``: where a signature's description is."""

    id: str
    """``Signature@ID`` as written (``1``, ``s001``…)."""
    type: str
    """``Signature@Type`` as written, ``Seal`` when absent (the standard's default).

    Kept as a string: an unknown type is a verdict for the verifier, not a parse error.
    """
    base_loc: str
    """``Signature@BaseLoc`` as written."""
    path: str
    """The package path of this signature's ``Signature.xml``."""
    signatures_path: str
    """The package path of the ``Signatures.xml`` that lists it."""


@dataclass(frozen=True)
class SignatureList:
    """The signatures of one document, as ``OFD.xml`` and ``Signatures.xml`` list them."""

    signatures_path: str | None
    """Package path of ``Signatures.xml``; ``None`` if ``OFD.xml`` links none (unsigned)."""
    max_sign_id: str | None
    """``MaxSignId`` as written (the last one if a producer wrote several)."""
    entries: tuple[SignatureEntry, ...]
    """The signatures in document order, i.e. in the order they were added."""


@dataclass(frozen=True)
class Provider:
    """``SignedInfo/Provider``: the software that made the signature."""

    name: str
    """``ProviderName``."""
    version: str | None = None
    """``Version``."""
    company: str | None = None
    """``Company``."""


@dataclass(frozen=True)
class Reference:
    """One ``Reference``: a protected file and its digest as the signer computed it."""

    file_ref: str
    """``Reference@FileRef`` as written."""
    check_value: str
    """``CheckValue`` as written (base64 of the digest)."""


@dataclass(frozen=True)
class StampAnnot:
    """One ``StampAnnot``: where the signature's appearance goes."""

    id: str | None
    """``StampAnnot@ID``."""
    page_ref: str
    """``StampAnnot@PageRef``: the ``Page@ID`` in ``Document.xml`` (an ID, not an index)."""
    boundary: tuple[float, float, float, float]
    """``Boundary``: x, y, width, height in mm from the page's top-left corner."""


@dataclass(frozen=True)
class OfdSignature:
    """A parsed ``Signature.xml``, with the raw bytes its signed value is computed over."""

    entry: SignatureEntry
    """The ``Signatures.xml`` entry it was read from."""
    signature_xml: bytes
    """The file's bytes, unchanged: ``dataHash`` of an ``SES_Signature`` is SM3 of exactly these."""
    provider: Provider | None
    """``Provider``; ``None`` if missing (the standard requires it: a verifier may say so)."""
    signature_method: str | None
    """``SignatureMethod`` (``1.2.156.10197.1.501`` for SM2 with SM3)."""
    signature_datetime: str | None
    """``SignatureDateTime`` as written: producers use at least three formats."""
    check_method: str | None
    """``References@CheckMethod`` as written; ``None`` if absent."""
    references: tuple[Reference, ...]
    """The protected files, in document order."""
    stamp_annots: tuple[StampAnnot, ...]
    """Appearances; none for an invisible signature."""
    seal_path: str | None
    """Package path from ``Seal/BaseLoc`` (a ``Seal.esl`` copy of the seal), if any."""
    signed_value_path: str
    """Package path from ``SignedValue``: the DER signed value."""


class DigestStatus(StrEnum):
    """What checking one ``Reference`` found."""

    OK = "ok"
    """The file exists and its digest equals ``CheckValue``."""
    MISMATCH = "mismatch"
    """The file exists and its digest differs: it was changed after signing."""
    MISSING = "missing"
    """The referenced file is not in the package (removed, or the reference is wrong)."""
    MALFORMED = "malformed"
    """``CheckValue`` is not base64 or ``FileRef`` points outside the package."""
    UNSUPPORTED = "unsupported"
    """The ``CheckMethod`` is one this module cannot compute: no verdict on the file."""


@dataclass(frozen=True)
class ReferenceCheck:
    """The outcome for one ``Reference``."""

    file_ref: str
    """``FileRef`` as written."""
    path: str | None
    """Its package path; ``None`` when it could not be resolved."""
    status: DigestStatus
    """See :class:`DigestStatus`."""
    message: str
    """One English sentence for logs and reports; the verifier has its own wording."""


@dataclass(frozen=True)
class IntegrityResult:
    """Every ``Reference`` of one signature checked against the package."""

    signature_path: str
    """Package path of the ``Signature.xml`` checked."""
    method: str | None
    """The digest computed (``sm3``, ``sha256``, ``sha1``), ``None`` if unsupported."""
    unsupported_reason: str | None
    """Why the digests could not be checked, when ``method`` is ``None``."""
    checks: tuple[ReferenceCheck, ...]
    """One per ``Reference``, in document order."""
    uncovered: tuple[str, ...]
    """Files in the package that no ``Reference`` covers, sorted.

    Not counted: ``Signatures.xml`` and this signature's own ``Signature.xml`` and signed
    value, which no signature can cover.  Files of later signatures show up here; telling
    those (expected) apart from other additions is the verifier's judgement.
    """

    @property
    def intact(self) -> bool:
        """True if the method is supported and every Reference is :attr:`DigestStatus.OK`."""
        return self.method is not None and all(c.status is DigestStatus.OK for c in self.checks)


def _sm3(data: bytes) -> bytes:
    return algorithms.digest("sm3", data)


_CACHED_DIGEST_BYTES = 512 * 1024


@functools.lru_cache(maxsize=64)
def _sm3_by_value(data: bytes) -> bytes:
    return _sm3(data)


def _reference_digest(data: bytes) -> bytes:
    """SM3 of a file a new signature covers, remembered by value for files up to 512 KiB.

    Joint seals, and a licence sealed right after it was rendered, cover the same font
    subsets and pages again; looking the bytes up costs a fraction of hashing them.
    """
    return _sm3_by_value(data) if len(data) <= _CACHED_DIGEST_BYTES else _sm3(data)


def _sha256(data: bytes) -> bytes:
    return algorithms.digest("sha256", data)


def _sha1(data: bytes) -> bytes:
    """SHA-1, which ``pki.algorithms`` rightly does not offer for signing: only to read others'."""
    return hashlib.sha1(data, usedforsecurity=False).digest()


_DIGESTS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    name: (label, function)
    for names, label, function in (
        # 1.2.156.10197.1.401.1 is GM/T 0006's "SM3 without a key", i.e. plain SM3.
        ((oids.SM3, oids.SM3 + ".1", "SM3"), "sm3", _sm3),
        (
            ("2.16.840.1.101.3.4.2.1", "SHA256", "HTTP://WWW.W3.ORG/2001/04/XMLENC#SHA256"),
            "sha256",
            _sha256,
        ),
        (("1.3.14.3.2.26", "SHA1", "HTTP://WWW.W3.ORG/2000/09/XMLDSIG#SHA1"), "sha1", _sha1),
    )
    for name in names
}
"""``CheckMethod`` (upper case, without ``-``/``_``) → (name, function)."""

_KEYED_SM3 = oids.SM3 + ".2"


def _digest_for(check_method: str | None) -> tuple[str, Callable[[bytes], bytes]] | str:
    """The digest for ``check_method``, or the sentence saying why there is none."""
    if check_method is None or not check_method.strip():
        return "References has no CheckMethod, so the digest algorithm is unknown"
    key = check_method.strip().upper().replace("-", "").replace("_", "")
    if key in _DIGESTS:
        return _DIGESTS[key]
    if key == _KEYED_SM3:
        return (
            f"CheckMethod {_KEYED_SM3} is SM3 with a key (GM/T 0006); the key is not in the"
            " document, so these digests cannot be checked"
        )
    return f"CheckMethod {check_method.strip()[:80]!r} is not a supported digest algorithm"


# -- reading -------------------------------------------------------------------------------


def _doc_body(package: OfdPackage, doc_index: int) -> etree._Element:
    root = parse_xml(package[ROOT_FILE], ROOT_FILE)
    if root.tag != ofd_tag("OFD"):
        raise OfdFormatError(f"{ROOT_FILE}: the root element is not ofd:OFD")
    bodies = children(root, "DocBody")
    if not 0 <= doc_index < len(bodies):
        raise OfdFormatError(f"{ROOT_FILE} has no DocBody number {doc_index}")
    return bodies[doc_index]


def read_signatures(package: OfdPackage, doc_index: int = 0) -> SignatureList:
    """List the signatures of document ``doc_index`` (``OFD.xml`` → ``Signatures.xml``).

    An unsigned document gives an empty list.  Raises :class:`OfdFormatError` if
    ``OFD.xml`` or ``Signatures.xml`` is malformed or a linked file is missing.
    """
    link = child_text(_doc_body(package, doc_index), "Signatures")
    if link is None:
        return SignatureList(None, None, ())
    signatures_path = resolve_loc(ROOT_FILE, link)
    root = parse_xml(package.file(signatures_path), signatures_path)
    if root.tag != ofd_tag("Signatures"):
        raise OfdFormatError(f"{signatures_path}: the root element is not ofd:Signatures")
    max_ids = [e.text.strip() for e in children(root, "MaxSignId") if e.text and e.text.strip()]
    entries = []
    for element in children(root, "Signature"):
        base_loc = element.get("BaseLoc")
        if not base_loc:
            raise OfdFormatError(f"{signatures_path}: a Signature has no BaseLoc")
        entries.append(
            SignatureEntry(
                id=element.get("ID", ""),
                type=element.get("Type", SignatureType.SEAL.value),
                base_loc=base_loc,
                path=resolve_loc(signatures_path, base_loc),
                signatures_path=signatures_path,
            )
        )
    return SignatureList(signatures_path, max_ids[-1] if max_ids else None, tuple(entries))


def _provider(signed_info: etree._Element) -> Provider | None:
    element = child(signed_info, "Provider")
    if element is None:
        return None

    def field(name: str) -> str | None:
        return element.get(name) or child_text(element, name)

    name = field("ProviderName")
    if name is None:
        return None
    return Provider(name=name, version=field("Version"), company=field("Company"))


def _boundary(text: str | None, where: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in (text or "").split())
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise OfdFormatError(f"{where}: StampAnnot Boundary {str(text)[:80]!r} is not 'x y w h'")
    x, y, width, height = values
    return x, y, width, height


def read_signature(package: OfdPackage, entry: SignatureEntry) -> OfdSignature:
    """Parse the ``Signature.xml`` that ``entry`` points to.

    Raises :class:`OfdFormatError` if it is missing or malformed; a verifier calls this per
    signature, so one broken signature does not hide the others.
    """
    path = entry.path
    data = package.file(path)
    root = parse_xml(data, path)
    if root.tag != ofd_tag("Signature"):
        raise OfdFormatError(f"{path}: the root element is not ofd:Signature")
    signed_info = child(root, "SignedInfo")
    if signed_info is None:
        raise OfdFormatError(f"{path}: no SignedInfo")
    signed_value = child_text(root, "SignedValue")
    if signed_value is None:
        raise OfdFormatError(f"{path}: no SignedValue")
    references_element = child(signed_info, "References")
    references: list[Reference] = []
    if references_element is not None:
        for element in children(references_element, "Reference"):
            file_ref = element.get("FileRef")
            if not file_ref:
                raise OfdFormatError(f"{path}: a Reference has no FileRef")
            references.append(Reference(file_ref, child_text(element, "CheckValue") or ""))
    stamps = tuple(
        StampAnnot(
            id=element.get("ID"),
            page_ref=element.get("PageRef", ""),
            boundary=_boundary(element.get("Boundary"), path),
        )
        for element in children(signed_info, "StampAnnot")
    )
    seal = child(signed_info, "Seal")
    seal_loc = child_text(seal, "BaseLoc") if seal is not None else None
    return OfdSignature(
        entry=entry,
        signature_xml=data,
        provider=_provider(signed_info),
        signature_method=child_text(signed_info, "SignatureMethod"),
        signature_datetime=child_text(signed_info, "SignatureDateTime"),
        check_method=(
            references_element.get("CheckMethod") if references_element is not None else None
        ),
        references=tuple(references),
        stamp_annots=stamps,
        seal_path=resolve_loc(path, seal_loc) if seal_loc else None,
        signed_value_path=resolve_loc(path, signed_value),
    )


# -- checking ------------------------------------------------------------------------------


def _check_one(
    package: OfdPackage,
    ref: Reference,
    path: str,
    digest: Callable[[bytes], bytes] | None,
    reason: str | None,
) -> ReferenceCheck:
    def result(status: DigestStatus, message: str) -> ReferenceCheck:
        return ReferenceCheck(ref.file_ref, path, status, message)

    if digest is None:
        return result(DigestStatus.UNSUPPORTED, reason or "")
    if path not in package:
        return result(DigestStatus.MISSING, f"{path} is missing")
    try:
        expected = base64.b64decode("".join(ref.check_value.split()), validate=True)
    except binascii.Error:
        return result(DigestStatus.MALFORMED, f"the CheckValue of {path} is not base64")
    if digest(package[path]) != expected:
        return result(DigestStatus.MISMATCH, f"{path} was changed after signing")
    return result(DigestStatus.OK, f"{path} is unchanged")


def check_references(package: OfdPackage, signature: OfdSignature) -> IntegrityResult:
    """Recompute every ``Reference`` digest of ``signature`` over ``package``.

    An unsupported ``CheckMethod`` gives :attr:`DigestStatus.UNSUPPORTED` for every reference
    and the reason, never an exception.
    """
    found = _digest_for(signature.check_method)
    method, digest, reason = (None, None, found) if isinstance(found, str) else (*found, None)
    checks: list[ReferenceCheck] = []
    for ref in signature.references:
        try:
            path = resolve_loc(signature.entry.path, ref.file_ref)
        except OfdFormatError as exc:
            checks.append(ReferenceCheck(ref.file_ref, None, DigestStatus.MALFORMED, str(exc)))
            continue
        checks.append(_check_one(package, ref, path, digest, reason))
    own = {signature.entry.path, signature.signed_value_path, signature.entry.signatures_path}
    covered = {c.path for c in checks}
    uncovered = tuple(sorted(p for p in package if p not in covered and p not in own))
    return IntegrityResult(signature.entry.path, method, reason, tuple(checks), uncovered)


# -- adding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StampPlacement:
    """Where a new signature's stamp goes."""

    page: int
    """Page index, 0-based, in ``Document.xml`` order (written as that page's ``ID``)."""
    boundary: tuple[float, float, float, float]
    """x, y, width, height in mm, from the page's top-left corner (OFD's coordinates)."""


_SIGN_FOLDER = re.compile(r"Sign_(\d+)/")
_TRAILING_NUMBER = re.compile(r"(\d+)$")
# DocBody children in schema order (GB/T 33190 §7.4): the link goes after DocRoot/Versions.
_BEFORE_SIGNATURES = {ofd_tag("DocInfo"), ofd_tag("DocRoot"), ofd_tag("Versions")}


def _mm(value: float) -> str:
    """A length in mm as OFD writes it: up to three decimals, no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _page_ids(package: OfdPackage, doc_root: str) -> list[str]:
    root = parse_xml(package.file(doc_root), doc_root)
    pages = child(root, "Pages")
    ids = [p.get("ID", "") for p in children(pages, "Page")] if pages is not None else []
    if not ids or not all(ids):
        raise OfdFormatError(f"{doc_root}: no pages, or a Page without an ID")
    return ids


def _next_id(signatures_root: etree._Element) -> int:
    """1 + the largest number in ``MaxSignId`` and every ``Signature@ID`` already there.

    IDs are compared by their trailing digits: ofdrw writes ``s001``…, others ``1``….
    """
    texts = [e.text or "" for e in children(signatures_root, "MaxSignId")]
    texts += [e.get("ID", "") for e in children(signatures_root, "Signature")]
    numbers = [int(m.group(1)) for t in texts if (m := _TRAILING_NUMBER.search(t.strip()))]
    return max(numbers, default=0) + 1


def _check_placement(stamp: StampPlacement, page_count: int) -> None:
    if not 0 <= stamp.page < page_count:
        raise OfdError(f"stamp page {stamp.page} does not exist (the document has {page_count})")
    width, height = stamp.boundary[2:]
    if not all(math.isfinite(v) for v in stamp.boundary) or width <= 0 or height <= 0:
        raise OfdError(f"stamp boundary {stamp.boundary!r} is not a finite box of positive size")


def broken_by_adding(package: OfdPackage, doc_index: int = 0) -> tuple[SignatureEntry, ...]:
    """The intact signatures that adding one more (:func:`add_signature`) would break.

    Every new signature must change ``Signatures.xml``; a signature whose References cover
    that file (some producers do it) and still match it fails from then on.  One that no
    longer matches (already broken by a later signature), or cannot be read at all, is not
    listed.  Whether to go ahead anyway is the caller's decision.
    """
    found = []
    for entry in read_signatures(package, doc_index).entries:
        try:
            signature = read_signature(package, entry)
        except OfdFormatError:
            continue
        result = check_references(package, signature)
        if any(
            c.path == entry.signatures_path and c.status is DigestStatus.OK for c in result.checks
        ):
            found.append(entry)
    return tuple(found)


def _register(
    package: OfdPackage,
    body: etree._Element,
    signs_dir: str,
    signature_path: str,
    signature_type: SignatureType,
    stamp_count: int,
) -> tuple[dict[str, bytes], str, int]:
    """List a new signature in ``Signatures.xml``, creating it and its ``OFD.xml`` link if
    the document has none; return the changed files, that file's path and the new ``ID``.

    ``MaxSignId`` becomes the signature's ID plus one per stamp (the stamps take the IDs
    after it, as ofdrw numbers them); a producer's extra ``MaxSignId`` elements are merged.
    """
    updates: dict[str, bytes] = {}
    link = child_text(body, "Signatures")
    if link is None:
        signatures_path = f"{signs_dir}/Signatures.xml"
        if signatures_path in package:
            raise OfdFormatError(f"{signatures_path} exists but {ROOT_FILE} does not link it")
        # the link goes right after the last of DocInfo/DocRoot/Versions (schema order)
        last = max((i for i, c in enumerate(body) if c.tag in _BEFORE_SIGNATURES), default=-1)
        body.insert(last + 1, sub_element(body, "Signatures", text="/" + signatures_path))
        updates[ROOT_FILE] = xml_bytes(body.getroottree().getroot())
        signatures_root = new_root("Signatures")
    else:
        signatures_path = resolve_loc(ROOT_FILE, link)
        signatures_root = parse_xml(package.file(signatures_path), signatures_path)
        if signatures_root.tag != ofd_tag("Signatures"):
            raise OfdFormatError(f"{signatures_path}: the root element is not ofd:Signatures")

    first_id = _next_id(signatures_root)
    for old in children(signatures_root, "MaxSignId"):
        signatures_root.remove(old)
    max_sign_id = etree.Element(ofd_tag("MaxSignId"))
    max_sign_id.text = str(first_id + stamp_count)
    signatures_root.insert(0, max_sign_id)
    sub_element(
        signatures_root,
        "Signature",
        {"ID": str(first_id), "Type": signature_type.value, "BaseLoc": "/" + signature_path},
    )
    updates[signatures_path] = xml_bytes(signatures_root)
    return updates, signatures_path, first_id


def add_signature(
    package: OfdPackage,
    make_signed_value: Callable[[bytes, str], bytes],
    *,
    provider: Provider,
    signature_time: datetime,
    stamps: Sequence[StampPlacement] = (),
    signature_type: SignatureType = SignatureType.SEAL,
    signature_method: str = oids.SM2_SM3,
    seal: bytes | None = None,
    doc_index: int = 0,
) -> OfdPackage:
    """Return ``package`` with one more signature on document ``doc_index``.

    The new ``Sign_N`` folder sits next to the others (``Doc_0/Signs/Sign_N``).  In order:

    1. ``OFD.xml`` gets a ``DocBody/Signatures`` link if it has none (before any digest, so
       the new signature covers the final ``OFD.xml``); ``Signatures.xml`` is created there or
       updated — ``MaxSignId`` and a ``Signature`` with ``ID``, ``Type`` and ``BaseLoc``.
       (``Document.xml`` has no signature link in GB/T 33190, so it is left as it is.)
    2. ``seal``, if given (the seal data, e.g. a DER ``SESeal``), is stored as
       ``Sign_N/Seal.esl`` and named in ``Seal/BaseLoc``.
    3. ``Sign_N/Signature.xml`` is written with an SM3 ``Reference`` for every file except
       ``Signatures.xml`` — which every later signature must change — and the new
       ``Signature.xml`` and ``SignedValue.dat`` themselves; earlier signatures' files are
       covered, so they cannot be swapped later without breaking this one.
    4. ``make_signed_value(signature_xml, signature_path)`` is called with the exact bytes of
       that ``Signature.xml`` and its absolute path (``/Doc_0/Signs/Sign_N/Signature.xml``,
       what an ``SES_Signature`` puts in ``propertyInfo``); what it returns is stored as
       ``Sign_N/SignedValue.dat``.  Its exceptions pass through unchanged.

    Earlier signatures stay valid: nothing they cover is changed (``OFD.xml`` only gains
    its link when there is no ``Signatures.xml`` yet, i.e. no earlier signature).  An
    earlier signature that covers ``Signatures.xml`` breaks (:func:`broken_by_adding`
    lists those).
    ``signature_time`` must be timezone-aware; it is written in UTC.
    """
    if signature_time.tzinfo is None:
        raise OfdError("signature_time must be timezone-aware")
    body = _doc_body(package, doc_index)
    doc_root_loc = child_text(body, "DocRoot")
    if doc_root_loc is None:
        raise OfdFormatError(f"{ROOT_FILE}: DocBody {doc_index} has no DocRoot")
    doc_root = resolve_loc(ROOT_FILE, doc_root_loc)
    page_ids = _page_ids(package, doc_root)
    for stamp in stamps:
        _check_placement(stamp, len(page_ids))

    signs_dir = posixpath.join(posixpath.dirname(doc_root), "Signs")
    taken = [
        int(m.group(1))
        for p in package
        if p.startswith(signs_dir + "/") and (m := _SIGN_FOLDER.match(p, len(signs_dir) + 1))
    ]
    sign_dir = f"{signs_dir}/Sign_{max(taken, default=-1) + 1}"
    signature_path = f"{sign_dir}/Signature.xml"
    signed_value_path = f"{sign_dir}/SignedValue.dat"

    updates, signatures_path, first_id = _register(
        package, body, signs_dir, signature_path, signature_type, len(stamps)
    )
    seal_path = None
    if seal is not None:
        seal_path = f"{sign_dir}/Seal.esl"
        updates[seal_path] = seal
    staged = package.with_files(updates)

    root = new_root("Signature")
    info = sub_element(root, "SignedInfo")
    provider_attrib = {"ProviderName": provider.name}
    if provider.version is not None:
        provider_attrib["Version"] = provider.version
    if provider.company is not None:
        provider_attrib["Company"] = provider.company
    sub_element(info, "Provider", provider_attrib)
    sub_element(info, "SignatureMethod", text=signature_method)
    sub_element(
        info, "SignatureDateTime", text=signature_time.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")
    )
    references = sub_element(info, "References", {"CheckMethod": oids.SM3})
    for path in sorted(p for p in staged if p != signatures_path):
        reference = sub_element(references, "Reference", {"FileRef": "/" + path})
        digest = base64.b64encode(_reference_digest(staged[path])).decode("ascii")
        sub_element(reference, "CheckValue", text=digest)
    for number, stamp in enumerate(stamps, start=first_id + 1):
        sub_element(
            info,
            "StampAnnot",
            {
                "ID": str(number),
                "PageRef": page_ids[stamp.page],
                "Boundary": " ".join(_mm(v) for v in stamp.boundary),
            },
        )
    if seal_path is not None:
        sub_element(sub_element(info, "Seal"), "BaseLoc", text="/" + seal_path)
    sub_element(root, "SignedValue", text="/" + signed_value_path)
    signature_xml = xml_bytes(root)

    signed_value = make_signed_value(signature_xml, "/" + signature_path)
    if not isinstance(signed_value, bytes) or not signed_value:
        raise OfdError("make_signed_value returned no signed value (bytes expected)")
    return staged.with_files({signature_path: signature_xml, signed_value_path: signed_value})
