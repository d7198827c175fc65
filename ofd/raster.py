"""Draw an OFD page (:mod:`ofd.model`) as a Pillow image: the licence face for a web page.

Why our own: the independent reader the tests use (easyofd) cannot serve a request — it
unpacks into the working directory, registers fonts process-wide, draws every character
in one font it expects installed as 宋体 and ignores the embedded ones, and pulls in
PyMuPDF and onnxruntime. What a verification page needs is small: text in the
document's embedded fonts at the positions ``DeltaX`` gives, filled and stroked paths,
images. That is what this draws, with Pillow only.

Drawn: ``TextObject`` (embedded font, else the ``fallback_font`` the caller names; each
character at its own position), ``PathObject`` (``M L Q B C`` of ``AbbreviatedData``;
curves flattened; ``A`` arcs drawn as chords), ``ImageObject`` (scaled into its boundary).
Not interpreted, as in :mod:`ofd.reader`: ``CTM``, clips, patterns, blend modes. Images
and the page are bounded in pixels (:data:`MAX_PIXELS`), so a hostile page size or image
cannot make us allocate gigabytes: a page beyond it is refused, an image beyond it (or
unreadable) is left out, as a missing one would be.
"""

from __future__ import annotations

import io
import itertools
import warnings
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from ofd.errors import OfdFormatError, OfdLimitExceeded
from ofd.model import Box, ImageObject, Page, PathObject, TextObject

__all__ = ["MAX_PIXELS", "render_page"]

MAX_PIXELS = 40_000_000
"""Largest page (and embedded image) drawn: an A4 page at 600 dpi is 35 Mpx."""
_CURVE_STEPS = 12


def _point(values: list[float]) -> tuple[float, float]:
    """An (x, y) pair from two numbers of path data."""
    return values[0], values[1]


def _points(data: str, part: str) -> list[tuple[list[tuple[float, float]], bool]]:
    """Subpaths of ``AbbreviatedData`` as polylines, each with whether it was closed."""
    tokens = data.split()
    subpaths: list[tuple[list[tuple[float, float]], bool]] = []
    current: list[tuple[float, float]] = []
    index = 0

    def numbers(count: int) -> list[float]:
        nonlocal index
        values = tokens[index : index + count]
        if len(values) != count:
            raise OfdFormatError(f"{part}: path data ends in the middle of an operator")
        index += count
        try:
            return [float(v) for v in values]
        except ValueError:
            raise OfdFormatError(f"{part}: path data {values!r} are not numbers") from None

    while index < len(tokens):
        op = tokens[index]
        index += 1
        if op in ("M", "S"):
            if len(current) > 1:
                subpaths.append((current, False))
            current = [_point(numbers(2))]
        elif op == "L":
            current.append(_point(numbers(2)))
        elif op in ("B", "Q"):
            controls = numbers(6 if op == "B" else 4)
            start = current[-1] if current else (0.0, 0.0)
            pts = [start] + [_point(controls[i : i + 2]) for i in range(0, len(controls), 2)]
            for step in range(1, _CURVE_STEPS + 1):
                t = step / _CURVE_STEPS
                level = pts
                while len(level) > 1:  # de Casteljau
                    level = [
                        (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
                        for a, b in itertools.pairwise(level)
                    ]
                current.append(level[0])
        elif op == "A":
            current.append(_point(numbers(7)[5:]))
        elif op == "C":
            if current:
                subpaths.append((current, True))
                current = [current[0]]
        else:
            raise OfdFormatError(f"{part}: unknown path operator {op[:10]!r}")
    if len(current) > 1:
        subpaths.append((current, False))
    return subpaths


@lru_cache(maxsize=32)
def _font(data: bytes, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(io.BytesIO(data), size_px)


@lru_cache(maxsize=8)
def _fallback(path: str, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size_px)


class _Canvas:
    def __init__(self, page: Page, dpi: float, fallback_font: str | None) -> None:
        self.scale = dpi / 25.4
        width, height = round(page.width * self.scale), round(page.height * self.scale)
        if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
            raise OfdLimitExceeded(
                f"page of {page.width}×{page.height} mm at {dpi} dpi is not drawable "
                f"(more than {MAX_PIXELS} pixels, or empty)"
            )
        self.image = Image.new("RGB", (width, height), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.fallback_font = fallback_font

    def xy(self, box: Box, x: float, y: float) -> tuple[float, float]:
        return ((box.x + x) * self.scale, (box.y + y) * self.scale)

    def path(self, obj: PathObject) -> None:
        for points, closed in _points(obj.data, "PathObject"):
            xy = [self.xy(obj.boundary, x, y) for x, y in points]
            if obj.fill is not None and len(xy) > 2:
                self.draw.polygon(xy, fill=obj.fill)
            if obj.stroke is not None:
                width = max(1, round(obj.line_width * self.scale))
                self.draw.line(xy + xy[:1] if closed else xy, fill=obj.stroke, width=width)

    def text(self, obj: TextObject) -> None:
        size = max(1, round(obj.size * self.scale))
        if obj.font.data:
            font = _font(obj.font.data, size)
        elif self.fallback_font:
            font = _fallback(self.fallback_font, size)
        else:
            return
        x = obj.x
        for index, ch in enumerate(obj.text):
            if not ch.isspace():
                self.draw.text(self.xy(obj.boundary, x, obj.y), ch, font=font, fill=obj.fill,
                               anchor="ls")  # fmt: skip
            x += obj.delta_x[index] if index < len(obj.delta_x) else obj.size
        return

    def picture(self, obj: ImageObject) -> None:
        left, top = self.xy(obj.boundary, 0, 0)
        width = round(obj.boundary.width * self.scale)
        height = round(obj.boundary.height * self.scale)
        if width <= 0 or height <= 0:
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                picture: Image.Image = Image.open(io.BytesIO(obj.image.data))
                if picture.width * picture.height > MAX_PIXELS:
                    return  # only the header was read: an image bomb is left out undecoded
                picture = picture.convert("RGBA").resize((width, height))
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombWarning,
                Image.DecompressionBombError):  # fmt: skip
            return  # an unreadable picture is left out, like a missing one
        self.image.paste(picture, (round(left), round(top)), picture)


def render_page(page: Page, dpi: float = 96, fallback_font: str | None = None) -> Image.Image:
    """``page`` drawn at ``dpi`` on white. ``fallback_font`` (a font file path) sets text
    whose font the document does not embed; without one such text is left out."""
    canvas = _Canvas(page, dpi, fallback_font)
    for obj in page.objects:
        if isinstance(obj, PathObject):
            canvas.path(obj)
        elif isinstance(obj, TextObject):
            canvas.text(obj)
        else:
            canvas.picture(obj)
    return canvas.image
