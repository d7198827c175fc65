"""Which incremental updates of a PDF only add validation data (a DSS update).

A B-LT seal is followed by a revision that adds the Document Security Store: the catalog
gains ``/DSS``, and certificates, CRLs and OCSP answers are written as new streams.
pyHanko's difference analysis proves that harmless too, but it re-reads every object of
the signed revision to do so, once per signature and later revision — most of the time
spent verifying a B-LT licence.  :class:`RevisionIndex` recognises such a revision
directly, from the revision before it, once per document:

- nothing is freed; the trailer keeps its ``/Root``, ``/Info`` and ``/Encrypt``;
- the catalog differs from the previous one in ``/DSS`` only;
- every object the revision writes is the catalog, reachable from the new DSS, the
  document information dictionary (direct values only: ``/ModDate`` …), or a
  cross-reference / object stream;
- an object it *overwrites* was already part of the previous DSS, and an object it
  *adds* is referenced nowhere in the file before it (the bytes and the object streams
  are searched once) — so no page, annotation or form field can see the new data, not
  even through a reference that dangled before.

Anything else is left to pyHanko's analysis (:func:`.pdf_signatures.modifications`).
"""

from __future__ import annotations

import re

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = ["RevisionIndex"]

_MAX_NODES = 200_000
"""Most PDF values walked per document: bounds the work a hostile file causes."""
_SAME_TRAILER_KEYS = ("/Root", "/Info", "/Encrypt")
_READ_ERRORS = (PdfError, ValueError, TypeError, KeyError, IndexError, AttributeError)


class _Exhausted(Exception):
    """The document is too large to classify cheaply; pyHanko decides."""


_R = re.compile(rb"R(?=[\s()<>\[\]{}/%]|\Z)")
_WHITESPACE = frozenset(b" \n\r\t\f\x00")
_DIGITS = frozenset(b"0123456789")
_MAX_DIGITS = 32


