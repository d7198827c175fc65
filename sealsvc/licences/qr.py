"""The verification QR code printed on every licence, and the hash it carries.

The QR code is drawn *before* the licence is sealed (the seals must cover it), so it
cannot carry a hash of the final file. It carries a hash of the licence's **data**
instead: SHA-256 over the canonical JSON of number, version, template and the validated
field values, cut to 16 hex digits (64 bits). The verification page recomputes it from
the stored record, which tells whether the paper or screen in front of the user shows
the data the service issued, and which version it is (a re-issue changes the version and
so the hash, even if the data did not change). The file itself is protected by the seals.

The code is painted as vector squares (one rectangle per run of dark modules, laid out by
:mod:`sealsvc.licences.layout`), which keeps it sharp at any zoom and makes the rendering
byte-for-byte reproducible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

import qrcode
from qrcode.constants import ERROR_CORRECT_M

__all__ = ["QUIET_ZONE", "QrCode", "data_hash", "verification_url"]

QUIET_ZONE = 4
"""Light modules around the symbol (ISO/IEC 18004 asks for 4)."""

HASH_HEX_DIGITS = 16
MASK = 2
"""QR mask pattern (ISO/IEC 18004 §7.8.2): vertical stripes, never degenerate on URLs."""


def data_hash(number: str, version: int, template: str, data: Mapping[str, str]) -> str:
    """First 16 hex digits of SHA-256 over the canonical licence data (see module note)."""
    canonical = json.dumps(
        {"number": number, "version": version, "template": template, "fields": dict(data)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:HASH_HEX_DIGITS]


def verification_url(base_url: str, number: str, short_hash: str) -> str:
    """``{base_url}/verify/{number}?h={hash}`` — what the QR code encodes."""
    return f"{base_url.rstrip('/')}/verify/{quote(number, safe='')}?h={short_hash}"


@dataclass(frozen=True)
class QrCode:
    """A QR symbol (error correction level M): its text and its module matrix."""

    text: str
    modules: tuple[tuple[bool, ...], ...]

    @classmethod
    def encode(cls, text: str) -> QrCode:
        # A fixed mask: choosing the "best" of 8 costs ~40 ms in pure Python, more than
        # rendering the page; any mask is standard-conforming and scans (tests decode it).
        code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=MASK)
        code.add_data(text.encode("utf-8"))
        code.make(fit=True)
        return cls(text, tuple(tuple(row) for row in code.get_matrix()))
