"""Seal shapes: which design a seal is drawn from, and the one geometry entry point.

A seal's image is drawn from its text, kind and code; :class:`ImageSpec` says in which
shape and size (round 42 mm when a seal has none: every seal issued before shapes
existed). It is stored with the seal as JSON, so a seal keeps the image it was issued
with even if a catalogue's customs change later.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sealsvc.sealimage.design import SealDesign
from sealsvc.sealimage.errors import SealImageError
from sealsvc.sealimage.layout import Border, GlyphMetrics, SealLayout, layout
from sealsvc.sealimage.name_seal import NameSealDesign, name_seal_layout
from sealsvc.sealimage.oval import OvalSealDesign, oval_layout

__all__ = ["Design", "ImageSpec", "geometry"]

Design = SealDesign | OvalSealDesign | NameSealDesign
"""Any drawable seal design."""


def geometry(design: Design, font: GlyphMetrics) -> SealLayout:
    """Where everything of ``design`` goes, whatever its shape."""
    if isinstance(design, OvalSealDesign):
        return oval_layout(design, font)
    if isinstance(design, NameSealDesign):
        return name_seal_layout(design, font)
    return layout(design, font)


@dataclass(frozen=True)
class ImageSpec:
    """The shape and size of a seal's image, and what only that shape shows.

    ``middle`` is the line through an oval seal's centre (a 发票专用章's credit code).
    """

    shape: Border
    width_mm: float
    height_mm: float
    middle: str | None = None

    def design(self, text: str, kind: str, code: str) -> Design:
        """The design of a seal with this text (organisation, or a person's name on a
        name seal), kind and seal code."""
        if self.shape is Border.ELLIPSE:
            if not self.middle:
                raise SealImageError("an oval seal needs its middle line (the credit code)")
            return OvalSealDesign(text, self.middle, kind, self.width_mm, self.height_mm)
        if self.shape is Border.SQUARE:
            return NameSealDesign(text, self.width_mm)
        return SealDesign(text, kind, code, self.width_mm)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ImageSpec:
        data: dict[str, Any] = json.loads(text)
        return cls(Border(data["shape"]), data["width_mm"], data["height_mm"], data.get("middle"))
