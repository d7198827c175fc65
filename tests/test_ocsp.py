"""RFC 6960 OCSP responder and client, cross-checked with ``openssl ocsp`` and gmssl.

RSA: requests come from ``openssl ocsp -reqout``; openssl verifies our responses against the
root (``Response verify OK``), checks the nonce (``-reqin``) and prints the statuses.
SM2: OpenSSL 3.0 cannot verify SM2 OCSP signatures (no signer ID), so it only parses the
response (``-noverify``); the signature over tbsResponseData is checked with ``openssl
pkeyutl … distid:1234567812345678`` and gmssl, and by :func:`pki.ocsp.parse_response`.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import ocsp, x509
from helpers.pki_fixtures import Hierarchy, build_hierarchy, issue_leaf, write_pem
from helpers.sm2_crosscheck import gmssl_sm2_verifies, openssl_sm2_verifies

from pki.certificates import Profile
from pki.errors import CertificateError, SignatureInvalid
from pki.ocsp import (
    CertStatus,
    OcspError,
    OcspResponder,
    build_request,
    parse_response,
)

REVOKED_AT = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)


class Registry:
    """A stand-in for the seal registry: serial → live status, changeable between calls."""

    def __init__(self) -> None:
        self.statuses: dict[int, CertStatus] = {}

    def __call__(self, serial: int) -> CertStatus:
        return self.statuses.get(serial, CertStatus("unknown"))


@functools.cache
def extra_leaves(family: str) -> tuple[x509.Certificate, ...]:
    """Three more seal certificates of the family's CA (cached: key generation is slow)."""
    h = build_hierarchy(family)
    names = ("作废专用章", "暂停专用章", "未登记专用章")
    return tuple(issue_leaf(h, common_name=f"深圳市市场监督管理局{n}")[0] for n in names)


class Setup:
    def __init__(self, family: str, directory: Path) -> None:
        h: Hierarchy = build_hierarchy(family)
        self.h = h
        self.dir = directory
        self.revoked, self.held, self.unknown = extra_leaves(family)
        self.registry = Registry()
        self.registry.statuses = {
            h.seal.serial_number: CertStatus("good"),
            self.revoked.serial_number: CertStatus("revoked", REVOKED_AT, "key_compromise"),
            self.held.serial_number: CertStatus("revoked", REVOKED_AT, "certificate_hold"),
        }
        self.responder = OcspResponder(h.ocsp, h.ocsp_key, h.issuing, self.registry)
        write_pem(directory, "root.pem", h.root)
        write_pem(directory, "issuing.pem", h.issuing)
        for name, cert in (
            ("seal", h.seal),
            ("revoked", self.revoked),
            ("held", self.held),
            ("unknown", self.unknown),
        ):
            write_pem(directory, f"{name}.pem", cert)

    def openssl(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["openssl", "ocsp", *args], cwd=self.dir, capture_output=True, text=True, check=check
        )

    def exchange(self, name: str, *request_options: str, issuer: str = "issuing.pem") -> None:
        """openssl writes ``name.req``; our responder answers into ``name.resp``."""
        self.openssl(
            *request_options,  # before -cert: openssl's -sha256 applies to later -cert
            "-issuer",
            issuer,
            "-cert",
            f"{name}.pem",
            "-reqout",
            f"{name}.req",
            check=True,
        )
        request = (self.dir / f"{name}.req").read_bytes()
        (self.dir / f"{name}.resp").write_bytes(self.responder.respond(request))

    def verify_with_openssl(
        self, name: str, *options: str, response: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """openssl checks ``response`` (default ``name``)``.resp`` against ``name.req``.

        The answer is verified up to ``root.pem`` for certificates of ``issuing.pem``.
        """
        return self.openssl(
            "-reqin",
            f"{name}.req",
            "-respin",
            f"{response or name}.resp",
            "-issuer",
            "issuing.pem",
            "-CAfile",
            "root.pem",
            *options,
        )

    def response(self, name: str) -> bytes:
        return (self.dir / f"{name}.resp").read_bytes()


@pytest.fixture
def rsa(tmp_path: Path) -> Setup:
    return Setup("rsa", tmp_path)


@pytest.fixture
def sm2(tmp_path: Path) -> Setup:
    return Setup("sm2", tmp_path)


# --- RSA against openssl -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("seal", ["Cert Status: good"]),
        (
            "revoked",
            [
                "Cert Status: revoked",
                "Revocation Time: Mar  1 08:30:00 2025 GMT",
                "Revocation Reason: keyCompromise (0x1)",
            ],
        ),
        ("held", ["Cert Status: revoked", "Revocation Reason: certificateHold (0x6)"]),
        ("unknown", ["Cert Status: unknown"]),
    ],
)
def test_openssl_verifies_and_reads_each_status(rsa: Setup, name: str, expected: list[str]) -> None:
    rsa.exchange(name)
    # -reqin: openssl checks the response against *this* request, nonce included.
    result = rsa.verify_with_openssl(name, "-resp_text")
    assert "Response verify OK" in result.stderr, result.stderr
    assert "Nonce Verify error" not in result.stdout + result.stderr
    for line in expected:
        assert line in result.stdout
    assert "OCSP Nonce" in result.stdout
    assert "Responder Id: " in result.stdout


