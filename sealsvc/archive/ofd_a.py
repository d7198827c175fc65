"""An OFD-A copy of a sealed OFD (GB/T 42133-2022): the seals turned into stamp annotations.

A signature's cryptography cannot be kept readable for ever (algorithms and certificates
end), so GB/T 42133 keeps an archival OFD free of signatures: what the seals *showed*
and *said* is preserved instead.  For each ``SES_Signature`` of the document this writes

* a ``Stamp`` annotation on the signed page, at the ``StampAnnot`` boundary, whose
  appearance is the seal picture the seal object carries (an ``ImageObject`` of a new
  ``MultiMedia`` in ``DocumentRes.xml``), read-only and printed;
* the facts a verifier established, as the annotation's ``Parameters``: seal name and
  code, signer, certificate serial and issuer, the proven signing time, the SM3 digest the
  seal covered, and the verdict when the copy was made;

and drops ``Signatures.xml`` and ``Signs/``.  The original sealed OFD stays in the
package beside the copy (and the archive seal covers both), so the proof is kept too.
Everything else — pages, embedded fonts, metadata — is the original's, byte for byte.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from lxml import etree

from ofd.package import OfdPackage
from ofd.signatures import read_signature, read_signatures
from ofd.writer import number
from ofd.xml import child, children, new_root, ofd_tag, parse_xml, sub_element, xml_bytes
from pki.ses import parse_signature
from sealsvc.errors import InvalidInput

__all__ = ["ofd_a_copy"]

_ANNOTATIONS = "Annots/Annotations.xml"
_DOCUMENT_RES = "DocumentRes.xml"


def _document_path(package: OfdPackage) -> str:
    root = parse_xml(package.file("OFD.xml"), "OFD.xml")
    body = child(root, "DocBody")
    doc_root = child(body, "DocRoot") if body is not None else None
    if doc_root is None or not doc_root.text:
        raise InvalidInput("the OFD names no DocRoot")
    return doc_root.text.strip().lstrip("/")


def _parameters(entry_facts: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(name, str(value)) for name, value in entry_facts.items() if value]


def ofd_a_copy(ofd: bytes, signatures: Sequence[Mapping[str, Any]], *, made_on: str) -> bytes:
    """The OFD-A copy of ``ofd``; ``signatures`` are the verification report's entries for
    its signatures, in order (their verdicts and proven times go into the annotations)."""
    package = OfdPackage.read(ofd)
    listing = read_signatures(package)
    if not listing.entries:
        raise InvalidInput("the OFD has no seal to turn into an annotation")
    document_path = _document_path(package)
    doc_dir = posixpath.dirname(document_path)
    document = parse_xml(package.file(document_path), document_path)
    if child(document, "Annotations") is not None:
        raise InvalidInput("the OFD has annotations already: merging them is not supported")
    common = child(document, "CommonData")
    max_id = child(common, "MaxUnitID") if common is not None else None
    if common is None or max_id is None or not (max_id.text or "").strip().isdecimal():
        raise InvalidInput("the OFD's Document.xml has no CommonData/MaxUnitID number")
    next_id = int(max_id.text)
    pages = {p.get("ID"): p.get("BaseLoc") for p in children(child(document, "Pages"), "Page")}

    res_path = f"{doc_dir}/{_DOCUMENT_RES}"
    if child(common, "DocumentRes") is not None:
        raise InvalidInput("the OFD has a DocumentRes already: merging it is not supported")
    resources = new_root("Res", {"BaseLoc": "Res"})
    medias = sub_element(resources, "MultiMedias")
    per_page: dict[str, list[etree._Element]] = {}
    files: dict[str, bytes] = {}
    for index, entry in enumerate(listing.entries):
        signature = read_signature(package, entry)
        ses = parse_signature(package.file(signature.signed_value_path))
        picture = ses.seal.picture
        facts = signatures[index] if index < len(signatures) else {}
        signer = facts.get("signer") or {}
        image_name = f"stamp_{index}.{picture.type.lower()}"
        files[f"{doc_dir}/Res/{image_name}"] = picture.data
        next_id += 1
        media_id = str(next_id)
        media = sub_element(medias, "MultiMedia", {"ID": media_id, "Type": "Image",
                                                   "Format": picture.type.upper()})  # fmt: skip
        sub_element(media, "MediaFile", text=image_name)
        for stamp in signature.stamp_annots:
            x, y, width, height = stamp.boundary
            next_id += 1
            annot = etree.Element(ofd_tag("Annot"), {
                "ID": str(next_id), "Type": "Stamp", "Creator": "sealsvc",
                "LastModDate": made_on, "ReadOnly": "true", "Print": "true", "NoView": "false",
            })  # fmt: skip
            sub_element(
                annot, "Remark", text=f"电子印章“{ses.seal.name}”，已按 GB/T 42133 转为注释"
            )
            parameters = sub_element(annot, "Parameters")
            for name, value in _parameters(
                {
                    "印章名称": ses.seal.name,
                    "印章编码": ses.seal.es_id,
                    "签章人": signer.get("common_name"),
                    "签章单位": signer.get("organization"),
                    "证书序列号": signer.get("serial_hex"),
                    "证书颁发者": signer.get("issuer"),
                    "签章时间": facts.get("best_signature_time") or ses.signing_time,
                    "签名原文摘要(SM3)": ses.data_hash.hex(),
                    "验证结论": facts.get("indication"),
                    "转换日期": made_on,
                }
            ):
                sub_element(parameters, "Parameter", {"Name": name}, text=value)
            appearance = sub_element(
                annot,
                "Appearance",
                {"Boundary": " ".join(number(v) for v in (x, y, width, height))},
            )
            next_id += 1
            sub_element(appearance, "ImageObject", {
                "ID": str(next_id), "ResourceID": media_id,
                "Boundary": f"0 0 {number(width)} {number(height)}",
                "CTM": f"{number(width)} 0 0 {number(height)} 0 0",
            })  # fmt: skip
            per_page.setdefault(stamp.page_ref, []).append(annot)

    index_root = new_root("Annotations")
    for page_id, annots in per_page.items():
        if page_id not in pages:
            raise InvalidInput(f"a seal names page {page_id}, which the document does not have")
        page_dir = posixpath.dirname(pages[page_id])
        page_file = f"{posixpath.basename(page_dir) or 'Page'}/Annotation.xml"
        page_entry = sub_element(index_root, "Page", {"PageID": page_id})
        sub_element(page_entry, "FileLoc", text=page_file)
        page_annot = new_root("PageAnnot")
        page_annot.extend(annots)
        files[f"{doc_dir}/Annots/{page_file}"] = xml_bytes(page_annot)
    files[f"{doc_dir}/{_ANNOTATIONS}"] = xml_bytes(index_root)
    files[res_path] = xml_bytes(resources)

    max_id.text = str(next_id)
    public = child(common, "PublicRes")
    res_element = etree.Element(ofd_tag("DocumentRes"))
    res_element.text = _DOCUMENT_RES
    (public if public is not None else common[-1]).addnext(res_element)
    annotations = etree.Element(ofd_tag("Annotations"))
    annotations.text = _ANNOTATIONS
    _insert_annotations(document, annotations)
    files[document_path] = xml_bytes(document)

    ofd_root = parse_xml(package.file("OFD.xml"), "OFD.xml")
    for body in children(ofd_root, "DocBody"):
        for element in children(body, "Signatures"):
            body.remove(element)
    files["OFD.xml"] = xml_bytes(ofd_root)
    # Each signature's own folder (Sign_N/: Signature.xml, SignedValue.dat, Seal.esl) and
    # the list; never a folder of the list's, which may be the document's own.
    signature_dirs = tuple({posixpath.dirname(entry.path) + "/" for entry in listing.entries})
    kept = {
        path: data
        for path, data in package.items()
        if path != listing.signatures_path and not path.startswith(signature_dirs)
    }
    return OfdPackage.from_files({**kept, **files}).to_bytes()


_AFTER_ANNOTATIONS = ("Attachments", "CustomTags", "Extensions")


def _insert_annotations(document: etree._Element, annotations: etree._Element) -> None:
    """``Annotations`` in its place in ``Document`` (GB/T 33190 §7.5: after Bookmarks,
    before Attachments, CustomTags, Extensions)."""
    for later in _AFTER_ANNOTATIONS:
        found = child(document, later)
        if found is not None:
            found.addprevious(annotations)
            return
    document.append(annotations)
