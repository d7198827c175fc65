"""Real SES material for tests: a seal maker on the SM2 test hierarchy, a PNG seal image,
seals and signatures made with them, :class:`SesSigner` (an OFD's signed value as a real
SES_Signature), and the third-party OFD samples' SES files.

Import as ``from helpers.ses_fixtures import …`` (pytest puts ``tests/`` on ``sys.path``).  The
samples are read from ``tests/data/ofd-samples/`` (copied unchanged from ofdrw's test
resources; see the README there) with :mod:`zipfile` only — the OFD reader is another
package's business.
"""

from __future__ import annotations

import functools
import io
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from asn1crypto import x509
from PIL import Image, ImageDraw

from helpers.pki_fixtures import Hierarchy, build_hierarchy, issue_leaf
from pki import ses
from pki.algorithms import SigningKey
from pki.asn1 import ses as asn1
from pki.certificates import Profile
from pki.sm2 import sm3
from pki.tsa import TimeStampAuthority

__all__ = [
    "DOCUMENT",
    "PROPERTY_INFO",
    "SAMPLES",
    "Maker",
    "SampleSignature",
    "make_seal",
    "make_signature",
    "maker",
    "sample_seal_files",
    "sample_signatures",
    "seal_png",
    "sm2",
    "swap_seal",
    "timestamper",
]

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "ofd-samples"
DOCUMENT = b'<?xml version="1.0" encoding="UTF-8"?><ofd:Signature/>'
"""Stand-in for a Signature.xml: the bytes whose SM3 digest our test signatures carry."""
PROPERTY_INFO = "/Doc_0/Signs/Sign_0/Signature.xml"


def sm2() -> Hierarchy:
    """The cached SM2 test hierarchy (its ``seal`` certificate and key are the signer)."""
    return build_hierarchy("sm2")


@dataclass(frozen=True, repr=False)
class Maker:
    certificate: x509.Certificate
    key: SigningKey


@functools.cache
def maker() -> Maker:
    """A seal maker (制章者) certificate from the SM2 issuing CA, with its key."""
    certificate, key = issue_leaf(sm2(), Profile.SEAL, common_name="深圳市电子印章制章系统（测试）")
    return Maker(certificate, key)


@functools.cache
def seal_png() -> bytes:
    """A real 4 cm red round seal image as PNG."""
    image = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((4, 4, 156, 156), outline=(220, 0, 0, 255), width=8)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_seal(**overrides: object) -> bytes:
    """DER of a v4 seal made by :func:`maker` for the hierarchy's seal certificate."""
    hierarchy = sm2()
    start = hierarchy.not_before
    arguments: dict[str, object] = {
        "es_id": "44030000000001",
        "seal_type": 1,
        "name": "深圳市市场监督管理局行政审批专用章",
        "signer_certificates": [hierarchy.seal.dump()],
        "created": start,
        "valid_start": start,
        "valid_end": start + timedelta(days=365),
        "picture": ses.SealPicture("PNG", seal_png(), 40, 40),
        "maker_certificate": maker().certificate.dump(),
        "maker": maker().key,
    }
    arguments.update(overrides)
    return ses.make_seal(**arguments)


def make_signature(seal: bytes | None = None, **overrides: object) -> bytes:
    """DER of a v4 SES_Signature over SM3(:data:`DOCUMENT`) with :func:`make_seal`."""
    hierarchy = sm2()
    arguments: dict[str, object] = {
        "seal": seal if seal is not None else make_seal(),
        "signer_certificate": hierarchy.seal.dump(),
        "signer": hierarchy.seal_key,
        "data_hash": sm3(DOCUMENT),
        "property_info": PROPERTY_INFO,
        "signing_time": hierarchy.valid_at,
    }
    arguments.update(overrides)
    return ses.sign_ses(**arguments)


def swap_seal(signature: bytes, seal: bytes) -> bytes:
    """``signature`` (v4) with ``seal`` in place of its own, every other byte as it was —
    including the signer's signature value, which no longer covers what it claims to."""
    original = asn1.SESSignature.load(signature)
    to_sign = original["to_sign"]
    return asn1.SESSignature(
        {
            "to_sign": asn1.TBSSign(
                {
                    "version": to_sign["version"],
                    "eseal": asn1.SESeal.load(seal),
                    "time_info": to_sign["time_info"],
                    "data_hash": to_sign["data_hash"],
                    "property_info": to_sign["property_info"],
                }
            ),
            "cert": original["cert"],
            "signature_alg_id": original["signature_alg_id"],
            "signature": original["signature"],
        }
    ).dump()


@functools.cache
def _tsa() -> TimeStampAuthority:
    hierarchy = sm2()
    return TimeStampAuthority(
        hierarchy.tsa,
        hierarchy.tsa_key,
        chain=[hierarchy.issuing],
        clock=lambda: hierarchy.valid_at + timedelta(minutes=1),
    )


def timestamper(signature_value: bytes) -> bytes:
    """Our SM2 TSA's token over SM3(signature value), as ``sign_ses`` wants it."""
    return _tsa().stamp(sm3(signature_value), "sm3").dump()


@dataclass(frozen=True)
class SampleSignature:
    """One ``Doc_0/Signs/Sign_N`` of a sample OFD file."""

    ofd: str
    """The sample's file name, e.g. ``v4signed.ofd``."""
    sign: str
    """``Sign_0``, ``Sign_1`` …"""
    signed_value: bytes
    """``SignedValue.dat``."""
    signature_xml: bytes
    """The raw ``Signature.xml`` beside it (what ``dataHash`` covers)."""

    @property
    def label(self) -> str:
        return f"{self.ofd}:{self.sign}"


def sample_signatures() -> list[SampleSignature]:
    """Every SignedValue.dat of every sample, with its Signature.xml."""
    found = []
    for path in sorted(SAMPLES.glob("*.ofd")):
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
            for name in sorted(n for n in names if n.endswith("/SignedValue.dat")):
                folder = name.rsplit("/", 1)[0]
                found.append(
                    SampleSignature(
                        path.name,
                        folder.rsplit("/", 1)[1],
                        package.read(name),
                        package.read(f"{folder}/Signature.xml"),
                    )
                )
    return found


def sample_seal_files() -> dict[str, bytes]:
    """``{"h.ofd:Sign_0": Seal.esl bytes, …}`` for every Seal.esl in the samples."""
    found = {}
    for path in sorted(SAMPLES.glob("*.ofd")):
        with zipfile.ZipFile(path) as package:
            for name in sorted(n for n in package.namelist() if n.endswith("/Seal.esl")):
                found[f"{path.name}:{name.rsplit('/', 2)[1]}"] = package.read(name)
    return found


class SesSigner:
    """``make_signed_value`` that seals with a real v4 SES_Signature (seal made per signer)."""

    def __init__(self, es_id: str = "44030000000001") -> None:
        self.seal = make_seal(es_id=es_id)

    def __call__(self, signature_xml: bytes, signature_path: str) -> bytes:
        hierarchy = sm2()
        return ses.sign_ses(
            seal=self.seal,
            signer_certificate=hierarchy.seal.dump(),
            signer=hierarchy.seal_key,
            data_hash=sm3(signature_xml),
            property_info=signature_path,
            signing_time=hierarchy.valid_at,
            timestamper=timestamper,
        )
