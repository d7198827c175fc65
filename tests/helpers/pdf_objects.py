"""Two PDF object parsers compared: pyHanko's own ``read_object`` and the fast one of
:mod:`sealsvc.verification.pdf_reading`, object by object, for the tests and the bench."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from sealsvc.verification import pdf_reading

__all__ = ["difference", "every_object", "outcome", "stock_parser"]


@contextmanager
def stock_parser() -> Iterator[None]:
    """pyHanko's own ``read_object`` for every object read in the block, nested ones too."""
    generic.read_object = pdf_reading._read_object_bytewise
    try:
        yield
    finally:
        generic.read_object = pdf_reading.read_object


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


def every_object(pdf: bytes) -> dict[object, tuple[str, object]]:
    """Each revision's objects as a fresh reader of ``pdf`` reads them, raw (not
    decrypted), and the trailer; what cannot be read is its error."""
    opened = outcome(lambda: PdfFileReader(io.BytesIO(pdf), strict=False))
    if opened[0] == "error":
        return {"open": opened}
    pdf_reader = opened[1]
    assert isinstance(pdf_reader, PdfFileReader)
    found: dict[object, tuple[str, object]] = {"trailer": outcome(lambda: pdf_reader.trailer_view)}
    xrefs = pdf_reader.xrefs
    for revision in range(xrefs.total_revisions):
        for ref in sorted(xrefs.explicit_refs_in_revision(revision), key=lambda r: r.idnum):
            found[revision, ref.idnum, ref.generation] = outcome(
                lambda ref=ref, revision=revision: pdf_reader.get_object(
                    ref, revision=revision, transparent_decrypt=False
                )
            )
    return found
