"""Exception types of the OFD format layer.

The messages name the package entry and what is wrong with it, so an operator, a CLI or an
API answer can show them as they are; they never carry more than a short excerpt of the
offending input (a file name, a limit), because that input is untrusted.
"""

from __future__ import annotations

__all__ = ["OfdError", "OfdFormatError", "OfdLimitExceeded"]


class OfdError(Exception):
    """Base class: an OFD package could not be read, checked or written."""


class OfdFormatError(OfdError):
    """The bytes are not a well-formed OFD package (ZIP, entry names, XML, required parts)."""


class OfdLimitExceeded(OfdFormatError):
    """The package or one of its XML parts is larger or deeper than the configured limits.

    A subclass of :class:`OfdFormatError` so that callers which only care about "unusable
    input" catch both, while a caller that wants to tell "hostile or oversized" apart (an
    HTTP 413 instead of a 422, say) still can.
    """
