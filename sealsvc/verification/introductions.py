"""The revision that introduced each object of a PDF, looked up once per object.

pyHanko's ``XRefCache.get_introducing_revision`` walks the cross-reference sections from
the first until one defines the object, every time it is asked.  Its DSS rule asks it
for every reference under every ``/VRI`` entry a revision adds (``collect_dependencies``
with ``since_revision``), and :class:`.RevisionIndex` applies that rule from each signed
revision to each later DSS update: on lt-short.pdf (25 signatures in 50 revisions) the
same few thousand objects were looked up tens of thousands of times, each lookup a walk
through up to 50 sections — a third of the file's verification.

The answer depends only on the object's number and generation (what the sections'
``try_resolve`` reads) and on the reader's sections, which a :class:`PdfFileReader`
reads once and never changes: remembering it per reader is exact.  A lookup that fails
(``KeyError``: no section defines the object) is not remembered; it fails again.
"""

from __future__ import annotations

from collections.abc import Callable

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = ["remember_introductions"]


def remember_introductions(reader: PdfFileReader) -> None:
    """Make ``reader.xrefs.get_introducing_revision`` remember its answers (idempotent).

    Only this reader's cross-reference cache changes, and only in speed.
    """
    xrefs = reader.xrefs
    if "get_introducing_revision" in vars(xrefs):
        return
    # Pinned reach-in: pyHanko's rules call the method through the reader's ``xrefs``
    # attribute; no public hook caches it.  tests/test_verify_cache.py
    # (test_introducing_revision_*) checks that they still call it there and that the
    # remembered answers are pyHanko's own.
    # An instance attribute shadowing the method (mypy objects to assigning one).
    xrefs.get_introducing_revision = _remembered(  # type: ignore[method-assign,assignment]
        xrefs.get_introducing_revision
    )


def _remembered(lookup: Callable[[generic.Reference], int]) -> Callable[[generic.Reference], int]:
    found: dict[tuple[int, int], int] = {}

    def get_introducing_revision(ref: generic.Reference) -> int:
        key = (ref.idnum, ref.generation)
        revision = found.get(key)
        if revision is None:
            revision = found[key] = lookup(ref)
        return revision

    return get_introducing_revision
