"""The frame readers (sealsvc.verification.pdf_frames) read a file as pyHanko's own
functions read it: the same cross-reference sections and entries, trailers, objects and
errors — and the same warnings in strict mode — for well-formed frames (read at once)
and every other shape (pyHanko's from the same byte)."""

from __future__ import annotations

import hashlib
import inspect
import io
import logging
from collections.abc import Callable

import pytest
from helpers.pdf_fixtures import pdf_with_empty_field
from helpers.pdf_objects import difference, every_object, stock_parser
from pyhanko.pdf_utils import generic, misc, xref
from pyhanko.pdf_utils.reader import PdfFileReader

from sealsvc.verification import pdf_frames
from sealsvc.verification import pdf_signatures as pdfsig

Revision = dict[int, bytes | None]
"""Objects a revision writes (``None``: freed)."""

REVISIONS: list[Revision] = [
    {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        4: b"<< /Length 8 >>\nstream\n0 0 m S\nendstream",
        6: b"(to be freed)",
    },
    {
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R >>",
        5: b"<< /Length 8 >>\nstream\n1 1 m S\nendstream",
        6: None,
    },
]


def _pdf(
    revisions: list[Revision] = REVISIONS,
    *,
    frame: bytes = b"%d 0 obj\n%s\nendobj\n",
    eol: bytes = b" \n",
    after_table: bytes = b"",
    keyword: bytes = b"trailer\n",
    trailer: bytes = b"<< /Size %d /Root 1 0 R%s >>",
    swap: bool = False,
) -> bytes:
    """A file of ``revisions`` (incremental updates, one classic table each, a subsection
    per run of numbers) with each kind of frame written as given; ``swap``: the last
    table's first two entries exchanged (each points at the other's object)."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    previous, size = None, 0
    for index, objects in enumerate(revisions):
        offsets: dict[int, int | None] = {}
        for number in sorted(objects):
            body = objects[number]
            if body is None:
                offsets[number] = None
                continue
            offsets[number] = len(out)
            out += frame % (number, body)
        size = max(size, max(objects) + 1)
        start = len(out)
        entries = {0: None, **offsets} if index == 0 else offsets
        lines = {
            n: (b"0000000000 65535 f" if at is None else b"%010d 00000 n" % at) + eol
            for n, at in entries.items()
        }
        if swap and index == len(revisions) - 1:
            first, second = sorted(n for n in lines if entries[n] is not None)[:2]
            lines[first], lines[second] = lines[second], lines[first]
        out += b"xref\n"
        numbers = sorted(lines)
        runs: list[list[int]] = []
        for number in numbers:
            if runs and runs[-1][-1] == number - 1:
                runs[-1].append(number)
            else:
                runs.append([number])
        for run in runs:
            out += b"%d %d\n" % (run[0], len(run)) + b"".join(lines[n] for n in run)
        prev = b"" if previous is None else b" /Prev %d" % previous
        out += after_table + keyword + trailer % (size, prev)
        out += b"\nstartxref\n%d\n%%%%EOF\n" % start
        previous = start
    return bytes(out)


def _read_alike(pdf: bytes, caplog: pytest.LogCaptureFixture) -> None:
    """Both readers, lenient and strict: the same sections, trailers, objects, errors and
    warnings."""
    for strict in (False, True):
        caplog.clear()
        ours = every_object(pdf, strict=strict)
        our_warnings = [r.getMessage() for r in caplog.records]
        caplog.clear()
        with stock_parser():
            theirs = every_object(pdf, strict=strict)
        their_warnings = [r.getMessage() for r in caplog.records]
        assert ours.keys() == theirs.keys(), strict
        for key in ours:
            mine, its = ours[key], theirs[key]
            if "error" in (mine[0], its[0]):
                assert mine == its, (strict, key)
            else:
                assert difference(mine[1], its[1]) is None, (strict, key)
        assert our_warnings == their_warnings, strict


@pytest.fixture(autouse=True)
def _pyhanko_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="pyhanko")


def test_the_test_file_has_what_the_frames_must_handle() -> None:
    """Two revisions, three subsections in the second, a freed object, a /Prev chain."""
    reader = PdfFileReader(io.BytesIO(_pdf()), strict=True)
    assert reader.xrefs.total_revisions == 2
    assert reader.get_object(generic.Reference(3, 0, reader)).raw_get("/Contents").idnum == 5
    assert b"xref\n3 1\n" in _pdf() and b"0000000000 65535 f \n" in _pdf()


FRAMES = {
    "plain": {},
    # cross-reference entries: the three 2-byte ends of line, and the one-byte and
    # three-byte ones pyHanko repairs
    "eol space-cr": {"eol": b" \r"},
    "eol crlf": {"eol": b"\r\n"},
    "eol lf only": {"eol": b"\n"},
    "eol cr only": {"eol": b"\r"},
    "eol 3 bytes": {"eol": b" \r\n"},
    # between the table and its trailer
    "comment before trailer": {"after_table": b"% a comment\n"},
    "blank lines before trailer": {"after_table": b"\n\n  "},
    "trailer then comment": {"keyword": b"trailer % c\n"},
    "trailer no whitespace": {"keyword": b"trailer"},
    "trailer crlf": {"keyword": b"trailer\r\n"},
    "not trailer": {"keyword": b"trailers\n"},
    # trailers
    "trailer with comment": {"trailer": b"<< /Size %d %% c\n/Root 1 0 R%s >>"},
    "trailer duplicate key": {"trailer": b"<< /Size %d /Root 1 0 R /Root 1 0 R%s >>"},
    "trailer unclosed": {"trailer": b"<< /Size %d /Root 1 0 R%s"},
    "trailer not a dictionary": {"trailer": b"[ %d /Root 1 0 R%s ]"},
    "trailer with stream keyword": {"trailer": b"<< /Size %d /Root 1 0 R%s >> stream\n"},
    # object frames
    "no line ends": {"frame": b"%d 0 obj%s endobj "},
    "extra space in header": {"frame": b"%d  0 obj\n%s\nendobj\n"},
    "offset on whitespace": {"frame": b" %d 0 obj\n%s\nendobj\n"},
    "comment after obj": {"frame": b"%d 0 obj %% c\n%s\nendobj\n"},
    "comment before endobj": {"frame": b"%d 0 obj\n%s\n%% c\nendobj\n"},
    "comment after endobj": {"frame": b"%d 0 obj\n%s\nendobj%% c\n"},
    "no endobj": {"frame": b"%d 0 obj\n%s\n"},
    "endobjx": {"frame": b"%d 0 obj\n%s\nendobjx\n"},
    "bad keyword": {"frame": b"%d 0 ob\n%s\nendobj\n"},
    "keyword glued": {"frame": b"%d 0 objx%s\nendobj\n"},
    "wrong object": {"swap": True},
}


@pytest.mark.parametrize("variant", sorted(FRAMES))
def test_each_shape_of_frame_reads_as_pyhanko_reads_it(
    variant: str, caplog: pytest.LogCaptureFixture
) -> None:
    _read_alike(_pdf(**FRAMES[variant]), caplog)  # type: ignore[arg-type]


def _spy(name: str, stock: Callable[..., object], used: set[str]) -> Callable[..., object]:
    def called(*args: object, **kwargs: object) -> object:
        used.add(name)
        return stock(*args, **kwargs)

    return called


@pytest.mark.parametrize(
    ("variant", "bytewise"),
    [
        ("plain", set()),
        ("eol crlf", set()),
        ("trailer no whitespace", set()),
        ("eol lf only", {"_parse_xref_table_bytewise"}),
        ("trailer with comment", {"_read_dictionary_bytewise"}),
        ("comment after obj", {"_read_object_framed_bytewise"}),
    ],
)
def test_well_formed_frames_take_the_fast_path(
    variant: str, bytewise: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The frames our licences have are read without pyHanko's byte-wise functions; the
    others go to them."""
    used: set[str] = set()
    for name in ("_parse_xref_table_bytewise", "_read_dictionary_bytewise",
                 "_read_object_framed_bytewise"):  # fmt: skip
        monkeypatch.setattr(pdf_frames, name, _spy(name, getattr(pdf_frames, name), used))
    reader = PdfFileReader(io.BytesIO(_pdf(**FRAMES[variant])), strict=False)  # type: ignore[arg-type]
    for revision in range(reader.xrefs.total_revisions):
        for ref in reader.xrefs.explicit_refs_in_revision(revision):
            if reader.xrefs.get_historical_ref(ref, revision) is not None:  # not freed
                reader.get_object(ref, revision=revision)
    assert used == bytewise


