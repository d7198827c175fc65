"""The geometry of a seal image: the one place that decides where everything goes.

Units are millimetres, origin at the seal's centre, y up, angles counter-clockwise in degrees.
Both painters (vector and raster) only draw what :func:`layout` returns.

Proportions follow the rules for Chinese official seals (42 mm 公章: 1.2 mm red ring, 14 mm
star, name running clockwise along the upper arc with the feet of the characters towards the
centre); every length scales with the diameter. A long name keeps its height and gets
narrower glyphs, as seal engravers do, and only shrinks when glyphs would get thinner than half
their width.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sealsvc.sealimage.design import SealDesign
from sealsvc.sealimage.errors import SealImageError

__all__ = ["SEAL_RED", "Border", "Glyph", "GlyphMetrics", "SealLayout", "layout", "place_glyph"]

SEAL_RED = (230, 0, 18)  # #E60012

Point = tuple[float, float]

# Lengths for a 42 mm seal, scaled by diameter / 42.
_REF_D = 42.0
_RING = 1.2
_STAR_RADIUS = 7.0
_GAP = 0.9  # ring to text
_NAME_SIZES = (6.4, 4.6)  # largest and smallest em height of the name
_NAME_TRACKING = 0.12  # minimum space between name glyphs, in em
_KIND_SIZES = (4.8, 3.4)
_KIND_TRACKING = 0.08
_CODE_SIZE = 2.7
_CODE_TRACKING = 0.12
_MIN_HSCALE = 0.5  # below this, glyphs shrink instead of narrowing further ...
_LAST_RESORT_HSCALE = 0.36  # ... and at the smallest size this is the limit
_MARGIN = 0.6  # clearance between text runs, star and ring
# Ink added around each glyph outline, in em: a light Song face engraved in rubber prints
# bolder than on screen, and the thin horizontal strokes must survive 150 dpi.
_EMBOLDEN = 0.022
# Angle between the centres of the first and last glyph of the name.
# With a code or kind line below, the name leaves them more room.
_NAME_SPAN_MAX = {"plain": 250.0, "busy": 232.0}
_NAME_PITCH_MAX = 38.0  # short names spread out, but not further apart than this
_CODE_SPAN_MAX = 100.0


class GlyphMetrics(Protocol):
    """What the layout needs to know about the font (em units)."""

    def check_covers(self, text: str) -> None: ...
    def advance(self, ch: str) -> float: ...
    def ink_extent(self, text: str) -> tuple[float, float]: ...


@dataclass(frozen=True)
class Glyph:
    """One character: drawn with its baseline centre at (x, y), turned by ``rotation``.

    ``size`` is the em height in mm, ``hscale`` the horizontal compression and ``embolden``
    the ink added on each side of the outline (mm, before compression). ``outline`` is the
    glyph's box (advance width x ink height) in seal coordinates, for clearance checks.
    """

    char: str
    x: float
    y: float
    rotation: float
    size: float
    hscale: float
    embolden: float
    outline: tuple[Point, Point, Point, Point]


class Border(StrEnum):
    """The outline a seal is cut with: round (公章 and most special seals), oval (发票专用章)
    or square (名章). The border's outer edge is the seal's ``width`` x ``height``."""

    CIRCLE = "circle"
    ELLIPSE = "ellipse"
    SQUARE = "square"


@dataclass(frozen=True)
class SealLayout:
    """Everything a painter draws: the border (``width`` x ``height`` mm at its outer edge,
    ``ring_width`` thick), the star (may be empty) and the glyphs."""

    width: float
    height: float
    ring_width: float
    star: tuple[Point, ...]
    glyphs: tuple[Glyph, ...]
    border: Border = Border.CIRCLE

    @property
    def diameter(self) -> float:
        """The outer diameter of a round seal (its width for the other shapes)."""
        return self.width

    @property
    def ring_inner_radius(self) -> float:
        return self.diameter / 2 - self.ring_width


def _rotate(point: Point, degrees: float) -> Point:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return point[0] * c - point[1] * s, point[0] * s + point[1] * c


def place_glyph(
    char: str,
    center: Point,
    rotation: float,
    size: float,
    hscale: float,
    advance: float,
    ink: tuple[float, float],
) -> Glyph:
    """Place ``char`` so that the middle of its run's ink lies at ``center``."""
    bottom, top = ink[0] * size, ink[1] * size
    mid = (bottom + top) / 2
    dx, dy = _rotate((0.0, -mid), rotation)
    half = advance * size * hscale / 2
    corners = ((-half, bottom - mid), (half, bottom - mid), (half, top - mid), (-half, top - mid))
    a, b, c, d = (
        (center[0] + px, center[1] + py) for px, py in (_rotate(p, rotation) for p in corners)
    )
    return Glyph(
        char, center[0] + dx, center[1] + dy, rotation, size, hscale, _EMBOLDEN * size, (a, b, c, d)
    )


def _star(radius: float) -> tuple[Point, ...]:
    """A regular five-pointed star, one point up: ten vertices, outer and inner alternating."""
    inner = radius * math.sin(math.radians(18)) / math.sin(math.radians(54))
    return tuple(
        (r * math.cos(math.radians(90 + 36 * i)), r * math.sin(math.radians(90 + 36 * i)))
        for i, r in enumerate([radius, inner] * 5)
    )


