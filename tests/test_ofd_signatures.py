"""ofd/signatures.py: other issuers' signatures read and checked; ours added, joint, tamper-evident.

The signed value in the round trips is a real SM2 signature (pki/sm2) over SM3 of the
``Signature.xml`` bytes handed to ``make_signed_value``; the SES_Signature that goes there in
production comes from pki's SES module.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers.ofd_documents import PROVIDER, unsigned_ofd

from ofd.errors import OfdError, OfdFormatError
from ofd.package import OfdPackage
from ofd.signatures import (
    DigestStatus,
    OfdSignature,
    Provider,
    SignatureType,
    StampPlacement,
    add_signature,
    check_references,
    read_signature,
    read_signatures,
)
from ofd.xml import child, child_text, children, parse_xml
from pki import sm2
from pki.errors import SignatureInvalid

SAMPLES = Path(__file__).parent / "data" / "ofd-samples"
WHEN = datetime(2026, 12, 3, 8, 30, 15, tzinfo=UTC)


def _sample(name: str) -> OfdPackage:
    return OfdPackage.read((SAMPLES / f"{name}.ofd").read_bytes())


def _signatures(package: OfdPackage) -> list[OfdSignature]:
    return [read_signature(package, e) for e in read_signatures(package).entries]


def _statuses(package: OfdPackage) -> list[dict[str, DigestStatus]]:
    return [
        {c.path: c.status for c in check_references(package, s).checks}
        for s in _signatures(package)
    ]


def _flip_byte(package: OfdPackage, path: str, offset: int = -20) -> OfdPackage:
    data = bytearray(package[path])
    data[offset] ^= 0x01
    return package.with_files({path: bytes(data)})


class Sm2Signer:
    """``make_signed_value`` with a real SM2 key: signs SM3(Signature.xml), remembers the call."""

    def __init__(self) -> None:
        self.key = sm2.generate_private_key()
        self.calls: list[tuple[bytes, str]] = []

    def __call__(self, signature_xml: bytes, signature_path: str) -> bytes:
        self.calls.append((signature_xml, signature_path))
        return sm2.sign(self.key, sm2.sm3(signature_xml))

    def verify(self, package: OfdPackage, signature: OfdSignature) -> None:
        signed_value = package[signature.signed_value_path]
        sm2.verify(self.key.public_key(), sm2.sm3(signature.signature_xml), signed_value)


# -- other issuers' files ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["v4signed", "SESV4SignDoc", "testImageNotFound"])
def test_third_party_references_all_verify(name: str) -> None:
    package = _sample(name)
    signatures = _signatures(package)
    assert signatures
    for signature in signatures:
        result = check_references(package, signature)
        assert result.intact, result
        assert result.method == "sm3"
        assert len(result.checks) == len(signature.references) >= 5


def test_v4signed_fields() -> None:
    package = _sample("v4signed")
    listing = read_signatures(package)
    assert listing.signatures_path == "Doc_0/Signs/Signatures.xml"
    assert listing.max_sign_id == "1"
    (signature,) = _signatures(package)
    assert signature.entry.id == "1" and signature.entry.type == "Seal"
    assert signature.provider == Provider("gomain_eseal", "2.0", "BW")
    assert signature.signature_method == "1.2.156.10197.1.501"
    assert signature.signature_datetime == "20201010151120"
    assert signature.check_method == "1.2.156.10197.1.401"
    assert signature.stamp_annots[0].page_ref == "1"
    assert signature.stamp_annots[0].boundary == (90.0, 8.0, 30.0, 20.0)
    assert signature.signed_value_path == "Doc_0/Signs/Sign_0/SignedValue.dat"
    assert signature.signature_xml == package["Doc_0/Signs/Sign_0/Signature.xml"]
    assert check_references(package, signature).uncovered == ()


def test_test_image_not_found_sign_type_relative_signed_value_and_legacy_namespace() -> None:
    package = _sample("testImageNotFound")
    assert b'xmlns:ofd="http://www.ofdspec.org"' in package["OFD.xml"]
    first, second = _signatures(package)
    assert (first.entry.type, second.entry.type) == ("Sign", "Sign")
    # written as just "SignedValue.dat": relative to the Signature.xml that names it
    assert b"<ofd:SignedValue>SignedValue.dat<" in first.signature_xml
    assert first.signed_value_path == "Doc_0/Signs/Sign_0/SignedValue.dat"
    assert first.stamp_annots == ()


def test_h_first_seal_fails_on_signatures_xml_and_second_passes() -> None:
    package = _sample("h")
    first, second = _signatures(package)
    assert [len(s.stamp_annots) for s in (first, second)] == [5, 1]  # a riding seal, 5 pages
    result = check_references(package, first)
    assert not result.intact
    failed = [c for c in result.checks if c.status is not DigestStatus.OK]
    assert [(c.path, c.status) for c in failed] == [
        ("Doc_0/Signs/Signatures.xml", DigestStatus.MISMATCH)
    ]
    assert "changed after signing" in failed[0].message
    # what the second seal added is reported as not covered by the first
    assert result.uncovered == (
        "Doc_0/Signs/Sign_1/Seal.esl",
        "Doc_0/Signs/Sign_1/Signature.xml",
        "Doc_0/Signs/Sign_1/SignedValue.dat",
    )
    assert check_references(package, second).intact


def test_n_keyed_sm3_is_reported_as_unsupported_not_failed() -> None:
    package = _sample("n")
    listing = read_signatures(package)
    assert listing.signatures_path == "Doc_0/Signatures.xml"
    (signature,) = _signatures(package)
    assert signature.check_method == "1.2.156.10197.1.401.2"
    result = check_references(package, signature)
    assert result.method is None and not result.intact
    assert "1.2.156.10197.1.401.2 is SM3 with a key" in result.unsupported_reason
    assert {c.status for c in result.checks} == {DigestStatus.UNSUPPORTED}
    assert result.checks[0].path == "Doc_0/Document.xml"
    assert signature.provider.name.startswith("iOFD")  # Provider written as child elements


@pytest.mark.parametrize("name", ["v4signed", "SESV4SignDoc", "h", "testImageNotFound"])
def test_one_byte_changed_in_a_page_fails_exactly_that_reference(name: str) -> None:
    package = _sample(name)
    before = _statuses(package)
    tampered = _flip_byte(package, "Doc_0/Pages/Page_0/Content.xml")
    after = _statuses(tampered)
    for old, new in zip(before, after, strict=True):
        assert new.pop("Doc_0/Pages/Page_0/Content.xml") is DigestStatus.MISMATCH
        old.pop("Doc_0/Pages/Page_0/Content.xml")
        assert new == old


def test_removed_added_and_malformed_references() -> None:
    package = _sample("v4signed")
    removed = OfdPackage.from_files({p: d for p, d in package.items() if p != "Doc_0/Res/qr.png"})
    (signature,) = _signatures(removed)
    (missing,) = [c for c in check_references(removed, signature).checks if c.status != "ok"]
    assert (missing.path, missing.status) == ("Doc_0/Res/qr.png", DigestStatus.MISSING)

    added = package.with_files({"Doc_0/Res/extra.png": b"\x89PNG", "Doc_0/Pages/x.xml": b"<x/>"})
    result = check_references(added, signature)
    assert result.intact
    assert result.uncovered == ("Doc_0/Pages/x.xml", "Doc_0/Res/extra.png")

    path = "Doc_0/Signs/Sign_0/Signature.xml"
    xml = package[path]
    broken = xml.replace(b"CfQL2nf2lLaP1PFTgHqGHg9SHtNnXXShv5vwqa5HQ9E=", b"not*base64")
    broken = broken.replace(b'FileRef="/OFD.xml"', b'FileRef="/../../etc/passwd"')
    broken_package = package.with_files({path: broken})
    (signature,) = _signatures(broken_package)
    result = check_references(broken_package, signature)
    by_ref = {c.file_ref: c for c in result.checks}
    assert by_ref["/Doc_0/Res/qr.png"].status is DigestStatus.MALFORMED
    assert "not base64" in by_ref["/Doc_0/Res/qr.png"].message
    assert by_ref["/../../etc/passwd"].status is DigestStatus.MALFORMED
    assert by_ref["/../../etc/passwd"].path is None
    assert "leaves the package" in by_ref["/../../etc/passwd"].message
    assert "OFD.xml" in result.uncovered


@pytest.mark.parametrize(
    "method, expected",
    [
        ("SHA-256", "sha256"),
        ("2.16.840.1.101.3.4.2.1", "sha256"),
        ("sha1", "sha1"),
        ("1.3.14.3.2.26", "sha1"),
        ("sm3", "sm3"),
        ("1.2.156.10197.1.401.1", "sm3"),
    ],
)
def test_other_digest_names_verify_when_the_values_match(method: str, expected: str) -> None:
    function = {"sha256": hashlib.sha256, "sha1": hashlib.sha1, "sm3": None}[expected]
    package = _sample("v4signed")
    path = "Doc_0/Signs/Sign_0/Signature.xml"
    xml = package[path].decode()

    def recompute(match: re.Match[str]) -> str:
        file_path = match.group(1).lstrip("/")
        data = package[file_path]
        digest = function(data).digest() if function else sm2.sm3(data)
        return f'FileRef="{match.group(1)}"><ofd:CheckValue>{base64.b64encode(digest).decode()}<'

    xml = re.sub(r'FileRef="([^"]+)"><ofd:CheckValue>[^<]*<', recompute, xml)
    xml = xml.replace('CheckMethod="1.2.156.10197.1.401"', f'CheckMethod="{method}"')
    changed = package.with_files({path: xml.encode()})
    (signature,) = _signatures(changed)
    result = check_references(changed, signature)
    assert result.method == expected and result.intact
    # and the original SM3 values do not pass under the other name (unless it is SM3)
    relabelled = package.with_files(
        {path: package[path].replace(b"1.2.156.10197.1.401", method.encode())}
    )
    assert check_references(relabelled, _signatures(relabelled)[0]).intact == (expected == "sm3")


@pytest.mark.parametrize(
    "attribute, reason",
    [
        ('CheckMethod="MD5"', "CheckMethod 'MD5' is not a supported digest algorithm"),
        ("", "References has no CheckMethod"),
    ],
)
def test_unknown_or_missing_check_method_is_unsupported(attribute: str, reason: str) -> None:
    package = _sample("v4signed")
    path = "Doc_0/Signs/Sign_0/Signature.xml"
    xml = package[path].replace(b'CheckMethod="1.2.156.10197.1.401"', attribute.encode())
    changed = package.with_files({path: xml})
    result = check_references(changed, _signatures(changed)[0])
    assert result.unsupported_reason.startswith(reason)
    assert {c.status for c in result.checks} == {DigestStatus.UNSUPPORTED}


@pytest.mark.parametrize(
    "old, new, message",
    [
        (b'Boundary="90.00 8.00 30.00 20.00"', b'Boundary="90 8 30"', "is not 'x y w h'"),
        (b'Boundary="90.00 8.00 30.00 20.00"', b'Boundary="a b c d"', "is not 'x y w h'"),
        (
            b"<ofd:SignedValue>/Doc_0/Signs/Sign_0/SignedValue.dat</ofd:SignedValue>",
            b"",
            "no SignedValue",
        ),
        (b'<ofd:Reference FileRef="/OFD.xml">', b"<ofd:Reference>", "a Reference has no FileRef"),
        (b"<ofd:Signature ", b"<ofd:Signed ", "not well-formed"),
    ],
)
def test_malformed_signature_xml_is_a_clear_error(old: bytes, new: bytes, message: str) -> None:
    package = _sample("v4signed")
    path = "Doc_0/Signs/Sign_0/Signature.xml"
    assert old in package[path]
    changed = package.with_files({path: package[path].replace(old, new)})
    (entry,) = read_signatures(changed).entries
    with pytest.raises(OfdFormatError, match=re.escape(message)):
        read_signature(changed, entry)


def test_missing_signature_files_are_clear_errors() -> None:
    package = _sample("v4signed")
    gone = OfdPackage.from_files(
        {p: d for p, d in package.items() if p != "Doc_0/Signs/Sign_0/Signature.xml"}
    )
    (entry,) = read_signatures(gone).entries
    with pytest.raises(
        OfdFormatError, match=re.escape("no file 'Doc_0/Signs/Sign_0/Signature.xml'")
    ):
        read_signature(gone, entry)
    no_list = OfdPackage.from_files(
        {p: d for p, d in package.items() if p != "Doc_0/Signs/Signatures.xml"}
    )
    with pytest.raises(OfdFormatError, match=re.escape("no file 'Doc_0/Signs/Signatures.xml'")):
        read_signatures(no_list)


def test_unsigned_document_has_no_signatures() -> None:
    listing = read_signatures(unsigned_ofd())
    assert listing.signatures_path is None and listing.entries == ()


# -- adding signatures ---------------------------------------------------------------------


def test_sign_an_unsigned_document() -> None:
    package = unsigned_ofd(pages=2)
    signer = Sm2Signer()
    stamps = [StampPlacement(1, (150.5, 230, 42, 42)), StampPlacement(0, (10, 10.125, 40, 40))]
    signed = add_signature(package, signer, provider=PROVIDER, signature_time=WHEN, stamps=stamps)

    ofd_xml = parse_xml(signed["OFD.xml"], "OFD.xml")
    body = child(ofd_xml, "DocBody")
    assert child_text(body, "Signatures") == "/Doc_0/Signs/Signatures.xml"
    assert [c.tag.split("}")[1] for c in body] == ["DocInfo", "DocRoot", "Signatures"]
    assert signed["Doc_0/Document.xml"] == package["Doc_0/Document.xml"]

    listing = read_signatures(signed)
    assert listing.signatures_path == "Doc_0/Signs/Signatures.xml"
    (entry,) = listing.entries
    assert (entry.id, entry.type, entry.base_loc) == (
        "1",
        "Seal",
        "/Doc_0/Signs/Sign_0/Signature.xml",
    )
    assert listing.max_sign_id == "3"  # the signature and its two stamps

    signature = read_signature(signed, entry)
    [(signed_xml, signed_path)] = signer.calls
    assert signed_xml == signature.signature_xml == signed["Doc_0/Signs/Sign_0/Signature.xml"]
    assert signed_path == "/Doc_0/Signs/Sign_0/Signature.xml"
    signer.verify(signed, signature)

    assert signature.provider == PROVIDER
    assert signature.signature_method == "1.2.156.10197.1.501"
    assert signature.signature_datetime == "20261203083015Z"
    assert signature.check_method == "1.2.156.10197.1.401"
    assert [(s.id, s.page_ref, s.boundary) for s in signature.stamp_annots] == [
        ("2", "11", (150.5, 230.0, 42.0, 42.0)),
        ("3", "10", (10.0, 10.125, 40.0, 40.0)),
    ]
    assert b'Boundary="150.5 230 42 42"' in signature.signature_xml
    assert signature.seal_path is None
    assert signature.signed_value_path == "Doc_0/Signs/Sign_0/SignedValue.dat"

    covered = [r.file_ref for r in signature.references]
    assert covered == sorted(
        "/" + p
        for p in signed
        if p
        not in (
            "Doc_0/Signs/Signatures.xml",
            "Doc_0/Signs/Sign_0/Signature.xml",
            "Doc_0/Signs/Sign_0/SignedValue.dat",
        )
    )
    assert "/OFD.xml" in covered  # the OFD.xml that already links Signatures.xml
    result = check_references(signed, signature)
    assert result.intact and result.uncovered == ()


def test_signing_is_reproducible() -> None:
    package = unsigned_ofd()

    def fixed(signature_xml: bytes, signature_path: str) -> bytes:
        return sm2.sm3(signature_xml + signature_path.encode())

    first = add_signature(package, fixed, provider=PROVIDER, signature_time=WHEN)
    again = add_signature(package, fixed, provider=PROVIDER, signature_time=WHEN)
    assert first.to_bytes() == again.to_bytes()
    other_time = add_signature(
        package, fixed, provider=PROVIDER, signature_time=WHEN + timedelta(seconds=1)
    )
    assert other_time.to_bytes() != first.to_bytes()


def test_signature_time_is_written_in_utc() -> None:
    beijing = WHEN.astimezone(timezone(timedelta(hours=8)))
    signed = add_signature(unsigned_ofd(), Sm2Signer(), provider=PROVIDER, signature_time=beijing)
    assert _signatures(signed)[0].signature_datetime == "20261203083015Z"


def test_joint_signatures_keep_earlier_ones_valid() -> None:
    first_signer, second_signer, third_signer = Sm2Signer(), Sm2Signer(), Sm2Signer()
    package = add_signature(
        unsigned_ofd(),
        first_signer,
        provider=PROVIDER,
        signature_time=WHEN,
        stamps=[StampPlacement(0, (20, 20, 40, 40))],
    )
    package = add_signature(
        package,
        second_signer,
        provider=PROVIDER,
        signature_time=WHEN,
        stamps=[StampPlacement(1, (120, 20, 40, 40))],
        seal=b"0\x03\x02\x01\x04",  # stands in for the seal's DER
    )
    package = add_signature(
        package,
        third_signer,
        provider=Provider("other"),
        signature_time=WHEN,
        signature_type=SignatureType.SIGN,
    )
    listing = read_signatures(package)
    assert [(e.id, e.type, e.path) for e in listing.entries] == [
        ("1", "Seal", "Doc_0/Signs/Sign_0/Signature.xml"),
        ("3", "Seal", "Doc_0/Signs/Sign_1/Signature.xml"),
        ("5", "Sign", "Doc_0/Signs/Sign_2/Signature.xml"),
    ]
    assert listing.max_sign_id == "5"
    root = parse_xml(package[listing.signatures_path], listing.signatures_path)
    assert [c.tag.split("}")[1] for c in root] == ["MaxSignId", *["Signature"] * 3]

    first, second, third = _signatures(package)
    for signer, signature in zip(
        (first_signer, second_signer, third_signer), (first, second, third), strict=True
    ):
        signer.verify(package, signature)
        assert check_references(package, signature).intact
    assert check_references(package, first).uncovered == (
        "Doc_0/Signs/Sign_1/Seal.esl",
        "Doc_0/Signs/Sign_1/Signature.xml",
        "Doc_0/Signs/Sign_1/SignedValue.dat",
        "Doc_0/Signs/Sign_2/Signature.xml",
        "Doc_0/Signs/Sign_2/SignedValue.dat",
    )
    # the second seal covers its own Seal.esl and names it; the third covers both before it
    assert second.seal_path == "Doc_0/Signs/Sign_1/Seal.esl"
    assert package[second.seal_path] == b"0\x03\x02\x01\x04"
    assert "/Doc_0/Signs/Sign_1/Seal.esl" in [r.file_ref for r in second.references]
    third_refs = {r.file_ref for r in third.references}
    assert {
        "/Doc_0/Signs/Sign_0/SignedValue.dat",
        "/Doc_0/Signs/Sign_1/Signature.xml",
    } <= third_refs
    assert third.provider == Provider("other")


@pytest.mark.parametrize("name", ["v4signed", "SESV4SignDoc", "h", "testImageNotFound", "n"])
def test_signing_a_third_party_signed_document_keeps_its_signatures(name: str) -> None:
    package = _sample(name)
    listing = read_signatures(package)
    # a signature covering Signatures.xml is broken by any later one (testImageNotFound's
    # second, like h.ofd's first); all others must stay as they were
    before = [
        check_references(package, s).intact
        and "/" + listing.signatures_path not in [r.file_ref for r in s.references]
        for s in _signatures(package)
    ]
    assert before.count(False) == {"h": 1, "n": 1, "testImageNotFound": 1}.get(name, 0)
    signer = Sm2Signer()
    signed = add_signature(
        package,
        signer,
        provider=PROVIDER,
        signature_time=WHEN,
        stamps=[StampPlacement(0, (30, 30, 40, 40))],
    )
    signatures = _signatures(signed)
    assert len(signatures) == len(before) + 1
    after = [check_references(signed, s).intact for s in signatures]
    assert after == [*before, True]
    new = signatures[-1]
    signer.verify(signed, new)
    existing = {int(p.split("/Sign_")[1].split("/")[0]) for p in package if "/Sign_" in p}
    assert new.entry.path == f"Doc_0/Signs/Sign_{max(existing) + 1}/Signature.xml"
    # ofd.xml is unchanged: it already linked its Signatures.xml
    assert signed["OFD.xml"] == package["OFD.xml"]


def test_our_signature_detects_tampering() -> None:
    signer = Sm2Signer()
    signed = add_signature(unsigned_ofd(), signer, provider=PROVIDER, signature_time=WHEN)
    (signature,) = _signatures(signed)

    page = _flip_byte(signed, "Doc_0/Pages/Page_1/Content.xml")
    result = check_references(page, _signatures(page)[0])
    assert [c.path for c in result.checks if c.status is DigestStatus.MISMATCH] == [
        "Doc_0/Pages/Page_1/Content.xml"
    ]

    # a changed Signature.xml (e.g. a digest swapped for the tampered page's) breaks the value
    forged_xml = signature.signature_xml.replace(b"20261203083015Z", b"20261203083016Z")
    forged = signed.with_files({signature.entry.path: forged_xml})
    with pytest.raises(SignatureInvalid):
        signer.verify(forged, _signatures(forged)[0])

    # a signed value from another signing does not verify either
    other = add_signature(unsigned_ofd(), Sm2Signer(), provider=PROVIDER, signature_time=WHEN)
    swapped = signed.with_files(
        {signature.signed_value_path: other["Doc_0/Signs/Sign_0/SignedValue.dat"]}
    )
    with pytest.raises(SignatureInvalid):
        signer.verify(swapped, _signatures(swapped)[0])


def test_adding_to_a_document_with_legacy_namespace_and_no_signatures_link() -> None:
    package = unsigned_ofd()
    legacy = package["OFD.xml"].replace(b"http://www.ofdspec.org/2016", b"http://www.ofdspec.org")
    signed = add_signature(
        package.with_files({"OFD.xml": legacy}),
        Sm2Signer(),
        provider=PROVIDER,
        signature_time=WHEN,
    )
    (signature,) = _signatures(signed)
    assert check_references(signed, signature).intact
    body = child(parse_xml(signed["OFD.xml"], "OFD.xml"), "DocBody")
    assert child_text(body, "Signatures") == "/Doc_0/Signs/Signatures.xml"
    # written back in the standard namespace, and only that one
    assert b'<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" DocType' in signed["OFD.xml"]
    assert b'http://www.ofdspec.org"' not in signed["OFD.xml"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"stamps": [StampPlacement(2, (0, 0, 40, 40))]}, "stamp page 2 does not exist"),
        ({"stamps": [StampPlacement(-1, (0, 0, 40, 40))]}, "stamp page -1 does not exist"),
        ({"stamps": [StampPlacement(0, (0, 0, 0, 40))]}, "not a finite box of positive size"),
        ({"stamps": [StampPlacement(0, (0, float("nan"), 4, 4))]}, "not a finite box"),
        ({"signature_time": datetime(2026, 12, 3)}, "must be timezone-aware"),
        ({"doc_index": 1}, "OFD.xml has no DocBody number 1"),
    ],
)
def test_bad_signing_requests_are_refused(kwargs: dict, message: str) -> None:
    options = {"provider": PROVIDER, "signature_time": WHEN, **kwargs}
    signer = Sm2Signer()
    with pytest.raises(OfdError, match=re.escape(message)):
        add_signature(unsigned_ofd(), signer, **options)
    assert signer.calls == []  # refused before anything was signed


def test_make_signed_value_must_return_bytes() -> None:
    with pytest.raises(OfdError, match="returned no signed value"):
        add_signature(unsigned_ofd(), lambda xml, path: b"", provider=PROVIDER, signature_time=WHEN)


@pytest.mark.parametrize(
    "path, old, new, message",
    [
        ("OFD.xml", b"<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>", b"", "has no DocRoot"),
        ("Doc_0/Document.xml", b'ID="10" ', b"", "a Page without an ID"),
        ("OFD.xml", b"<ofd:OFD ", b"<ofd:Other ", "not well-formed"),
    ],
)
def test_broken_documents_cannot_be_signed(path: str, old: bytes, new: bytes, message: str) -> None:
    package = unsigned_ofd()
    assert old in package[path]
    broken = package.with_files({path: package[path].replace(old, new)})
    with pytest.raises(OfdFormatError, match=re.escape(message)):
        add_signature(broken, Sm2Signer(), provider=PROVIDER, signature_time=WHEN)


def test_an_unlinked_signatures_file_is_not_overwritten() -> None:
    package = unsigned_ofd().with_files({"Doc_0/Signs/Signatures.xml": b"<x/>"})
    with pytest.raises(OfdFormatError, match=re.escape("exists but OFD.xml does not link it")):
        add_signature(package, Sm2Signer(), provider=PROVIDER, signature_time=WHEN)


def test_pages_are_looked_up_by_their_ids_in_document_order() -> None:
    package = unsigned_ofd(pages=3)
    signed = add_signature(
        package,
        Sm2Signer(),
        provider=PROVIDER,
        signature_time=WHEN,
        stamps=[StampPlacement(2, (1, 2, 3, 4))],
    )
    document = parse_xml(signed["Doc_0/Document.xml"], "Doc_0/Document.xml")
    page_ids = [p.get("ID") for p in children(child(document, "Pages"), "Page")]
    assert _signatures(signed)[0].stamp_annots[0].page_ref == page_ids[2] == "12"


@pytest.mark.parametrize(
    "old, new, message",
    [
        (b'BaseLoc="/Doc_0/Signs/Sign_0/Signature.xml"', b'BaseLoc="../../../x"', "leaves the"),
        (b'BaseLoc="/Doc_0/Signs/Sign_0/Signature.xml"', b"", "a Signature has no BaseLoc"),
        (b"<ofd:Signatures ", b"<ofd:Signature ", "not well-formed"),
    ],
)
def test_malformed_signatures_list_is_a_clear_error(old: bytes, new: bytes, message: str) -> None:
    package = _sample("v4signed")
    path = "Doc_0/Signs/Signatures.xml"
    assert old in package[path]
    changed = package.with_files({path: package[path].replace(old, new)})
    with pytest.raises(OfdFormatError, match=re.escape(message)):
        read_signatures(changed)
