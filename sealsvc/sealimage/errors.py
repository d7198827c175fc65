"""Errors of the seal-image code.

``SealImageError`` is an :class:`~sealsvc.errors.InvalidInput`: a bad design (empty name, a
character the font lacks) or a bad upload is the caller's to fix. A missing font is the
operator's to fix, so :class:`SealFontNotFound` reports a server error and names every path tried.
"""

from __future__ import annotations

from sealsvc.errors import InvalidInput

__all__ = ["SealFontNotFound", "SealImageError"]


class SealImageError(InvalidInput):
    """The seal design or an uploaded seal image is unacceptable."""

    kind = "invalid-seal-image"


class SealFontNotFound(SealImageError):
    """No usable CJK TrueType font: the message lists the paths that were tried."""

    status = 500
    kind = "seal-font-not-found"
