"""The OFD container (GB/T 33190 §7.2): a ZIP file, read defensively and written deterministically.

An OFD file comes from outside — a citizen's upload, another issuer's e-invoice — so reading
one is treating hostile input: the ZIP may be a decompression bomb, carry ``../`` or absolute
entry names, two entries of one name (which one does a verifier check, which one does a viewer
show?), symbolic links, or a central directory with hundreds of thousands of entries.
:meth:`OfdPackage.read` checks every entry's name and declared size against
:class:`PackageLimits` *before* it decompresses anything, then decompresses each entry with a
running byte count, so memory stays bounded by the limits whatever the ZIP claims.  Every
refusal is an :class:`~ofd.errors.OfdFormatError` (or its subclass
:class:`~ofd.errors.OfdLimitExceeded`) naming the entry — never a crash or a ``zipfile``
exception.

Inside the package, files are named by their path from the package root without a leading
slash (``Doc_0/Document.xml``).  OFD's own references (``ST_Loc``) may be absolute (``/Doc_0/…``,
from the package root) or relative to the file that contains them; :func:`resolve_loc` turns
them into package paths.

:meth:`OfdPackage.to_bytes` writes the same bytes for the same files, always (fixed order,
timestamps and attributes), so a sealed OFD can be reproduced and compared byte for byte.
"""

from __future__ import annotations

import io
import posixpath
import stat
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ofd.errors import OfdFormatError, OfdLimitExceeded

__all__ = ["DEFAULT_LIMITS", "ROOT_FILE", "OfdPackage", "PackageLimits", "resolve_loc"]

ROOT_FILE = "OFD.xml"
"""The entry file every OFD package has at its root (GB/T 33190 §7.2)."""

_MiB = 1024 * 1024


@dataclass(frozen=True)
class PackageLimits:
    """Bounds on what :meth:`OfdPackage.read` accepts; the defaults suit licences and invoices.

    Real OFD files are small (an e-invoice is ~15 KB, a licence with an embedded CJK font
    subset well under 1 MB; the largest third-party sample here is 174 KB), so the defaults
    leave two orders of magnitude of room and still keep one read within a few hundred MB.
    """

    max_package_bytes: int = 64 * _MiB
    """Size of the ZIP file itself."""
    max_entries: int = 10_000
    """Entries in the central directory, directories included."""
    max_entry_bytes: int = 64 * _MiB
    """Uncompressed size of any one entry."""
    max_total_bytes: int = 256 * _MiB
    """Uncompressed size of all entries together: the bound on memory for one package."""
    max_ratio: int = 200
    """Largest uncompressed/compressed ratio of an entry of at least ``ratio_floor`` bytes.

    XML compresses 5–20×, fonts and images far less; a zip bomb's entries compress 1000× and
    more.  Refusing them by their declared sizes gives a clear message before any work.
    """
    ratio_floor: int = 1 * _MiB
    """Entries smaller than this are exempt from ``max_ratio`` (a page of spaces may be 300×)."""
    max_depth: int = 16
    """Path components of an entry name (``Doc_0/Pages/Page_0/Content.xml`` has 4)."""
    max_name_bytes: int = 512
    """Length of an entry name, UTF-8."""


DEFAULT_LIMITS = PackageLimits()

_READ_CHUNK = 64 * 1024
_ALLOWED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
"""The earliest ZIP timestamp: entries carry no time, so equal content gives equal bytes."""
_UNIX = 3
_REGULAR_FILE_MODE = (stat.S_IFREG | 0o644) << 16


