"""Verification's speed-ups keep its answers: the fast parser, and every cache invalidated
by what changes a verdict (revocation, trust anchors, time)."""

from __future__ import annotations

import decimal
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import ocsp, x509
from helpers.pdf_fixtures import chinese_pdf
from helpers.pki_fixtures import build_hierarchy, issue_leaf
from helpers.verify_corpus import append_page_content_update, services_for
from pyhanko.pdf_utils import generic, misc, xref
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESStatus
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    DiffResult,
    ModificationLevel,
    SuspiciousModification,
)
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.errors import SignatureValidationError

from pki import chain
from pki.certificates import Profile
from pki.chain import PATH_CACHE, ChainError, ChainFailure, validate_path
from pki.lru import LruCache
from pki.ocsp import OcspError, build_request, parse_response
from sealsvc import seals
from sealsvc.pades import Level, Placement, _SealSigner
from sealsvc.verification import DocumentVerdict, TrustAnchors, pdf_frames, pdf_reading, verify
from sealsvc.verification import pdf_signatures as pdfsig
from sealsvc.verification.cache import VerdictCache
from sealsvc.verification.certificates import shared_certificate
from sealsvc.verification.introductions import remember_introductions
from sealsvc.verification.report import _person_of, person_info
from sealsvc.verification.revisions import RevisionIndex
from sealsvc.verification.service import DocumentVerifier
from sealsvc.verification.validator import clear_caches

pytest_plugins = ("helpers.seal_fixtures", "helpers.time_fixtures")  # world

# --- the block-wise hex string reader ----------------------------------------------------

STOCK_READ_OBJECT = pdf_reading._read_object_bytewise
"""pyHanko's own object parser: the fast one (tests/test_pdf_reading.py) hands it
whatever it is unsure of, and these readers speed that up."""

HEX_CASES = [
    b"<>",
    b"<4142>",
    b"<414>",  # odd: the last digit is padded with 0
    b"<41 42\n43\r\t44\x00\x0c45>",
    b"<" + b"3082" * 20000 + b"> rest",  # longer than one block
    b"<FEFF004100420043>",  # a UTF-16 text string
    b"<41 % a comment\n42>",  # a comment: pyHanko's reader decides
]


@pytest.mark.parametrize("data", HEX_CASES)
def test_fast_hex_reader_agrees_with_pyhankos(data: bytes) -> None:
    ours, theirs = io.BytesIO(data), io.BytesIO(data)
    a = pdfsig._read_hex_string(ours)
    b = pdfsig._read_hex_string_bytewise(theirs)
    assert type(a) is type(b) and a == b
    assert ours.tell() == theirs.tell()


@pytest.mark.parametrize("data", [b"<41G2>", b"<4142", b"<41<42>"])
def test_fast_hex_reader_raises_pyhankos_errors(data: bytes) -> None:
    with pytest.raises(PdfError) as theirs:
        pdfsig._read_hex_string_bytewise(io.BytesIO(data))
    with pytest.raises(PdfError) as ours:
        pdfsig._read_hex_string(io.BytesIO(data))
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


def test_fast_hex_reader_is_what_pyhankos_parser_calls() -> None:
    """The pin: ``read_object`` looks the reader up by its module-global name."""
    assert "read_hex_string_from_stream" in STOCK_READ_OBJECT.__code__.co_names
    assert generic.read_hex_string_from_stream is pdfsig._read_hex_string
    calls = []

    def spy(stream):
        calls.append(stream.tell())
        return pdfsig._read_hex_string(stream)

    generic.read_hex_string_from_stream = spy
    try:
        assert STOCK_READ_OBJECT(io.BytesIO(b"<4142>"), None) == "AB"
    finally:
        generic.read_hex_string_from_stream = pdfsig._read_hex_string
    assert calls == [0]


NAME_CASES = [
    b"/Type /Page",
    b"/Type/Page",
    b"/ByteRange[0 1]",
    b"/Contents<00>",
    b"/A#20B ",  # an escape: pyHanko's decoder
    b"/ ",  # the empty name
    b"/Name\x00",
    b"/" + b"Long" * 100 + b" ",  # longer than one block
    b"/EndsTheFile",
    b"/Caf\xc3\xa9 ",  # UTF-8 bytes: pyHanko's decoder (and its error)
]


@pytest.mark.parametrize("data", NAME_CASES)
def test_fast_name_reader_agrees_with_pyhankos(data: bytes) -> None:
    ours, theirs = io.BytesIO(data), io.BytesIO(data)
    try:
        b = pdfsig._read_name_bytewise(theirs)
    except PdfError as exc:
        with pytest.raises(PdfError) as raised:
            pdfsig._read_name(ours)
        assert type(raised.value) is type(exc) and str(raised.value) == str(exc)
        return
    a = pdfsig._read_name(ours)
    assert type(a) is type(b) and a == b
    assert ours.tell() == theirs.tell()


@pytest.mark.parametrize("data", [b"Type ", b"/A#2 ", b"/A#ZZ ", b"/\x01 "])
def test_fast_name_reader_raises_pyhankos_errors(data: bytes) -> None:
    with pytest.raises(PdfError) as theirs:
        pdfsig._read_name_bytewise(io.BytesIO(data))
    with pytest.raises(PdfError) as ours:
        pdfsig._read_name(io.BytesIO(data))
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


