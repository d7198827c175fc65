"""The square name seal (名章): a person's name in 2 x 2 characters, e.g. a 法定代表人名章.

Customary pattern: a square about 20 mm with a border, four characters filling four
cells, read in the traditional order — right column top to bottom, then the left column.
A three-character name gets "印" as the fourth character (张建国 → 张建国印), a
two-character one "之印" (王五 → 王五之印); a four-character name fills the cells as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from sealsvc.characters import invisible_characters
from sealsvc.sealimage.errors import SealImageError
from sealsvc.sealimage.layout import Border, GlyphMetrics, SealLayout, place_glyph

__all__ = ["NameSealDesign", "name_seal_layout"]

_SIDE_RANGE = (12.0, 40.0)
# Lengths for a 20 mm seal, scaled by side / 20.
_REF_SIDE = 20.0
_RING = 1.0
_GAP = 0.6
_CELL_MARGIN = 0.3  # between a glyph's ink and its cell
_SUFFIXES = {2: "之印", 3: "印", 4: ""}


@dataclass(frozen=True)
class NameSealDesign:
    """A square name seal of ``name`` (two to four characters), ``side_mm`` square."""

    name: str
    side_mm: float = 20.0

    def __post_init__(self) -> None:
        problem = invisible_characters(self.name, "name on a name seal")
        if problem:
            raise SealImageError(problem)
        if any(ch.isspace() for ch in self.name) or len(self.name) not in _SUFFIXES:
            raise SealImageError(
                f"a name seal takes a name of 2 to 4 characters without spaces, got {self.name!r}"
            )
        low, high = _SIDE_RANGE
        if not low <= self.side_mm <= high:
            raise SealImageError(
                f"name seal side {self.side_mm:g} mm is outside {low:g}-{high:g} mm"
            )

    @property
    def width_mm(self) -> float:
        return self.side_mm

    @property
    def height_mm(self) -> float:
        return self.side_mm

    @property
    def characters(self) -> str:
        """The four characters cut in the seal: the name and its customary suffix."""
        return self.name + _SUFFIXES[len(self.name)]

    @property
    def title(self) -> str:
        return f"{self.name} 名章"


def name_seal_layout(design: NameSealDesign, font: GlyphMetrics) -> SealLayout:
    """The border and the four glyphs, each filling its cell."""
    text = design.characters
    font.check_covers(text)
    k = design.side_mm / _REF_SIDE
    ring = _RING * k
    cell = (design.side_mm - 2 * ring - 2 * _GAP * k) / 2
    fill = cell - 2 * _CELL_MARGIN * k
    ink = font.ink_extent(text)
    size = fill / (ink[1] - ink[0])
    quarter = cell / 2
    # right column top, right column bottom, left column top, left column bottom
    centres = ((quarter, quarter), (quarter, -quarter), (-quarter, quarter), (-quarter, -quarter))
    glyphs = []
    for ch, centre in zip(text, centres, strict=True):
        advance = font.advance(ch)
        hscale = fill / (advance * size)
        glyphs.append(place_glyph(ch, centre, 0.0, size, hscale, advance, ink))
    return SealLayout(design.side_mm, design.side_mm, ring, (), tuple(glyphs), Border.SQUARE)
