"""Embedded fonts: a TrueType subset holding exactly the characters a document prints.

OFD readers draw a ``TextCode`` with the font resource's ``FontFile`` when there is one,
and otherwise look for an installed font by ``FontName`` — which on a reader's machine
without that font means substituted or missing glyphs. Every font sealsvc writes is
therefore embedded, cut down to the characters used (a CJK face is 10-20 MB; a licence's
subset is 20-60 kB). The subset has a Unicode ``cmap`` (OFD text is Unicode, mapped to
glyphs through it), the outlines and horizontal metrics, and nothing else: no hinting,
glyph names, bitmaps or OpenType layout (OFD positions every character itself, with ``DeltaX``). The
same characters give the same bytes: timestamps are the source font's.

Why not fontTools' ``Subsetter``: it parses the whole source font for every subset
(~180 ms for a CJK collection, twice per licence), where OFD rendering should cost about
what reportlab's PDF rendering does. So each source font is opened once per process
(:class:`_Source`: its ``cmap``, metrics and lazily loaded outlines), and a subset is
assembled from it: the small tables with fontTools' ``FontBuilder``, the outlines
(``glyf``) from each glyph's bytes, hinting trimmed once per glyph and process, and the
file by :mod:`ofd.sfnt` with the outlines' checksum summed from per-glyph checksums —
about 3 ms for a licence's 240 characters.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

from fontTools.fontBuilder import FontBuilder
from fontTools.ttLib import OPTIMIZE_FONT_SPEED, TTFont, TTLibError, getTableClass, newTable
from fontTools.ttLib.tables._g_l_y_f import Glyph

from ofd.model import Font
from ofd.sfnt import SfntTable, checksum, table, write_sfnt

__all__ = ["FontFileError", "embed_font"]

_HINTING_TABLES = ("fpgm", "prep", "cvt ")
_MAXP_FIELDS = (
    "maxPoints",
    "maxContours",
    "maxCompositePoints",
    "maxCompositeContours",
    "maxComponentElements",
    "maxComponentDepth",
)


class FontFileError(ValueError):
    """The font file cannot be read or subset (named by path: operators configure fonts)."""


class _Source:
    """A TrueType font opened once: what every subset of it copies from."""

    def __init__(self, path: str, index: int) -> None:
        self.path = path
        self.lock = threading.Lock()  # fontTools loads outlines lazily: one user at a time
        try:
            self.font = TTFont(path, fontNumber=index, lazy=True)
            if "glyf" not in self.font:
                raise FontFileError(f"font {path} has no TrueType outlines (glyf)")
            self.cmap = self.font.getBestCmap() or {}
            self.glyf = self.font["glyf"]
            self.metrics = self.font["hmtx"].metrics
            self.head = self.font["head"]
            self.hhea = self.font["hhea"]
            self.os2 = self.font["OS/2"]
            self.maxp = self.font["maxp"]
            self.font.getGlyphOrder()  # read now, with everything else: see _source
            names = self.font["name"]
        except (OSError, TTLibError, KeyError, ValueError, AssertionError) as exc:
            if isinstance(exc, FontFileError):
                raise
            raise FontFileError(f"cannot read font {path} (subfont {index}): {exc}") from None
        self.full_name = names.getDebugName(4) or path.rsplit("/", 1)[-1]
        self.family = names.getDebugName(1) or self.full_name
        self.ps_name = names.getDebugName(6) or "".join(c for c in self.full_name if c.isalnum())
        # Instructions would refer to tables the subset leaves out: strip them if any.
        self.hinted = any(tag in self.font for tag in _HINTING_TABLES)
        self._simple: dict[str, bytes | None] = {}
        """Name → a simple glyph's bytes as every subset writes them (hinting removed), or
        ``None`` for a composite glyph, whose bytes depend on the subset's numbering.
        Filled as glyphs are first used: at most the source's ``glyf`` table."""
        self._sums: dict[tuple[str, int, bool], int] = {}
        """(name, shift, padded) → what that glyph's bytes add to the ``glyf`` checksum."""

    def subset(self, characters: str) -> bytes:
        with self.lock:
            try:
                return self._subset(characters)
            except (TTLibError, KeyError, ValueError, AssertionError) as exc:
                raise FontFileError(f"cannot subset font {self.path}: {exc}") from None

    def _glyph(self, name: str) -> Glyph:
        """A fresh copy of a source glyph (the source's own objects are never changed)."""
        source = self.glyf.glyphs[name]  # as stored: [] would decompile it
        data = source.data if hasattr(source, "data") else source.compile(self.glyf, False)
        glyph = Glyph(data)
        if glyph.isComposite():
            glyph.expand(self.glyf)  # components by name, renumbered in the subset
            if self.hinted:
                glyph.removeHinting()
        elif self.hinted:
            glyph.trim(remove_hinting=True)  # on the bytes: no decompiling the outline
        return glyph

    def _simple_glyph(self, name: str) -> bytes | None:
        """:attr:`_simple`'s entry for ``name``, made on first use."""
        if name not in self._simple:
            glyph = self._glyph(name)
            # bytes(): trimming leaves a bytearray, which the cache must not share
            self._simple[name] = (
                None if glyph.isComposite() else bytes(glyph.compile(self.glyf, False))
            )
        return self._simple[name]

    def _glyf(
        self, order: list[str], composites: dict[str, Glyph], glyf: Any
    ) -> tuple[SfntTable, list[int]]:
        """The subset's ``glyf`` table and its ``loca`` offsets, as fontTools compiles them
        (padding 1: odd glyphs padded to even when that allows short offsets); the
        checksum is summed from each simple glyph's, remembered by its place in a word."""
        pieces = [
            composites[name].compile(glyf, False) if name in composites else self._simple[name]
            for name in order
        ]
        size = sum(len(piece or b"") for piece in pieces)
        odd = sum(len(piece or b"") % 2 for piece in pieces)
        pad = odd > 0 and size + odd < 0x20000
        locations, total, at = [], 0, 0
        data = []
        for name, piece in zip(order, pieces, strict=True):
            piece = bytes(piece or b"")
            padded = pad and len(piece) % 2 == 1
            if padded:
                piece = piece + b"\0"
            if name in composites:
                total += checksum(piece, at % 4)
            else:
                key = (name, at % 4, padded)
                if key not in self._sums:
                    self._sums[key] = checksum(piece, at % 4)
                total += self._sums[key]
            locations.append(at)
            data.append(piece)
            at += len(piece)
        locations.append(at)
        # fontTools writes one zero byte for a table of empty glyphs (OTS wants one)
        return SfntTable("glyf", b"".join(data) or b"\0", total & 0xFFFFFFFF), locations

    def _subset(self, characters: str) -> bytes:
        cmap = {ord(c): self.cmap[ord(c)] for c in characters if ord(c) in self.cmap}
        names: set[str] = set()
        composites: dict[str, Glyph] = {}
        pending = [".notdef", *cmap.values()]
        while pending:
            name = pending.pop()
            if name in names:
                continue
            names.add(name)
            if self._simple_glyph(name) is None:
                composites[name] = self._glyph(name)
                pending.extend(composites[name].getComponentNames(self.glyf))
        order = sorted(names, key=self.font.getGlyphID)
        builder = FontBuilder(self.head.unitsPerEm, isTTF=True)
        builder.font.recalcTimestamp = False
        # Simple glyphs are copied as the bytes they are (their own bounding boxes); a
        # recalculation would decompile and recompile every outline, 10× the cost.
        builder.font.recalcBBoxes = False
        builder.font.cfg[OPTIMIZE_FONT_SPEED] = True
        builder.setupGlyphOrder(order)
        builder.setupCharacterMap(cmap)
        # FontBuilder.setupGlyf would inspect (and so decompile) every glyph; the table is
        # compiled by _glyf, which needs only the composite glyphs and the glyph order.
        builder.font["loca"] = newTable("loca")
        glyf = builder.font["glyf"] = newTable("glyf")
        glyf.glyphs = composites
        glyf.glyphOrder = order
        maxp = builder.font["maxp"]
        for field in _MAXP_FIELDS:  # the source's maxima hold for any subset of its glyphs
            setattr(maxp, field, getattr(self.maxp, field))
        builder.setupHorizontalMetrics({name: self.metrics[name] for name in order})
        builder.setupHorizontalHeader(ascent=self.hhea.ascent, descent=self.hhea.descent)
        builder.setupNameTable(
            {
                "familyName": self.family,
                "styleName": "Regular",
                "fullName": self.full_name,
                "psName": self.ps_name,
            }
        )
        os2 = self.os2
        builder.setupOS2(
            usWeightClass=os2.usWeightClass,
            fsType=os2.fsType,
            sTypoAscender=os2.sTypoAscender,
            sTypoDescender=os2.sTypoDescender,
            sTypoLineGap=os2.sTypoLineGap,
            usWinAscent=os2.usWinAscent,
            usWinDescent=os2.usWinDescent,
        )
        # post format 3: no glyph names. OFD text maps Unicode to glyphs through the cmap;
        # the names cost a fifth of making a subset and ~2 kB a font.
        builder.setupPost(keepGlyphNames=False)
        builder.setupHead(
            unitsPerEm=self.head.unitsPerEm,
            created=self.head.created,
            modified=self.head.modified,
        )
        # The file TTFont.save(reorderTables=None) writes (tables in the order fontTools
        # compiles them), without its checksum pass over the outlines (ofd.sfnt).
        glyf_table, locations = self._glyf(order, composites, glyf)
        builder.font["loca"].set(locations)
        keys = builder.font.keys()  # sorted, as TTFont.save takes them
        tags = tuple(tag for tag in keys if tag != "GlyphOrder")
        return write_sfnt(
            [
                glyf_table if tag == "glyf" else table(tag, builder.font.getTableData(tag))
                for tag in _write_order(tags)
            ]
        )