def test_fast_name_reader_is_what_pyhankos_parser_calls() -> None:
    """The pin: the parsers look the reader up as ``NameObject.read_from_stream``, and
    pyHanko's decoder for escaped names is still where it was."""
    assert callable(generic._decode_name)
    assert generic.NameObject.read_from_stream is pdfsig._read_name
    for parser in (STOCK_READ_OBJECT, pdf_frames._read_dictionary_bytewise):
        assert "read_from_stream" in parser.__code__.co_names
    calls = []

    def spy(stream):
        calls.append(stream.tell())
        return pdfsig._read_name(stream)

    generic.NameObject.read_from_stream = staticmethod(spy)
    try:
        assert STOCK_READ_OBJECT(io.BytesIO(b"/A#42 "), None) == "/AB"
    finally:
        generic.NameObject.read_from_stream = staticmethod(pdfsig._read_name)
    assert calls == [0]


WHITESPACE_CASES = [
    (b"x", {}),
    (b"  \n\r\t\f\x00/Name", {}),
    (b"   <<", {"seek_back": True}),
    (b"  % a comment\n  1 0 R", {}),  # a comment: pyHanko's function
    (b" " * 100 + b"1", {}),  # longer than one block
    (b"   ", {"allow_eof": True}),
    (b"", {"allow_eof": True}),
]


@pytest.mark.parametrize(("data", "options"), WHITESPACE_CASES)
def test_fast_whitespace_skip_agrees_with_pyhankos(data: bytes, options: dict) -> None:
    ours, theirs = io.BytesIO(data), io.BytesIO(data)
    a = pdfsig._read_non_whitespace(ours, **options)
    b = pdfsig._read_non_whitespace_bytewise(theirs, **options)
    assert a == b and ours.tell() == theirs.tell()


@pytest.mark.parametrize("data", [b"", b"   \n"])
def test_fast_whitespace_skip_raises_pyhankos_errors(data: bytes) -> None:
    with pytest.raises(PdfError) as theirs:
        pdfsig._read_non_whitespace_bytewise(io.BytesIO(data))
    with pytest.raises(PdfError) as ours:
        pdfsig._read_non_whitespace(io.BytesIO(data))
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


def test_fast_whitespace_skip_is_what_pyhankos_parsers_call() -> None:
    """The pin: the parsers look the function up in the generic and misc modules."""
    assert generic.read_non_whitespace is misc.read_non_whitespace is pdfsig._read_non_whitespace
    assert "read_non_whitespace" in pdf_frames._read_dictionary_bytewise.__code__.co_names
    assert "read_non_whitespace" in pdf_frames._parse_xref_table_bytewise.__code__.co_names


# --- revisions that only add validation data ---------------------------------------------

FORGED = b"BT /F1 24 Tf 100 700 Td (FORGED) Tj ET"


def _with_dangling_content(pdf: bytes, number: int) -> bytes:
    """Page 1 also draws object ``number``, which does not exist (yet): it reads as null."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Contents"] = generic.ArrayObject(
        [page.raw_get("/Contents"), generic.IndirectObject(number, 0, writer)]
    )
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _append_dss_by_hand(pdf: bytes, number: int) -> bytes:
    """An update written byte by byte: stream object ``number`` (page content operators),
    listed in a new DSS under ``/Certs``, and the catalog with ``/DSS`` — what an attacker
    who controls object numbers can write, unlike pyHanko's writer."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    dss_number = max(int(reader.trailer_view["/Size"]), number + 1)
    catalog = generic.DictionaryObject(dict(reader.root))
    catalog["/DSS"] = generic.IndirectObject(dss_number, 0, reader)
    return _append_objects(
        pdf,
        {
            number: _FORGED_STREAM,
            dss_number: b"<< /Certs [%d 0 R] >>" % number,
            reader.trailer_view.raw_get("/Root").idnum: _rendered(catalog),
        },
    )


_FORGED_STREAM = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(FORGED), FORGED)


def _rendered(value: generic.PdfObject) -> bytes:
    out = io.BytesIO()
    value.write_to_stream(out, None)
    return out.getvalue()