class RevisionIndex:
    """Per-revision facts of one document, each computed once (cost linear in the file)."""

    def __init__(self, reader: PdfFileReader, pdf: bytes) -> None:
        self._reader = reader
        self._pdf = pdf
        self._budget = _MAX_NODES
        self._only_validation_data: dict[int, bool] = {}
        self._referenced: set[tuple[int, int]] = set()
        """(idnum, generation) of every reference written before revision ``_scanned``."""
        self._scanned = 0
        self._scanned_to = 0
        self._streams_scanned: set[int] = set()

    def adds_only_validation_data(self, revision: int) -> bool:
        """Whether ``revision`` (≥ 1) only adds or updates the DSS, as described above."""
        if revision not in self._only_validation_data:
            try:
                verdict = revision > 0 and self._classify(revision)
            except (*_READ_ERRORS, _Exhausted, RecursionError):
                verdict = False
            self._only_validation_data[revision] = verdict
        return self._only_validation_data[revision]

    def _classify(self, revision: int) -> bool:
        reader = self._reader
        new = reader.get_historical_resolver(revision)
        old = reader.get_historical_resolver(revision - 1)
        if new.refs_freed_in_revision():
            return False
        for key in _SAME_TRAILER_KEYS:
            if _raw(new.trailer_view, key) != _raw(old.trailer_view, key):
                return False
        root_ref = new.root_ref
        info = new.trailer_view.raw_get("/Info") if "/Info" in new.trailer_view else None
        new_root, old_root = new.root, old.root
        if set(new_root) - {"/DSS"} != set(old_root) - {"/DSS"} or "/DSS" not in new_root:
            return False
        if any(_raw(new_root, k) != _raw(old_root, k) for k in new_root if k != "/DSS"):
            return False
        written = {(r.idnum, r.generation): r for r in new.explicit_refs_in_revision()}
        # Both walks stay inside what this revision writes: anything else is unchanged.
        new_dss = self._reachable(new_root.raw_get("/DSS"), new, written)
        old_dss = (
            self._reachable(old_root.raw_get("/DSS"), old, written) if "/DSS" in old_root else set()
        )
        referenced_before = self._references_before(revision)
        xrefs = reader.xrefs
        for key, ref in written.items():
            if key == (root_ref.idnum, root_ref.generation):
                continue
            if _is_plain_info(ref, info, new):
                continue  # /ModDate and the like: metadata, as pyHanko's DocInfoRule allows
            if key not in new_dss:
                if _is_structural(new(ref)):
                    continue
                return False
            existed = xrefs.get_historical_ref(ref, revision - 1) is not None
            if existed and key not in old_dss:
                return False
            if not existed and key in referenced_before:
                return False
        return True

    def _reachable(self, value, resolver, written: dict) -> set[tuple[int, int]]:
        """(idnum, generation) of the ``written`` objects reachable from ``value`` through
        ``written`` objects."""
        found: set[tuple[int, int]] = set()
        stack = [value]
        while stack:
            item = stack.pop()
            self._spend()
            if isinstance(item, generic.IndirectObject):
                key = (item.idnum, item.generation)
                if key in found or key not in written:
                    continue
                found.add(key)
                item = resolver(item.reference)
            if isinstance(item, generic.DictionaryObject):  # streams too: their dictionary
                stack.extend(item.raw_get(k) for k in item)
            elif isinstance(item, generic.ArrayObject):
                stack.extend(item.raw_get(i) for i in range(len(item)))
        return found

    def _references_before(self, revision: int) -> set[tuple[int, int]]:
        """Every reference written in the file before ``revision`` (a superset: see
        :data:`_REFERENCE`), read from the bytes and the object streams, once."""
        xrefs = self._reader.xrefs
        while self._scanned < revision:
            end = xrefs.get_xref_container_info(self._scanned).end_location
            eof = self._pdf.find(b"%%EOF", end)
            end = len(self._pdf) if eof < 0 else eof
            self._scan(self._pdf[self._scanned_to : end])
            self._scanned_to = max(self._scanned_to, end)
            for stream_ref in xrefs.object_streams_used_in(self._scanned):
                if stream_ref.idnum not in self._streams_scanned:
                    self._streams_scanned.add(stream_ref.idnum)
                    self._scan(self._reader.get_object(stream_ref).data)
            self._scanned += 1
        return self._referenced

    def _scan(self, data: bytes) -> None:
        """Add every ``idnum gen R`` in ``data``: find each ``R`` (a plain search), then
        read the two numbers before it.  Inside strings and streams this also finds text
        that only looks like a reference, which only makes the check stricter.  pyHanko
        also reads a comment between the tokens; one there ends the cheap path."""
        for r in _R.finditer(data):
            self._spend()
            end = r.start()
            generation, end = _number_before(data, end)
            if generation is None:
                continue
            idnum, _ = _number_before(data, end)
            if idnum is not None:
                self._referenced.add((idnum, generation))

    def _spend(self) -> None:
        self._budget -= 1
        if self._budget < 0:
            raise _Exhausted


def _number_before(data: bytes, end: int) -> tuple[int | None, int]:
    """The integer that ends, after at least one whitespace, just before ``end``."""
    start = end
    while start > 0 and data[start - 1] in _WHITESPACE:
        start -= 1
    if start == end:
        return None, end
    gap = data[start:end]
    if b"\n" in gap or b"\r" in gap:
        line = max(data.rfind(b"\n", 0, start), data.rfind(b"\r", 0, start)) + 1
        if b"%" in data[line:start]:
            raise _Exhausted  # perhaps a comment between the tokens
    digits_end = start
    while start > 0 and data[start - 1] in _DIGITS:
        start -= 1
        if digits_end - start > _MAX_DIGITS:
            raise _Exhausted
    if start == digits_end:
        return None, end
    return int(data[start:digits_end]), start


def _raw(dictionary: generic.DictionaryObject, key: str):
    """A comparable form of ``dictionary[key]`` without resolving references."""
    if key not in dictionary:
        return None
    value = dictionary.raw_get(key)
    if isinstance(value, generic.IndirectObject):
        return ("ref", value.idnum, value.generation)
    return repr(value)


def _is_plain_info(ref, info, resolver) -> bool:
    """``ref`` is the document information dictionary, holding direct values only."""
    if not isinstance(info, generic.IndirectObject) or info.reference != ref:
        return False
    value = resolver(ref)
    return isinstance(value, generic.DictionaryObject) and not any(
        isinstance(value.raw_get(k), generic.IndirectObject | generic.DictionaryObject)
        for k in value
    )


def _is_structural(value) -> bool:
    """A cross-reference stream or object stream: bookkeeping, no document content."""
    return isinstance(value, generic.StreamObject) and value.get("/Type") in ("/XRef", "/ObjStm")
