"""What a seal image is drawn from: the seal's organisation, kind and code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sealsvc.characters import invisible_characters
from sealsvc.sealimage.errors import SealImageError

if TYPE_CHECKING:
    from sealsvc.sealimage.shapes import Design

__all__ = [
    "MAX_CODE",
    "MAX_KIND",
    "MAX_NAME",
    "STAMP_SIDE_MM",
    "SealAppearance",
    "SealDesign",
    "check_text",
    "seal_name",
]

MAX_NAME = 30  # beyond this the glyphs would have to shrink below a readable size
MAX_KIND = 12
MAX_CODE = 24
_DIAMETER_RANGE = (20.0, 80.0)


def check_text(label: str, value: str, limit: int) -> None:
    if not value.strip():
        raise SealImageError(f"seal {label} must not be empty")
    if value != value.strip():
        raise SealImageError(f"seal {label} must not start or end with spaces")
    if len(value) > limit:
        raise SealImageError(f"seal {label} has {len(value)} characters; at most {limit} fit")
    problem = invisible_characters(value, f"seal {label}")
    if problem:
        raise SealImageError(problem)


@dataclass(frozen=True)
class SealDesign:
    """The data a seal image shows, in the layout of a Chinese official seal.

    ``kind`` is the line under the star (e.g. "行政审批专用章"); ``None``, "" or "公章" draw no
    line, because a 公章 shows only the organisation's name. ``code`` runs along the lower arc.
    """

    organisation: str
    kind: str | None
    code: str | None
    diameter_mm: float = 42.0

    def __post_init__(self) -> None:
        check_text("organisation", self.organisation, MAX_NAME)
        if self.kind:
            check_text("kind", self.kind, MAX_KIND)
        if self.code:
            check_text("code", self.code, MAX_CODE)
        low, high = _DIAMETER_RANGE
        if not low <= self.diameter_mm <= high:
            raise SealImageError(
                f"seal diameter {self.diameter_mm} mm is outside {low:g}-{high:g} mm"
            )

    @property
    def width_mm(self) -> float:
        return self.diameter_mm

    @property
    def height_mm(self) -> float:
        return self.diameter_mm

    @property
    def title(self) -> str:
        """What the seal's one-page PDF is titled."""
        return f"{self.organisation} {self.kind or ''}".strip()

    @property
    def kind_line(self) -> str | None:
        """The text under the star, or ``None`` for a 公章."""
        return self.kind if self.kind and self.kind != "公章" else None


STAMP_SIDE_MM = 42.0
"""The side of the square stamp page, and of an uploaded scan placed on it."""


def seal_name(text: str, kind: str) -> str:
    """A 公章 is named by its text alone; a special-purpose seal adds its kind."""
    return text if kind == "公章" else f"{text}{kind}"


@dataclass(frozen=True)
class SealAppearance:
    """What a seal's visible stamp is made from: its text, kind, code and uploaded scan."""

    text: str
    kind: str
    code: str
    image_png: bytes | None = field(default=None, repr=False)
    """The validated uploaded scan, or ``None`` to draw the seal from its data."""

    image_design: str | None = None
    """The drawing's shape and size (:class:`~sealsvc.sealimage.ImageSpec` as JSON), or
    ``None`` for the round 42 mm seal."""

    @property
    def design(self) -> Design:
        """What the drawing shows (checked: too long a text is a :class:`SealImageError`)."""
        if self.image_design is None:
            return SealDesign(organisation=self.text, kind=self.kind, code=self.code)
        # Imported here: the shapes build on SealDesign, defined in this module.
        from sealsvc.sealimage.shapes import ImageSpec

        return ImageSpec.from_json(self.image_design).design(self.text, self.kind, self.code)

    @property
    def size_mm(self) -> tuple[float, float]:
        """The picture's width and height: the drawing's, or the stamp page of a scan."""
        if self.image_png is not None:
            return STAMP_SIDE_MM, STAMP_SIDE_MM
        design = self.design
        return design.width_mm, design.height_mm