def _append_objects(pdf: bytes, bodies: dict[int, bytes]) -> bytes:
    """An incremental update (classic xref table) writing ``bodies`` as objects."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    trailer = reader.trailer_view
    size = max(int(trailer["/Size"]), *(n + 1 for n in bodies))
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    offsets = {}
    for idnum, body in bodies.items():
        offsets[idnum] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (idnum, body)
    xref = len(out)
    out += b"xref\n"
    for idnum in sorted(offsets):
        out += b"%d 1\n%010d 00000 n \n" % (idnum, offsets[idnum])
    prev = reader.xrefs.get_startxref_for_revision(reader.xrefs.total_revisions - 1)
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /Prev %d >>\n" % (
        size,
        trailer.raw_get("/Root").idnum,
        trailer.raw_get("/Info").idnum,
        prev,
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


@pytest.fixture(scope="module")
def rsa_services():
    return services_for("rsa")


def test_a_b_lt_licences_dss_revision_is_recognised(rsa_services) -> None:
    pdf = rsa_services.seal(chinese_pdf(1), level=Level.B_LT)
    document = pdfsig.read_document(pdf)
    last = document.revisions - 1
    assert document.index.adds_only_validation_data(last)
    assert not document.index.adds_only_validation_data(document.signatures[0].signed_revision)


def test_dss_updates_that_rewrite_vri_entries_are_judged_from_each_signed_revision() -> None:
    """lt-short.pdf's DSS updates each write an unused cross-reference stream object (an
    orphan, which pyHanko's analysis explains) and, from the second on, rewrite the /VRI
    entries the DSS before held: validation data from a signed revision that did not hold
    them, refused — by pyHanko's rules, hence by its analysis — from one that did."""
    pdf = (Path(__file__).parent / "data" / "pdf-interop" / "lt-short.pdf").read_bytes()
    document = pdfsig.read_document(pdf)
    index, reader = document.index, document.reader
    assert index.adds_only_validation_data(5)
    assert not index.adds_only_validation_data(7)
    assert index.adds_only_validation_data_since(4, 7) is True
    refusal = index.adds_only_validation_data_since(6, 7)
    assert isinstance(refusal, SuspiciousModification) and "VRI" in str(refusal)
    resolver = reader.get_historical_resolver
    level = DEFAULT_DIFF_POLICY.apply(resolver(4), resolver(7)).modification_level
    assert level is ModificationLevel.LTA_UPDATES
    with pytest.raises(SuspiciousModification, match="VRI"):
        DEFAULT_DIFF_POLICY.apply(resolver(6), resolver(7))


def test_a_hand_written_dss_update_is_recognised(rsa_services) -> None:
    sealed = rsa_services.seal(chinese_pdf(1), level=Level.B_B)
    pdf = _append_dss_by_hand(sealed, 900)
    document = pdfsig.read_document(pdf)
    assert document.index.adds_only_validation_data(document.revisions - 1)
    (signature,) = verify(pdf, trust=rsa_services.trust).signatures
    assert signature.modifications is not None and signature.modifications.allowed
    assert signature.modifications.level == "LTA_UPDATES"


def test_a_dss_update_filling_a_dangling_reference_is_not_waved_through(rsa_services) -> None:
    """The signed page refers to object 900, which does not exist when sealing; the update
    defines it, inside the DSS, as page content.  Not "validation data only": pyHanko's
    analysis and the effect comparison judge it (the reader would see FORGED), and the
    modification is never allowed."""
    _assert_object_900_in_a_dss_update_is_refused(
        rsa_services, _with_dangling_content(chinese_pdf(1), 900)
    )


def _assert_object_900_in_a_dss_update_is_refused(rsa_services, prepared: bytes) -> None:
    """Sealed, then object 900 defined by a hand-written DSS update: pyHanko and the
    effect comparison judge that update, and the seal's modification is refused."""
    sealed = rsa_services.seal(prepared, level=Level.B_B)
    pdf = _append_dss_by_hand(sealed, 900)
    document = pdfsig.read_document(pdf)
    assert not document.index.adds_only_validation_data(document.revisions - 1)
    (signature,) = verify(pdf, trust=rsa_services.trust).signatures
    assert signature.modifications is not None and not signature.modifications.allowed
    assert signature.indication is not AdESStatus.PASSED


def test_a_dangling_reference_before_a_number_is_seen(rsa_services) -> None:
    """``900 0 R.5``: pyHanko's look-ahead wants no letter after the ``R``, so it reads a
    reference and then the number .5 — the page's contents array (an object of its own,
    which sealing does not rewrite) names object 900.  Defining it later inside a DSS
    update is no "validation data only" update."""
    base = chinese_pdf(1)
    reader = PdfFileReader(io.BytesIO(base), strict=False)
    page_ref = reader.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    array_number = int(reader.trailer_view["/Size"])
    rest = generic.DictionaryObject({k: page.raw_get(k) for k in page})
    rest["/Contents"] = generic.IndirectObject(array_number, 0, reader)
    array = b"[%d 0 R 900 0 R.5]" % page.raw_get("/Contents").idnum
    prepared = _append_objects(base, {page_ref.idnum: _rendered(rest), array_number: array})
    drawn = PdfFileReader(io.BytesIO(prepared), strict=False).root["/Pages"]["/Kids"][0]
    drawn_contents = drawn["/Contents"]
    assert drawn_contents.raw_get(1).idnum == 900 and drawn_contents[2] == decimal.Decimal("0.5")
    _assert_object_900_in_a_dss_update_is_refused(rsa_services, prepared)


