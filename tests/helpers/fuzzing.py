"""Mutation fuzzing of real inputs: hypothesis settings, the mutation strategy, hot spots.

Mutations (:func:`mutated`, a hypothesis strategy): 1-4 of byte flips, overwrites with
boundary bytes, insertions (random or syntax tokens such as ``0 R`` or a DER length
``82 ff ff``), deletions, truncations and splices (a chunk of the input copied elsewhere),
placed half of the time near the structure that matters (:func:`hot_spots`: ``xref``,
``/ByteRange``, ``/Contents``, ``stream`` …).  The PDF/CMS/TSA/OCSP fuzz tests and the SES
fuzz tests draw from the same strategy; ``SEALSVC_FUZZ_SCALE=N`` multiplies the example
counts of all of them."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SCALE = int(os.environ.get("SEALSVC_FUZZ_SCALE", "1"))


def fuzz(examples: int) -> settings:
    """Hypothesis settings for ``examples`` × :data:`SCALE` inputs.

    No deadline: each call under test is timed by the test itself."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


_BOUNDARY_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x30, 0x0A, 0x20, 0x28, 0x29, 0x3C, 0x3E, 0x5B)


_TOKENS = (
    b" 0 R",
    b"<<",
    b">>",
    b"[",
    b"]",
    b"(",
    b"\\",
    b"/Length 999999999",
    b"endstream",
    b"endobj",
    b"%%EOF",
    b"\x30\x82\xff\xff",
    b"\x30\x80",
    b"\x04\x84\x7f\xff\xff\xff",
    b"\x06\x00",
    b"\x02\x81\x00",
    b"-1",
    b"99999999999999999999",
)


def hot_spots(data: bytes, markers: Sequence[bytes]) -> list[int]:
    """Offsets of the syntax that steers a parser: where mutations hurt the most."""
    return sorted({m.start() for marker in markers for m in re.finditer(re.escape(marker), data)})


@st.composite
def mutated(draw, data: bytes, hot: Sequence[int] = ()) -> bytes:
    """``data`` after 1-4 random edits (the kinds are in the module docstring)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        size = len(out)
        if hot and draw(st.booleans()):
            position = draw(st.sampled_from(hot)) + draw(st.integers(-8, 48))
        else:
            position = draw(st.integers(0, max(size - 1, 0)))
        position = min(max(position, 0), max(size - 1, 0))
        operation = draw(
            st.sampled_from(["flip", "set", "insert", "token", "delete", "splice", "truncate"])
        )
        if operation == "flip" and size:
            out[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "set" and size:
            out[position] = draw(st.sampled_from(_BOUNDARY_BYTES) | st.integers(0, 255))
        elif operation == "insert":
            out[position:position] = draw(st.binary(min_size=1, max_size=24))
        elif operation == "token":
            out[position:position] = draw(st.sampled_from(_TOKENS))
        elif operation == "delete":
            del out[position : position + draw(st.integers(1, 64))]
        elif operation == "splice" and size:
            start = draw(st.integers(0, size - 1))
            chunk = bytes(out[start : start + draw(st.integers(1, 256))])
            if draw(st.booleans()):
                out[position:position] = chunk
            else:
                out[position : position + len(chunk)] = chunk
        elif operation == "truncate":
            del out[position:]
    return bytes(out)
