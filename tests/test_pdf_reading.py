"""The one-regex object reader (sealsvc.verification.pdf_reading) reads every object as
pyHanko's own parser reads it: the same objects (type, value, container, string kind,
decimal digits, stream bytes), ending at the same byte, or the same error."""

from __future__ import annotations

import decimal
import hashlib
import inspect
import io
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.hostile_pdfs import HOSTILE, build_pdf, nested, stream
from helpers.pdf_fixtures import (
    chinese_pdf,
    encrypted_pdf,
    pdf_with_broken_xref,
    pdf_with_empty_field,
    reportlab_seal_pdf,
)
from helpers.pdf_objects import difference, every_object, outcome, stock_parser
from pyhanko.pdf_utils import generic, misc, reader
from pyhanko.pdf_utils.reader import PdfFileReader

from sealsvc import seals
from sealsvc.archival_check.pdf_facts import inspect_pdf
from sealsvc.context import ServiceContext
from sealsvc.licences import get_licence_file, issue_licence, load_template
from sealsvc.pades import Level
from sealsvc.verification import pdf_frames, pdf_history, pdf_reading
from sealsvc.verification import pdf_signatures as pdfsig
from sealsvc.verification.pdf_signatures import FormatProblem, read_document

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

ACTOR = "test:pdf-reading"
DATA = Path(__file__).parent / "data"
STOCK = pdf_reading._read_object_bytewise


def _assert_same(ours: tuple[str, object], theirs: tuple[str, object], where: str) -> None:
    if ours[0] == "error" or theirs[0] == "error":
        assert ours == theirs, where
        return
    found = difference(ours[1], theirs[1])
    assert found is None, f"{where}{found}"


# --- whole files: every object, every revision ------------------------------------------


def _assertevery_object_agrees(pdf: bytes, label: str) -> int:
    """Compares the cross-reference sections, each revision's trailer and every object;
    returns how many of the last trailer and the objects (or the error opening) it saw."""
    ours = every_object(pdf)
    with stock_parser():
        theirs = every_object(pdf)
    assert ours.keys() == theirs.keys(), label
    for key in ours:
        _assert_same(ours[key], theirs[key], f"{label} {key}: ")
    return sum(1 for key in ours if key in ("open", "trailer") or len(key) == 3)


@pytest.fixture(autouse=True)
def _quiet_pyhanko(caplog: pytest.LogCaptureFixture) -> None:
    """Broken and hostile files make pyHanko log a warning per object it cannot find."""
    caplog.set_level(logging.ERROR, logger="pyhanko")


CORPUS = sorted(DATA.rglob("*.pdf"))
FIXTURES: dict[str, Callable[[], bytes]] = {
    "chinese_pdf": chinese_pdf,
    "pdf_with_empty_field": pdf_with_empty_field,
    "encrypted_pdf": encrypted_pdf,
    "pdf_with_broken_xref": pdf_with_broken_xref,
    "reportlab_seal_pdf": reportlab_seal_pdf,
}


def test_the_corpus_holds_the_interop_files() -> None:
    assert len(CORPUS) >= 12 and any("pdf-interop" in p.parts for p in CORPUS)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def testevery_object_of_the_test_pdfs_reads_as_pyhanko_reads_it(path: Path) -> None:
    assert _assertevery_object_agrees(path.read_bytes(), path.name) > 1


@pytest.mark.parametrize("name", sorted(FIXTURES))
def testevery_object_of_the_fixture_pdfs_reads_as_pyhanko_reads_it(name: str) -> None:
    assert _assertevery_object_agrees(FIXTURES[name](), name) >= 1


@pytest.mark.parametrize("name", sorted(HOSTILE))
def testevery_object_of_the_hostile_pdfs_reads_as_pyhanko_reads_it(name: str) -> None:
    assert _assertevery_object_agrees(HOSTILE[name](), name) >= 1


