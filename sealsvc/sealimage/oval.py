"""The oval seal: a 发票专用章 (invoice seal), 40 x 30 mm.

The customary pattern of the tax authorities' invoice seal: an oval border about 1 mm
wide; the taxpayer's name clockwise along the upper arc, feet towards the centre; the
taxpayer identification number — since 2015 the 统一社会信用代码 — on a straight line
through the centre; "发票专用章" on a straight line below it. No star. Units and
conventions as in :mod:`sealsvc.sealimage.layout` (mm, origin at the centre, y up).

Characters along an ellipse cannot be spaced by angle as on a circle (they would crowd at
the narrow ends), so their centres are spaced by equal arc length along the ellipse that
runs through the middle of the name's ink, each turned to face along that ellipse's
outward normal.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from sealsvc.sealimage.design import MAX_CODE, MAX_KIND, MAX_NAME, check_text
from sealsvc.sealimage.errors import SealImageError
from sealsvc.sealimage.layout import Border, Glyph, GlyphMetrics, SealLayout, place_glyph

__all__ = ["OvalSealDesign", "oval_layout"]

_SIZE_RANGE = ((30.0, 60.0), (20.0, 45.0))  # (width, height) limits, mm
# Lengths for the 40 x 30 mm seal, scaled by width / 40.
_REF_W = 40.0
_RING = 1.0
_GAP = 0.7
_NAME_SIZES = (4.2, 3.0)  # em heights: customary and smallest
_NAME_TRACKING = 0.1
_NAME_SPAN = 200.0  # degrees of the ellipse's parameter the name may cover, centred on top
_MIDDLE_SIZE = 3.7
_MIDDLE_WIDTH = 26.0  # the customary length of the number line
_MIDDLE_TRACKING = 0.04
_KIND_SIZE = 4.6
_KIND_WIDTH = 20.0  # at most: the ends of the name come down beside it
_KIND_TRACKING = 0.15
_MIN_HSCALE = 0.5
_LAST_RESORT_HSCALE = 0.36
_ARC_SAMPLES = 720


@dataclass(frozen=True)
class OvalSealDesign:
    """An oval seal: ``organisation`` along the upper arc, ``middle`` (the credit code)
    through the centre, ``kind`` below it."""

    organisation: str
    middle: str
    kind: str = "发票专用章"
    width_mm: float = 40.0
    height_mm: float = 30.0

    def __post_init__(self) -> None:
        check_text("organisation", self.organisation, MAX_NAME)
        check_text("middle line", self.middle, MAX_CODE)
        check_text("kind", self.kind, MAX_KIND)
        (w_low, w_high), (h_low, h_high) = _SIZE_RANGE
        if not (w_low <= self.width_mm <= w_high and h_low <= self.height_mm <= h_high):
            raise SealImageError(
                f"an oval seal of {self.width_mm:g} x {self.height_mm:g} mm is outside "
                f"{w_low:g}-{w_high:g} x {h_low:g}-{h_high:g} mm"
            )
        if self.height_mm >= self.width_mm:
            raise SealImageError("an oval seal is wider than it is high")

    @property
    def title(self) -> str:
        return f"{self.organisation} {self.kind}"


def _arc_points(a: float, b: float, span: float) -> tuple[list[float], list[float]]:
    """Parameter angles (degrees) from the left end of the span to the right end, clockwise
    over the top, and the arc length travelled to each."""
    start = 90 + span / 2
    angles = [start - span * i / _ARC_SAMPLES for i in range(_ARC_SAMPLES + 1)]
    lengths = [0.0]
    for previous, angle in itertools.pairwise(angles):
        p, q = math.radians(previous), math.radians(angle)
        step = math.hypot(a * (math.cos(q) - math.cos(p)), b * (math.sin(q) - math.sin(p)))
        lengths.append(lengths[-1] + step)
    return angles, lengths


def _angle_at(angles: list[float], lengths: list[float], distance: float) -> float:
    """The parameter angle at arc length ``distance`` (linear between samples)."""
    for i in range(1, len(lengths)):
        if lengths[i] >= distance:
            t = (distance - lengths[i - 1]) / (lengths[i] - lengths[i - 1])
            return angles[i - 1] + t * (angles[i] - angles[i - 1])
    return angles[-1]


def _name(text: str, font: GlyphMetrics, a: float, b: float, k: float) -> list[Glyph]:
    ink = font.ink_extent(text)
    advances = [font.advance(ch) for ch in text]
    n = len(text)
    size, smallest = (s * k for s in _NAME_SIZES)
    while True:
        height = (ink[1] - ink[0]) * size
        a_mid, b_mid = a - height / 2, b - height / 2
        angles, lengths = _arc_points(a_mid, b_mid, _NAME_SPAN)
        # short names keep a natural spacing instead of spreading over the whole arc
        pitch = min(lengths[-1] / (n - 1), size * 1.5) if n > 1 else 0.0
        room = pitch * (b_mid - height / 2) / b_mid  # at the inner edge, where glyphs crowd
        hscale = 1.0 if n == 1 else min(1.0, room / (size * (max(advances) + _NAME_TRACKING)))
        if hscale >= _MIN_HSCALE or size <= smallest:
            break
        size = max(smallest, size - 0.1 * k)
    if hscale < _LAST_RESORT_HSCALE:
        raise SealImageError(f"organisation name of {n} characters does not fit on the oval seal")
    first = (lengths[-1] - pitch * (n - 1)) / 2
    glyphs = []
    for i, (ch, adv) in enumerate(zip(text, advances, strict=True)):
        t = math.radians(_angle_at(angles, lengths, first + i * pitch))
        center = (a_mid * math.cos(t), b_mid * math.sin(t))
        normal = math.degrees(math.atan2(a_mid * math.sin(t), b_mid * math.cos(t)))
        glyphs.append(place_glyph(ch, center, normal - 90, size, hscale, adv, ink))
    return glyphs


def _line(
    text: str, font: GlyphMetrics, y: float, size: float, width: float, tracking: float
) -> list[Glyph]:
    """``text`` on a straight line centred at height ``y``, at most ``width`` long."""
    ink = font.ink_extent(text)
    advances = [font.advance(ch) for ch in text]
    n = len(text)
    natural = size * (sum(advances) + tracking * (n - 1))
    hscale = min(1.0, width / natural)
    if hscale < _LAST_RESORT_HSCALE:
        raise SealImageError(f"{text!r} does not fit on the oval seal")
    x = -natural * hscale / 2
    glyphs = []
    for ch, adv in zip(text, advances, strict=True):
        step = adv * size * hscale
        glyphs.append(place_glyph(ch, (x + step / 2, y), 0.0, size, hscale, adv, ink))
        x += step + tracking * size * hscale
    return glyphs


def _chord(a: float, b: float, y: float) -> float:
    """Half the width of the ellipse (semi-axes a, b) at height ``y``."""
    return a * math.sqrt(max(0.0, 1 - (y / b) ** 2))


def oval_layout(design: OvalSealDesign, font: GlyphMetrics) -> SealLayout:
    """Where the border and every glyph of the oval ``design`` go."""
    for text in (design.organisation, design.middle, design.kind):
        font.check_covers(text)
    k = design.width_mm / _REF_W
    ring = _RING * k
    a = design.width_mm / 2 - ring - _GAP * k
    b = design.height_mm / 2 - ring - _GAP * k
    glyphs = _name(design.organisation, font, a, b, k)
    middle_size = _MIDDLE_SIZE * k
    middle = _line(design.middle, font, 0.0, middle_size, _MIDDLE_WIDTH * k, _MIDDLE_TRACKING)
    kind_size = _KIND_SIZE * k
    kind_y = -middle_size / 2 - 1.2 * k - kind_size / 2
    kind_room = min(_KIND_WIDTH * k, 2 * (_chord(a, b, kind_y - kind_size / 2) - 1.0 * k))
    kind = _line(design.kind, font, kind_y, kind_size, kind_room, _KIND_TRACKING)
    return SealLayout(
        design.width_mm, design.height_mm, ring, (), tuple(glyphs + middle + kind), Border.ELLIPSE
    )
