"""Crash-safe file writes: a reader sees the old file or the new one, never half of one.

Key files, CA certificates, CRLs and sealed PDFs are all written through
:func:`atomic_write`.  The recipe is the classic one: write a temporary file *in the same
directory* (``rename`` is only atomic within one file system), ``fsync`` it so its data
is on disk before the name points at it, rename it over the target, then ``fsync`` the
directory so the rename itself survives a power cut.  If anything fails the temporary
file is removed and the target keeps its previous content. A caller with work to do
between the write and the rename (the licence store) uses the two halves,
:func:`write_temporary` and :func:`move_into_place`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

__all__ = [
    "atomic_write",
    "fsync_directory",
    "move_into_place",
    "remove_stale_temporaries",
    "write_temporary",
]


def fsync_directory(directory: Path) -> None:
    """Flush a directory entry change (create, rename, unlink) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644, *, exclusive: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically; the file gets exactly ``mode`` (no umask).

    ``mode`` is applied to the temporary file before any byte is written, so a secret is
    never readable by others, not even for an instant.  With ``exclusive=True`` an
    existing ``path`` is never replaced: the finished temporary file is hard-linked to
    the name (which fails if the name exists) and :class:`FileExistsError` is raised —
    two processes creating the same file cannot silently overwrite each other.

    Raises :class:`OSError` (or :class:`TypeError` for non-bytes data) with the temporary
    file already removed and ``path`` untouched.
    """
    path = Path(path)
    temporary = write_temporary(path, data, mode)
    try:
        move_into_place(temporary, path, exclusive=exclusive)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def write_temporary(path: Path, data: bytes, mode: int = 0o644) -> Path:
    """The first half of :func:`atomic_write`: ``data`` in a temporary file beside ``path``
    (``.<name>.*.tmp``, exactly ``mode``), on disk. Nothing is left behind on failure.

    For a caller that must do something between the write and the rename (the licence
    store commits its database record there), then calls :func:`move_into_place`.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"atomic_write needs bytes, not {type(data).__name__}")
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(tmp_name)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return temporary


def move_into_place(temporary: Path, path: Path, *, exclusive: bool = False) -> None:
    """The second half of :func:`atomic_write`: rename (or, ``exclusive``, hard-link and
    unlink) the written ``temporary`` to ``path``, and make the new name durable."""
    if exclusive:
        os.link(temporary, path)
        temporary.unlink()
    else:
        os.replace(temporary, path)
    fsync_directory(path.parent)


def remove_stale_temporaries(directory: Path, older_than_seconds: float) -> list[Path]:
    """Delete ``atomic_write`` temporaries (``.<name>.*.tmp``) older than the threshold.

    A crash between creating the temporary and renaming it leaves one behind; the age
    threshold keeps a write that is in progress in another process from being touched.
    """
    removed = []
    cutoff = time.time() - older_than_seconds
    for candidate in directory.glob(".*.tmp"):
        try:
            if candidate.is_file() and candidate.stat().st_mtime < cutoff:
                candidate.unlink()
                removed.append(candidate)
        except FileNotFoundError:  # another process finished or removed it meanwhile
            continue
    return removed