def test_mutated_frames_read_as_pyhanko_reads_them(caplog: pytest.LogCaptureFixture) -> None:
    """A sealed file's tables, trailers and object headers with bytes overwritten here
    and there (a sample: every file is read whole, twice, in two modes)."""
    pdf = pdf_with_empty_field()
    spots: list[int] = []
    for needle, before, after, step in ((b"xref", 0, 120, 7), (b"trailer", 8, 60, 5),
                                         (b" obj", 12, 6, 23), (b"endobj", 2, 8, 41)):  # fmt: skip
        at = pdf.find(needle)
        while at >= 0:
            spots += range(max(0, at - before), min(len(pdf), at + after), step)
            at = pdf.find(needle, at + 1)
    spots = sorted(set(spots))
    assert len(spots) > 60
    for spot in spots:
        for byte in (0x20, 0x25, 0x0D, 0x30, 0x3C):
            mutated = pdf[:spot] + bytes((byte,)) + pdf[spot + 1 :]
            if mutated != pdf:
                _read_alike(mutated, caplog)


# --- the reach-in ----------------------------------------------------------------------


def test_the_frame_readers_are_what_pyhanko_calls() -> None:
    """The pin: pyHanko's cross-reference reader calls ``parse_xref_table`` by its
    module-global name and reads a trailer with ``DictionaryObject.read_from_stream``;
    ``get_object`` reads an object with ``self._read_object``."""
    assert xref.parse_xref_table is pdf_frames.parse_xref_table
    assert generic.DictionaryObject.read_from_stream is pdf_frames.read_dictionary
    assert PdfFileReader._read_object is pdf_frames.read_framed_object
    table_reader = xref.XRefBuilder._read_xref_table.__code__
    assert {"parse_xref_table", "DictionaryObject", "read_from_stream", "TrailerReference"} <= {
        *table_reader.co_names
    }
    assert "_read_object" in PdfFileReader.get_object.__code__.co_names


