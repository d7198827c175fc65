"""Signing a PDF as a person (issue #18 §3): event certificates for applicants, officials'
long-lived keys, the handwritten appearance, the audit entry, sign-off chains with a seal,
and what the verifier says of each signature (§4)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto.crl import CertificateList
from asn1crypto.ocsp import OCSPResponse
from helpers.idp_fixtures import AUDIENCE, ID_NUMBER, TestProvider
from helpers.pdf_fixtures import chinese_pdf
from helpers.personal_sign_fixtures import (
    ACTOR,
    CHAIN,
    _person,
    _sign,
    id_number,
    sign_off_chain,
)
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from sqlalchemy import select

from pki.certificates import POLICY_PERSON_EVENT, POLICY_PERSON_OFFICIAL
from sealsvc import identity, persons
from sealsvc.context import ServiceContext
from sealsvc.errors import Forbidden, InvalidInput
from sealsvc.identity import id_number_hash
from sealsvc.models import AuditEntry, Certificate
from sealsvc.pades import Level
from sealsvc.personal_signing import ACTION, ACTION_REFUSED
from sealsvc.verification.service import DocumentVerifier

pytest_plugins = ("helpers.seal_fixtures",)  # seal_context


@pytest.fixture
def provider(tmp_path: Path) -> TestProvider:
    return TestProvider(tmp_path)


@pytest.fixture
def context(seal_context: ServiceContext, provider: TestProvider) -> ServiceContext:
    with seal_context.database.session() as session:
        identity.add_provider(
            session, name="ywtb", issuer=provider.issuer, audience=AUDIENCE,
            jwks=str(provider.jwks_file), actor=ACTOR,
        )  # fmt: skip
        seal_context.ca.export_files(session)  # the trust anchors the verifier reads
    return seal_context


def _audit(context: ServiceContext, action: str) -> list[AuditEntry]:
    with context.database.session(read_only=True) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _details(entry: AuditEntry) -> dict:
    return entry.details if isinstance(entry.details, dict) else json.loads(entry.details)


def _everything(context: ServiceContext, *documents: bytes) -> bytes:
    with context.database.session(read_only=True) as session:
        rows = [f"{e.actor} {e.details}".encode() for e in session.scalars(select(AuditEntry))]
        rows += [c.der + c.subject.encode() for c in session.scalars(select(Certificate))]
    return b"\n".join([*rows, *documents])


def _assert_absent(haystack: bytes, *numbers: str) -> None:
    for number in numbers:
        for needle in (number, number[6:14]):  # the number, and its birth date alone
            for encoding in ("ascii", "utf-16-be"):
                assert needle.encode(encoding) not in haystack, needle


def _policies(pdf: bytes) -> list[str]:
    """The certificate policy OIDs of the (last) signer certificate in ``pdf``."""
    signer = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[-1].signer_cert
    return [p["policy_identifier"].dotted for p in signer.certificate_policies_value]


def _signature_dicts(pdf: bytes) -> list:
    reader = PdfFileReader(io.BytesIO(pdf))
    return [s.sig_object for s in reader.embedded_signatures]


@pytest.mark.parametrize("hierarchy", ["rsa", "sm2"])
def test_an_applicant_signs_with_an_event_certificate_and_the_verifier_names_them(
    context: ServiceContext, provider: TestProvider, hierarchy: str
) -> None:
    person = _person(context, provider)
    result = _sign(context, chinese_pdf(), person, "申请人", hierarchy=hierarchy)
    assert result.event and result.format == "pdf"

    (sig,) = _signature_dicts(result.document)
    assert sig["/Reason"] == "申请人" and sig["/Name"] == "张三丰"
    reader = PdfFileReader(io.BytesIO(result.document))
    (embedded,) = reader.embedded_signatures
    assert embedded.field_name == "Signature1"
    assert _policies(result.document) == [POLICY_PERSON_EVENT]
    assert embedded.signer_cert.serial_number == int(result.certificate_serial)
    widget = embedded.sig_field["/Kids"][0] if "/Kids" in embedded.sig_field else embedded.sig_field
    assert "/N" in widget["/AP"]  # the handwritten appearance is drawn in the field

    check = DocumentVerifier(context).check(result.document)
    report = check.report
    assert report.verdict.value == "TOTAL_PASSED", report.to_json()
    (signature,) = report.signatures
    assert signature.person is not None
    assert signature.person.name == "张*丰"
    assert signature.person.role == "申请人"
    assert signature.person.certificate == "event"
    assert signature.sentence.startswith("本文件由张*丰（申请人）于 "), signature.sentence
    assert "签名，签名后文件未被修改" in signature.sentence
    assert "事件型证书" in signature.sentence

    (entry,) = _audit(context, ACTION)
    assert entry.document_hash == result.output_sha256 and entry.seq == result.audit_seq
    assert _details(entry)["provider"] == "ywtb" and _details(entry)["token_id"] == person.token_id
    assert _details(entry)["input_sha256"] == result.input_sha256
    assert _details(entry)["certificate_serial"] == result.certificate_serial
    assert _details(entry)["role"] == "申请人" and _details(entry)["format"] == "pdf"
    assert _details(entry)["event_certificate"] is True
    _assert_absent(_everything(context, result.document, report.to_json().encode()), ID_NUMBER)


def test_without_a_drawn_image_the_name_stands_in_for_the_handwriting(
    context: ServiceContext, provider: TestProvider
) -> None:
    result = _sign(context, chinese_pdf(), _person(context, provider), "申请人",
                   signature_image_png=None)  # fmt: skip
    report = DocumentVerifier(context).check(result.document).report
    assert report.verdict.value == "TOTAL_PASSED"


def test_an_enrolled_official_signs_with_their_long_lived_key(
    context: ServiceContext, provider: TestProvider
) -> None:
    persons.enroll(
        context, provider="ywtb", subject="u-1001", name="张三丰", id_number=ID_NUMBER,
        department="郑州市市场监督管理局", role="审核人", hierarchy="rsa", actor=ACTOR,
    )  # fmt: skip
    result = _sign(context, chinese_pdf(), _person(context, provider), "审核人")
    assert not result.event
    (signature,) = DocumentVerifier(context).check(result.document).report.signatures
    assert signature.passed and signature.person is not None
    assert signature.person.certificate == "official" and signature.person.role == "审核人"
    assert _policies(result.document) == [POLICY_PERSON_OFFICIAL]
    assert _details(_audit(context, ACTION)[0])["event_certificate"] is False


def test_an_official_whose_id_differs_is_refused_and_the_refusal_audited(
    context: ServiceContext, provider: TestProvider
) -> None:
    persons.enroll(
        context, provider="ywtb", subject="u-1001", name="张三丰",
        id_number=id_number("41010519911111121"), hierarchy="rsa", actor=ACTOR,
    )  # fmt: skip
    with pytest.raises(Forbidden, match="ID number differs"):
        _sign(context, chinese_pdf(), _person(context, provider), "审核人")
    (refused,) = _audit(context, ACTION_REFUSED)
    assert _details(refused)["refusal"] == "forbidden"
    assert _details(refused)["token_id"] and len(_audit(context, "person.refused")) == 1
    assert not _audit(context, ACTION)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"level": Level.B_B}, "level B-T"),
        ({"role": "  "}, "role must be"),
        ({"role": "经办\x00人"}, "control characters"),
        ({"signature_image_png": b"GIF89a not a png"}, "signature image is not a PNG"),
    ],
)
def test_bad_requests_are_refused_with_one_line_and_audited(
    context: ServiceContext, provider: TestProvider, options: dict, message: str
) -> None:
    person = _person(context, provider)
    options = dict(options)  # the parameter is shared by both databases
    role = options.pop("role", "申请人")
    with pytest.raises(InvalidInput, match=message):
        _sign(context, chinese_pdf(), person, role, **options)
    (refused,) = _audit(context, ACTION_REFUSED)
    assert _details(refused)["token_id"] == person.token_id
    assert not _audit(context, "person.event_cert")  # refused before any certificate


def test_not_a_pdf_is_refused(context: ServiceContext, provider: TestProvider) -> None:
    with pytest.raises(InvalidInput, match="neither a PDF"):
        _sign(context, b"PK\x03\x04 an OFD perhaps", _person(context, provider), "申请人")


def test_a_sign_off_chain_then_the_seal_verifies_with_roles_in_order(
    context: ServiceContext, provider: TestProvider
) -> None:
    """All four allowed (no DocMDP lock in the way), reported in order with their roles."""
    sealed = sign_off_chain(context, provider)
    report = DocumentVerifier(context).check(sealed).report
    assert report.verdict.value == "TOTAL_PASSED", report.to_json()
    roles = [s.person.role if s.person else None for s in report.signatures]
    assert roles == ["经办人", "审核人", "签发人", None]
    kinds = [s.person.certificate if s.person else None for s in report.signatures]
    assert kinds == ["event", "official", "official", None]
    assert [s.person.name for s in report.signatures[:3] if s.person] == ["李*明", "王*", "欧**国"]
    assert all(s.modifications and s.modifications.allowed for s in report.signatures)
    assert report.signatures[3].sentence.startswith("本文件由")
    assert "3 位签名人依次签名（李*明（经办人）、王*（审核人）、欧**国（签发人）" in report.sentence
    assert "1 枚电子印章" in report.sentence, report.sentence
    with context.database.session(read_only=True) as session:
        hashes = [id_number_hash(session, n) for _, _, n, _ in CHAIN]
    assert len(set(hashes)) == 3
    _assert_absent(
        _everything(context, sealed, report.to_json().encode()), *(n for _, _, n, _ in CHAIN)
    )


@pytest.mark.parametrize("hierarchy", ["rsa", "sm2"])
def test_a_b_lta_event_signature_carries_the_personal_cas_revocation_data(
    context: ServiceContext, provider: TestProvider, hierarchy: str
) -> None:
    """B-LTA: the DSS holds what validates the event certificate long after its ten
    minutes — the personal CA's OCSP answer and CRL — under a document time-stamp."""
    result = _sign(context, chinese_pdf(), _person(context, provider), "申请人",
                   level=Level.B_LTA, hierarchy=hierarchy)  # fmt: skip
    reader = PdfFileReader(io.BytesIO(result.document))
    assert [s.sig_object["/Type"] for s in reader.embedded_signatures] == ["/Sig", "/DocTimeStamp"]
    dss = DocumentSecurityStore.read_dss(reader)
    signer = reader.embedded_signatures[0].signer_cert
    (answer,) = [OCSPResponse.load(ref.get_object().data) for ref in dss.ocsps]
    single = answer["response_bytes"]["response"].parsed["tbs_response_data"]["responses"][0]
    assert single["cert_id"]["serial_number"].native == signer.serial_number
    assert single["cert_status"].name == "good"
    crls = [CertificateList.load(ref.get_object().data) for ref in dss.crls]
    issuers = {c["tbs_cert_list"]["issuer"].human_friendly for c in crls}
    assert any("电子签名个人证书签发CA" in issuer for issuer in issuers)
    if hierarchy == "rsa":  # pyHanko cannot check SM2; hard-fail on the DSS alone
        with context.database.session(read_only=True) as session:
            root = context.ca.ca_set(session, "rsa").chain()[1]
        validation = dss.as_validation_context(
            {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "hard-fail"}
        )
        status = validate_pdf_signature(
            reader.embedded_signatures[0], validation, ts_validation_context=validation
        )
        assert status.bottom_line, status.pretty_print_details()
    report = DocumentVerifier(context).check(result.document).report
    assert report.verdict.value == "TOTAL_PASSED", report.to_json()
    assert [s.kind for s in report.signatures] == ["signature", "document_timestamp"]


def test_an_event_signature_stays_valid_after_its_certificate_expired(
    context: ServiceContext, provider: TestProvider
) -> None:
    """The point of B-T for event certificates: a day later the certificate has long
    expired, and the time-stamp proves the signature was made while it was valid."""
    result = _sign(context, chinese_pdf(), _person(context, provider), "申请人")
    signer = PdfFileReader(io.BytesIO(result.document)).embedded_signatures[0].signer_cert
    later = signer.not_valid_after + timedelta(hours=2)
    report = DocumentVerifier(context, clock=lambda: later).check(result.document).report
    assert report.verdict.value == "TOTAL_PASSED", report.to_json()
    (signature,) = report.signatures
    assert signature.best_signature_time is not None
    assert signature.best_signature_time < signer.not_valid_after < later
