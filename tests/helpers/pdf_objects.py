"""Two PDF readers compared: pyHanko's own and the fast one of
:mod:`sealsvc.verification.pdf_reading` (objects) and :mod:`sealsvc.verification.pdf_frames`
(cross-reference tables, trailers, ``n g obj … endobj``), object by object, for the tests
and the bench."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pyhanko.pdf_utils import generic, xref
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader

from sealsvc.verification import pdf_frames, pdf_history, pdf_reading

__all__ = ["difference", "every_object", "outcome", "stock_parser"]


@contextmanager
def stock_parser() -> Iterator[None]:
    """pyHanko's own reading for every object read in the block, nested ones too, and for
    the cross-reference tables, trailers and object frames around them, and for the
    copies a revision's view makes."""
    generic.read_object = pdf_reading._read_object_bytewise
    xref.parse_xref_table = pdf_frames._parse_xref_table_bytewise
    generic.DictionaryObject.read_from_stream = staticmethod(pdf_frames._read_dictionary_bytewise)
    PdfFileReader._read_object = pdf_frames._read_object_framed_bytewise
    HistoricalResolver._subsume_object = pdf_history._subsume_object_stock
    try:
        yield
    finally:
        HistoricalResolver._subsume_object = pdf_history.subsume_object
        generic.read_object = pdf_reading.read_object
        xref.parse_xref_table = pdf_frames.parse_xref_table
        generic.DictionaryObject.read_from_stream = staticmethod(pdf_frames.read_dictionary)
        PdfFileReader._read_object = pdf_frames.read_framed_object


def difference(ours: object, theirs: object, path: str = "") -> str | None:
    """Where two parsed objects differ (``None``: nowhere).  Stricter than ``==``: types,
    containers, the string kind and its detected encoding, a decimal's digits, the
    references' handlers, a stream's bytes and the order of a dictionary's keys."""
    if type(ours) is not type(theirs):
        return f"{path}: {type(ours).__name__} / {type(theirs).__name__}"
    if isinstance(ours, generic.DecryptedObjectProxy):  # compared as read, not decrypted
        assert isinstance(theirs, generic.DecryptedObjectProxy)
        return difference(ours.raw_object, theirs.raw_object, path)
    mine, its = getattr(ours, "container_ref", None), getattr(theirs, "container_ref", None)
    if type(mine) is not type(its) or (isinstance(mine, generic.Reference) and mine != its):
        return f"{path}: container {mine} / {its}"
    if isinstance(mine, generic.Reference) and type(mine.pdf) is not type(its.pdf):
        return f"{path}: container's handler {type(mine.pdf)} / {type(its.pdf)}"
    if isinstance(ours, generic.StreamObject):
        assert isinstance(theirs, generic.StreamObject)
        if ours.encoded_data != theirs.encoded_data:
            return f"{path}: stream data"
    if isinstance(ours, dict):
        assert isinstance(theirs, dict)
        if [(type(k), k) for k in ours] != [(type(k), k) for k in theirs]:
            return f"{path}: keys {list(ours)} / {list(theirs)}"
        found = (difference(dict.__getitem__(ours, k), dict.__getitem__(theirs, k), path + k)
                 for k in ours)  # fmt: skip
        return next((d for d in found if d), None)
    if isinstance(ours, list):
        assert isinstance(theirs, list)
        if len(ours) != len(theirs):
            return f"{path}: {len(ours)} / {len(theirs)} items"
        pairs = zip(list.__iter__(ours), list.__iter__(theirs), strict=True)
        found = (difference(a, b, f"{path}[{i}]") for i, (a, b) in enumerate(pairs))
        return next((d for d in found if d), None)
    if isinstance(ours, generic.IndirectObject):
        assert isinstance(theirs, generic.IndirectObject)
        same_handler = type(ours.get_pdf_handler()) is type(theirs.get_pdf_handler())
        return None if ours.reference == theirs.reference and same_handler else f"{path}: ref"
    if isinstance(ours, generic.TextStringObject):
        kinds = (ours.autodetected_encoding, getattr(theirs, "autodetected_encoding", None))
        return None if ours == theirs and kinds[0] == kinds[1] else f"{path}: {ours!r}"
    if isinstance(ours, generic.BooleanObject):
        assert isinstance(theirs, generic.BooleanObject)
        return None if ours.value == theirs.value else f"{path}: {ours}"
    if isinstance(ours, generic.FloatObject):
        return None if str(ours) == str(theirs) else f"{path}: {ours} / {theirs}"
    return None if ours == theirs else f"{path}: {ours!r} / {theirs!r}"


def outcome(parse: Callable[[], object]) -> tuple[str, object]:
    try:
        return "object", parse()
    except RecursionError:
        return "error", (RecursionError, "")  # the message depends on where it struck
    except Exception as exc:  # any error: it must be pyHanko's own
        return "error", (type(exc), str(exc))


def every_object(pdf: bytes, *, strict: bool = False) -> dict[object, tuple[str, object]]:
    """Each revision's objects as a fresh reader of ``pdf`` reads them, raw (not
    decrypted), and as that revision's view copies them; its cross-reference sections
    and trailers; what cannot be read is its error."""
    opened = outcome(lambda: PdfFileReader(io.BytesIO(pdf), strict=strict))
    if opened[0] == "error":
        return {"open": opened}
    pdf_reader = opened[1]
    assert isinstance(pdf_reader, PdfFileReader)
    found: dict[object, tuple[str, object]] = {"trailer": outcome(lambda: pdf_reader.trailer_view)}
    xrefs = pdf_reader.xrefs
    found["xrefs"] = ("object", _cross_references(xrefs))
    for revision in range(xrefs.total_revisions):
        found["trailer", revision] = outcome(
            lambda revision=revision: pdf_reader.get_historical_resolver(revision).trailer_view
        )
        for ref in sorted(xrefs.explicit_refs_in_revision(revision), key=lambda r: r.idnum):
            found[revision, ref.idnum, ref.generation] = outcome(
                lambda ref=ref, revision=revision: pdf_reader.get_object(
                    ref, revision=revision, transparent_decrypt=False
                )
            )
            found["view", revision, ref.idnum, ref.generation] = outcome(
                lambda ref=ref, revision=revision: pdf_reader.get_historical_resolver(
                    revision
                )._subsume_object(pdf_reader.get_object(ref, revision, transparent_decrypt=False))
            )
    return found


def _cross_references(xrefs: xref.XRefCache) -> list[tuple[object, ...]]:
    """Each section as read: where it is, its kind and size, and every entry."""
    sections = []
    for section in xrefs._xref_sections:
        data = section.xref_data
        sections.append(
            (
                section.meta_info,
                data.standard_xrefs,
                data.xrefs_in_objstm,
                data.freed,
                sorted(data.explicit_refs_in_revision),
                sorted(data.obj_streams_used),
                data.hybrid is not None,
            )
        )
    return sections
