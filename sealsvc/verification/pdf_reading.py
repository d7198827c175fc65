"""pyHanko's PDF object parser, tokenising a whole object with one compiled regex.

pyHanko reads an object one byte at a time: ``read_object`` peeks at a byte, dispatches,
and each dictionary, array, name and number reads its bytes through ``stream.read(1)``
and generators.  A sampling profile of the archive check on one-seal licences put ~40 %
of it there (the facts walk too: fonts' ``/Widths`` arrays hold hundreds of integers).
:func:`read_object` parses the same object from the bytes under the stream with
:data:`_TOKEN`, one match per token (an array of integers in one match), and an explicit
stack instead of recursion, and builds exactly the objects pyHanko builds (its own
classes, constructors, number rules, ``pdf_string`` and ``container_ref``).

It only ever *succeeds* where pyHanko's rules are certain to give the same object and
end at the same byte.  Anything else — a comment, an odd token, a duplicate key, a stream
whose ``endstream`` is not where ``/Length`` says, nesting deeper than :data:`MAX_DEPTH`,
a stream that is no ``BytesIO``, content-stream or XMP reading — goes to pyHanko's own
function from the same position, so the result and every error stay pyHanko's (its
nested calls come back here, object by object).
"""

from __future__ import annotations

import binascii
import decimal
import io
import itertools
import re
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import (
    ArrayObject,
    BooleanObject,
    ContentOpReading,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NullObject,
    NumberObject,
    PdfObject,
    StreamObject,
    pdf_string,
)
from pyhanko.pdf_utils.misc import PDF_WHITESPACE

__all__ = ["MAX_DEPTH", "hex_string", "parsed_at", "read_object"]

MAX_DEPTH = 64
"""Deepest nesting parsed here; deeper objects are pyHanko's (whose recursion decides
what a hostile file gets).  Real files nest a handful of levels."""

_read_object_bytewise = generic.read_object

_WS = rb"[\x00\t\n\x0c\r ]*"
_TOKEN = re.compile(
    _WS + rb"(?:"
    rb"(?P<name>/[^\x00\t\n\x0c\r ()<>\[\]{}/%]*)"
    # pyHanko: a digit, then INDIRECT_PATTERN on the next 20 bytes (checked below)
    rb"|(?P<ref>(?P<idnum>[0-9]+)[\t\n\x0b\x0c\r ]+(?P<gen>[0-9]+)[\t\n\x0b\x0c\r ]+R)(?=[^a-zA-Z])"
    # pyHanko reads a number as the run of [+,-.0-9] (its NumberPattern's range) and
    # hands it to int() or Decimal(); here only runs both accept the same way.  4,000
    # digits stays under int()'s limit of 4,300.
    rb"|(?P<int>[+\-]?[0-9]{1,4000})(?![+,\-.0-9])"
    rb"|(?P<float>[+\-]?(?:[0-9]+\.[0-9]*|\.[0-9]+))(?![+,\-.0-9])"
    rb"|(?P<open_dict><<)|(?P<close_dict>>>)"
    rb"|<(?P<hex>[0-9A-Fa-f\x00\t\n\x0c\r ]*)>"
    rb"|(?P<open_array>\[)|(?P<close_array>\])"
    rb"|(?P<string>\()"
    rb"|(?P<true>true)|(?P<false>false)|(?P<null>null)"
    rb")"
)
"""One token after optional PDF whitespace; no match (a comment, a stray byte, the end)
means pyHanko decides."""
_G = _TOKEN.groupindex
_NAME, _REF, _IDNUM, _GEN, _INT, _FLOAT = (
    _G[g] for g in ("name", "ref", "idnum", "gen", "int", "float")
)
_OPEN_DICT, _CLOSE_DICT, _HEX, _OPEN_ARRAY, _CLOSE_ARRAY, _STRING, _TRUE, _FALSE, _NULL = (
    _G[g]
    for g in (
        "open_dict",
        "close_dict",
        "hex",
        "open_array",
        "close_array",
        "string",
        "true",
        "false",
        "null",
    )
)

