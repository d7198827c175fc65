"""Embedded fonts: a TrueType subset holding exactly the characters a document prints.

OFD readers draw a ``TextCode`` with the font resource's ``FontFile`` when there is one,
and otherwise look for an installed font by ``FontName`` — which on a reader's machine
without that font means substituted or missing glyphs. Every font sealsvc writes is
therefore embedded, cut down with fontTools' subsetter to the characters used (a CJK
face is 10-20 MB; a licence's subset is 20-60 kB). The subset keeps ``cmap`` (OFD text is
Unicode, mapped to glyphs through it) and the outlines, drops hinting, bitmaps and
OpenType layout (OFD positions every character itself, with ``DeltaX``), and is
byte-for-byte reproducible: no timestamp is refreshed.
"""

from __future__ import annotations

import io
from functools import lru_cache

from fontTools import subset
from fontTools.ttLib import TTFont, TTLibError

from ofd.model import Font

__all__ = ["FontFileError", "embed_font", "font_names"]

_DROPPED = ["GSUB", "GPOS", "GDEF", "EBDT", "EBLC", "EBSC", "BDF", "FFTM", "VORG", "gasp"]


class FontFileError(ValueError):
    """The font file cannot be read or subset (named by path: operators configure fonts)."""


def _open(path: str, index: int) -> TTFont:
    try:
        return TTFont(path, fontNumber=index, lazy=True, recalcTimestamp=False)
    except (OSError, TTLibError, ValueError) as exc:
        raise FontFileError(f"cannot read font {path} (subfont {index}): {exc}") from None


@lru_cache(maxsize=16)
def font_names(path: str, index: int = 0) -> tuple[str, str]:
    """(full name, family name) from the font's ``name`` table, English record preferred."""
    font = _open(path, index)
    try:
        table = font["name"]
        full = table.getDebugName(4) or table.getDebugName(6) or path.rsplit("/", 1)[-1]
        family = table.getDebugName(1) or full
    finally:
        font.close()
    return full, family


@lru_cache(maxsize=64)
def _subset(path: str, index: int, characters: str) -> bytes:
    options = subset.Options()
    options.drop_tables += _DROPPED
    options.layout_features = []
    options.layout_closure = False
    options.hinting = False
    options.notdef_outline = True
    options.glyph_names = False
    options.recalc_timestamp = False
    font = _open(path, index)
    try:
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=characters)
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
    except (TTLibError, KeyError, ValueError, AssertionError) as exc:
        raise FontFileError(f"cannot subset font {path} (subfont {index}): {exc}") from None
    finally:
        font.close()
    return out.getvalue()


def embed_font(path: str, index: int, text: str) -> Font:
    """The :class:`Font` resource for ``text`` set in subfont ``index`` of the file at ``path``.

    The same characters give the same bytes (the subset of one set of characters is kept
    in a small cache: re-rendering a licence costs no second subsetting).
    """
    characters = "".join(sorted(set(text)))
    data = _subset(path, index, characters)
    name, family = font_names(path, index)
    return Font(name=name, family=family, data=data)
