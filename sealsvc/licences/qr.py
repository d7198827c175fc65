"""The verification QR code printed on every licence, and the hash it carries.

The QR code is drawn *before* the licence is sealed (the seals must cover it), so it
cannot carry a hash of the final file. It carries a hash of the licence's **data**
instead: SHA-256 over the canonical JSON of number, version, template and the validated
field values, cut to 16 hex digits (64 bits). The verification page recomputes it from
the stored record, which tells whether the paper or screen in front of the user shows
the data the service issued, and which version it is (a re-issue changes the version and
so the hash, even if the data did not change). The file itself is protected by the seals.

The code is painted as vector squares (one rectangle per run of dark modules), which keeps
it sharp at any zoom and makes the rendering byte-for-byte reproducible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.pdfgen.canvas import Canvas

__all__ = ["QUIET_ZONE", "QrCode", "data_hash", "draw_qr", "verification_url"]

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


def draw_qr(canvas: Canvas, code: QrCode, center_x: float, center_y: float, size: float) -> None:
    """Draw ``code`` ``size`` points square, quiet zone included."""
    matrix = code.modules
    modules = len(matrix) + 2 * QUIET_ZONE
    unit = size / modules
    left = center_x - size / 2
    top = center_y + size / 2
    canvas.saveState()
    try:
        canvas.setFillColorRGB(1, 1, 1)
        canvas.rect(left, top - size, size, size, stroke=0, fill=1)
        canvas.setFillColorRGB(0, 0, 0)
        path = canvas.beginPath()
        for row_index, row in enumerate(matrix):
            y = top - (row_index + QUIET_ZONE + 1) * unit
            column = 0
            while column < len(row):
                if not row[column]:
                    column += 1
                    continue
                start = column
                while column < len(row) and row[column]:
                    column += 1
                path.rect(left + (start + QUIET_ZONE) * unit, y, (column - start) * unit, unit)
        canvas.drawPath(path, stroke=0, fill=1)
    finally:
        canvas.restoreState()