_NUMBER = r"[+\-]?(?:[0-9]{1,18}|[0-9]+\.[0-9]*|\.[0-9]+)"
"""An integer of up to 18 digits or a decimal as the ``float`` token reads it."""
_NUMBER_ARRAY = re.compile(rb"((?:" + _WS + _NUMBER.encode() + rb"(?![+,\-.0-9]))*)" + _WS + rb"\]")
"""The rest of an array that holds numbers only (after its ``[``): font widths, boxes,
matrices.  None of them starts an ``n g R`` for pyHanko: that needs an ``R`` before the
``]``.  A number ends where whitespace begins (the next may not follow it directly), so
the run splits at whitespace into its numbers."""
_PLAIN_NAME = re.compile(rb"[!\"$-~]*")
"""Name bytes that decode as themselves (printable ASCII but ``#``); others go to
pyHanko's decoder (``_decode_name``)."""
_PLAIN_NAMES: dict[bytes, str] = {}
"""Plain names already decoded: the same few hundred (``/Type``, ``/Length``, font
names …) come back in object after object and file after file."""
_MAX_PLAIN_NAMES = 4096
"""Bound on :data:`_PLAIN_NAMES`, so that a file of made-up names cannot fill memory."""
_INDIRECT_PEEK = 20
"""pyHanko matches ``n g R`` within the next 20 bytes only; a longer one is a number."""

_ESCAPES = {
    **{c: bytes((c,)) for c in b"() /%<>[]#_&$\\"},
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
    ord("b"): b"\b",
    ord("f"): b"\f",
}
"""The escapes pyHanko's string reader knows (``_read_string_literal_bytes``)."""
_OCTAL = [bytes(d) for n in (1, 2, 3) for d in itertools.product(b"01234567", repeat=n)]
_UNESCAPED = {
    **{b"\\" + bytes((c,)): value for c, value in _ESCAPES.items()},
    **{b"\\" + digits: bytes((int(digits, 8),)) for digits in _OCTAL if int(digits, 8) < 256},
    **{b"\\" + end: b"" for end in (b"\r", b"\n", b"\r\n", b"\n\r", b"\r\r", b"\n\n")},
}
"""Every escape pyHanko's string reader resolves, as written and as resolved: one of
:data:`_ESCAPES`, one to three octal digits up to 255, an escaped line end (with the
line end after it) that stands for nothing.  Anything else :data:`_ESCAPE` finds (an
``8`` or ``9`` among the digits, ``\\777``, ``\\x``) pyHanko refuses."""
_ESCAPE = re.compile(rb"\\(?:[0-9]{1,3}|[\r\n][\r\n]?|[\s\S])")
"""An escape as pyHanko's reader consumes it: up to three digits, a line end and the
line end after it, else one byte."""
_FLAT_STRING = re.compile(rb"[^()\\]*(?:\\[\s\S][^()\\]*)*\)")
"""The rest of a literal string without nested parentheses, to its ``)``.  An escape
starts where a backslash is not itself escaped and hides the one byte after it (the
further bytes an escape consumes are digits and line ends, never a parenthesis)."""
_STRING_SPECIAL = re.compile(rb"[()]|\\[\s\S]")
"""A parenthesis or an escape (which hides the byte after it), in a string with nested
parentheses."""
_DEPTH = {b"(": 1, b")": -1}

_new_int = int.__new__
_new_decimal = decimal.Decimal.__new__
"""What ``NumberObject(int)`` and ``FloatObject(str)`` call, without their Python-level
``__new__`` (their source is pinned: ``MIRRORED`` in tests/test_pdf_reading.py)."""

_update = dict.update
"""Fills a ``DictionaryObject`` with the parsed entries at once: its constructor would
pass each key through ``_normalise_key``, which leaves a ``NameObject`` as it is (pinned:
``MIRRORED`` in tests/test_pdf_reading.py)."""

_WHITESPACE = re.compile(_WS)
_ENDSTREAM = re.compile(_WS + rb"endstream")
_LENGTH = NameObject("/Length")


class _Unsure(Exception):
    """Raised inside the parser where pyHanko's rules are not certain to agree."""


def read_object(
    stream: Any,
    container_ref: Any,
    as_metadata_stream: bool = False,
    in_content_stream: ContentOpReading = ContentOpReading.NO,
) -> PdfObject:
    """``generic.read_object`` from the bytes of a ``BytesIO``; pyHanko's function for
    anything it is not certain of (see the module's docstring)."""
    if (
        type(stream) is io.BytesIO
        and not as_metadata_stream
        and in_content_stream is ContentOpReading.NO
    ):
        found = parsed_at(stream.getvalue(), stream.tell(), container_ref)
        if found is not None:
            obj, end = found
            stream.seek(end)
            return obj
    return _read_object_bytewise(stream, container_ref, as_metadata_stream, in_content_stream)