def testevery_object_of_the_licences_we_issue_reads_as_pyhanko_reads_it(
    sqlite_seal_context: ServiceContext,
) -> None:
    """PDF/A licences as issued: one seal B-LTA, one seal B-T, and a joint licence with
    two seals (incremental updates, DSS, time-stamps, widgets, fonts)."""
    context = sqlite_seal_context
    market = seals.issue(context, department="郑州市市场监督管理局", kind="公章", actor=ACTOR)
    approval = seals.issue(context, department="郑州市市场监督管理局", kind="行政审批专用章",
                           actor=ACTOR)  # fmt: skip
    ftz = seals.issue(context, department="中国（河南）自由贸易试验区郑州片区管理委员会",
                      kind="行政审批专用章", actor=ACTOR)  # fmt: skip
    business = load_template("business_licence")
    permit = load_template("admin_permit_decision")
    joint = {
        **permit.example,
        "authority": "中国（河南）自由贸易试验区郑州片区管理委员会、郑州市市场监督管理局",
    }
    issued = {
        "B-LTA": issue_licence(
            context, business, business.example, [market.code], actor=ACTOR, level=Level.B_LTA
        ),
        "B-T": issue_licence(
            context, business, business.example, [market.code], actor=ACTOR, level=Level.B_T
        ),
        "joint": issue_licence(context, permit, joint, [ftz.code, approval.code], actor=ACTOR),
    }
    for label, record in issued.items():
        pdf = get_licence_file(context, record.number)
        assert b"pdfaid:part" in pdf, label
        assert _assertevery_object_agrees(pdf, label) > 20


# --- single objects: hand-written edge cases and mutations --------------------------------

_HANDLER = PdfFileReader(io.BytesIO(chinese_pdf()), strict=False)
_CONTAINER = generic.Reference(1, 0, _HANDLER)


def _read(data: bytes, start: int = 0, container: object = _CONTAINER) -> tuple[str, object]:
    """The object at ``start`` and where the parser stopped, or its error."""
    source = io.BytesIO(data)
    source.seek(start)

    def parse() -> tuple[object, int]:
        return generic.read_object(source, container), source.tell()

    return outcome(parse)


def _assert_reads_alike(data: bytes, start: int = 0, container: object = _CONTAINER) -> None:
    ours = _read(data, start, container)
    with stock_parser():
        theirs = _read(data, start, container)
    if ours[0] == "object" and theirs[0] == "object":
        (mine, my_end), (its, its_end) = ours[1], theirs[1]  # type: ignore[misc]
        assert my_end == its_end, data[:80]
        assert difference(mine, its) is None, (data[:80], difference(mine, its))
    else:
        assert ours == theirs, data[:80]


