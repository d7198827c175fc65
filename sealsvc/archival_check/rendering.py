"""Render page 1, the literal reading of DA/T 70's "the record opens and displays".

A PDF goes through poppler's ``pdftoppm`` out of process (:func:`sealsvc.signing_requests.
preview_png`: a hostile file costs a subprocess with a time limit), an OFD through
:mod:`ofd.raster`.  The page must also show something: a page that renders blank while its
content says otherwise is as unusable as one that does not render.

This is the optional, slow half of the usability check (tens of milliseconds a page);
the batch default parses every page's content and resources instead (:mod:`.pdf_facts`,
:mod:`.ofd_facts`), which finds what makes a page unrenderable without painting it.
"""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from ofd.errors import OfdError
from ofd.raster import render_page
from ofd.reader import read_ofd
from sealsvc.errors import InvalidInput
from sealsvc.signing_requests import preview_png

__all__ = ["render_problem"]


def render_problem(data: bytes, file_format: str) -> str | None:
    """Why page 1 of ``data`` does not render to a visible image, or ``None`` when it does."""
    image: Image.Image
    try:
        if file_format == "pdf":
            image = Image.open(io.BytesIO(preview_png(data)))
        else:
            document = read_ofd(data)
            if not document.pages:
                return "OFD 没有页面"
            image = render_page(document.pages[0], dpi=48)
        low, high = image.convert("L").getextrema()
    except InvalidInput:
        return "第 1 页无法渲染（pdftoppm 失败）"
    except (OfdError, UnidentifiedImageError, OSError) as exc:
        return f"第 1 页无法渲染：{exc}"
    if low == high:
        return "第 1 页渲染结果为空白"
    return None
