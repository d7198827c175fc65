"""asn1crypto values that serialise from cached bytes.

asn1crypto re-encodes a value built in memory — its whole subtree — every time it or a
parent is dumped (quadratic in depth: ~10 ms for a signed-attributes SET with names
inside, 100x slower per time-stamp token); a value parsed from DER dumps the bytes it was
read from.  Constants and per-key parts of CMS, TSP and OCSP structures are therefore
built once and re-read with :func:`parsed`.  The DER is identical either way.
"""

from __future__ import annotations

from typing import TypeVar

from asn1crypto import core

__all__ = ["parsed"]

_A = TypeVar("_A", bound=core.Asn1Value)


def parsed(value: _A, **tagging: int) -> _A:
    """``value`` re-read from its own DER, so its encoding is cached.

    ``tagging`` (``explicit=n`` or ``implicit=n``) is the tag ``value`` already wears and
    keeps: loaded under the tag its field wears, a value goes into its parent as is
    instead of being deep-copied into a re-tagged clone.
    """
    return value.__class__.load(value.dump(), **tagging)
