"""Independent checks of personal signatures (issue #18 "Must show"): poppler's pdfsig and
pyHanko's validator on the 3-signature + seal approval document (RSA); openssl and gmssl on
an SM2 personal signature's CMS; ofdrw's ofd_check on an official's OFD ``Type="Sign"``;
the ID numbers in none of it."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms, x509
from helpers.idp_fixtures import AUDIENCE, ID_NUMBER, TestProvider
from helpers.licence_ofd_render import template_licence_ofd
from helpers.ofd_check import needs_ofd_check, run_ofd_check
from helpers.pdf_fixtures import chinese_pdf
from helpers.personal_sign_fixtures import CHAIN, sign_off_chain, signature_png
from helpers.pki_fixtures import write_pem
from helpers.sm2_crosscheck import gmssl_sm2_verifies, openssl_sm2_verifies
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from ofd.package import OfdPackage
from ofd.signatures import read_signature, read_signatures
from pki import cms as gbt_cms
from pki.certificates import Profile, load_certificate
from sealsvc import identity, persons
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput
from sealsvc.identity import verify_id_token
from sealsvc.pades import Level, Placement
from sealsvc.personal_signing import sign_as_person
from sealsvc.trust_services import TrustServices

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

ACTOR = "test:person-interop"


@pytest.fixture
def provider(tmp_path: Path) -> TestProvider:
    return TestProvider(tmp_path)


@pytest.fixture
def context(sqlite_seal_context: ServiceContext, provider: TestProvider) -> ServiceContext:
    with sqlite_seal_context.database.session() as session:
        identity.add_provider(
            session, name="ywtb", issuer=provider.issuer, audience=AUDIENCE,
            jwks=str(provider.jwks_file), actor=ACTOR,
        )  # fmt: skip
    return sqlite_seal_context


def _certificates(context: ServiceContext, hierarchy: str) -> dict[str, x509.Certificate]:
    with context.database.session(read_only=True) as session:
        issuing, root = context.ca.ca_set(session, hierarchy).chain()
        person = context.ca.current(session, hierarchy, Profile.PERSON_CA)
        return {"root": root, "issuing": issuing, "person": load_certificate(person.der)}


def _nss_db(context: ServiceContext, directory: Path) -> str:
    """An NSS database trusting the RSA root, knowing both CAs, holding the three CRLs (no
    network here: without CRLs NSS cannot settle revocation)."""
    run = lambda *args: subprocess.run(args, check=True, capture_output=True, timeout=60)  # noqa: E731
    db = f"sql:{directory}"
    run("certutil", "-N", "-d", db, "--empty-password")
    for name, certificate in _certificates(context, "rsa").items():
        trust = "CT,C,C" if name == "root" else ",,"
        run("certutil", "-A", "-d", db, "-n", name, "-t", trust,
            "-i", str(write_pem(directory, f"{name}.pem", certificate)))  # fmt: skip
    trust = TrustServices(context)
    for profile in (Profile.ROOT_CA, Profile.ISSUING_CA, Profile.PERSON_CA):
        path = directory / f"{profile.value}.crl"
        path.write_bytes(trust.latest_crl_der("rsa", profile))
        run("crlutil", "-I", "-d", db, "-t", "1", "-i", str(path))
    return db


def _no_id_numbers(text: str) -> None:
    for _, _, number, _ in CHAIN:
        assert number not in text and number[6:14] not in text


def test_pdfsig_and_pyhanko_accept_the_approval_document(
    context: ServiceContext, provider: TestProvider, tmp_path: Path
) -> None:
    document = sign_off_chain(context, provider)
    path = tmp_path / "approval.pdf"
    path.write_bytes(document)
    nss = tmp_path / "nss"
    nss.mkdir()
    result = subprocess.run(
        ["pdfsig", "-no-ocsp", "-nssdir", _nss_db(context, nss), str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    report = result.stdout + result.stderr
    blocks = re.split(r"^Signature #\d+:", report, flags=re.M)[1:]
    assert len(blocks) == 4, report
    for block in blocks:
        assert "Signature Validation: Signature is Valid." in block, report
    # pdfsig (poppler 22.12) trusts only the first signature of each CA in one run and says
    # "Unknown issue with Certificate" of the next ones — two seals of the same issuing CA
    # fare the same.  So the first personal signature and the seal are checked here, an
    # official's signature alone below, and every person's certificate by NSS itself
    # (vfychain, same database, S/MIME signer usage, CRL required).
    for number in (0, 3):
        assert "Certificate Validation: Certificate is Trusted." in blocks[number], report
    names = [re.search(r"Signer Certificate Common Name: (.*)", b).group(1) for b in blocks]
    assert names[:3] == [name for _, name, _, _ in CHAIN]
    _no_id_numbers(report)
    subject, name, number, role = CHAIN[1]  # an official's signature alone: trusted too
    official = verify_id_token(
        context, provider.token(sub=subject, name=name, id_number=number), actor=ACTOR
    )
    alone = tmp_path / "official.pdf"
    alone.write_bytes(
        sign_as_person(
            context, chinese_pdf(), official, placement=Placement(x_mm=60, y_mm=60),
            level=Level.B_T, role=role, signature_image_png=None, actor=ACTOR,
        ).document
    )  # fmt: skip
    result = subprocess.run(
        ["pdfsig", "-no-ocsp", "-nssdir", f"sql:{nss}", str(alone)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "Certificate Validation: Certificate is Trusted." in result.stdout, result.stdout
    reader = PdfFileReader(io.BytesIO(document))
    for number, signature in enumerate(reader.embedded_signatures[:3]):
        leaf = write_pem(tmp_path, f"signer{number}.pem", signature.signer_cert)
        chain = subprocess.run(
            ["vfychain", "-d", f"sql:{nss}", "-pp", "-u", "4", "-g", "leaf", "-m", "crl",
             "-s", "requireInfo", "-a", str(leaf)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert "Chain is good!" in chain.stdout + chain.stderr, chain.stdout + chain.stderr

    certificates = _certificates(context, "rsa")
    validation = ValidationContext(
        trust_roots=[certificates["root"]],
        other_certs=[certificates["issuing"], certificates["person"]],
        allow_fetching=False,
    )
    roles = []
    for signature in reader.embedded_signatures:
        status = validate_pdf_signature(signature, validation, ts_validation_context=validation)
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
        assert status.modification_level <= ModificationLevel.FORM_FILLING
        assert status.timestamp_validity is not None and status.timestamp_validity.valid
        roles.append(signature.sig_object.get("/Reason"))
    assert roles[:3] == [role for _, _, _, role in CHAIN]


def test_an_sm2_personal_signature_checks_out_with_openssl_and_gmssl(
    context: ServiceContext, provider: TestProvider
) -> None:
    person = verify_id_token(context, provider.token(), actor=ACTOR)
    signed = sign_as_person(
        context, chinese_pdf(), person, placement=Placement(x_mm=60, y_mm=60, size_mm=36),
        level=Level.B_T, role="申请人", signature_image_png=signature_png(), actor=ACTOR,
        hierarchy="sm2",
    ).document  # fmt: skip
    ranges = re.findall(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", signed)
    ((a, b, c, d),) = [tuple(int(v) for v in r) for r in ranges]
    assert a == 0 and c + d == len(signed)
    der = bytes.fromhex(signed[a + b + 1 : c - 1].decode())
    signed_data = cms.ContentInfo.load(der.rstrip(b"\0"))["content"]
    signer_info = signed_data["signer_infos"][0]
    assert signer_info["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    (certificate,) = [
        c.chosen
        for c in signed_data["certificates"]
        if c.chosen.serial_number == signer_info["sid"].chosen["serial_number"].native
    ]
    assert certificate.subject.native["common_name"] == "张三丰"

    digest = subprocess.run(
        ["openssl", "dgst", "-sm3", "-binary"],
        input=signed[a : a + b] + signed[c : c + d], capture_output=True, check=True,
    ).stdout  # fmt: skip
    attrs = {x["type"].native: x["values"][0] for x in signer_info["signed_attrs"]}
    assert attrs["message_digest"].native == digest
    # RFC 5652 §5.4: the signature covers the attributes re-tagged as a SET OF (0x31).
    message = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    signature = signer_info["signature"].native
    public_key = certificate.public_key
    assert openssl_sm2_verifies(public_key, message, signature)
    assert gmssl_sm2_verifies(public_key, message, signature)
    altered = message[:-1] + bytes([message[-1] ^ 1])
    assert not openssl_sm2_verifies(public_key, altered, signature)
    # The time-stamp covers this signature value (SM3 imprint), which keeps the event
    # certificate's signature valid after the certificate's ten minutes.
    token = signer_info["unsigned_attrs"][0]["values"][0]
    tst = token["content"]["encap_content_info"]["content"].parsed
    imprint = subprocess.run(
        ["openssl", "dgst", "-sm3", "-binary"], input=signature, capture_output=True, check=True
    ).stdout
    assert tst["message_imprint"]["hashed_message"].native == imprint


def _enrolled_sm2_official(context: ServiceContext, provider: TestProvider):
    persons.enroll(
        context, provider="ywtb", subject="u-1001", name="张三丰", id_number=ID_NUMBER,
        department="郑州市市场监督管理局", role="签发人", hierarchy="sm2", actor=ACTOR,
    )  # fmt: skip
    return verify_id_token(context, provider.token(), actor=ACTOR)


@needs_ofd_check
def test_an_official_signs_an_ofd_type_sign_that_ofd_check_passes(
    context: ServiceContext, provider: TestProvider, tmp_path: Path
) -> None:
    data, _ = template_licence_ofd("business_licence")
    person = _enrolled_sm2_official(context, provider)
    result = sign_as_person(
        context, data, person, placement=Placement(x_mm=60, y_mm=40, size_mm=30),
        level=Level.B_B, role="签发人", signature_image_png=None, actor=ACTOR,
    )  # fmt: skip
    assert result.format == "ofd" and not result.event
    package = OfdPackage.read(result.document)
    (entry,) = read_signatures(package).entries
    assert entry.type == "Sign"
    signature = read_signature(package, entry)
    value = gbt_cms.Gbt35275ContentInfo.load(package[signature.signed_value_path])
    signer = gbt_cms.verify_signed_data(value, signature.signature_xml)
    assert signer.certificate.serial_number == int(result.certificate_serial)
    assert signer.certificate.subject.native["common_name"] == "张三丰"
    assert ID_NUMBER.encode() not in result.document
    lines = run_ofd_check({"signed": package}, tmp_path)
    assert lines["signed"].startswith("PASS "), lines["signed"]


def test_an_applicant_cannot_sign_an_ofd_without_a_time_stamp(
    context: ServiceContext, provider: TestProvider
) -> None:
    data, _ = template_licence_ofd("business_licence")
    applicant = verify_id_token(context, provider.token(sub="u-9"), actor=ACTOR)
    with pytest.raises(InvalidInput, match="applicant's OFD signature needs level B-T"):
        sign_as_person(
            context, data, applicant, placement=Placement(), level=Level.B_B, role="申请人",
            signature_image_png=None, actor=ACTOR,
        )  # fmt: skip


def test_sealctl_verify_names_the_persons_in_order(
    context: ServiceContext, provider: TestProvider, sealctl, tmp_path: Path
) -> None:
    path = tmp_path / "approval.pdf"
    path.write_bytes(sign_off_chain(context, provider))
    with context.database.session() as session:
        context.ca.export_files(session)
    shown = sealctl("verify", str(path))
    assert shown.exit_code == 0, shown.stdout + shown.stderr
    assert shown.stdout.startswith("TOTAL_PASSED")
    people = re.findall(r"^\s*person\s+(.+?)\s*$", shown.stdout, re.M)
    assert people == [
        "李*明, 经办人 (event certificate)",
        "王*, 审核人 (long-lived certificate)",
        "欧**国, 签发人 (long-lived certificate)",
    ], shown.stdout
    assert re.search(r"^\s*seal\s+.*行政审批专用章", shown.stdout, re.M)
    answer = shown.stdout + shown.stderr + sealctl("verify", "--json", str(path)).stdout
    _no_id_numbers(answer)
    for _, name, _, _ in CHAIN:
        assert name not in answer