def test_openssl_status_line_per_certificate(rsa: Setup) -> None:
    rsa.exchange("revoked", "-no_nonce")
    result = rsa.openssl(
        "-respin",
        "revoked.resp",
        "-issuer",
        "issuing.pem",
        "-cert",
        "revoked.pem",
        "-CAfile",
        "root.pem",
        "-no_nonce",
    )
    assert "Response verify OK" in result.stderr, result.stderr
    assert "revoked.pem: revoked" in result.stdout
    assert "Reason: keyCompromise" in result.stdout


def test_openssl_notices_a_foreign_nonce(rsa: Setup) -> None:
    rsa.exchange("seal")
    rsa.exchange("held")
    result = rsa.verify_with_openssl("held", response="seal")
    assert "Nonce Verify error" in result.stdout + result.stderr


def test_openssl_sha256_cert_id(rsa: Setup) -> None:
    rsa.exchange("seal", "-sha256")
    result = rsa.verify_with_openssl("seal", "-resp_text")
    assert "Response verify OK" in result.stderr
    assert "Hash Algorithm: sha256" in result.stdout
    assert "Cert Status: good" in result.stdout


def test_other_issuer_is_unknown(rsa: Setup) -> None:
    write_pem(rsa.dir, "ca.pem", rsa.h.issuing)
    rsa.exchange("ca", issuer="root.pem")  # CertID names the root, we answer for the issuing CA
    result = rsa.openssl("-reqin", "ca.req", "-respin", "ca.resp", "-resp_text", "-noverify")
    assert "Cert Status: unknown" in result.stdout
    # Our signer speaks for the issuing CA only, and both openssl and we refuse it for the root.
    result = rsa.openssl(
        "-reqin",
        "ca.req",
        "-respin",
        "ca.resp",
        "-issuer",
        "root.pem",
        "-verify_other",
        "issuing.pem",
        "-CAfile",
        "root.pem",
    )
    assert "Response Verify Failure" in result.stderr
    with pytest.raises(SignatureInvalid, match="not authorised"):
        parse_response(rsa.response("ca"), rsa.h.root)
    answers = parse_response(rsa.response("ca"), rsa.h.issuing)
    assert answers == []  # the single answer is about the root's certificates, not ours


def test_ca_signed_responses_carry_no_certificate(rsa: Setup) -> None:
    rsa.responder = OcspResponder(rsa.h.issuing, rsa.h.issuing_key, rsa.h.issuing, rsa.registry)
    rsa.exchange("seal")
    basic = ocsp.OCSPResponse.load(rsa.response("seal")).basic_ocsp_response
    assert not basic["certs"]
    result = rsa.verify_with_openssl("seal", "-resp_text")
    assert "Response verify OK" in result.stderr, result.stderr
    assert "Cert Status: good" in result.stdout


