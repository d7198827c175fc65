"""Every reach into another library's internals, pinned: these tests fail when one changes.

Where no public API does the job (see the comment at each use), the code uses an internal
of asn1crypto, tongsuopy, reportlab or pyHanko.  Each test here checks that the internal
still exists with the shape the code relies on *and* still has the effect the code wants,
so an upgrade that moves it breaks here, by name, instead of somewhere downstream.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import io
import itertools
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import algos, cms, core, keys
from helpers.pki_fixtures import build_hierarchy
from pyhanko.pdf_utils.metadata import info, xmp_xml
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_cms import Signer
from reportlab.pdfbase.pdfdoc import PDFCatalog, PDFDocument
from reportlab.pdfgen.canvas import Canvas
from tongsuopy.backends.tongsuo import backend as tongsuo_backend

from pki import algorithms, sm2
from pki.asn1 import oids
from sealsvc.licences.pdfa import apply_pdfa
from sealsvc.pades import _OneModificationTime, _SealSigner, incremental_writer

# --- asn1crypto: OID registration (pki/asn1/oids.py) ---------------------------------


@pytest.mark.parametrize(
    "oid_type", [algos.DigestAlgorithmId, algos.SignedDigestAlgorithmId, cms.ContentType]
)
def test_asn1crypto_oid_types_keep_their_two_tables(oid_type: type) -> None:
    assert isinstance(oid_type._map, dict)
    assert oid_type._reverse_map is None or isinstance(oid_type._reverse_map, dict)


@pytest.mark.parametrize("used_before", [False, True])
def test_oids_add_works_before_and_after_asn1crypto_built_the_reverse_map(
    used_before: bool,
) -> None:
    """``oids._add`` on a scratch type, with its reverse map not built yet and built."""

    class Probe(core.ObjectIdentifier):
        _map = {"1.2.3.4": "first"}  # noqa: RUF012 - asn1crypto's class-level table

    if used_before:
        assert Probe.unmap("first") == "1.2.3.4"  # builds the reverse map
    oids._add(Probe, "1.2.3.5", "second")
    assert Probe.unmap("second") == "1.2.3.5"
    assert Probe.map("1.2.3.5") == "second"
    assert Probe("second").dotted == "1.2.3.5"
    assert Probe.load(Probe("1.2.3.5").dump()).native == "second"


def test_the_sm2_curve_is_registered() -> None:
    assert keys.NamedCurve.map(oids.SM2_CURVE) == "sm2p256v1"


@pytest.mark.parametrize(
    ("oid_type", "name", "dotted"),
    [
        (algos.DigestAlgorithmId, "sm3", oids.SM3),
        (algos.SignedDigestAlgorithmId, "sm2_sm3", oids.SM2_SM3),
        (cms.ContentType, "gbt35275_data", oids.GBT35275_DATA),
        (cms.ContentType, "gbt35275_signed_data", oids.GBT35275_SIGNED_DATA),
    ],
)
def test_the_gm_oids_are_registered_both_ways(oid_type: type, name: str, dotted: str) -> None:
    assert oid_type.unmap(name) == dotted  # the class method, without an instance
    assert oid_type(name).dotted == dotted
    assert oid_type.load(oid_type(dotted).dump()).native == name


# --- tongsuopy: SM2 with a signer ID other than the default (pki/sm2.py) ---------------


def test_tongsuopy_backend_exposes_the_bindings_pki_sm2_calls() -> None:
    lib, ffi = tongsuo_backend._lib, tongsuo_backend._ffi
    for name in (
        "EVP_PKEY_CTX_new",
        "EVP_PKEY_CTX_free",
        "EVP_PKEY_sign_init",
        "EVP_PKEY_sign",
        "EVP_PKEY_verify_init",
        "EVP_PKEY_verify",
    ):
        assert callable(getattr(lib, name)), name
    assert callable(tongsuo_backend._consume_errors)
    private = sm2.generate_private_key()
    for key in (private, private.public_key()):
        assert ffi.typeof(key._evp_pkey).cname == "EVP_PKEY *"


def test_sm2_with_another_signer_id_still_works_through_those_bindings() -> None:
    private = sm2.generate_private_key()
    signature = sm2.sign_with_id(private, b"message", b"ALICE123@YAHOO.COM")
    sm2.verify_with_id(private.public_key(), b"message", signature, b"ALICE123@YAHOO.COM")
    with pytest.raises(algorithms.SignatureInvalid):
        sm2.verify_with_id(private.public_key(), b"message", signature, b"1234567812345678")


# --- reportlab: the canvas's document for PDF/A (sealsvc/licences/pdfa.py) -------------


def test_reportlab_canvas_document_is_reachable_and_shaped_as_used() -> None:
    canvas = Canvas(io.BytesIO())
    document = canvas._doc
    assert isinstance(document, PDFDocument)
    assert isinstance(document.info.producer, str)
    assert callable(document.updateSignature)
    assert callable(document.Reference)
    assert isinstance(document.Catalog, PDFCatalog)
    assert all(isinstance(key, str) for key in PDFCatalog.__NoDefault__)


def _pdfa_page(document_id: str) -> bytes:
    """A one-page PDF that :func:`apply_pdfa` marked with ``document_id``."""
    out = io.BytesIO()
    canvas = Canvas(out, invariant=1)
    apply_pdfa(
        canvas,
        title="t",
        author="a",
        subject="s",
        keywords="k",
        at=datetime(2026, 1, 2, tzinfo=UTC),
        document_id=document_id,
    )
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def test_apply_pdfa_still_writes_metadata_output_intent_and_id() -> None:
    pdf = _pdfa_page(str(uuid.UUID(int=1)))
    assert b"/OutputIntents" in pdf
    assert b"/GTS_PDFA1" in pdf
    assert b"/Metadata" in pdf
    other = _pdfa_page(str(uuid.UUID(int=2)))
    assert pdf[pdf.rindex(b"/ID") :] != other[other.rindex(b"/ID") :]


# --- pyHanko: one modification time per update (sealsvc/pades.py) ----------------------


class _TickingClock(datetime):
    """A clock a second further on at each reading: a second ending between pyHanko's
    Info and XMP writes, which it otherwise does about once in a thousand licences."""

    readings = itertools.count()

    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 12, 4, 15, 52, 23, tzinfo=UTC) + timedelta(seconds=next(cls.readings))


def test_one_update_writes_one_modification_time_in_info_and_xmp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pyHanko sets ``last_modified = "now"`` on its writer's ``_meta`` and lets the Info
    dictionary and the XMP packet each read the clock; ``incremental_writer`` gives
    the writer a metadata object that reads it once."""
    monkeypatch.setattr(info, "datetime", _TickingClock)
    monkeypatch.setattr(xmp_xml, "datetime", _TickingClock)
    writer = incremental_writer(io.BytesIO(_pdfa_page(str(uuid.UUID(int=3)))))
    assert isinstance(writer.document_meta, _OneModificationTime)  # pyHanko's _meta
    out = io.BytesIO()
    writer.write(out)
    reader = PdfFileReader(out)
    mod_date = str(reader.trailer_view["/Info"]["/ModDate"])
    xmp = reader.root["/Metadata"].data.decode()
    [modify_date] = re.findall(r'xmp:ModifyDate(?:="|>)([^"<]+)', xmp)  # attribute or element
    assert re.sub(r"\D", "", modify_date)[:14] == re.sub(r"\D", "", mod_date)[:14]