def _check_name(raw: str, limits: PackageLimits) -> tuple[str, bool]:
    """Validate one ZIP entry name; return it as a package path and whether it is a directory.

    Refused: empty names, absolute names (``/x``, ``\\x``, ``C:x``), backslashes (a second
    separator that tools disagree on), control characters, empty, ``.`` or ``..`` components,
    names that are too long or too deep.
    """
    shown = repr(raw[:80])
    if not raw:
        raise OfdFormatError("OFD package has an entry with an empty name")
    if len(raw.encode("utf-8", "surrogatepass")) > limits.max_name_bytes:
        raise OfdLimitExceeded(
            f"OFD entry name {shown} is longer than {limits.max_name_bytes} bytes"
        )
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise OfdFormatError(f"OFD entry name {shown} contains control characters")
    if "\\" in raw:
        raise OfdFormatError(f"OFD entry name {shown} contains a backslash")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise OfdFormatError(f"OFD entry name {shown} is absolute")
    is_dir = raw.endswith("/")
    parts = raw[:-1].split("/") if is_dir else raw.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise OfdFormatError(f"OFD entry name {shown} has an empty, '.' or '..' component")
    if len(parts) > limits.max_depth:
        raise OfdLimitExceeded(
            f"OFD entry name {shown} is nested deeper than {limits.max_depth} levels"
        )
    return "/".join(parts), is_dir


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    """A Unix-made entry whose mode says symbolic link (the link target is its content)."""
    return info.create_system == _UNIX and stat.S_ISLNK(info.external_attr >> 16)