MIRRORED = {
    "parse_xref_table": pdf_frames._parse_xref_table_bytewise,
    "XRefBuilder._read_xref_table": xref.XRefBuilder._read_xref_table,
    "XRefEntry": xref.XRefEntry,
    "PdfFileReader._read_object": pdf_frames._read_object_framed_bytewise,
    "read_object_header": xref.read_object_header,
    "_read_object_header": xref._read_object_header,
    "read_until_whitespace": misc.read_until_whitespace,
    "_read_until_class": misc._read_until_class,
    "skip_over_whitespace": misc.skip_over_whitespace,
    "skip_over_comments": misc.skip_over_comments,
    "read_non_whitespace": pdfsig._read_non_whitespace_bytewise,
    "NumberObject.read_from_stream": generic.NumberObject.read_from_stream,
    "DictionaryObject.read_from_stream": pdf_frames._read_dictionary_bytewise,
}  # fmt: skip
"""pyHanko's functions whose rules the frame readers copy."""
MIRRORED_SOURCE = "3a5f384b0c4a"


def test_the_rules_the_frame_readers_copy_are_still_pyhankos() -> None:
    """If pyHanko changes any of these, re-check pdf_frames against the new rules and
    then update the digest."""
    assert misc.PDF_WHITESPACE == b" \n\r\t\f\x00"
    sources = "".join(inspect.getsource(f) for f in MIRRORED.values())
    assert hashlib.sha256(sources.encode()).hexdigest()[:12] == MIRRORED_SOURCE