def test_binary_data_that_looks_like_a_commented_reference_keeps_the_fast_path(
    rsa_services,
) -> None:
    """Compressed streams hold any bytes: ``%`` then a line end then `` R `` is no comment
    inside a reference (pyHanko reads none with a comment in it), so a DSS update after
    such a stream is still recognised directly, without pyHanko's whole-file analysis."""
    binary = b"\x9c%\xfe\x01\n R \x07\n12 %\x00\n0 R\xee"
    stream = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(binary), binary)
    reader = PdfFileReader(io.BytesIO(chinese_pdf(1)), strict=False)
    prepared = _append_objects(chinese_pdf(1), {int(reader.trailer_view["/Size"]): stream})
    sealed = rsa_services.seal(prepared, level=Level.B_B)
    pdf = _append_dss_by_hand(sealed, 900)
    document = pdfsig.read_document(pdf)
    assert document.index.adds_only_validation_data(document.revisions - 1)
    (signature,) = verify(pdf, trust=rsa_services.trust).signatures
    assert signature.modifications is not None and signature.modifications.allowed


def test_an_object_the_page_uses_is_never_overwritten_as_dss(rsa_services) -> None:
    """The catalog names the page's content stream as its DSS before sealing; an update
    then rewrites that object "as the DSS".  It was never validation data: pyHanko and
    the effect comparison judge the update, and the page's new content is found."""
    writer = IncrementalPdfFileWriter(io.BytesIO(chinese_pdf(1)), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    content = page.raw_get("/Contents")
    writer.root["/DSS"] = content
    writer.update_root()
    prepared = io.BytesIO()
    writer.write(prepared)
    sealed = rsa_services.seal(prepared.getvalue(), level=Level.B_B)
    reader = PdfFileReader(io.BytesIO(sealed), strict=False)
    root = reader.trailer_view.raw_get("/Root").idnum
    pdf = _append_objects(sealed, {content.idnum: _FORGED_STREAM, root: _rendered(reader.root)})
    document = pdfsig.read_document(pdf)
    assert not document.index.adds_only_validation_data(document.revisions - 1)
    report = verify(pdf, trust=rsa_services.trust)
    assert report.verdict is DocumentVerdict.TOTAL_FAILED
    assert "content of page 1 changed" in report.message


def test_a_dss_update_that_also_changes_a_page_is_not_validation_data(rsa_services) -> None:
    pdf = append_page_content_update(rsa_services.seal(chinese_pdf(1), level=Level.B_LT))
    document = pdfsig.read_document(pdf)
    assert not document.index.adds_only_validation_data(document.revisions - 1)
    assert verify(pdf, trust=rsa_services.trust).verdict is DocumentVerdict.TOTAL_FAILED


# --- the path cache ----------------------------------------------------------------------


def test_a_path_is_validated_once_per_validity_interval() -> None:
    h = build_hierarchy("rsa")
    PATH_CACHE.clear()
    first = validate_path(h.seal, [h.issuing], [h.root], h.valid_at)
    later = validate_path(h.seal, [h.issuing], [h.root], h.valid_at + timedelta(hours=1))
    assert (PATH_CACHE.misses, PATH_CACHE.hits) == (1, 1)
    assert later.path == first.path and later.at == h.valid_at + timedelta(hours=1)


def test_the_path_cache_follows_the_trust_anchors() -> None:
    rsa, sm2 = build_hierarchy("rsa"), build_hierarchy("sm2")
    validate_path(rsa.seal, [rsa.issuing], [rsa.root], rsa.valid_at)
    with pytest.raises(ChainError) as failed:
        validate_path(rsa.seal, [rsa.issuing], [sm2.root], rsa.valid_at)
    assert failed.value.reason is ChainFailure.NO_CHAIN
    validate_path(rsa.seal, [rsa.issuing], [rsa.root, sm2.root], rsa.valid_at)


def test_the_path_cache_follows_time_past_a_certificates_end() -> None:
    h = build_hierarchy("rsa")
    validate_path(h.seal, [h.issuing], [h.root], h.valid_at)
    after = h.seal.not_valid_after + timedelta(seconds=1)
    for _ in range(2):  # the failure is remembered too, and raised again
        with pytest.raises(ChainError) as expired:
            validate_path(h.seal, [h.issuing], [h.root], after)
        assert expired.value.reason is ChainFailure.EXPIRED
    assert validate_path(h.seal, [h.issuing], [h.root], h.seal.not_valid_after).leaf is not None
    before = h.seal.not_valid_before - timedelta(seconds=1)
    with pytest.raises(ChainError) as early:
        validate_path(h.seal, [h.issuing], [h.root], before)
    assert early.value.reason is ChainFailure.NOT_YET_VALID


def test_certificates_no_path_can_use_are_left_out_of_the_path_key() -> None:
    """Certificates whose subject is no issuer up from the leaf (other signers, TSAs, the
    other family's CA) cannot be on a path: the same path, and one cache entry."""
    h, other = build_hierarchy("rsa"), build_hierarchy("sm2")
    unrelated = [h.tsa, h.ocsp, other.issuing, other.root]
    chain.clear_caches()
    for _ in range(2):  # the second time the choice is the one remembered for these bytes
        chosen = chain._possible_issuers(h.seal, [*unrelated, h.issuing, h.root])
        assert chosen == [h.issuing, h.root]
    assert (chain._ISSUER_CHOICES.misses, chain._ISSUER_CHOICES.hits) == (1, 1)
    assert chain._possible_issuers(h.seal, [h.root, *unrelated, h.issuing]) == [h.root, h.issuing]
    PATH_CACHE.clear()
    alone = validate_path(h.seal, [h.issuing], [h.root], h.valid_at)
    crowded = validate_path(h.seal, [*unrelated, h.issuing], [h.root], h.valid_at)
    assert crowded.path == alone.path
    assert (PATH_CACHE.misses, PATH_CACHE.hits) == (1, 1)
    with pytest.raises(ChainError) as failed:  # without its issuer, no path, as before
        validate_path(h.seal, unrelated, [h.root], h.valid_at)
    assert failed.value.reason is ChainFailure.NO_CHAIN


NAMES = [
    {"common_name": "深圳市市场监督管理局行政审批专用章", "country_name": "CN"},
    {"common_name": "  Seal   Office  ", "organization_name": "ACME"},
    {"common_name": "seal office", "organization_name": "acme"},
]


@pytest.mark.parametrize("attributes", NAMES)
def test_name_hashable_is_asn1cryptos(attributes: dict[str, str]) -> None:
    """The pin: the memoised comparison form is asn1crypto's, for a name built and the
    same name read again from its DER; and the property is ours."""
    assert x509.Name.hashable.fget is chain._name_hashable
    name = x509.Name.build(attributes)
    expected = chain._uncached_name_hashable(name)
    assert name.hashable == expected  # computed
    assert x509.Name.load(name.dump()).hashable == expected  # remembered


def test_name_hashable_folds_case_and_spaces() -> None:
    first, second, third = (x509.Name.build(a).hashable for a in NAMES)
    assert second == third and first != second  # RFC 5280 §7.1: case and spaces fold


def test_the_lru_cache_is_bounded() -> None:
    cache = LruCache(maxsize=2)
    for key in "abc":
        cache.put(key, ("r", "m", None))
    assert len(cache) == 2 and cache.get("a") is None and cache.get("c") is not None


# --- name equality -----------------------------------------------------------------------


def _name(common_name: str, *, printable: bool = False) -> x509.Name:
    return x509.Name.build({"common_name": common_name}, use_printable=printable)


def test_name_equality_is_still_rfc_5280s() -> None:
    """Byte-equal names are equal at once; others still go through stringprep."""
    assert x509.Name.__eq__ is pdfsig._name_equal
    assert _name("深圳市市场监督管理局") == _name("深圳市市场监督管理局")
    assert _name("Seal  CA") == _name("seal ca", printable=True)  # case and spaces fold
    assert _name("Seal CA") != _name("Other CA")
    assert _name("Seal CA") != "Seal CA"


def test_name_equality_sees_through_an_explicit_tag() -> None:
    """How pyHanko compares a signing-certificate-v2 issuer with the certificate's."""
    h = build_hierarchy("rsa")
    general = x509.GeneralName(name="directory_name", value=h.seal.issuer)
    tagged = x509.GeneralName.load(general.dump()).chosen
    assert tagged.dump() != h.seal.issuer.dump()
    assert tagged == h.seal.issuer


# --- whole-document verdicts -------------------------------------------------------------

ACTOR = "test:verify-cache"


def _verifier(world) -> DocumentVerifier:
    """The service's verifier on the world's clock, trusting the roots serve would export."""
    with world.context.database.session(read_only=True) as session:
        world.context.ca.export_files(session)
    return DocumentVerifier(world.context, world.trust, clock=world.clock)


def test_other_trust_anchors_are_another_verdict(rsa_services) -> None:
    pdf = rsa_services.seal(chinese_pdf(1), level=Level.B_LT)
    cache = VerdictCache()
    first = verify(pdf, trust=rsa_services.trust, cache=cache)
    assert first.verdict is DocumentVerdict.TOTAL_PASSED
    foreign = TrustAnchors((build_hierarchy("sm2").root,))
    other = verify(pdf, trust=foreign, cache=cache)
    assert other.sub_indication is AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND
    assert verify(pdf, trust=rsa_services.trust, cache=cache) is first


def test_answers_from_outside_are_cached_only_under_a_state(rsa_services) -> None:
    """With the registry or fetching, the caller must name the state those answers are of."""
    pdf = rsa_services.seal(chinese_pdf(1), level=Level.B_LT)
    cache = VerdictCache()
    kwargs = {"trust": rsa_services.trust, "cache": cache, "allow_fetching": True}
    kwargs["fetcher"] = rsa_services.fetch
    first = verify(pdf, **kwargs)
    assert verify(pdf, **kwargs) is not first
    assert verify(pdf, **kwargs, state=1) is verify(pdf, **kwargs, state=1)
    assert verify(pdf, **kwargs, state=2) is not verify(pdf, **kwargs, state=1)


def test_a_cached_verdict_is_not_used_before_it_was_computed(rsa_services) -> None:
    pdf = rsa_services.seal(chinese_pdf(1), level=Level.B_LT)
    cache = VerdictCache()
    now = verify(pdf, trust=rsa_services.trust, cache=cache).validation_time
    earlier = verify(pdf, trust=rsa_services.trust, cache=cache, now=now - timedelta(days=1))
    assert earlier.validation_time == now - timedelta(days=1)


def test_the_services_verdict_follows_revocation_suspension_and_resumption(world) -> None:
    """Real seals, the service's own revocation path, the audit head as the state."""
    code = world.issue_seal("rsa")
    pdf = world.seal(code, Level.B_B)
    verifier = _verifier(world)
    passed = verifier.check(pdf).report
    assert passed.verdict is DocumentVerdict.TOTAL_PASSED
    assert verifier.check(pdf).report is passed  # served from the cache

    seals.suspend(world.context, code, actor=ACTOR)
    held = verifier.check(pdf).report
    assert held.sub_indication is AdESIndeterminate.TRY_LATER
    seals.resume(world.context, code, actor=ACTOR)
    assert verifier.check(pdf).report.verdict is DocumentVerdict.TOTAL_PASSED

    seals.revoke(world.context, code, reason="key_compromise", actor=ACTOR)
    revoked = verifier.check(pdf).report
    assert revoked.verdict is DocumentVerdict.INDETERMINATE
    assert revoked.sub_indication is AdESIndeterminate.REVOKED_NO_POE


def test_the_services_verdict_ends_when_the_seal_certificate_expires(world) -> None:
    """Two seconds apart, nothing audited in between: the cached interval ends at notAfter."""
    code = world.issue_seal("rsa", validity=timedelta(days=2))
    pdf = world.seal(code, Level.B_B)
    verifier = _verifier(world)
    first = verifier.check(pdf).report
    not_after = first.signatures[0].signer.not_after
    world.travel(not_after - timedelta(seconds=1))
    before = verifier.check(pdf).report
    assert before.verdict is DocumentVerdict.TOTAL_PASSED
    assert verifier.check(pdf).report is before
    state = verifier.registry_state()
    world.travel(not_after + timedelta(seconds=1))
    after = verifier.check(pdf).report
    assert verifier.registry_state() == state  # the interval ended, not the state
    assert after.verdict is not DocumentVerdict.TOTAL_PASSED
    assert after.validation_time == not_after + timedelta(seconds=1)


# --- revisions that only add a signature -------------------------------------------------


def _joint_licence(services) -> bytes:
    pdf = services.seal(chinese_pdf(2), level=Level.B_LT)
    for number, x in ((2, 60), (3, 100)):
        cert, key = issue_leaf(services.hierarchy, common_name=f"联合专用章{number}")
        pdf = services.seal(
            pdf,
            level=Level.B_LT,
            certificate=cert,
            key=key,
            placement=Placement(page=2, x_mm=x, y_mm=120),
        )
    return pdf


@pytest.mark.parametrize("source", ["joint licence", "lt-short.pdf"])
def test_levels_judged_once_per_document_are_pyhankos(rsa_services, source: str) -> None:
    """Per signature, the level over all later revisions equals pyHanko's own analysis."""
    if source == "lt-short.pdf":
        pdf = (Path(__file__).parent / "data" / "pdf-interop" / "lt-short.pdf").read_bytes()
    else:
        pdf = _joint_licence(rsa_services)
    document = pdfsig.read_document(pdf)
    judged = 0
    for found in document.signatures:
        embedded = found.embedded
        embedded.coverage = embedded.evaluate_signature_coverage()
        ours = pdfsig._review(document, embedded)
        theirs = embedded.evaluate_modifications(DEFAULT_DIFF_POLICY)
        if isinstance(theirs, DiffResult):
            assert isinstance(ours, DiffResult)
            assert ours.modification_level is theirs.modification_level, found.field_name
            judged += 1
    assert judged >= 3


def test_a_second_seal_that_also_rewrites_the_page_is_not_a_plain_signature(
    rsa_services,
) -> None:
    h = rsa_services.hierarchy
    sealed = rsa_services.seal(chinese_pdf(1), level=Level.B_B)
    writer = IncrementalPdfFileWriter(io.BytesIO(sealed), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Contents"] = writer.add_object(generic.StreamObject(stream_data=FORGED))
    writer.update_container(page)
    signer = _SealSigner(h.seal_key, h.seal, [h.issuing, h.root])
    out = signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name="Seal2"), signer)
    pdf = out.getvalue()
    document = pdfsig.read_document(pdf)
    assert document.index.adds_one_signature(document.signatures[-1].signed_revision) is None
    first = verify(pdf, trust=rsa_services.trust).signatures[0]
    assert first.sub_indication is AdESFailure.HASH_FAILURE


