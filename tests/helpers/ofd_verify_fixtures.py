"""Sealed and tampered licence OFDs for the verification tests and the OFD verify bench.

A licence OFD rendered as issuing renders it, sealed as the service seals it (or with a
forged dataHash the service cannot be made to write), and the service's verdict on it:
the tamper tests, the browser page and the bench all start from these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ofd.package import OfdPackage
from ofd.signatures import (
    Provider,
    StampPlacement,
    add_signature,
)
from pki.sm2 import sm3
from sealsvc import ofd_sealing, seals, ses_signing
from sealsvc.context import ServiceContext
from sealsvc.licences import QrCode, data_hash, load_template, verification_url
from sealsvc.licences.identifier import LicenceIdentifier
from sealsvc.licences.layout import LicencePage
from sealsvc.licences.metadata import licence_metadata
from sealsvc.licences.render_ofd import render_licence_ofd
from sealsvc.pades import Placement
from sealsvc.ses_seals import current
from sealsvc.verification.service import DocumentVerifier

ACTOR = "test:ofd-verify"


PROVIDER = Provider("sealsvc", "test", "sealsvc")


TEMPLATE = "business_licence"


NUMBER = "YYZZ-OFD-TEST-0001"


ISSUER_CODE = "11410100EXAMPL012Q"


STAMP = (120.0, 160.0, 42.0, 42.0)


def prepared(context: ServiceContext) -> ServiceContext:
    """The CA certificates as PEM under ``ca/``: the verifier's trust anchors."""
    with context.database.session(read_only=True) as session:
        context.ca.export_files(session)
    return context


def sm2_seal(context: ServiceContext, kind: str = "行政审批专用章") -> str:
    """The code of a fresh SM2 seal of ZZ-FTZ, the algorithm GB/T 38540 seals use."""
    return seals.issue(context, department="ZZ-FTZ", kind=kind, algorithm="sm2", actor=ACTOR).code


def licence_ofd(number: str = NUMBER, template_name: str = TEMPLATE) -> bytes:
    """An unsealed licence OFD as issuing renders it: identifier and metadata (with its
    number in ``CustomDatas``) included."""
    template = load_template(template_name)
    data = template.validate_data(template.example)
    issued = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    url = verification_url(
        "http://127.0.0.1:8000", number, data_hash(number, 1, template_name, data)
    )
    identifier = LicenceIdentifier.for_licence(
        type_code=template.spec.licence_type.code, issuer_code=ISSUER_CODE, number=number,
        version=1,
    )  # fmt: skip
    metadata = licence_metadata(
        template, number=number, data=data, identifier=identifier, issued_at=issued
    )
    page = LicencePage(number, 1, data, QrCode.encode(url), issued, str(identifier), metadata)
    return render_licence_ofd(template, page)


def signer_for(
    context: ServiceContext, code: str, *, timestamp: bool = True, data: bytes | None = None
) -> Callable[[bytes, str], bytes]:
    """``make_signed_value`` sealing with ``code`` through ``sign_hash`` (audited, TSA);
    ``data`` replaces the Signature.xml bytes the dataHash is computed over (tampering)."""

    def make(signature_xml: bytes, signature_path: str) -> bytes:
        digest = sm3(signature_xml if data is None else data)
        return ses_signing.sign_hash(
            context, code, digest, signature_path, timestamp=timestamp, actor=ACTOR
        ).der

    return make


def seal_ofd(
    context: ServiceContext,
    package: OfdPackage | bytes,
    code: str,
    *,
    page: int = 0,
    timestamp: bool = True,
    data: bytes | None = None,
) -> OfdPackage:
    """``package`` with one more seal of ``code`` as the service seals an OFD
    (:func:`sealsvc.ofd_sealing.seal_ofd`: stamp at the lower right of ``page``,
    ``Seal.esl``); with ``data``, a seal whose dataHash is over those bytes instead of the
    ``Signature.xml`` (a tampering the service itself cannot be made to do)."""
    if isinstance(package, OfdPackage):
        package = package.to_bytes()
    if data is None:
        sealed = ofd_sealing.seal_ofd(
            context, package, code, Placement(page=page + 1), timestamp=timestamp, actor=ACTOR
        )
        return OfdPackage.read(sealed.ofd)
    with context.database.session(read_only=True) as session:
        seal_der = current(session, code).der
    return add_signature(
        OfdPackage.read(package),
        signer_for(context, code, timestamp=timestamp, data=data),
        provider=PROVIDER,
        signature_time=datetime.now(UTC),
        stamps=[StampPlacement(page, STAMP)],
        seal=seal_der,
    )


def check(context: ServiceContext, data: bytes | OfdPackage, **kwargs):
    """The service's answer (report + licence), as the API and the page get it."""
    if isinstance(data, OfdPackage):
        data = data.to_bytes()
    return DocumentVerifier(context).check(data, **kwargs)


def one_byte_changed(package: OfdPackage, path: str) -> OfdPackage:
    """``package`` with one byte of ``path`` changed (inside the XML text, so it stays XML)."""
    data = bytearray(package[path])
    index = data.rindex(b"<") - 2
    data[index] ^= 0x01
    return package.with_files({path: bytes(data)})