CASES = [
    # numbers: pyHanko's run of [+,-.0-9], int() or Decimal()
    b"0", b"-17", b"+17", b"007", b"1.", b".5", b"-.5", b"+.5", b"3.14159265358979323846",
    b"1.50", b"1.2.3", b"1,2", b"12-3", b"-", b"+", b".", b"--5", b"1e5", b"5x",
    b"9" * 4000, b"9" * 4001, b"9" * 4400, b"1." + b"0" * 5000,
    # references: pyHanko looks 20 bytes ahead for n g R and a non-letter
    b"12 0 R ", b"12 0 R", b"12 0 Rx", b"12 0 R/", b"12  0\nR]", b"0 0 R ", b"1 65535 R ",
    b"1234567890 12345 R ", b"1234567890 123456 R ", b"1        0        R ",
    b"1 0\x0bR ", b"1\x0b0 R ", b"1 0 \x0bR ", b"1\x000 R ", b"1 0 %c\nR ",
    # names
    b"/Type", b"/", b"/A#20B", b"/A#2", b"/A#ZZ", b"/Caf\xc3\xa9", b"/\x80", b"/\x01x",
    b"/A{", b"/Name\x00", b"/" + b"N" * 500,
    # strings
    b"()", b"(abc)", b"(a(b)c)", b"(a\\(b)", b"(a\\)b)", b"(\\n\\r\\t\\b\\f\\\\)",
    b"(\\0)", b"(\\07)", b"(\\101)", b"(\\1012)", b"(\\377)", b"(\\400)", b"(\\8)", b"(\\19)",
    b"(\\q)", b"(a\\\nb)", b"(a\\\r\nb)", b"(a\\\n\rb)", b"(a\\\n\nb)", b"(a\r\nb)", b"(unbalanced",
    b"(a(b)", b"(\xfe\xff\x00A)", b"(\xef\xbb\xbfutf8)", b"(\xff\xfeA\x00)", b"(\xfe\xff\x00)",
    b"(\\", b"(% not a comment)",
    b"(a(\\101)b\\)c)", b"(a(b\\", b"(\\\r)", b"(\\\r\r)", b"(a(\\\n)b)", b"(\\7777)",
    b"(\\08)", b"(a(b)\\q)", b"(\\\\(a))", b"(\\)", b"(a(\\)b)", b"(\\376\\377\\204\\045N\\032b)",
    # hex strings
    b"<>", b"<4142>", b"<414>", b"< 41 42 >", b"<FEFF0041>", b"<41G2>", b"<4142", b"<41%c\n42>",
    # keywords
    b"true", b"false", b"null", b"truex", b"fals", b"nul", b"True", b"[true/A false]",
    # arrays
    b"[]", b"[ ]", b"[1 2 3]", b"[1 0 R 2 0 R]", b"[/A/B(c)<44>[1]]", b"[1 2", b"[1 %c\n2]",
    b"[1 >> 2]", b"[\x00\t\n\x0c\r 1]", b"[1\x0b2]", b"[1 }]",
    b"[-1 +2 0 007]", b"[1 2 3 0 R]", b"[1 2]R ", b"[1 2] 0 R ", b"[12345678901234567890 1]",
    b"[1 2 ]", b"[1.5 2]", b"[2 1.5]", b"[1 2/A]", b"[1 2 3 R]", b"[1-2]", b"[1,2]", b"[ 1\n2\r]",
    b"[-.5 +3. 0.25 -0 .0]", b"[ 299.8047\n  1000 ]", b"[1.5.2 3]", b"[1. 2 0 R]", b"[.5 1 0 R]",
    b"[1.5 -]", b"[1 +.]", b"[.]", b"[1.5-2]", b"[0.5 12345678901234567890]", b"[1.5 2 3 R]",
    b"[1234567890123456789012.25 -.5]", b"[1.5 2]R ", b"[1.5\x0b2]", b"[1.5 /A]",
    # dictionaries
    b"<<>>", b"<< >>", b"<</A 1>>", b"<</A 1/B 2>>", b"<< /A << /B [1 2] >> >>",
    b"<< /A 1 /A 2 >>", b"<< /A 1 % comment\n /B 2 >>", b"<< /A 1 >x", b"<< /A >>",
    b"<< 1 2 >>", b"<< /A 1", b"<< /A#42 1 >>", b"<</A<</B 1>>stream\nxx\nendstream>>",
    b"<< /A << >> % c\n>>", b"<< /A << >> s >>", b"<< (k) 1 >>",
    # streams
    stream(b"hello"), stream(b"hello") + b" endobj",
    b"<< /Length 5 >>\r\nstream\r\nhello\r\nendstream",
    b"<< /Length 5 >>stream\rhello\nendstream", b"<< /Length 5 >>stream  \nhello endstream",
    b"<< /Length 5 >>\nstream\nhello", b"<< /Length 6 >>\nstream\nhello\nendstream",
    b"<< /Length 4 >>\nstream\nhello\nendstream", b"<< /Length 5 >>\nstream\nhello%c\nendstream",
    b"<< /Length -1 >>\nstream\nhello\nendstream", b"<< /Length 5.0 >>\nstream\nhelloendstream",
    b"<< >>\nstream\nhello\nendstream", b"<< /Length 5 >> % c\nstream\nhello\nendstream",
    b"<< /Length 5 >>\nstreamXhelloendstream", b"<< /Length 5 >>\nstream",
    b"<< /Length 5 >>\nstreamy",
    # what pyHanko refuses at the very start
    b"", b" 1", b"\n/A", b"%comment\n1", b"]", b">>", b")", b"{", b"R",
]  # fmt: skip


@pytest.mark.parametrize("data", CASES)
def test_edge_cases_read_as_pyhanko_reads_them(data: bytes) -> None:
    _assert_reads_alike(data)


def test_a_stream_with_an_indirect_length_reads_as_pyhanko_reads_it() -> None:
    """``/Length 2 0 R``: the length object is fetched through the handler, as pyHanko
    does, and the stream read from where the dictionary ended."""
    pdf = build_pdf({1: b"<< /Length 2 0 R >>\nstream\nhello\nendstream", 2: b"5"})
    assert _assertevery_object_agrees(pdf, "indirect length") == 3
    wrong = build_pdf({1: b"<< /Length 2 0 R >>\nstream\nhello\nendstream", 2: b"(five)"})
    assert _assertevery_object_agrees(wrong, "length not a number") == 3