def _check_entries(
    infos: list[zipfile.ZipInfo], limits: PackageLimits
) -> list[tuple[str, zipfile.ZipInfo]]:
    """Check the whole central directory before decompressing anything; return the files.

    Duplicates are compared case-insensitively as well: ``Doc_0/Document.xml`` and
    ``doc_0/document.xml`` would be one file on the disks of many readers.
    """
    if len(infos) > limits.max_entries:
        raise OfdLimitExceeded(
            f"OFD package has {len(infos)} entries, more than the limit of {limits.max_entries}"
        )
    seen: dict[str, str] = {}
    files: list[tuple[str, zipfile.ZipInfo]] = []
    total = 0
    for info in infos:
        path, is_dir = _check_name(info.filename, limits)
        folded = path.casefold()
        if folded in seen:
            raise OfdFormatError(
                f"OFD package has two entries named {path!r}"
                + ("" if seen[folded] == path else f" (and {seen[folded]!r})")
            )
        seen[folded] = path
        if _is_symlink(info):
            raise OfdFormatError(f"OFD entry {path!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise OfdFormatError(f"OFD entry {path!r} is encrypted")
        if is_dir:
            continue
        if info.compress_type not in _ALLOWED_COMPRESSION:
            raise OfdFormatError(
                f"OFD entry {path!r} uses ZIP compression method {info.compress_type}"
                " (only stored and deflated are allowed)"
            )
        if info.file_size > limits.max_entry_bytes:
            raise OfdLimitExceeded(
                f"OFD entry {path!r} is {info.file_size} bytes uncompressed,"
                f" more than the limit of {limits.max_entry_bytes}"
            )
        if info.file_size >= limits.ratio_floor and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise OfdLimitExceeded(
                f"OFD entry {path!r} expands {info.file_size // max(info.compress_size, 1)}×"
                f" (more than {limits.max_ratio}×): a decompression bomb"
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise OfdLimitExceeded(
                f"OFD package expands to more than {limits.max_total_bytes} bytes"
            )
        files.append((path, info))
    return files


def _read_entry(archive: zipfile.ZipFile, path: str, info: zipfile.ZipInfo) -> bytes:
    """Decompress one entry, never producing more than its (already checked) declared size.

    ``zipfile`` stops at the declared size and checks the CRC at the end; the explicit count
    keeps that bound even if a future ``zipfile`` read past it.
    """
    out = bytearray()
    with archive.open(info) as stream:
        while chunk := stream.read(_READ_CHUNK):
            out += chunk
            if len(out) > info.file_size:
                raise OfdFormatError(f"OFD entry {path!r} is longer than its declared size")
    if len(out) != info.file_size:
        raise OfdFormatError(f"OFD entry {path!r} is shorter than its declared size")
    return bytes(out)


def resolve_loc(base: str, loc: str) -> str:
    """The package path an ``ST_Loc`` reference points to (GB/T 33190 §7.3.3, ``ST_Loc``).

    ``base`` is the package path of the file the reference was read from. A ``loc`` starting
    with ``/`` is taken from the package root, any other from ``base``'s folder; ``.`` and
    ``..`` are applied, and a reference that climbs out of the package is refused.
    """
    loc = loc.strip()
    if not loc:
        raise OfdFormatError(f"{base}: empty file reference")
    if "\\" in loc or any(ord(c) < 0x20 for c in loc):
        raise OfdFormatError(f"{base}: malformed file reference {loc[:80]!r}")
    joined = loc[1:] if loc.startswith("/") else posixpath.join(posixpath.dirname(base), loc)
    parts: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise OfdFormatError(f"{base}: file reference {loc[:80]!r} leaves the package")
            parts.pop()
        else:
            parts.append(part)
    if not parts:
        raise OfdFormatError(f"{base}: file reference {loc[:80]!r} names no file")
    return "/".join(parts)


class OfdPackage(Mapping[str, bytes]):
    """The files of one OFD package: an immutable mapping of package path → content.

    Construct with :meth:`read` (untrusted bytes) or :meth:`from_files` (files this process
    made); change with :meth:`with_files`, which returns a new package, so a package that was
    checked stays the package that was checked.
    """

    __slots__ = ("_files",)

    def __init__(self, files: Mapping[str, bytes]) -> None:
        """Use :meth:`read` or :meth:`from_files`; this takes already-validated paths."""
        self._files: Mapping[str, bytes] = MappingProxyType(dict(files))

    @classmethod
    def read(cls, data: bytes, limits: PackageLimits = DEFAULT_LIMITS) -> OfdPackage:
        """Parse the bytes of an OFD file, enforcing ``limits``; see the module docstring."""
        if len(data) > limits.max_package_bytes:
            raise OfdLimitExceeded(
                f"OFD file is {len(data)} bytes, more than the limit of {limits.max_package_bytes}"
            )
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                entries = _check_entries(archive.infolist(), limits)
                files = {path: _read_entry(archive, path, info) for path, info in entries}
        # zipfile signals damage with BadZipFile, but a truncated or lying entry can also end
        # in EOFError, zlib.error, ValueError (bad header fields) or NotImplementedError.
        except (zipfile.BadZipFile, EOFError, zlib.error, ValueError, NotImplementedError) as e:
            raise OfdFormatError(f"not a readable OFD (ZIP) file: {e}") from None
        if ROOT_FILE not in files:
            raise OfdFormatError(f"not an OFD package: no {ROOT_FILE} at the root of the ZIP")
        return cls(files)

    @classmethod
    def from_files(
        cls, files: Mapping[str, bytes], limits: PackageLimits = DEFAULT_LIMITS
    ) -> OfdPackage:
        """A package of files made in this process, with the same name rules as :meth:`read`."""
        package = cls({}).with_files(files, limits)
        if ROOT_FILE not in package:
            raise OfdFormatError(f"not an OFD package: no {ROOT_FILE}")
        return package

    def with_files(
        self, updates: Mapping[str, bytes], limits: PackageLimits = DEFAULT_LIMITS
    ) -> OfdPackage:
        """A new package: this one with ``updates`` added or replaced (same name rules).

        A new name that differs from an existing one only in case is refused, as in
        :meth:`read`.
        """
        merged = dict(self._files)
        folded = {p.casefold(): p for p in merged}
        for raw, content in updates.items():
            path, is_dir = _check_name(raw, limits)
            if is_dir:
                raise OfdFormatError(f"OFD file name {raw[:80]!r} names a folder")
            existing = folded.setdefault(path.casefold(), path)
            if existing != path:
                raise OfdFormatError(f"OFD file {path!r} clashes with {existing!r}")
            merged[path] = bytes(content)
        return OfdPackage(merged)

    def file(self, path: str) -> bytes:
        """The content of ``path``, or an :class:`OfdFormatError` naming the missing file."""
        try:
            return self._files[path]
        except KeyError:
            raise OfdFormatError(f"OFD package has no file {path!r}") from None

    def to_bytes(self) -> bytes:
        """The package as a ZIP, identical for identical files.

        ``OFD.xml`` first (readers that sniff the first entry find it), then the other files
        in code-point order of their paths; no folder entries, a fixed timestamp and mode,
        deflate at zlib's default level.
        """
        order = sorted(self._files, key=lambda p: (p != ROOT_FILE, p))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in order:
                info = zipfile.ZipInfo(path, date_time=_FIXED_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = _UNIX
                info.external_attr = _REGULAR_FILE_MODE
                archive.writestr(info, self._files[path])
        return buffer.getvalue()

    def __getitem__(self, path: str) -> bytes:
        return self._files[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __repr__(self) -> str:
        return f"OfdPackage({len(self._files)} files)"