# --- pyHanko: the signed-attribute hook (sealsvc/pades.py) ------------------------------


def test_pyhanko_signer_has_the_signed_attribute_hook() -> None:
    parameters = list(inspect.signature(Signer._signed_attr_providers).parameters)
    assert parameters[:3] == ["self", "data_digest", "digest_algorithm"]


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_seal_signer_override_is_what_pyhanko_calls(family: str) -> None:
    """Our override adds signing-time for SM2 (GB/T 35275) and swaps in a cached
    signing-certificate-v2; if pyHanko stopped calling the hook, SM2 PAdES signed
    attributes would lose signing-time, and this fails."""
    hierarchy = build_hierarchy(family)
    signer = _SealSigner(hierarchy.seal_key, hierarchy.seal, [hierarchy.issuing, hierarchy.root])
    digest_algorithm = signer.digest_algorithm
    digest = (
        sm2.sm3(b"document")
        if digest_algorithm == "sm3"
        else hashlib.new(digest_algorithm, b"document").digest()
    )
    attrs = asyncio.run(signer.signed_attrs(digest, digest_algorithm, use_pades=True))
    types = [attr["type"].native for attr in attrs]
    assert ("signing_time" in types) is (family == "sm2")
    (certificate_v2,) = [attr for attr in attrs if attr["type"].native == "signing_certificate_v2"]
    assert certificate_v2.dump() == signer._signing_certificate_v2.dump()