def test_deep_nesting_reads_as_pyhanko_reads_it() -> None:
    """Past :data:`MAX_DEPTH` pyHanko's recursion takes over (nested values come back to
    the fast reader); very deep nesting ends in pyHanko's RecursionError, not a crash."""
    depth = pdf_reading.MAX_DEPTH
    for levels in (depth - 1, depth, depth + 1, 3 * depth):
        for value in (b"[" * levels + b"]" * levels, b"<</A " * levels + b"1" + b">>" * levels):
            _assert_reads_alike(value)
    assert _read(b"[" * 100_000)[1][0] is RecursionError  # type: ignore[index]
    with pytest.raises(FormatProblem, match="cannot be parsed"):
        read_document(nested(100_000))


def test_a_malformed_decimal_is_a_format_problem_not_a_crash() -> None:
    """pyHanko reads ``1.2.3`` as a number and ``Decimal`` raises InvalidOperation (an
    ArithmeticError): both parsers raise it, and the checks report an unreadable file."""
    assert _read(b"1.2.3")[1][0] is decimal.InvalidOperation  # type: ignore[index]
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 1.2.3] >>",
        4: b"<< /FT /Sig /T (Seal1) /Rect [0 0 1.2.3 0] /V << /Type /Sig >> >>",
    }
    with pytest.raises(FormatProblem, match="cannot be parsed"):
        read_document(build_pdf(objects))
    facts = inspect_pdf(build_pdf(objects))
    assert facts.problem and "PDF 无法解析" in facts.problem


def test_a_missing_handler_is_pyhankos_error() -> None:
    """pyHanko asks the container for its handler on every dictionary and reference."""
    for data in (b"<< /A 1 >>", b"1 0 R ", b"/Name", b"[1]"):
        _assert_reads_alike(data, container=None)


def test_mutated_licence_objects_read_as_pyhanko_reads_them() -> None:
    """Every object of a sealed licence, truncated at many points, and with bytes flipped
    or overwritten around its tokens, reads alike (or fails alike) from its start."""
    pdf = pdf_with_empty_field()
    starts = [i + len(b" obj") for i in _offsets(pdf, b" 0 obj")]
    assert len(starts) > 10
    for start in starts:
        body = pdf[start : pdf.index(b"endobj", start) + 6]
        for cut in range(1, min(len(body), 400), 7):
            _assert_reads_alike(body[:cut], 1)
        for at in range(1, min(len(body), 300), 11):
            for byte in (0x00, 0x0B, 0x25, 0x28, 0x29, 0x2F, 0x3C, 0x3E, 0x5B, 0x5D, 0x80):
                mutated = body[:at] + bytes((byte,)) + body[at + 1 :]
                _assert_reads_alike(mutated, 1)


