"""The TrueType file (sfnt container) around tables already compiled: directory, checksums.

fontTools' ``TTFont.save`` does this too, but it computes every table's checksum over the
table's bytes, and a licence's font subset is mostly one table (``glyf``, 100-200 kB of
outlines) whose checksum took a fifth of making the subset.  The checksum is a sum of
32-bit words, so a table made of pieces can be summed from its pieces' checksums, each
taken once: :func:`checksum` with the piece's offset in the word (``shift``).  The file
written is the one ``TTFont.save(reorderTables=None)`` writes for the same tables in the
same order, byte for byte (tests/test_ofd_writer.py compares them).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from fontTools.ttLib import getSearchRange
from fontTools.ttLib.sfnt import calcChecksum

__all__ = ["SfntTable", "checksum", "table", "write_sfnt"]

_TRUETYPE = b"\x00\x01\x00\x00"
_ADJUSTMENT_AT = 8
"""Offset of ``checkSumAdjustment`` in the ``head`` table."""
_MAGIC = 0xB1B0AFBA


@dataclass(frozen=True)
class SfntTable:
    """One table as it goes into the file: its tag, its bytes and their checksum."""

    tag: str
    data: bytes
    checksum: int


def checksum(data: bytes, shift: int = 0) -> int:
    """What ``data`` adds to the checksum of a table it is part of, starting ``shift``
    bytes (0-3) into a 32-bit word: the table's checksum is the sum of its parts'."""
    return int(calcChecksum(b"\0" * shift + data))


def table(tag: str, data: bytes) -> SfntTable:
    """A table whose checksum is computed here (``head``'s over its bytes with
    ``checkSumAdjustment`` zeroed, as the OpenType spec defines it)."""
    if tag == "head":
        at = _ADJUSTMENT_AT
        return SfntTable(tag, data, checksum(data[:at] + b"\0\0\0\0" + data[at + 4 :]))
    return SfntTable(tag, data, checksum(data))


def write_sfnt(tables: Sequence[SfntTable]) -> bytes:
    """The font file of ``tables``, written in the order given (the directory is sorted
    by tag), each padded to four bytes, with ``head.checkSumAdjustment`` set."""
    count = len(tables)
    search_range, entry_selector, range_shift = getSearchRange(count, 16)
    offset = 12 + 16 * count
    body = bytearray()
    entries = {}
    head_at = 0
    for item in tables:
        entries[item.tag] = struct.pack(
            ">4sLLL", item.tag.encode("latin-1"), item.checksum, offset + len(body), len(item.data)
        )
        if item.tag == "head":
            head_at = len(body)
        body += item.data
        body += b"\0" * (-len(item.data) % 4)
    directory = struct.pack(
        ">4sHHHH", _TRUETYPE, count, search_range, entry_selector, range_shift
    ) + b"".join(entries[tag] for tag in sorted(entries))
    if "head" in entries:
        total = sum(item.checksum for item in tables) + checksum(directory)
        adjustment = (_MAGIC - total) & 0xFFFFFFFF
        at = head_at + _ADJUSTMENT_AT
        body[at : at + 4] = adjustment.to_bytes(4, "big")
    return directory + bytes(body)