def test_the_plain_signature_revisions_of_a_joint_licence_are_recognised(rsa_services) -> None:
    document = pdfsig.read_document(_joint_licence(rsa_services))
    later = [f.signed_revision for f in document.signatures[1:]]
    assert [document.index.adds_one_signature(r) for r in later] == [
        ModificationLevel.FORM_FILLING
    ] * 2


def _sign(pdf: bytes, h, field_name: str, rename: tuple[str, str] | None = None) -> bytes:
    """``pdf`` plus, optionally, a revision renaming a field, then a seal in a new field."""
    if rename is not None:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        for ref in writer.root["/AcroForm"]["/Fields"]:
            field = ref.get_object()
            if field["/T"] == rename[0]:
                field["/T"] = generic.pdf_string(rename[1])
                writer.update_container(field)
        out = io.BytesIO()
        writer.write(out)
        pdf = out.getvalue()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    signer = _SealSigner(h.seal_key, h.seal, [h.issuing, h.root])
    return signers.sign_pdf(
        writer, signers.PdfSignatureMetadata(field_name=field_name), signer
    ).getvalue()


def test_earlier_field_names_are_read_per_version(rsa_services) -> None:
    """A new field may take a name an earlier field has since given up: the names of
    earlier fields are remembered per version of each field, never past a rename."""
    h = rsa_services.hierarchy
    sealed = rsa_services.seal(chinese_pdf(1), level=Level.B_B)
    first = pdfsig.read_document(sealed).signatures[0].field_name
    pdf = _sign(sealed, h, "Second")
    pdf = _sign(pdf, h, first, rename=(first, "Renamed"))
    document = pdfsig.read_document(pdf)
    second, third = (f.signed_revision for f in document.signatures[1:])
    assert document.index.adds_one_signature(second) is ModificationLevel.FORM_FILLING
    assert document.index.adds_one_signature(third) is ModificationLevel.FORM_FILLING
    assert [f.field_name for f in document.signatures] == ["Renamed", "Second", first]