def _offsets(data: bytes, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


# --- the reach-in ----------------------------------------------------------------------


def test_the_fast_reader_is_what_pyhankos_reader_calls() -> None:
    """The pin: pyHanko's reader, object streams and container parsers look ``read_object``
    up by its module-global name, so the patched global is what they call."""
    assert generic.read_object is pdf_reading.read_object
    assert "read_object" in pdf_frames._read_object_framed_bytewise.__code__.co_names
    assert "read_object" in reader.PdfFileReader._get_object_from_stream.__code__.co_names
    for parser in (pdf_frames._read_dictionary_bytewise, generic.ArrayObject.read_from_stream):
        assert "read_object" in parser.__code__.co_names
    calls: list[int] = []

    def spy(stream_: io.BytesIO, *args: object, **kwargs: object) -> generic.PdfObject:
        calls.append(stream_.tell())
        return pdf_reading.read_object(stream_, *args, **kwargs)  # type: ignore[arg-type]

    generic.read_object = spy
    try:
        pdf_reader = PdfFileReader(io.BytesIO(chinese_pdf()), strict=False)
        assert pdf_reader.root["/Type"] == "/Catalog"
    finally:
        generic.read_object = pdf_reading.read_object
    assert calls


MIRRORED = {
    "read_object": STOCK,
    "DictionaryObject.read_from_stream": pdf_frames._read_dictionary_bytewise,
    "ArrayObject.read_from_stream": generic.ArrayObject.read_from_stream,
    "IndirectObject.read_from_stream": generic.IndirectObject.read_from_stream,
    "NumberObject.read_from_stream": generic.NumberObject.read_from_stream,
    "BooleanObject.read_from_stream": generic.BooleanObject.read_from_stream,
    "NullObject.read_from_stream": generic.NullObject.read_from_stream,
    "FloatObject.__new__": generic.FloatObject.__new__,
    "NumberObject.__new__": generic.NumberObject.__new__,
    "_read_string_literal_bytes": generic._read_string_literal_bytes,
    "read_hex_string_from_stream": pdfsig._read_hex_string_bytewise,
    "_maybe_read_stream_payload": generic._maybe_read_stream_payload,
    "_decode_name": generic._decode_name,
    "DictionaryObject.__init__": generic.DictionaryObject.__init__,
    "_normalise_key": generic._normalise_key,
    "pdf_string": generic.pdf_string,
    "skip_over_whitespace": misc.skip_over_whitespace,
    "read_until_delimiter": misc.read_until_delimiter,
}  # fmt: skip
"""pyHanko's functions whose rules the fast reader copies."""
MIRRORED_SOURCE = "3eeaf10f8f40"


def test_the_rules_the_fast_reader_copies_are_still_pyhankos() -> None:
    """The fast reader re-implements these functions' rules; if pyHanko changes any of
    them (or the constants below), re-check pdf_reading against the new rules and then
    update the digest."""
    assert generic.OBJECT_PREFIXES == b"/<[tf(n%"
    assert generic.NUMBER_SIGNS == b"+-."
    assert generic.INDIRECT_PATTERN.pattern == rb"(\d+)\s+(\d+)\s+R[^a-zA-Z]"
    assert generic.NumberObject.NumberPattern.pattern == b"[^+-.0-9]"
    assert misc.PDF_WHITESPACE == b" \n\r\t\f\x00"
    assert misc.PDF_DELIMITERS == b"()<>[]{}/%"
    sources = "".join(inspect.getsource(f) for f in MIRRORED.values())
    assert hashlib.sha256(sources.encode()).hexdigest()[:12] == MIRRORED_SOURCE


def test_the_view_copy_is_what_pyhankos_views_call() -> None:
    """The pin of :mod:`.pdf_history`: a revision's view copies each object it reads with
    ``self._subsume_object``, and the method whose rules the fast copy follows (with the
    dictionary constructor's key rule) is unchanged.  If pyHanko changes it, re-check
    pdf_history against it and update the digest."""
    assert reader.HistoricalResolver._subsume_object is pdf_history.subsume_object
    assert "_subsume_object" in reader.HistoricalResolver.get_object.__code__.co_names
    copied = (
        pdf_history._subsume_object_stock,
        generic.PdfObject.get_container_ref,
        generic.DictionaryObject.__init__,
        generic._normalise_key,
    )
    sources = "".join(inspect.getsource(f) for f in copied)
    assert hashlib.sha256(sources.encode()).hexdigest()[:12] == "0a48eb97323f"


@pytest.mark.parametrize(
    "value",
    [
        generic.NumberObject(5),
        generic.DictionaryObject({generic.NameObject("/A"): generic.NumberObject(1)}),
        generic.ArrayObject([generic.NumberObject(1)]),
    ],
    ids=["number", "dictionary", "array"],
)
@pytest.mark.parametrize("container", ["none", "trailer"])
def test_a_view_copies_an_object_not_from_a_file_as_pyhanko_does(value, container) -> None:
    """No container (built, not read) or the trailer's (no object numbers): pyHanko's
    copy raises before it looks at the value, and so does the fast one."""
    pdf_reader = PdfFileReader(io.BytesIO(chinese_pdf()), strict=False)
    view = pdf_reader.get_historical_resolver(0)
    value.container_ref = None if container == "none" else generic.TrailerReference(pdf_reader)
    theirs = outcome(lambda: pdf_history._subsume_object_stock(view, value))
    ours = outcome(lambda: pdf_history.subsume_object(view, value))
    assert theirs[0] == "error" and ours == theirs
