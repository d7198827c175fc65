"""pyHanko's reading of what frames a PDF's objects — cross-reference tables, their
trailers, ``n g obj … endobj`` — from the bytes at once instead of byte by byte.

Opening a licence (five revisions, five classic cross-reference tables) and reading the
forty-odd objects an archive check needs went through pyHanko's one-byte reads around
every object: the table's entries line by line, each trailer key by key, each object's
header and ``endobj``; half of opening the file and half of reading a small object.
Each function here matches the common, well-formed shape with one regex and hands the
object itself to :func:`.pdf_reading.parsed_at`.  Any other shape — a comment, extra
whitespace, a 21-byte entry, a missing ``endobj``, a hybrid or encrypted file's
particulars, a stream that is no ``BytesIO`` — goes to pyHanko's own function from the
same position, so the result, the position the stream is left at and every error (or
warning) stay pyHanko's.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from pyhanko.pdf_utils import generic, xref
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.xref import XRefEntry, XRefType

from sealsvc.verification.pdf_reading import parsed_at

__all__ = ["parse_xref_table", "read_dictionary", "read_framed_object"]

_WS = rb"[\x00\t\n\x0c\r ]"
_ENTRY = re.compile(rb"([0-9]{10}) ([0-9]{5}) ([nf])(?: \r| \n|\r\n)")
"""One 20-byte entry as the PDF standard writes it (7.5.4)."""
_SUBSECTION = re.compile(_WS + rb"*([0-9]{1,18})" + _WS + rb"+([0-9]{1,18})" + _WS + rb"+")
"""A subsection's first object number and count, and the whitespace up to its entries."""
_TRAILER = re.compile(_WS + rb"*trailer" + _WS + rb"*(?=[^\x00\t\n\x0c\r %])")
"""The keyword ending the table, up to the first byte after it (a comment: pyHanko's)."""
_OBJECT_HEADER = re.compile(rb"([0-9]{1,18})%s([0-9]{1,18})%sobj%s*" % (_WS, _WS, _WS))
"""``n g obj`` right where the cross-reference entry points, and the whitespace after it
(pyHanko warns about more whitespace in strict mode: its own reader then)."""
_ENDOBJ = re.compile(_WS + rb"*endobj" + _WS + rb"*(?=[^\x00\t\n\x0c\r %])")

_parse_xref_table_bytewise = xref.parse_xref_table
_read_dictionary_bytewise = generic.DictionaryObject.read_from_stream
_read_object_framed_bytewise = PdfFileReader._read_object


def parse_xref_table(stream: Any, strict: bool) -> Iterator[XRefEntry]:
    """``xref.parse_xref_table``: the entries of the classic table under ``stream``, the
    stream left at the trailer's first byte."""
    if type(stream) is io.BytesIO:
        start = stream.tell()
        found = _table(stream.getvalue(), start)
        if found is not None:
            entries, end = found
            stream.seek(end)
            return iter(entries)
    return _parse_xref_table_bytewise(stream, strict)


def _table(buf: bytes, at: int) -> tuple[list[XRefEntry], int] | None:
    """The entries from ``at`` and where the trailer begins, if every subsection is
    well-formed; ``None`` otherwise."""
    entries: list[XRefEntry] = []
    standard, free, entry = XRefType.STANDARD, XRefType.FREE, _ENTRY.match
    while True:
        subsection = _SUBSECTION.match(buf, at)
        if subsection is None:
            return None
        first, count = int(subsection[1]), int(subsection[2])
        at = subsection.end()
        for idnum in range(first, first + count):
            line = entry(buf, at)
            if line is None:
                return None
            at += 20
            generation = int(line[2])
            if line[3] == b"n":
                entries.append(XRefEntry(standard, int(line[1]), idnum, generation))
            else:
                entries.append(XRefEntry(free, None, idnum, generation))
        trailer = _TRAILER.match(buf, at)
        if trailer is not None:
            return entries, trailer.end()


def read_dictionary(
    stream: Any,
    container_ref: Any,
    as_metadata_stream: bool = False,
    in_content_stream: generic.ContentOpReading = generic.ContentOpReading.NO,
) -> generic.PdfObject:
    """``DictionaryObject.read_from_stream``; a classic trailer (read with a
    ``TrailerReference``) parsed at once, every other dictionary by pyHanko as before."""
    if (
        type(container_ref) is generic.TrailerReference
        and type(stream) is io.BytesIO
        and not as_metadata_stream
        and in_content_stream is generic.ContentOpReading.NO
    ):
        start = stream.tell()
        buf = stream.getvalue()
        found = parsed_at(buf, start, container_ref) if buf.startswith(b"<<", start) else None
        if found is not None:
            dictionary, end = found
            del dictionary.container_ref  # read_from_stream leaves its result's unset
            stream.seek(end)
            return dictionary
    return _read_dictionary_bytewise(stream, container_ref, as_metadata_stream, in_content_stream)


def read_framed_object(
    self: PdfFileReader,
    ref: generic.Reference,
    marker: Any,
    never_decrypt: bool = False,
    as_metadata_stream: bool = False,
) -> generic.PdfObject:
    """``PdfFileReader._read_object``: an object stored directly in the file (``marker``
    its offset) read from its header to after its ``endobj`` at once."""
    stream = self.stream
    if type(marker) is int and not as_metadata_stream and type(stream) is io.BytesIO:
        found = _framed(stream.getvalue(), marker, ref, self)
        if found is not None:
            obj, end = found
            stream.seek(end)
            if not never_decrypt and self.encrypted:  # as pyHanko: the proxy is cached
                obj = generic.proxy_encrypted_obj(obj, self.security_handler)
            return obj
    return _read_object_framed_bytewise(self, ref, marker, never_decrypt, as_metadata_stream)


def _framed(
    buf: bytes, at: int, ref: generic.Reference, reader: PdfFileReader
) -> tuple[generic.PdfObject, int] | None:
    header = _OBJECT_HEADER.match(buf, at)
    if header is None or (int(header[1]), int(header[2])) != (ref.idnum, ref.generation):
        return None  # pyHanko reads it, or raises that the numbers differ
    found = parsed_at(buf, header.end(), generic.Reference(ref.idnum, ref.generation, reader))
    if found is None:
        return None
    obj, end = found
    endobj = _ENDOBJ.match(buf, end)
    return None if endobj is None else (obj, endobj.end())


# Pinned reach-in: pyHanko's XRefBuilder calls parse_xref_table by its module-global name
# and reads each trailer with DictionaryObject.read_from_stream; PdfFileReader.get_object
# calls self._read_object.  No public hook selects any of them.  tests/test_pdf_frames.py
# checks that they are still called so, that the rules copied are still pyHanko's, and
# that whole files read alike with and without these.
xref.parse_xref_table = parse_xref_table
generic.DictionaryObject.read_from_stream = staticmethod(read_dictionary)  # type: ignore[method-assign]
PdfFileReader._read_object = read_framed_object  # type: ignore[method-assign]