# --- certificates parsed once per process ------------------------------------------------


def _signer(pdf: bytes) -> x509.Certificate:
    found = pdfsig.read_document(pdf).signatures[0]
    assert found.embedded is not None
    signer = pdfsig.check_cms(found.embedded.signed_data, pdfsig.digest(found), "data").signer
    assert signer is not None
    return signer


def test_a_certificate_is_parsed_once_and_carries_no_verdict() -> None:
    """One object per encoding, shared by documents; a revocation after a good verdict
    on the same certificate still fails the next document (the object holds no verdict)."""
    services = services_for("rsa")
    cert, key = issue_leaf(services.hierarchy, common_name="共享证书专用章")
    first = services.seal(chinese_pdf(1), level=Level.B_LT, certificate=cert, key=key)
    assert verify(first, trust=services.trust).verdict is DocumentVerdict.TOTAL_PASSED
    services.revoke(cert, datetime.now(UTC) - timedelta(minutes=1))
    second = services.seal(chinese_pdf(1), level=Level.B_LT, certificate=cert, key=key)
    signer = _signer(first)
    assert signer is _signer(second) is shared_certificate(cert.dump())
    assert verify(second, trust=services.trust).sub_indication is AdESFailure.REVOKED
    clear_caches()
    assert shared_certificate(cert.dump()) is not signer


