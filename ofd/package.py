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

import functools
import io
import posixpath
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ofd.errors import OfdFormatError, OfdLimitExceeded

__all__ = [
    "DEFAULT_LIMITS",
    "ROOT_FILE",
    "OfdPackage",
    "PackageLimits",
    "is_ofd",
    "read_zip",
    "resolve_loc",
]

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
_ALLOWED_COMPRESSION = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_UNIX = 3
_REGULAR_FILE_MODE = (stat.S_IFREG | 0o644) << 16

# The ZIP records to_bytes writes (APPNOTE.TXT 4.3.7, 4.3.12, 4.3.16), without ZIP64: the
# limits keep packages far below 4 GiB and 65,535 entries.
_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
_END_OF_CENTRAL_DIRECTORY = struct.Struct("<IHHHHIIH")
_VERSION = 20
"""2.0: deflate, the only feature used."""
_MADE_BY = (_UNIX << 8) | _VERSION
_UTF8_NAMES = 0x0800
_DOS_TIME, _DOS_DATE = 0, (1 << 5) | 1  # year 1980 + 0, month 1, day 1
"""1980-01-01 00:00, the earliest ZIP time: entries carry none, so equal files, equal bytes."""
_ZIP_MAX = 0xFFFFFFFF
_DEFLATE_LEVEL = 1
"""zlib level 1: deflating was ~3 ms of the ~23 ms of CPU an OFD licence costs, and each
licence's font subset differs, so none of it is saved by caching. The 113 kB subset
deflates in 1.6 ms instead of 2.2 ms (level 4) and the 40 kB page in 0.1 ms instead of
0.2 ms, to a 3 % larger file (172 vs 167 kB), measured; zlib's default, level 6, takes
3.3 ms for a font payload 9 % smaller than level 1's."""


@dataclass(frozen=True)
class _Zipped:
    """One file as it goes into the ZIP: how it is stored, its CRC-32 and size, the bytes."""

    method: int
    crc: int
    size: int
    payload: bytes


_CACHED_ENTRY_BYTES = 512 * 1024
"""Files up to this size keep their compressed form in :func:`_zipped_cached`."""


@functools.lru_cache(maxsize=32)
def _zipped_cached(data: bytes) -> _Zipped:
    """:func:`_zip_entry` of recently written content, by value: the same bytes deflate to
    the same payload, so this changes no output.  A package read back from bytes (a licence
    just rendered, handed to sealing; a seal's output handed to the next seal) has no
    compressed forms of its own, and its font subset — most of a licence — would otherwise
    be deflated again at every step.  At most 32 files of at most 512 KiB are kept."""
    return _zip_entry(data)


_PROBE_FLOOR = 16 * 1024
"""Files from this size on are probed before deflating (:func:`_barely_shrinks`)."""
_PROBE_BYTES = 8 * 1024
_PROBE_RATIO = 0.95


def _barely_shrinks(data: bytes) -> bool:
    """Whether a sample from the middle of ``data`` deflates by less than 5 %.

    Deflate spends ~50 µs per KiB on data that is already compressed (a seal's PNG, an
    SES_Signature that carries one) to save a few per cent: a 44 KiB SignedValue.dat took
    2.4 ms of a 10 ms seal to shrink by 3 %.  Such files are stored instead; fonts, XML and
    anything else that compresses is deflated as before.
    """
    middle = len(data) // 2
    sample = data[middle - _PROBE_BYTES // 2 : middle + _PROBE_BYTES // 2]
    deflater = zlib.compressobj(1, zlib.DEFLATED, -15)
    return len(deflater.compress(sample) + deflater.flush()) >= _PROBE_RATIO * len(sample)


def _zip_entry(data: bytes) -> _Zipped:
    """Deflate ``data`` (raw deflate at :data:`_DEFLATE_LEVEL`), or store it when that does
    not shrink it or barely would (PNG, JPEG, already-compressed seals: :func:`_barely_shrinks`)."""
    if len(data) >= _PROBE_FLOOR and _barely_shrinks(data):
        return _Zipped(zipfile.ZIP_STORED, zlib.crc32(data), len(data), data)
    deflater = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, -15)
    payload = deflater.compress(data) + deflater.flush()
    if len(payload) >= len(data):
        return _Zipped(zipfile.ZIP_STORED, zlib.crc32(data), len(data), data)
    return _Zipped(zipfile.ZIP_DEFLATED, zlib.crc32(data), len(data), payload)


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


def _fold(path: str) -> str:
    """The key under which two names are "the same file" on common file systems and viewers:
    Unicode-normalised (NFC, as macOS folds NFD names) and case-folded (Windows, macOS)."""
    return unicodedata.normalize("NFC", path).casefold()


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    """A Unix-made entry whose mode says symbolic link (the link target is its content)."""
    return info.create_system == _UNIX and stat.S_ISLNK(info.external_attr >> 16)