def parsed_at(buf: bytes, at: int, container_ref: Any) -> tuple[PdfObject, int] | None:
    """The object at ``buf[at]`` and where it ends, as ``generic.read_object`` reads it
    from there; ``None`` where only pyHanko's parser can tell (nothing read, no side
    effect but pyHanko's own fetching of an indirect ``/Length``)."""
    try:
        return _parse(buf, at, container_ref)
    except _Unsure:
        return None


def _parse(buf: bytes, at: int, container_ref: Any) -> tuple[PdfObject, int]:
    """The object at ``buf[at]`` and where it ends, as pyHanko's parser would read it;
    raises :class:`_Unsure` where it might not."""
    if at >= len(buf) or buf[at] in PDF_WHITESPACE:
        raise _Unsure  # pyHanko reads the object at the byte, whitespace is an error
    try:
        handler = container_ref.get_pdf_handler()
    except AttributeError:
        raise _Unsure from None
    match = _TOKEN.match
    # The innermost open container (an ArrayObject, or a dict and the key awaiting its
    # value), and the enclosing ones' states; None at the top.
    container: Any = None
    in_dict = False
    key: NameObject | None = None
    stack: list[tuple[Any, bool, NameObject | None]] = []
    while True:
        m = match(buf, at)
        if m is None:
            raise _Unsure
        kind = m.lastindex
        at = m.end()
        obj: PdfObject
        if in_dict and key is None:
            if kind == _NAME:
                key = _name(m.group(_NAME))  # keys carry no container_ref: read bare
                if key in container:
                    raise _Unsure  # pyHanko warns, or raises when strict
                continue
            if kind != _CLOSE_DICT:
                raise _Unsure
            obj = DictionaryObject()  # its keys are names: nothing to normalise
            _update(obj, container)
            container, in_dict, key = stack.pop()
            if container is None:
                obj, at = _maybe_stream(buf, at, obj, handler)
            elif buf.startswith((b"%", b"stream"), _after_whitespace(buf, at)):
                raise _Unsure  # pyHanko would look for a stream here too
        elif kind == _INT:
            obj = _new_int(NumberObject, int(m.group(_INT)))
        elif kind == _NAME:
            obj = _name(m.group(_NAME))
        elif kind == _FLOAT:
            obj = _new_decimal(FloatObject, m.group(_FLOAT).decode("ascii"))
        elif kind == _REF:
            obj = _reference(m, handler)
        elif kind in (_OPEN_DICT, _OPEN_ARRAY):
            if len(stack) >= MAX_DEPTH:
                raise _Unsure
            numbers = _NUMBER_ARRAY.match(buf, at) if kind == _OPEN_ARRAY else None
            if numbers is None:
                stack.append((container, in_dict, key))
                in_dict = kind == _OPEN_DICT
                container, key = ({} if in_dict else ArrayObject()), None
                continue
            at = numbers.end()  # the whole array at once (font widths, boxes)
            obj = ArrayObject(_numbers(numbers.group(1), container_ref))
        elif kind == _CLOSE_ARRAY and container is not None and not in_dict:
            obj = container
            container, in_dict, key = stack.pop()
        elif kind == _HEX:
            digits = m.group(_HEX).translate(None, PDF_WHITESPACE)
            obj = hex_string(digits)
        elif kind == _STRING:
            data, at = _literal_string(buf, at)
            obj = pdf_string(data)
        elif kind in (_TRUE, _FALSE):
            obj = BooleanObject(kind == _TRUE)
        elif kind == _NULL:
            obj = NullObject()
        else:  # a closing bracket where none may be
            raise _Unsure
        obj.container_ref = container_ref
        if container is None:
            return obj, at
        if in_dict:
            container[key] = obj
            key = None
        else:
            container.append(obj)


def hex_string(digits: bytes) -> generic.ByteStringObject | generic.TextStringObject:
    """The string a hex string's ``digits`` (whitespace removed) stand for, as pyHanko
    reads it: an odd last digit counts as followed by ``0``."""
    return pdf_string(binascii.unhexlify(digits + b"0" * (len(digits) % 2)))


def _numbers(run: bytes, container_ref: Any) -> list[PdfObject]:
    """The numbers of a :data:`_NUMBER_ARRAY`'s run, each with its container: the
    objects the token loop builds for them, without its per-token dispatch."""
    numbers: list[PdfObject] = [
        _new_decimal(FloatObject, text) if "." in text else _new_int(NumberObject, int(text))
        for text in run.decode("ascii").replace("\x00", " ").split()
    ]
    for number in numbers:
        number.container_ref = container_ref
    return numbers