def test_a_shared_certificate_encodes_as_it_was_read() -> None:
    """``dump()`` returns the DER read (trailing bytes left out, as ``load`` does); forced
    re-encoding and a copy, which may be changed, still encode themselves."""
    der = build_hierarchy("rsa").seal.dump()
    shared = shared_certificate(der + b"\x00\x00")
    assert shared.dump() == shared.dump(force=True) == der
    assert isinstance(shared, x509.Certificate)
    changed = shared.copy()
    changed["tbs_certificate"]["serial_number"] = 7
    assert changed.dump() != der and x509.Certificate.load(changed.dump()).serial_number == 7


def test_a_persons_name_is_decoded_once_per_certificate() -> None:
    """The person a certificate names (its policy, its masked common name) is worked out
    once per encoding: a copy read from another document is answered from it, and a
    seal's certificate names no person."""
    hierarchy = build_hierarchy("rsa")
    person, _ = issue_leaf(hierarchy, Profile.PERSON_EVENT, common_name="张三丰")
    _person_of.cache_clear()
    first = person_info(person, "申请人")
    again = person_info(x509.Certificate.load(person.dump()), None)
    assert first is not None and again is not None
    assert (first.name, first.role, first.certificate) == ("张*丰", "申请人", "event")
    assert (again.name, again.role, again.certificate) == ("张*丰", None, "event")
    assert _person_of.cache_info().hits == 1
    assert person_info(hierarchy.seal, "盖章") is None


def test_signing_certificate_check_is_what_pyhankos_cms_validation_calls(
    rsa_services, monkeypatch
) -> None:
    """pyHanko's ``validate_sig_integrity`` and ``extract_certs_for_validation`` still go
    through the module global the ESS check is remembered in."""
    pdf = rsa_services.seal(chinese_pdf(1), level=Level.B_T)
    found = pdfsig.read_document(pdf).signatures[0]
    assert found.embedded is not None
    assert generic_cms._check_signing_certificate is pdfsig._check_signing_certificate
    calls: list[x509.Certificate] = []

    def counted(cert: x509.Certificate, signed_attrs: object) -> None:
        calls.append(cert)

    monkeypatch.setattr(generic_cms, "_check_signing_certificate", counted)
    check = pdfsig.check_cms(found.embedded.signed_data, pdfsig.digest(found), "data")
    assert check.valid and len(calls) == 1
    generic_cms.extract_certs_for_validation(found.embedded.signed_data)
    assert len(calls) == 2


