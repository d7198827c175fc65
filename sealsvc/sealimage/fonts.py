"""The CJK TrueType font the seal is drawn with, loaded once per process.

Both painters (reportlab for PDF, Pillow for PNG) read the same font file, and the layout
takes its metrics from it, so the vector and raster seals put every glyph in the same place.
Loading parses a 16-20 MB ``.ttc``; it is cached per (path, subfont) behind a lock because
reportlab's font registry is a process-wide dict that request threads share.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from sealsvc.characters import shown
from sealsvc.sealimage.errors import SealFontNotFound, SealImageError

__all__ = ["DEFAULT_FONTS", "FONT_ENV", "FONT_INDEX_ENV", "SealFont", "load_font"]

FONT_ENV = "SEALSVC_SEAL_FONT"
FONT_INDEX_ENV = "SEALSVC_SEAL_FONT_INDEX"

# AR PL UMing is a Ming (Song) face, the style official seals are cut in; WenQuanYi Zen Hei is
# the fallback. Both are TrueType collections; subfont 0 is the simplified-Chinese face.
DEFAULT_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
)

_METRIC_SIZE = 1000  # Pillow font size used for metrics: 1 unit = 1/1000 em
_lock = threading.Lock()


@dataclass(frozen=True)
class SealFont:
    """A registered font: its reportlab name and em-relative metrics for the layout."""

    path: str
    subfont_index: int
    name: str
    _ttf: TTFont = field(repr=False, compare=False)
    _pil: ImageFont.FreeTypeFont = field(repr=False, compare=False)

    def check_covers(self, text: str) -> None:
        """Refuse text the font cannot draw, rather than printing empty boxes on a seal."""
        missing = sorted({ch for ch in text if ord(ch) not in self._ttf.face.charToGlyph})
        if missing:
            # Named by character and code point, not by the font's path: the message goes
            # to API clients, who can fix the name but not the server's fonts.
            raise SealImageError(
                f"the seal font cannot print {', '.join(shown(ch) for ch in missing)} "
                f"of {text!r}; use another character, or the operator sets {FONT_ENV} to "
                "a font that has it"
            )

    def advance(self, ch: str) -> float:
        """Horizontal advance of ``ch`` in em."""
        return self._pil.getlength(ch) / _METRIC_SIZE

    def ink_extent(self, text: str) -> tuple[float, float]:
        """(bottom, top) of the union of the glyphs' ink, in em above the baseline."""
        boxes = [self._pil.getbbox(ch, anchor="ls") for ch in text if not ch.isspace()]
        if not boxes:
            return 0.0, 0.0
        return -max(b[3] for b in boxes) / _METRIC_SIZE, -min(b[1] for b in boxes) / _METRIC_SIZE

    def pillow(self, size_px: int) -> ImageFont.FreeTypeFont:
        """The Pillow font at ``size_px`` pixels per em (cached)."""
        return _pillow_font(self.path, self.subfont_index, size_px)


@lru_cache(maxsize=64)
def _pillow_font(path: str, index: int, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size_px, index=index, layout_engine=ImageFont.Layout.BASIC)


_loaded: dict[tuple[str, int], SealFont] = {}


def _load(path: str, index: int) -> SealFont:
    key = (path, index)
    with _lock:
        font = _loaded.get(key)
        if font is None:
            digest = hashlib.sha256(f"{path}\0{index}".encode()).hexdigest()[:10]
            name = f"SealFont-{digest}"
            ttf = TTFont(name, path, subfontIndex=index)
            pdfmetrics.registerFont(ttf)
            pil = _pillow_font(path, index, _METRIC_SIZE)
            font = SealFont(path=path, subfont_index=index, name=name, _ttf=ttf, _pil=pil)
            _loaded[key] = font
        return font


def load_font(
    path: str | os.PathLike[str] | None = None,
    subfont_index: int = 0,
    environ: Mapping[str, str] | None = None,
) -> SealFont:
    """Load the seal font: ``path`` if given, else ``$SEALSVC_SEAL_FONT``, else the defaults.

    An explicitly chosen font (argument or environment) is the only one tried, so a typo in
    the configuration is reported instead of silently drawing with another face.
    """
    env = os.environ if environ is None else environ
    if path is not None:
        candidates = [(os.fspath(path), subfont_index)]
    elif env.get(FONT_ENV):
        try:
            index = int(env.get(FONT_INDEX_ENV) or 0)
        except ValueError:
            raise SealImageError(f"{FONT_INDEX_ENV} must be an integer") from None
        candidates = [(env[FONT_ENV], index)]
    else:
        candidates = list(DEFAULT_FONTS)
    problems = []
    for candidate, index in candidates:
        if not Path(candidate).is_file():
            problems.append(f"{candidate} (not found)")
            continue
        try:
            return _load(candidate, index)
        except (TTFError, OSError, ValueError) as exc:
            problems.append(f"{candidate} (unusable: {exc})")
    raise SealFontNotFound(
        "no CJK TrueType font for the seal image; tried: "
        + ", ".join(problems)
        + f". Install fonts-arphic-uming or fonts-wqy-zenhei, or set {FONT_ENV}"
    )
