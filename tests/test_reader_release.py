"""A reader released after verification holds no parsed object: the document's objects are
freed by reference counting, not left as one cycle for the collector — and the reader
still answers, parsing again, if anything asks it afterwards.

``release`` reaches into pyHanko's reader (its object caches have no public clear); these
tests fail if pyHanko renames them or adds a cache that keeps objects alive.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic

from sealsvc.verification.pdf_signatures import (
    PARSE_ERRORS,
    open_reader,
    read_document,
    release,
)
from sealsvc.verification.validator import TrustAnchors, verify

INTEROP = Path(__file__).parent / "data" / "pdf-interop"
LTA = INTEROP / "pades-lta-dss-indirect-arrs-test.pdf"


@pytest.fixture
def collector_off() -> Iterator[None]:
    """Nothing but reference counting frees objects while the test looks."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    yield
    if enabled:
        gc.enable()


def _parsed_objects(data: bytes) -> tuple[object, list[weakref.ref[generic.PdfObject]]]:
    """A reader that has verified-and-inspected ``data``, and weak references to what it
    parsed (every dictionary it resolved, in every revision)."""
    reader = open_reader(data)
    document = read_document(data, reader)
    assert document.signatures
    for revision in range(reader.xrefs.total_revisions):
        reader.get_historical_resolver(revision).root  # noqa: B018 - parse each revision
    parsed = [
        weakref.ref(obj)
        for obj in reader.resolved_objects.values()
        if isinstance(obj, generic.DictionaryObject)
    ]
    assert parsed
    return reader, parsed


def test_released_objects_are_freed_without_the_collector(collector_off: None) -> None:
    reader, parsed = _parsed_objects(LTA.read_bytes())
    release(reader)  # type: ignore[arg-type]
    alive = [ref() for ref in parsed if ref() is not None]
    assert alive == []


def test_unreleased_objects_wait_for_the_collector(collector_off: None) -> None:
    """The cycle ``release`` breaks is real: without it, dropping the reader frees nothing."""
    reader, parsed = _parsed_objects(LTA.read_bytes())
    del reader
    assert any(ref() is not None for ref in parsed)
    gc.collect()
    assert all(ref() is None for ref in parsed)


def test_a_released_reader_still_reads() -> None:
    data = LTA.read_bytes()
    reader = open_reader(data)
    before = read_document(data, reader)
    release(reader)
    after = read_document(data, reader)
    assert [s.field_name for s in after.signatures] == [s.field_name for s in before.signatures]


def _opens(path: Path) -> bool:
    try:
        open_reader(path.read_bytes())
    except PARSE_ERRORS:
        return False
    return True


@pytest.mark.parametrize(
    "path", [p for p in sorted(INTEROP.glob("*.pdf")) if _opens(p)], ids=lambda p: p.name
)
def test_verify_gives_the_same_report_whether_or_not_it_opened_the_reader(path: Path) -> None:
    """``verify`` releases only a reader it opened itself; a caller's reader is the
    caller's to release, after its own reading."""
    data = path.read_bytes()
    anchors = TrustAnchors(certificates=())
    own = verify(data, trust=anchors)
    reader = open_reader(data)
    shared = verify(data, trust=anchors, reader=reader)
    release(reader)
    assert shared.to_dict() | {"validation_time": None} == own.to_dict() | {"validation_time": None}


def test_a_report_keeps_nothing_of_the_reader() -> None:
    """A batch keeps every record's report until its end: a report that held one of
    pyHanko's objects (a field name as its string type, whose container names the reader)
    would keep each file's reader, its cross-reference tables and trailers, alive."""
    data = LTA.read_bytes()
    reader = open_reader(data)
    report = verify(data, trust=TrustAnchors(certificates=()), reader=reader)
    release(reader)
    gone = weakref.ref(reader)
    del reader
    gc.collect()  # the reader's own structure (its xref cache names it) is a cycle
    assert report.signatures and all(type(s.field_name) is str for s in report.signatures)
    assert gone() is None