def _name(text: str, font: GlyphMetrics, r_text: float, span_max: float, k: float) -> list[Glyph]:
    """The name clockwise along the upper arc, from lower left to lower right."""
    n = len(text)
    ink = font.ink_extent(text)
    advances = [font.advance(ch) for ch in text]
    size, smallest = (s * k for s in _NAME_SIZES)
    pitch = min(_NAME_PITCH_MAX, span_max / (n - 1)) if n > 1 else 0.0
    while True:
        # the outer edge of the ink touches the text circle; neighbours come closest at the
        # inner edge, so the width they may take is the chord there
        r_mid = r_text - (ink[1] - ink[0]) * size / 2
        r_inner = r_text - (ink[1] - ink[0]) * size
        room = 2 * r_inner * math.tan(math.radians(pitch) / 2)
        hscale = 1.0 if n == 1 else min(1.0, room / (size * (max(advances) + _NAME_TRACKING)))
        if hscale >= _MIN_HSCALE or size <= smallest:
            break
        size = max(smallest, size - 0.1 * k)
    if hscale < _LAST_RESORT_HSCALE:
        raise SealImageError(f"organisation name of {n} characters does not fit on the seal")
    start = 90 + pitch * (n - 1) / 2
    glyphs = []
    for i, (ch, adv) in enumerate(zip(text, advances, strict=True)):
        angle = start - i * pitch
        center = (r_mid * math.cos(math.radians(angle)), r_mid * math.sin(math.radians(angle)))
        glyphs.append(place_glyph(ch, center, angle - 90, size, hscale, adv, ink))
    return glyphs


def _code(text: str, font: GlyphMetrics, r_text: float, k: float) -> list[Glyph]:
    """The code left to right along the lower arc, tops towards the centre (readable)."""
    size = _CODE_SIZE * k
    ink = font.ink_extent(text)
    r_mid = r_text - (ink[1] - ink[0]) * size / 2
    r_inner = r_text - (ink[1] - ink[0]) * size  # where the tops of neighbours come closest
    widths = [(font.advance(ch) + _CODE_TRACKING) * size for ch in text]
    hscale = min(1.0, math.radians(_CODE_SPAN_MAX) * r_inner / sum(widths))
    # angular position of each glyph centre, measured along the inner arc from the left end
    total = sum(widths) * hscale
    angles, run = [], 0.0
    for w in widths:
        angles.append(270 - math.degrees((total / 2 - run - w * hscale / 2) / r_inner))
        run += w * hscale
    return [
        place_glyph(
            ch,
            (r_mid * math.cos(math.radians(a)), r_mid * math.sin(math.radians(a))),
            a - 270,
            size,
            hscale,
            font.advance(ch),
            ink,
        )
        for ch, a in zip(text, angles, strict=True)
    ]


def _clip_band(poly: Sequence[Point], low: float, high: float) -> list[Point]:
    """The part of a convex polygon between two horizontal lines (Sutherland-Hodgman)."""

    def clip(
        points: Sequence[Point], inside: Callable[[Point], bool], cross_y: float
    ) -> list[Point]:
        out: list[Point] = []
        for i, p in enumerate(points):
            q = points[i - 1]
            if inside(p) != inside(q):
                t = (cross_y - q[1]) / (p[1] - q[1])
                out.append((q[0] + t * (p[0] - q[0]), cross_y))
            if inside(p):
                out.append(p)
        return out

    kept = clip(poly, lambda p: p[1] >= low, low)
    return clip(kept, lambda p: p[1] <= high, high) if kept else []


def _kind(
    text: str, font: GlyphMetrics, top: float, r_inner: float, obstacles: list[Glyph], k: float
) -> list[Glyph]:
    """The kind on a straight line under the star, as wide as the arcs around it allow."""
    ink = font.ink_extent(text)
    advances = [font.advance(ch) for ch in text]
    n = len(text)
    size, smallest = (s * k for s in _KIND_SIZES)
    margin = _MARGIN * k
    while True:
        height = (ink[1] - ink[0]) * size
        low, high = top - height - margin, top + margin
        half = math.sqrt(r_inner**2 - low**2) - margin  # chord of the ring's inner edge
        for g in obstacles:
            part = _clip_band(g.outline, low, high)
            if part:
                half = min(half, min(abs(x) for x, _ in part) - margin)
        natural = size * (sum(advances) + _KIND_TRACKING * (n - 1))
        hscale = min(1.0, 2 * half / natural)
        if hscale >= _MIN_HSCALE or size <= smallest:
            break
        size = max(smallest, size - 0.1 * k)
    if hscale < _LAST_RESORT_HSCALE:
        raise SealImageError(f"seal kind {text!r} does not fit under the star")
    pitch = size * hscale * (sum(advances) / n + _KIND_TRACKING)
    y = top - height / 2
    return [
        place_glyph(ch, ((i - (n - 1) / 2) * pitch, y), 0.0, size, hscale, adv, ink)
        for i, (ch, adv) in enumerate(zip(text, advances, strict=True))
    ]


def layout(design: SealDesign, font: GlyphMetrics) -> SealLayout:
    """Where the ring, the star and every glyph of a round ``design`` go (the other shapes:
    :func:`sealsvc.sealimage.shapes.layout_of`)."""
    k = design.diameter_mm / _REF_D
    kind = design.kind_line
    for text in (design.organisation, kind, design.code):
        if text:
            font.check_covers(text)
    ring = _RING * k
    r_text = design.diameter_mm / 2 - ring - _GAP * k
    star = _star(_STAR_RADIUS * k)
    span = _NAME_SPAN_MAX["busy" if design.code or kind else "plain"]
    glyphs = _name(design.organisation, font, r_text, span, k)
    code = _code(design.code, font, r_text, k) if design.code else []
    if kind:
        star_bottom = min(y for _, y in star)
        glyphs += _kind(kind, font, star_bottom - 1.8 * k, r_text, glyphs + code, k)
    return SealLayout(design.diameter_mm, design.diameter_mm, ring, star, tuple(glyphs + code))
