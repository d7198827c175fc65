"""The enterprise seal set: its kinds, their shapes and sizes, and how they are certified.

Declarative: one :class:`SealKindSpec` per kind, in the order a set is issued. Sizes
follow the customs of the public-security seal rules (GA 241-2000 and the local 印章治安
管理 practice) and the tax authorities' pattern for the invoice seal:

========== ================ ================================================ ==========
kind       shape            what it shows                                    size
========== ================ ================================================ ==========
公章       round, star      name along the upper arc, seal code below        Ø 40 mm
财务专用章 round, star      name, 财务专用章 under the star, seal code       Ø 38 mm
发票专用章 oval, no star    name, 统一社会信用代码 through the centre,       40 x 30 mm
                            发票专用章 below
合同专用章 round, star      name, 合同专用章 under the star, seal code       Ø 40 mm
法定代表人 square, 2 x 2    the legal representative's name (+ 印 / 之印)    20 mm
名章
========== ================ ================================================ ==========

Every kind is certified under the **enterprise profile**: an SM2 key in the key store, a
seal certificate from the SM2 issuing CA whose subject names the enterprise (``O``), its
credit code (``organizationIdentifier`` ``NTRCN-<code>``, :func:`sealsvc.seals.seal_subject`)
and the seal code (``serialNumber``), and a GB/T 38540 ``SESeal`` binding certificate and
image. SM2 because GB/T 38540 seals (OFD documents, the national platforms) take SM2 only,
and the set must seal OFD as well as PDF.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sealsvc.errors import InvalidInput
from sealsvc.models import SealAlgorithm
from sealsvc.sealimage import Border, ImageSpec

__all__ = [
    "ALGORITHM",
    "CATALOGUE",
    "LEGAL_REPRESENTATIVE_SEAL",
    "SealKindSpec",
    "TextSource",
    "resolve_kinds",
]

ALGORITHM = SealAlgorithm.SM2
"""The enterprise profile's key algorithm (see the module docstring)."""

LEGAL_REPRESENTATIVE_SEAL = "法定代表人名章"


class TextSource(StrEnum):
    """Whose name a seal shows."""

    ENTERPRISE = "enterprise"
    LEGAL_REPRESENTATIVE = "legal_representative"


@dataclass(frozen=True)
class SealKindSpec:
    """One kind of the set: its name (the seal kind in the registry), an ASCII alias for
    clients, the shape and size of its image and whose name it shows."""

    kind: str
    alias: str
    shape: Border
    width_mm: float
    height_mm: float
    text: TextSource = TextSource.ENTERPRISE
    shows_credit_code: bool = False

    def image(self, credit_code: str) -> ImageSpec:
        """The image spec of this kind for the enterprise with ``credit_code``."""
        middle = credit_code if self.shows_credit_code else None
        return ImageSpec(self.shape, self.width_mm, self.height_mm, middle)

    def text_of(self, name: str, legal_representative: str) -> str:
        return legal_representative if self.text is TextSource.LEGAL_REPRESENTATIVE else name


CATALOGUE: tuple[SealKindSpec, ...] = (
    SealKindSpec("公章", "official", Border.CIRCLE, 40.0, 40.0),
    SealKindSpec("财务专用章", "finance", Border.CIRCLE, 38.0, 38.0),
    SealKindSpec("发票专用章", "invoice", Border.ELLIPSE, 40.0, 30.0, shows_credit_code=True),
    SealKindSpec("合同专用章", "contract", Border.CIRCLE, 40.0, 40.0),
    SealKindSpec(
        LEGAL_REPRESENTATIVE_SEAL,
        "legal_representative",
        Border.SQUARE,
        20.0,
        20.0,
        text=TextSource.LEGAL_REPRESENTATIVE,
    ),
)
"""The full set, in the order it is issued."""

_BY_NAME = {name: spec for spec in CATALOGUE for name in (spec.kind, spec.alias)}


def resolve_kinds(names: Sequence[str] | None) -> tuple[SealKindSpec, ...]:
    """The kinds asked for (Chinese names or aliases), in catalogue order; all for
    ``None``. :class:`InvalidInput` for an unknown or repeated kind or an empty list."""
    if names is None:
        return CATALOGUE
    if not names:
        raise InvalidInput("enterprise_seals is empty: name the seals, or leave it out")
    wanted: list[SealKindSpec] = []
    for name in names:
        spec = _BY_NAME.get(name.strip()) if isinstance(name, str) else None
        if spec is None:
            choices = ", ".join(f"{s.kind} ({s.alias})" for s in CATALOGUE)
            raise InvalidInput(f"unknown enterprise seal {name!r}: use one of {choices}")
        if spec in wanted:
            raise InvalidInput(f"enterprise seal {spec.kind} is asked for twice")
        wanted.append(spec)
    return tuple(spec for spec in CATALOGUE if spec in wanted)
