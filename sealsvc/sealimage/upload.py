"""Validation of an uploaded seal scan (PNG), made ready to stamp.

An upload is untrusted: it is checked for size, PNG signature, integrity and pixel
dimensions before anything is decoded, so a small file that expands into gigapixels (a
decompression bomb) is refused instead of exhausting memory. The paper around the ink is
made transparent so the scan can be laid over text.
"""

from __future__ import annotations

import io
import struct
import warnings

from PIL import Image, ImageChops

from sealsvc.sealimage.errors import SealImageError

__all__ = ["load_uploaded_png"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pixels whose lightest-dark channel is at least _PAPER are paper (alpha 0); below _INK they
# keep their alpha; in between alpha fades, so anti-aliased edges stay smooth.
_PAPER = 235
_INK = 190


def _paper_fade(level: int) -> int:
    if level >= _PAPER:
        return 0
    if level <= _INK:
        return 255
    return round(255 * (_PAPER - level) / (_PAPER - _INK))


_FADE = [_paper_fade(level) for level in range(256)]


def load_uploaded_png(
    data: bytes, max_bytes: int = 2_000_000, max_px: int = 2000, *, what: str = "seal image"
) -> bytes:
    """Check an uploaded seal scan and return it as an RGBA PNG with transparent paper.

    Raises :class:`SealImageError` for anything but a sound PNG of at most ``max_bytes``
    bytes and ``max_px`` pixels on either side; its message names the image ``what`` (the
    signature pad checks drawn signatures with this too).
    """
    if len(data) > max_bytes:
        raise SealImageError(f"{what} is {len(data)} bytes; the limit is {max_bytes}")
    if not data.startswith(PNG_SIGNATURE):
        raise SealImageError(f"{what} is not a PNG file")
    # the first chunk must be IHDR (13 bytes): read the dimensions before Pillow decodes anything
    if data[8:16] != b"\0\0\0\x0dIHDR":
        raise SealImageError(f"{what} is a damaged PNG: no IHDR header")
    width, height = struct.unpack(">II", data[16:24])
    if width > max_px or height > max_px:
        raise SealImageError(f"{what} is {width}x{height} pixels; at most {max_px} per side")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=["PNG"]) as probe:
                if getattr(probe, "n_frames", 1) != 1:
                    raise SealImageError(f"{what} is an animated PNG")
                probe.verify()  # checksums of every chunk
            with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
                image.load()
                rgba = image.convert("RGBA")
        except SealImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise SealImageError(f"{what} refused as a decompression bomb: {exc}") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise SealImageError(f"{what} is a damaged PNG: {exc}") from None
    red, green, blue, alpha = rgba.split()
    darkest = ImageChops.darker(ImageChops.darker(red, green), blue)
    # ``darkest`` is the lowest channel: high only where all three are high, i.e. near white
    rgba.putalpha(ImageChops.multiply(alpha, darkest.point(_FADE)))
    out = io.BytesIO()
    rgba.save(out, format="PNG", optimize=True)
    return out.getvalue()
