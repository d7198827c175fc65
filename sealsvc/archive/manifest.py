"""The manifest of an archive information package (归档信息包): every file, its size and digests.

``manifest.xml`` is what the archive seal signs (DA/T 48's 锁定签名 idea: one signature
locks the whole package), so it lists every file of the package except the seal itself
and the seal's own validation data under :data:`SEAL_DIR` — those are written after the
signature, as a PDF's DSS is written after its signature.  Each file carries SHA-256
(what international tools check) and SM3 (what GB/T 35275/38540 tooling and Chinese
archive systems check); both must match.

The XML is ours (namespace :data:`NAMESPACE`), kept flat and small so an archivist can
read it: BagIt's ``manifest-<alg>.txt`` idea in one file, with both algorithms per line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from ofd.errors import OfdFormatError
from ofd.xml import parse_xml
from pki.sm2 import sm3

__all__ = [
    "MANIFEST",
    "NAMESPACE",
    "SEAL_DIR",
    "SEAL_EVIDENCE",
    "SEAL_FILE",
    "ManifestEntry",
    "ManifestProblem",
    "build_manifest",
    "digests",
    "read_manifest",
]

NAMESPACE = "urn:sealsvc:ns:archive-package:1"
MANIFEST = "manifest.xml"
SEAL_DIR = "seal/"
SEAL_FILE = "seal/manifest.ses"
"""The archive seal: a GB/T 38540 ``SES_Signature`` over SM3(manifest.xml), time-stamped."""
SEAL_EVIDENCE = "seal/evidence.json"
"""CRLs/OCSP answers and CA certificates for the archive seal's own paths (unsigned, each
item signed by its issuer)."""

_TAG = "{" + NAMESPACE + "}"


class ManifestProblem(Exception):
    """``manifest.xml`` is missing, unreadable or not in our format."""


@dataclass(frozen=True)
class ManifestEntry:
    """One file as the manifest records it."""

    path: str
    size: int
    sha256: str
    sm3: str


def digests(data: bytes) -> tuple[str, str]:
    """(SHA-256, SM3) of ``data`` in lowercase hex."""
    return hashlib.sha256(data).hexdigest(), sm3(data).hex()


def build_manifest(files: Mapping[str, bytes], attributes: Mapping[str, str]) -> bytes:
    """``manifest.xml`` over ``files`` (sorted by path); ``attributes`` describe the record."""
    root = etree.Element(_TAG + "manifest", {"version": "1", **attributes}, nsmap={None: NAMESPACE})
    for path in sorted(files):
        sha256, sm3_hex = digests(files[path])
        etree.SubElement(
            root,
            _TAG + "file",
            {"path": path, "size": str(len(files[path])), "sha256": sha256, "sm3": sm3_hex},
        )
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)


def read_manifest(data: bytes) -> tuple[dict[str, str], list[ManifestEntry]]:
    """The record's attributes and the file entries of an untrusted ``manifest.xml``."""
    try:
        root = parse_xml(data, MANIFEST)
    except OfdFormatError as exc:
        raise ManifestProblem(str(exc)) from None
    if root.tag != _TAG + "manifest" or root.get("version") != "1":
        raise ManifestProblem(f"{MANIFEST} is not a version 1 manifest of {NAMESPACE}")
    entries = []
    for element in root:
        if element.tag != _TAG + "file":
            continue
        try:
            entries.append(
                ManifestEntry(
                    element.attrib["path"],
                    int(element.attrib["size"]),
                    element.attrib["sha256"].lower(),
                    element.attrib["sm3"].lower(),
                )
            )
        except (KeyError, ValueError):
            raise ManifestProblem(f"{MANIFEST}: a <file> lacks path, size, sha256 or sm3") from None
    attributes = {key: value for key, value in root.attrib.items() if key != "version"}
    return attributes, entries