def _after_whitespace(buf: bytes, at: int) -> int:
    """Where the PDF whitespace from ``at`` ends."""
    found = _WHITESPACE.match(buf, at)
    return found.end() if found else at


def _name(body: bytes) -> NameObject:
    """``/body`` decoded as pyHanko decodes a name (plain ASCII at once, the commonest
    from :data:`_PLAIN_NAMES`)."""
    text = _PLAIN_NAMES.get(body)
    if text is not None:
        return NameObject(text)
    if _PLAIN_NAME.fullmatch(body, 1) is not None:
        text = body.decode("ascii")
        if len(_PLAIN_NAMES) < _MAX_PLAIN_NAMES:
            _PLAIN_NAMES[body] = text
        return NameObject(text)
    try:
        return generic._decode_name(body[1:])
    except generic.PdfReadError:
        raise _Unsure from None


def _reference(m: re.Match[bytes], handler: Any) -> IndirectObject:
    """``n g R`` as ``IndirectObject.read_from_stream`` reads it, when pyHanko's
    20-byte peek sees it whole and its reader would accept it."""
    start = m.start(_REF)
    if m.end(_REF) + 1 - start > _INDIRECT_PEEK or b"\x0b" in m.group(_REF):
        raise _Unsure  # a number to pyHanko; \v: its two whitespace rules differ
    idnum, generation = int(m.group(_IDNUM)), int(m.group(_GEN))
    if idnum <= 0:
        raise _Unsure  # pyHanko raises
    return IndirectObject(idnum, generation, handler)


def _literal_string(buf: bytes, at: int) -> tuple[bytes, int]:
    """The bytes of the literal string whose ``(`` ends at ``at``, and its end, as
    ``_read_string_literal_bytes`` reads them (nested parentheses kept, escapes
    resolved, line ends as written)."""
    flat = _FLAT_STRING.match(buf, at)
    if flat is not None:  # the commonest: found in one match
        end = flat.end()
    else:
        depth, search, end = 1, _STRING_SPECIAL.search, at
        while depth:
            m = search(buf, end)
            if m is None:
                raise _Unsure  # unterminated
            end = m.end()
            depth += _DEPTH.get(m.group(), 0)
    body = buf[at : end - 1]
    return (_ESCAPE.sub(_unescape, body) if b"\\" in body else body), end


def _unescape(escape: re.Match[bytes]) -> bytes:
    """An :data:`_ESCAPE` resolved; one pyHanko refuses is not for this parser."""
    try:
        return _UNESCAPED[escape.group()]
    except KeyError:
        raise _Unsure from None  # pyHanko raises


def _maybe_stream(
    buf: bytes, at: int, dictionary: DictionaryObject, handler: Any
) -> tuple[PdfObject, int]:
    """The dictionary that ends at ``at``, or the stream it heads, as
    ``_maybe_read_stream_payload`` reads it: ``/Length`` bytes after ``stream`` and its
    end of line, then ``endstream`` (a wrong length is pyHanko's to repair or refuse)."""
    after = _after_whitespace(buf, at)
    if buf.startswith(b"%", after):
        raise _Unsure
    if not buf.startswith(b"stream", after):
        return dictionary, at
    # pyHanko's skip_over_whitespace(stop_after_eol=True): blanks, then one end of line
    start = after + 6
    while start < len(buf) and buf[start] in b"\x00\t\x0c ":
        start += 1
    if start >= len(buf):
        raise _Unsure  # pyHanko: the file ends after "stream"
    if buf.startswith(b"\r\n", start):
        start += 2
    elif buf[start] in b"\r\n":
        start += 1
    length = dict.get(dictionary, _LENGTH)  # unresolved, as pyHanko reads it
    if isinstance(length, IndirectObject):
        try:
            length = handler.get_object(length)
        except Exception:
            raise _Unsure from None  # pyHanko asks again and raises what it raises
    if type(length) is not NumberObject or length < 0 or start + length > len(buf):
        raise _Unsure
    end = _ENDSTREAM.match(buf, start + length)
    if end is None:
        raise _Unsure
    return StreamObject(dictionary, encoded_data=buf[start : start + length]), end.end()


# Pinned reach-in: pyHanko's reader (PdfFileReader._read_object, its object streams) and
# its own dictionary and array parsers call read_object by its module-global name; no
# public hook selects an object parser.  tests/test_pdf_reading.py checks that they still
# do, and that both parsers agree object for object and error for error.
generic.read_object = read_object