def _check_entries(
    infos: list[zipfile.ZipInfo], limits: PackageLimits
) -> list[tuple[str, zipfile.ZipInfo]]:
    """Check the whole central directory before decompressing anything; return the files.

    Duplicates are compared after :func:`_fold`: ``Doc_0/Document.xml`` and
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
        folded = _fold(path)
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


def read_zip(
    data: bytes, limits: PackageLimits = DEFAULT_LIMITS, *, what: str = "OFD"
) -> dict[str, bytes]:
    """The files of an untrusted ZIP, under every guard of the module docstring.

    Public because other ZIP containers from outside (sealsvc's archive information
    packages) need the same defences; ``what`` names the format in error messages.
    """
    if len(data) > limits.max_package_bytes:
        raise OfdLimitExceeded(
            f"{what} file is {len(data)} bytes, more than the limit of {limits.max_package_bytes}"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = _check_entries(archive.infolist(), limits)
            return {path: _read_entry(archive, path, info) for path, info in entries}
    # zipfile signals damage with BadZipFile, but a truncated or lying entry can also end
    # in EOFError, zlib.error, ValueError (bad header fields) or NotImplementedError.
    except (zipfile.BadZipFile, EOFError, zlib.error, ValueError, NotImplementedError) as e:
        raise OfdFormatError(f"not a readable {what} (ZIP) file: {e}") from None


class OfdPackage(Mapping[str, bytes]):
    """The files of one OFD package: an immutable mapping of package path → content.

    Construct with :meth:`read` (untrusted bytes) or :meth:`from_files` (files this process
    made); change with :meth:`with_files`, which returns a new package, so a package that was
    checked stays the package that was checked.
    """

    __slots__ = ("_files", "_zipped")

    def __init__(self, files: Mapping[str, bytes], zipped: dict[str, _Zipped] | None = None):
        """Use :meth:`read` or :meth:`from_files`; this takes already-validated paths.

        ``zipped`` holds the compressed form of files this process already wrote (filled by
        :meth:`to_bytes`, handed on by :meth:`with_files` for the files it keeps), so
        writing a sealed package deflates only what sealing added: a licence's font subset
        is compressed once, not once per signature.
        """
        self._files: Mapping[str, bytes] = MappingProxyType(dict(files))
        self._zipped: dict[str, _Zipped] = zipped if zipped is not None else {}

    @classmethod
    def read(cls, data: bytes, limits: PackageLimits = DEFAULT_LIMITS) -> OfdPackage:
        """Parse the bytes of an OFD file, enforcing ``limits``; see the module docstring."""
        files = read_zip(data, limits, what="OFD")
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
        folded = {_fold(p): p for p in merged}
        for raw, content in updates.items():
            path, is_dir = _check_name(raw, limits)
            if is_dir:
                raise OfdFormatError(f"OFD file name {raw[:80]!r} names a folder")
            existing = folded.setdefault(_fold(path), path)
            if existing != path:
                raise OfdFormatError(f"OFD file {path!r} clashes with {existing!r}")
            merged[path] = bytes(content)
        kept = {p: z for p, z in self._zipped.items() if merged[p] is self._files[p]}
        return OfdPackage(merged, kept)

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
        UTF-8 names, raw deflate at :data:`_DEFLATE_LEVEL` (or stored, when deflate would not
        shrink a file). Written here rather than with :mod:`zipfile`, which cannot take a file
        compressed before; the tests read the result back with :mod:`zipfile`, ``unzip -t``
        and ofdrw.
        """
        order = sorted(self._files, key=lambda p: (p != ROOT_FILE, p))
        if len(order) > 0xFFFF:
            raise OfdLimitExceeded(f"{len(order)} files are too many for a ZIP without ZIP64")
        out = bytearray()
        central = bytearray()
        for path in order:
            entry = self._zipped.get(path)
            if entry is None:
                data = self._files[path]
                zip_entry = _zipped_cached if len(data) <= _CACHED_ENTRY_BYTES else _zip_entry
                entry = self._zipped[path] = zip_entry(data)
            name = path.encode("utf-8")
            offset = len(out)
            if max(entry.size, len(entry.payload), offset) >= _ZIP_MAX:
                raise OfdLimitExceeded(f"OFD file {path!r} is too large for a ZIP without ZIP64")
            fields = (entry.method, _DOS_TIME, _DOS_DATE, entry.crc, len(entry.payload))
            out += _LOCAL_HEADER.pack(
                0x04034B50, _VERSION, _UTF8_NAMES, *fields, entry.size, len(name), 0
            )
            out += name
            out += entry.payload
            central += _CENTRAL_HEADER.pack(
                0x02014B50,
                _MADE_BY,
                _VERSION,
                _UTF8_NAMES,
                *fields,
                entry.size,
                len(name),
                0,  # extra field length
                0,  # comment length
                0,  # disk number
                0,  # internal attributes
                _REGULAR_FILE_MODE,
                offset,
            )
            central += name
        if len(out) + len(central) >= _ZIP_MAX:
            raise OfdLimitExceeded("the OFD package is too large for a ZIP without ZIP64")
        directory_at = len(out)
        out += central
        out += _END_OF_CENTRAL_DIRECTORY.pack(
            0x06054B50, 0, 0, len(order), len(order), len(central), directory_at, 0
        )
        return bytes(out)

    def __getitem__(self, path: str) -> bytes:
        return self._files[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __repr__(self) -> str:
        return f"OfdPackage({len(self._files)} files)"


def is_ofd(data: bytes) -> bool:
    """Whether ``data`` is a ZIP whose central directory names ``OFD.xml``: how an upload
    without a declared type is told from a PDF (design.md, "uploads").

    Reads only the central directory (bounded by the upload's size), decompresses nothing.
    """
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return ROOT_FILE in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
