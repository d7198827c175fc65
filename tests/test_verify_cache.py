"""Verification's speed-ups keep its answers: the fast parser, and every cache invalidated
by what changes a verdict (revocation, trust anchors, time)."""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError

from sealsvc.verification import pdf_signatures as pdfsig

# --- the block-wise hex string reader ----------------------------------------------------

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
    assert "read_hex_string_from_stream" in generic.read_object.__code__.co_names
    assert generic.read_hex_string_from_stream is pdfsig._read_hex_string
    calls = []

    def spy(stream):
        calls.append(stream.tell())
        return pdfsig._read_hex_string(stream)

    generic.read_hex_string_from_stream = spy
    try:
        assert generic.read_object(io.BytesIO(b"<4142>"), None) == "AB"
    finally:
        generic.read_hex_string_from_stream = pdfsig._read_hex_string
    assert calls == [0]
