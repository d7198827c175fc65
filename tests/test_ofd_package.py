"""ofd/package.py: real OFD files read, hostile ZIPs refused clearly, writes reproducible."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import stat
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from ofd.errors import OfdFormatError, OfdLimitExceeded
from ofd.package import ROOT_FILE, OfdPackage, PackageLimits, resolve_loc

SAMPLES = Path(__file__).parent / "data" / "ofd-samples"
SAMPLE_NAMES = ["v4signed", "SESV4SignDoc", "h", "n", "testImageNotFound"]

MINIMAL_OFD_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"'
    b' DocType="OFD" Version="1.1"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>'
    b"</ofd:DocBody></ofd:OFD>"
)


def _zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]], method: int = zipfile.ZIP_DEFLATED):
    """A ZIP built with the standard library, entry by entry, duplicates allowed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries:
            if isinstance(name, str):
                name = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                name.compress_type = method
            archive.writestr(name, data)
    return buffer.getvalue()


def _with_root(*entries: tuple[str | zipfile.ZipInfo, bytes], **kwargs) -> bytes:
    return _zip([(ROOT_FILE, MINIMAL_OFD_XML), *entries], **kwargs)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_third_party_samples_read_with_every_file(name: str) -> None:
    data = (SAMPLES / f"{name}.ofd").read_bytes()
    package = OfdPackage.read(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        expected = {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
    assert dict(package) == expected
    assert ROOT_FILE in package


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_written_package_reads_back_identical_and_is_reproducible(name: str) -> None:
    package = OfdPackage.read((SAMPLES / f"{name}.ofd").read_bytes())
    written = package.to_bytes()
    assert dict(OfdPackage.read(written)) == dict(package)
    # the same files in another insertion order give the same bytes
    shuffled = OfdPackage.from_files(dict(reversed(list(package.items()))))
    assert shuffled.to_bytes() == written
    with zipfile.ZipFile(io.BytesIO(written)) as archive:
        infos = archive.infolist()
    assert infos[0].filename == ROOT_FILE
    assert [i.filename for i in infos[1:]] == sorted(i.filename for i in infos[1:])
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_written_zip_is_read_by_info_zip_and_stores_what_deflate_cannot_shrink(
    tmp_path: Path,
) -> None:
    # hash output does not compress: deflate would grow it, so it is stored
    incompressible = b"".join(hashlib.sha256(bytes([i])).digest() for i in range(32))
    package = OfdPackage.from_files(
        {
            ROOT_FILE: MINIMAL_OFD_XML,
            "Doc_0/Res/营业执照.png": incompressible,
            "Doc_0/Document.xml": b"<x/>" * 500,
        }
    )
    written = tmp_path / "p.ofd"
    written.write_bytes(package.to_bytes())
    with zipfile.ZipFile(written) as archive:
        infos = {i.filename: i for i in archive.infolist()}
        assert archive.testzip() is None
    assert infos["Doc_0/Res/营业执照.png"].compress_type == zipfile.ZIP_STORED
    assert infos["Doc_0/Document.xml"].compress_type == zipfile.ZIP_DEFLATED
    assert {i.external_attr >> 16 for i in infos.values()} == {0o100644}
    if shutil.which("unzip") is None:
        pytest.skip("Info-ZIP unzip is not installed: the independent ZIP check is skipped")
    run = subprocess.run(["unzip", "-t", str(written)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "No errors detected" in run.stdout


def test_sealing_a_written_package_gives_the_bytes_of_writing_it_afresh() -> None:
    """Compressed files are reused from the package they were written from, so writing a
    changed package deflates only what changed, with the same result as from scratch."""
    package = OfdPackage.read((SAMPLES / "testImageNotFound.ofd").read_bytes())
    package.to_bytes()
    changed = package.with_files({"Doc_0/Pages/Page_0/Content.xml": b"<changed/>"})
    assert changed.to_bytes() == OfdPackage.from_files(dict(changed)).to_bytes()
    assert OfdPackage.read(changed.to_bytes())["Doc_0/Pages/Page_0/Content.xml"] == (b"<changed/>")


def test_with_files_returns_a_new_package_and_keeps_the_old() -> None:
    package = OfdPackage.read(_with_root(("Doc_0/a.xml", b"<a/>")))
    changed = package.with_files({"Doc_0/a.xml": b"<b/>", "Doc_0/new.xml": b"<n/>"})
    assert package["Doc_0/a.xml"] == b"<a/>" and "Doc_0/new.xml" not in package
    assert changed["Doc_0/a.xml"] == b"<b/>" and changed["Doc_0/new.xml"] == b"<n/>"
    with pytest.raises(OfdFormatError, match=re.escape("clashes with 'Doc_0/a.xml'")):
        package.with_files({"DOC_0/A.xml": b""})
    with pytest.raises(OfdFormatError, match="names a folder"):
        package.with_files({"Doc_0/dir/": b""})
    with pytest.raises(OfdFormatError, match=re.escape("no file 'missing.xml'")):
        package.file("missing.xml")


def test_from_files_needs_the_root_file() -> None:
    with pytest.raises(OfdFormatError, match=re.escape("no OFD.xml")):
        OfdPackage.from_files({"Doc_0/Document.xml": b"<x/>"})


@pytest.mark.parametrize(
    "data, message",
    [
        (b"%PDF-1.7\n", "not a readable OFD"),
        (b"", "not a readable OFD"),
        (_zip([("Doc_0/Document.xml", b"<x/>")]), "no OFD.xml"),
        (_zip([("ofd.xml", b"<x/>")]), "no OFD.xml"),
    ],
)
def test_not_an_ofd_package(data: bytes, message: str) -> None:
    with pytest.raises(OfdFormatError, match=message):
        OfdPackage.read(data)


def test_truncated_package_is_a_format_error() -> None:
    data = (SAMPLES / "v4signed.ofd").read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 100):
        with pytest.raises(OfdFormatError, match="not a readable OFD"):
            OfdPackage.read(data[:cut])


def test_corrupted_entry_data_fails_its_crc() -> None:
    data = bytearray(_with_root(("Doc_0/page.xml", b"<page>" + b"x" * 5000 + b"</page>")))
    offset = data.index(b"Doc_0/page.xml") + len("Doc_0/page.xml") + 5
    data[offset] ^= 0xFF
    with pytest.raises(OfdFormatError, match="not a readable OFD"):
        OfdPackage.read(bytes(data))


def test_a_lying_uncompressed_size_is_caught_not_trusted() -> None:
    """The central directory claims 10 bytes for a 5,000-byte entry: read stops, CRC fails."""
    data = bytearray(_with_root(("Doc_0/page.xml", b"y" * 5000)))
    central = data.rindex(b"PK\x01\x02")  # the last central entry: Doc_0/page.xml
    struct.pack_into("<I", data, central + 24, 10)
    with pytest.raises(OfdFormatError, match="not a readable OFD"):
        OfdPackage.read(bytes(data))


@pytest.mark.parametrize(
    "name, message",
    [
        ("../evil.xml", r"'\.\.' component"),
        ("Doc_0/../../evil.xml", r"'\.\.' component"),
        ("/etc/passwd", "is absolute"),
        ("C:/Windows/evil.xml", "is absolute"),
        ("Doc_0\\..\\evil.xml", "backslash"),
        ("Doc_0//Document.xml", "empty"),
        ("Doc_0/./Document.xml", "'.'"),
        ("Doc_0/evil\n.xml", "control characters"),
    ],
)
def test_hostile_entry_names_are_refused(name: str, message: str) -> None:
    with pytest.raises(OfdFormatError, match=message):
        OfdPackage.read(_with_root((name, b"<x/>")))
    with pytest.raises(OfdFormatError, match=message):
        OfdPackage.from_files({ROOT_FILE: MINIMAL_OFD_XML, name: b"<x/>"})


@pytest.mark.filterwarnings("ignore:Duplicate name")  # zipfile warns while we build the input
def test_duplicate_entries_are_refused() -> None:
    nfc, nfd = "Doc_0/Res/\u00e9.png", "Doc_0/Res/e\u0301.png"  # é composed and decomposed
    with pytest.raises(OfdFormatError, match="two entries named"):
        OfdPackage.read(_with_root((nfc, b"a"), (nfd, b"b")))
    with pytest.raises(OfdFormatError, match=re.escape("two entries named 'Doc_0/Document.xml'")):
        OfdPackage.read(
            _with_root(("Doc_0/Document.xml", b"<a/>"), ("Doc_0/Document.xml", b"<b/>"))
        )
    with pytest.raises(OfdFormatError, match=re.escape("two entries named 'doc_0/document.xml'")):
        OfdPackage.read(
            _with_root(("Doc_0/Document.xml", b"<a/>"), ("doc_0/document.xml", b"<b/>"))
        )


def test_symbolic_links_are_refused() -> None:
    link = zipfile.ZipInfo("Doc_0/Document.xml", date_time=(2020, 1, 1, 0, 0, 0))
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(OfdFormatError, match=re.escape("'Doc_0/Document.xml' is a symbolic link")):
        OfdPackage.read(_with_root((link, b"/etc/passwd")))


def test_encrypted_entries_are_refused() -> None:
    data = bytearray(_with_root(("Doc_0/secret.xml", b"<x/>")))
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 8, 0x1)  # general purpose flag: encrypted
    with pytest.raises(OfdFormatError, match=re.escape("'Doc_0/secret.xml' is encrypted")):
        OfdPackage.read(bytes(data))


def test_other_compression_methods_are_refused() -> None:
    data = _zip([(ROOT_FILE, MINIMAL_OFD_XML)], method=zipfile.ZIP_BZIP2)
    with pytest.raises(OfdFormatError, match="compression method 12"):
        OfdPackage.read(data)


def test_folder_entries_are_checked_and_skipped() -> None:
    package = OfdPackage.read(_with_root(("Doc_0/", b""), ("Doc_0/Document.xml", b"<x/>")))
    assert sorted(package) == ["Doc_0/Document.xml", ROOT_FILE]
    with pytest.raises(OfdFormatError, match=re.escape("'..' component")):
        OfdPackage.read(_with_root(("../", b"")))


def test_zip_bomb_is_refused_by_its_declared_ratio() -> None:
    bomb = _with_root(("Doc_0/Res/bomb.xml", bytes(20 * 1024 * 1024)))
    assert len(bomb) < 100_000
    with pytest.raises(OfdLimitExceeded, match=r"expands \d+× .*decompression bomb"):
        OfdPackage.read(bomb)


def test_total_size_bounds_memory_even_for_ordinary_ratios() -> None:
    entries = [(f"Doc_0/Res/f{i}.bin", bytes(range(256)) * 40) for i in range(5)]
    data = _with_root(*entries)
    limits = PackageLimits(max_total_bytes=40_000)
    with pytest.raises(OfdLimitExceeded, match="expands to more than 40000 bytes"):
        OfdPackage.read(data, limits)
    assert len(OfdPackage.read(data)) == 6


@pytest.mark.parametrize(
    "limits, message",
    [
        (PackageLimits(max_package_bytes=100), "more than the limit of 100"),
        (PackageLimits(max_entries=2), "3 entries, more than the limit of 2"),
        (PackageLimits(max_entry_bytes=1000), "'Doc_0/Pages/Page_0/Content.xml' is 5000 bytes"),
        (PackageLimits(max_depth=3), "nested deeper than 3 levels"),
        (PackageLimits(max_name_bytes=20), "longer than 20 bytes"),
    ],
)
def test_each_limit_is_enforced(limits: PackageLimits, message: str) -> None:
    data = _with_root(
        ("Doc_0/Document.xml", b"<x/>"), ("Doc_0/Pages/Page_0/Content.xml", b"p" * 5000)
    )
    assert len(OfdPackage.read(data)) == 3
    with pytest.raises(OfdLimitExceeded, match=message):
        OfdPackage.read(data, limits)


@pytest.mark.parametrize(
    "base, loc, expected",
    [
        ("OFD.xml", "Doc_0/Document.xml", "Doc_0/Document.xml"),
        ("OFD.xml", "/Doc_0/Document.xml", "Doc_0/Document.xml"),
        ("Doc_0/Document.xml", "Pages/Page_0/Content.xml", "Doc_0/Pages/Page_0/Content.xml"),
        (
            "Doc_0/Signs/Sign_0/Signature.xml",
            "SignedValue.dat",
            "Doc_0/Signs/Sign_0/SignedValue.dat",
        ),
        ("Doc_0/Signs/Sign_0/Signature.xml", "../../Res/a.png", "Doc_0/Res/a.png"),
        ("Doc_0/Document.xml", " ./Res//a.png ", "Doc_0/Res/a.png"),
    ],
)
def test_resolve_loc(base: str, loc: str, expected: str) -> None:
    assert resolve_loc(base, loc) == expected


@pytest.mark.parametrize(
    "loc, message",
    [
        ("../../../etc/passwd", "leaves the package"),
        ("/../x", "leaves the package"),
        ("", "empty file reference"),
        ("/", "names no file"),
        ("..\\x", "malformed file reference"),
    ],
)
def test_resolve_loc_refuses(loc: str, message: str) -> None:
    with pytest.raises(OfdFormatError, match=message):
        resolve_loc("Doc_0/Document.xml", loc)