@pytest.mark.parametrize(
    "request_der",
    [
        b"",
        b"garbage",
        b"\x30\x03\x30\x01",
        b"\x30\x80\x00\x00",
        ocsp.OCSPRequest({"tbs_request": {"request_list": []}}).dump(),
    ],
    ids=["empty", "garbage", "bad-structure", "indefinite", "no-requests"],
)
def test_malformed_requests(rsa: Setup, request_der: bytes) -> None:
    response = rsa.responder.respond(request_der)
    assert ocsp.OCSPResponse.load(response)["response_status"].native == "malformed_request"
    (rsa.dir / "bad.resp").write_bytes(response)
    result = rsa.openssl("-respin", "bad.resp", "-resp_text")
    assert "Responder Error: malformedrequest (1)" in result.stdout


@pytest.mark.parametrize(
    "damage",
    [lambda r: r[:-1], lambda r: r[: len(r) // 2], lambda r: r + b"\x00"],
    ids=["last-byte-cut", "cut-in-half", "byte-appended"],
)
def test_truncated_openssl_request_is_malformed(
    rsa: Setup, damage: Callable[[bytes], bytes]
) -> None:
    rsa.exchange("seal")
    request = damage((rsa.dir / "seal.req").read_bytes())
    status = ocsp.OCSPResponse.load(rsa.responder.respond(request))["response_status"]
    assert status.native == "malformed_request"


# --- live status, clock, failures ------------------------------------------------------------


def test_status_is_read_live_hold_and_release(rsa: Setup) -> None:
    request = build_request(rsa.h.seal, rsa.h.issuing)

    def status() -> str:
        answer = parse_response(rsa.responder.respond(request), rsa.h.issuing, request_der=request)
        return answer[0].status, answer[0].reason

    assert status() == ("good", None)
    rsa.registry.statuses[rsa.h.seal.serial_number] = CertStatus(
        "revoked", REVOKED_AT, "certificate_hold"
    )
    assert status() == ("revoked", "certificate_hold")
    rsa.registry.statuses[rsa.h.seal.serial_number] = CertStatus("good")
    assert status() == ("good", None)


def test_clock_and_validity_window(rsa: Setup) -> None:
    moment = rsa.h.valid_at.replace(microsecond=654321)
    responder = OcspResponder(
        rsa.h.ocsp,
        rsa.h.ocsp_key,
        rsa.h.issuing,
        rsa.registry,
        clock=lambda: moment,
        validity=timedelta(minutes=30),
    )
    [answer] = parse_response(
        responder.respond(build_request(rsa.h.seal, rsa.h.issuing)), rsa.h.issuing
    )
    assert answer.this_update == answer.produced_at == moment.replace(microsecond=0)
    assert answer.next_update - answer.this_update == timedelta(minutes=30)
    assert answer.serial_number == rsa.h.seal.serial_number


def test_lookup_failure_is_internal_error(rsa: Setup) -> None:
    def broken(serial: int) -> CertStatus:
        raise ConnectionError("database is down")

    responder = OcspResponder(rsa.h.ocsp, rsa.h.ocsp_key, rsa.h.issuing, broken)
    response = ocsp.OCSPResponse.load(responder.respond(build_request(rsa.h.seal, rsa.h.issuing)))
    assert response["response_status"].native == "internal_error"
    with pytest.raises(OcspError, match="internal_error"):
        parse_response(response.dump(), rsa.h.issuing)


def test_only_an_authorised_responder_can_be_set_up() -> None:
    h = build_hierarchy("rsa")
    with pytest.raises(CertificateError, match="OCSPSigning"):
        OcspResponder(h.seal, h.seal_key, h.issuing, lambda s: CertStatus("good"))
    with pytest.raises(CertificateError, match="OCSPSigning"):
        OcspResponder(h.ocsp, h.ocsp_key, h.root, lambda s: CertStatus("good"))  # not its issuer
    with pytest.raises(CertificateError, match="does not match"):
        OcspResponder(h.ocsp, h.seal_key, h.issuing, lambda s: CertStatus("good"))


def test_cert_status_is_validated() -> None:
    with pytest.raises(ValueError, match="revoked_at"):
        CertStatus("revoked")
    with pytest.raises(ValueError, match="revoked_at"):
        CertStatus("good", REVOKED_AT)
    with pytest.raises(ValueError, match="reason"):
        CertStatus("revoked", REVOKED_AT, "because")
    with pytest.raises(ValueError, match="status"):
        CertStatus("suspended")


# --- parse_response: signature, authority, nonce ---------------------------------------------


def test_parse_response_refuses_forgeries(rsa: Setup) -> None:
    h = rsa.h
    request = build_request(h.seal, h.issuing, hash_algo="sha256")
    good = rsa.responder.respond(request)
    assert parse_response(good, h.issuing, request_der=request)[0].status == "good"

    response = ocsp.OCSPResponse.load(good)
    basic = response.basic_ocsp_response
    signature = bytearray(basic["signature"].native)
    signature[10] ^= 1
    basic["signature"] = bytes(signature)
    tampered = ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    ).dump()
    with pytest.raises(SignatureInvalid):
        parse_response(tampered, h.issuing)

    with pytest.raises(OcspError, match="nonce"):
        parse_response(good, h.issuing, request_der=build_request(h.seal, h.issuing))
    # The issuing CA's responder has no authority over the root's certificates.
    with pytest.raises(SignatureInvalid, match="not authorised"):
        parse_response(good, h.root)
    # ... unless the relying party trusts that responder explicitly (RFC 6960 §4.2.2.2).
    assert parse_response(good, h.issuing, responder_trust=[h.ocsp])
    with pytest.raises(OcspError, match="not an OCSP response"):
        parse_response(b"\x30\x00", h.issuing)
    with pytest.raises(CertificateError):
        build_request(h.seal, h.root)


def test_several_certificates_in_one_request(rsa: Setup) -> None:
    rsa.openssl(
        "-issuer",
        "issuing.pem",
        "-cert",
        "seal.pem",
        "-cert",
        "revoked.pem",
        "-cert",
        "unknown.pem",
        "-reqout",
        "multi.req",
        check=True,
    )
    response = rsa.responder.respond((rsa.dir / "multi.req").read_bytes())
    answers = parse_response(
        response, rsa.h.issuing, request_der=(rsa.dir / "multi.req").read_bytes()
    )
    by_serial = {a.serial_number: a.status for a in answers}
    assert by_serial == {
        rsa.h.seal.serial_number: "good",
        rsa.revoked.serial_number: "revoked",
        rsa.unknown.serial_number: "unknown",
    }


# --- SM2 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("hash_algo", ["sha1", "sha256", "sm3"])
def test_sm2_round_trip(sm2: Setup, hash_algo: str) -> None:
    request = build_request(sm2.held, sm2.h.issuing, hash_algo=hash_algo)
    response = sm2.responder.respond(request)
    [answer] = parse_response(response, sm2.h.issuing, request_der=request)
    assert (answer.status, answer.reason, answer.revoked_at) == (
        "revoked",
        "certificate_hold",
        REVOKED_AT,
    )
    basic = ocsp.OCSPResponse.load(response).basic_ocsp_response
    assert basic["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"


def test_sm2_response_cross_checked(sm2: Setup) -> None:
    sm2.exchange("revoked")
    result = sm2.openssl(
        "-reqin", "revoked.req", "-respin", "revoked.resp", "-resp_text", "-noverify"
    )
    assert "Cert Status: revoked" in result.stdout
    assert "Revocation Reason: keyCompromise (0x1)" in result.stdout
    assert "OCSP Nonce" in result.stdout

    basic = ocsp.OCSPResponse.load(sm2.response("revoked")).basic_ocsp_response
    tbs = basic["tbs_response_data"].dump()
    signature = basic["signature"].native
    signer = sm2.h.ocsp.public_key
    assert openssl_sm2_verifies(signer, tbs, signature)
    assert gmssl_sm2_verifies(signer, tbs, signature)
    assert not openssl_sm2_verifies(sm2.h.issuing.public_key, tbs, signature)

    answers = parse_response(
        sm2.response("revoked"), sm2.h.issuing, request_der=(sm2.dir / "revoked.req").read_bytes()
    )
    assert [(a.serial_number, a.status) for a in answers] == [
        (sm2.revoked.serial_number, "revoked")
    ]


def test_fixture_ocsp_profile_has_nocheck() -> None:
    h = build_hierarchy("sm2")
    assert h.ocsp.ocsp_no_check_value is not None
    assert Profile.OCSP.value == "ocsp"
