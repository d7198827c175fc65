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
assembled from it with fontTools' ``FontBuilder`` — about 10 ms.
"""

from __future__ import annotations

import io
import os
import threading
from functools import lru_cache

from fontTools.fontBuilder import FontBuilder
from fontTools.ttLib import OPTIMIZE_FONT_SPEED, TTFont, TTLibError, newTable
from fontTools.ttLib.tables._g_l_y_f import Glyph

from ofd.model import Font

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

    def _subset(self, characters: str) -> bytes:
        cmap = {ord(c): self.cmap[ord(c)] for c in characters if ord(c) in self.cmap}
        glyphs = {}
        pending = [".notdef", *cmap.values()]
        while pending:
            name = pending.pop()
            if name in glyphs:
                continue
            glyphs[name] = self._glyph(name)
            if glyphs[name].isComposite():
                pending.extend(glyphs[name].getComponentNames(self.glyf))
        order = sorted(glyphs, key=self.font.getGlyphID)
        builder = FontBuilder(self.head.unitsPerEm, isTTF=True)
        builder.font.recalcTimestamp = False
        # Simple glyphs are copied as the bytes they are (their own bounding boxes); a
        # recalculation would decompile and recompile every outline, 10× the cost.
        builder.font.recalcBBoxes = False
        builder.font.cfg[OPTIMIZE_FONT_SPEED] = True
        builder.setupGlyphOrder(order)
        builder.setupCharacterMap(cmap)
        # FontBuilder.setupGlyf would inspect (and so decompile) every glyph; this is the
        # rest of what it does.
        builder.font["loca"] = newTable("loca")
        glyf = builder.font["glyf"] = newTable("glyf")
        glyf.glyphs = {name: glyphs[name] for name in order}
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
        out = io.BytesIO()
        # reorderTables=None: the tables in the order they were compiled. Reordering them
        # as the OpenType spec recommends means parsing the font again and writing it a
        # second time, a fifth of making a subset; readers find tables by the directory.
        builder.font.save(out, reorderTables=None)
        return out.getvalue()


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