@lru_cache(maxsize=8)
def _write_order(tags: tuple[str, ...]) -> tuple[str, ...]:
    """The order ``TTFont.save`` compiles ``tags`` in: each after the tables it depends on
    (``loca`` after ``glyf``, ``head`` after ``loca`` …), which compiling sets fields of."""
    done: list[str] = []

    def visit(tag: str) -> None:
        if tag in done:
            return
        for master in getTableClass(tag).dependencies:
            if master not in done:
                if master in tags:
                    visit(master)
                else:
                    done.append(master)
        done.append(tag)

    for tag in tags:
        visit(tag)
    return tuple(tag for tag in done if tag in tags)


@lru_cache(maxsize=16)
def _source(path: str, index: int, pid: int) -> _Source:
    """One :class:`_Source` per font and process. A lazily loaded TTFont reads from its
    open file; a worker forked from a process that had opened it would share that file's
    offset with its siblings, so each process (``pid``) opens its own."""
    return _Source(path, index)


def embed_font(path: str, index: int, text: str) -> Font:
    """The :class:`Font` resource for ``text`` set in subfont ``index`` of the file at ``path``.

    Characters the font lacks are left out of the subset (readers show them as missing,
    as they would with the whole font); callers that care check coverage first, as the
    licence layout does.
    """
    source = _source(path, index, os.getpid())
    data = source.subset("".join(sorted(set(text))))
    return Font(name=source.full_name, family=source.family, data=data)