def test_signing_certificate_check_still_refuses_a_certificate_it_does_not_name(
    rsa_services,
) -> None:
    """A pass is remembered for the certificate and attribute that passed only: another
    certificate with the same attribute fails, each time."""
    pdf = rsa_services.seal(chinese_pdf(1), level=Level.B_B)
    found = pdfsig.read_document(pdf).signatures[0]
    assert found.embedded is not None
    attributes = found.embedded.signer_info["signed_attrs"]
    signer = pdfsig.signer_certificate(found.embedded.signed_data)
    other, _ = issue_leaf(rsa_services.hierarchy, common_name="另一个专用章")
    for _ in range(2):
        pdfsig._check_signing_certificate(signer, attributes)
        with pytest.raises(SignatureValidationError, match="Signing certificate attribute"):
            pdfsig._check_signing_certificate(other, attributes)


# --- OCSP answers: the responder's certificate decoded once ------------------------------


def test_an_ocsp_answer_with_a_broken_certificate_is_refused_every_time() -> None:
    """The certificates of an answer are decoded once per process when they decode; one
    that does not (a notBefore that is no time, inside the responder's certificate only)
    makes the answer an OcspError each time it is read."""
    services = services_for("rsa")
    h = services.hierarchy
    good = services.responder.respond(build_request(h.seal, h.issuing, nonce=False))
    assert parse_response(good, h.issuing)[0].status == "good"
    (certificate,) = ocsp.OCSPResponse.load(good).basic_ocsp_response["certs"]
    der = certificate.dump()
    not_before = certificate["tbs_certificate"]["validity"]["not_before"].chosen.dump()
    at = good.index(der) + der.index(not_before) + 2  # the time's first two digits
    broken = good[:at] + b"XX" + good[at + 2 :]
    for _ in range(2):
        with pytest.raises(OcspError, match="not an OCSP response"):
            parse_response(broken, h.issuing)
    assert parse_response(good, h.issuing)[0].status == "good"


def test_name_equality_counts_the_attributes_of_each_rdn() -> None:
    """The comparison form folds a repeated attribute; asn1crypto's relation does not."""
    once = x509.Name.build({"common_name": "Seal CA"})
    rdn = once.chosen[0]
    twice = x509.Name(
        name="", value=x509.RDNSequence([x509.RelativeDistinguishedName([rdn[0], rdn[0]])])
    )
    assert once.hashable == twice.hashable
    assert once != twice and twice != once
    assert once.chosen != twice.chosen  # asn1crypto's own relation, on the RDN sequences


# --- introducing revisions remembered per reader (sealsvc/verification/introductions.py) --


def _lt_short_reader() -> PdfFileReader:
    pdf = (Path(__file__).parent / "data" / "pdf-interop" / "lt-short.pdf").read_bytes()
    return pdfsig.open_reader(pdf)


def test_introducing_revision_lookups_go_through_the_readers_xrefs() -> None:
    """pyHanko's ``collect_dependencies(..., since_revision=...)`` (its DSS rule) looks the
    revision up through ``reader.xrefs``: what :func:`remember_introductions` replaces.  If
    pyHanko stopped calling it there, the memo would no longer be used (only slower)."""
    reader = _lt_short_reader()
    asked: list[tuple[int, int]] = []
    stock = reader.xrefs.get_introducing_revision

    def spy(ref):
        asked.append((ref.idnum, ref.generation))
        return stock(ref)

    reader.xrefs.get_introducing_revision = spy
    latest = reader.get_historical_resolver(reader.xrefs.total_revisions - 1)
    found = latest.collect_dependencies(latest.root.raw_get("/DSS"), since_revision=1)
    assert found and asked
    assert {(r.idnum, r.generation) for r in found} <= set(asked)


def _answer(lookup, ref) -> int | str:
    """The revision ``lookup`` names, or "KeyError" (an entry no section resolves)."""
    try:
        return lookup(ref)
    except KeyError:
        return "KeyError"


def test_introducing_revisions_remembered_are_pyhankos() -> None:
    """Every object of every revision of lt-short.pdf, asked twice: the remembered answer
    is the stock method's, and an object no section defines still raises KeyError."""
    reader = _lt_short_reader()
    remember_introductions(reader)
    remember_introductions(reader)  # idempotent: one memo, not a memo of a memo
    xrefs = reader.xrefs
    refs = {
        (ref.idnum, ref.generation): ref
        for revision in range(xrefs.total_revisions)
        for ref in xrefs.explicit_refs_in_revision(revision)
    }
    assert len(refs) > 100

    def stock(ref):
        return xref.XRefCache.get_introducing_revision(xrefs, ref)

    introduced = {_answer(stock, ref) for ref in refs.values()}
    assert len(introduced) > 10  # objects of many revisions, not all of the first
    for _ in range(2):
        for ref in refs.values():
            remembered = _answer(xrefs.get_introducing_revision, ref)
            assert remembered == _answer(stock, ref), ref
    missing = generic.Reference(max(key[0] for key in refs) + 1000, 0)
    for _ in range(2):
        with pytest.raises(KeyError):
            xrefs.get_introducing_revision(missing)


def test_revision_index_remembers_introductions() -> None:
    reader = _lt_short_reader()
    RevisionIndex(reader, b"")
    assert "get_introducing_revision" in vars(reader.xrefs)
