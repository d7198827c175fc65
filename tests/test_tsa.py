"""RFC 3161 TSA and the CMS SignedData builder, cross-checked with OpenSSL and gmssl.

RSA tokens go through the whole ``openssl ts`` round trip (query → our ``respond`` →
``ts -reply -text`` → ``ts -verify`` against the root).  OpenSSL 3.0 cannot verify SM2
CMS (``ts -verify`` and ``cms -verify`` never set the SM2 signer ID), so SM2 tokens are
parsed by ``openssl ts -reply`` and their signature over the signed attributes is checked
with ``openssl pkeyutl … distid:1234567812345678`` and gmssl; the SM3 digests inside are
recomputed with ``openssl dgst -sm3``.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, core, tsp
from helpers.pki_fixtures import Hierarchy, build_hierarchy, write_pem
from helpers.sm2_crosscheck import gmssl_sm2_verifies, openssl_sm2_verifies
from pyhanko.sign.timestamps.common_utils import TimestampRequestError

from pki import algorithms
from pki.certificates import POLICY_TSA, Profile
from pki.cms import build_signed_data, verify_signed_data
from pki.errors import CertificateError, SignatureInvalid
from pki.tsa import TimeStampAuthority, TimeStampRejected, TimeStampResp
from sealsvc.pades import TsaTimeStamper

DATA = "深圳市市场监督管理局 行政许可决定书 2024-001\n".encode()


def openssl(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=check)


def make_tsa(h: Hierarchy, **kwargs: object) -> TimeStampAuthority:
    return TimeStampAuthority(h.tsa, h.tsa_key, [h.issuing], **kwargs)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "data.txt").write_bytes(DATA)
    return tmp_path


def query(workdir: Path, *options: str, name: str = "req.tsq") -> bytes:
    openssl("ts", "-query", "-data", "data.txt", *options, "-out", name, cwd=workdir)
    return (workdir / name).read_bytes()


def response_of(der: bytes) -> TimeStampResp:
    response = TimeStampResp.load(der, strict=True)
    response.native  # noqa: B018
    return response


def token_parts(token: cms.ContentInfo) -> tuple[cms.SignerInfo, tsp.TSTInfo]:
    signed_data = token["content"]
    return signed_data["signer_infos"][0], signed_data["encap_content_info"]["content"].parsed


# --- RSA: the full openssl ts round trip ---------------------------------------------------


def test_rsa_openssl_query_reply_and_verify(workdir: Path) -> None:
    h = build_hierarchy("rsa")
    write_pem(workdir, "root.pem", h.root)
    write_pem(workdir, "issuing.pem", h.issuing)
    request = query(workdir, "-sha256", "-cert")
    (workdir / "resp.tsr").write_bytes(make_tsa(h).respond(request))

    nonce = re.search(
        r"Nonce: (0x[0-9A-F]+)",
        openssl("ts", "-query", "-in", "req.tsq", "-text", cwd=workdir).stdout,
    )[1]
    text = openssl("ts", "-reply", "-in", "resp.tsr", "-text", cwd=workdir).stdout
    assert "Status: Granted." in text
    assert f"Policy OID: {POLICY_TSA}" in text
    assert f"Nonce: {nonce}" in text
    assert "Accuracy: unspecified seconds, 0x01F4 millis, unspecified micros" in text
    assert "Ordering: no" in text
    assert re.search(r"Serial number: 0x[0-9A-F]{20,}", text)
    assert re.search(r"Time stamp: \w+ +\d+ \d\d:\d\d:\d\d(\.\d+)? \d{4} GMT", text)

    def ts_verify(*against: str) -> subprocess.CompletedProcess[str]:
        return openssl(
            "ts",
            "-verify",
            "-in",
            "resp.tsr",
            *against,
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            cwd=workdir,
            check=False,
        )

    for against in (["-queryfile", "req.tsq"], ["-data", "data.txt"]):
        verify = ts_verify(*against)
        assert verify.stdout.strip() == "Verification: OK", verify.stderr

    # The check can fail: other data, or a query with another nonce, is refused.
    (workdir / "other.txt").write_bytes(DATA + b"!")
    query(workdir, "-sha256", "-cert", name="other.tsq")
    for against in (["-data", "other.txt"], ["-queryfile", "other.tsq"]):
        verify = ts_verify(*against)
        assert "Verification: FAILED" in verify.stdout


def test_rsa_token_is_a_plain_cms_signature_for_openssl(workdir: Path) -> None:
    h = build_hierarchy("rsa")
    write_pem(workdir, "root.pem", h.root)
    write_pem(workdir, "issuing.pem", h.issuing)
    token = make_tsa(h).stamp(algorithms.digest("sha512", DATA), "sha512")
    (workdir / "token.der").write_bytes(token.dump())
    result = openssl(
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        "token.der",
        "-CAfile",
        "root.pem",
        "-certfile",
        "issuing.pem",
        "-purpose",
        "timestampsign",
        "-out",
        "tst.der",
        cwd=workdir,
        check=False,
    )
    assert "Verification successful" in result.stderr, result.stderr
    assert tsp.TSTInfo.load((workdir / "tst.der").read_bytes())["message_imprint"][
        "hashed_message"
    ].native == algorithms.digest("sha512", DATA)


# --- SM2: openssl parses, pkeyutl + gmssl check the signature ------------------------------


def test_sm2_token_cross_checked(workdir: Path) -> None:
    h = build_hierarchy("sm2")
    request = query(workdir, "-sm3", "-cert")
    (workdir / "resp.tsr").write_bytes(make_tsa(h).respond(request))

    text = openssl("ts", "-reply", "-in", "resp.tsr", "-text", cwd=workdir).stdout
    assert "Status: Granted." in text
    assert "Hash Algorithm: sm3" in text
    request_nonce = tsp.TimeStampReq.load(request)["nonce"].native
    # openssl pads the hex to whole bytes (0x07AB…), so compare numbers, not text.
    assert int(re.search(r"Nonce: 0x([0-9A-F]+)", text)[1], 16) == request_nonce

    token = response_of((workdir / "resp.tsr").read_bytes())["time_stamp_token"]
    signer_info, tst_info = token_parts(token)
    assert signer_info["digest_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.401"
    assert signer_info["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"

    signed = signer_info["signed_attrs"].untag().dump()  # RFC 5652 §5.4: the SET OF
    assert signed[0] == 0x31
    signature = signer_info["signature"].native
    assert openssl_sm2_verifies(h.tsa.public_key, signed, signature)
    assert gmssl_sm2_verifies(h.tsa.public_key, signed, signature)
    assert not openssl_sm2_verifies(h.tsa.public_key, signed + b"\x00", signature)

    # SM3 digests recomputed by openssl: message-digest over TSTInfo, ESSCertIDv2 over the cert.
    (workdir / "tst.der").write_bytes(tst_info.dump())
    (workdir / "tsa.der").write_bytes(h.tsa.dump())
    attrs = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    for path, expected in (
        ("tst.der", attrs["message_digest"].native),
        ("tsa.der", attrs["signing_certificate_v2"]["certs"][0]["cert_hash"].native),
    ):
        dgst = openssl("dgst", "-sm3", "-r", path, cwd=workdir).stdout.split()[0]
        assert bytes.fromhex(dgst) == expected
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert ess["hash_algorithm"]["algorithm"].native == "sm3"

    identity = verify_signed_data(token)
    assert identity.certificate.dump() == h.tsa.dump()
    assert identity.content_type == "tst_info"


# --- token content --------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_token_fields_and_signed_attributes(family: str) -> None:
    h = build_hierarchy(family)
    moment = h.valid_at.replace(microsecond=123456)
    tsa = make_tsa(h, clock=lambda: moment)
    imprint = algorithms.digest("sha256", DATA)
    token = tsa.stamp(imprint, "sha256", nonce=2**100 + 7)
    signer_info, tst = token_parts(token)
    assert token["content"]["version"].native == "v3"
    assert tst["version"].native == "v1"
    assert tst["policy"].dotted == POLICY_TSA
    assert tst["message_imprint"]["hashed_message"].native == imprint
    assert tst["gen_time"].native == moment.replace(microsecond=123000)
    assert tst["gen_time"].contents.endswith(b".123Z")
    assert tst["accuracy"].native == {"seconds": None, "millis": 500, "micros": None}
    assert tst["nonce"].native == 2**100 + 7
    assert tst["ordering"].native is False
    assert tst["tsa"].name == "directory_name"
    assert tst["tsa"].chosen.native == h.tsa.subject.native
    assert 0 < tst["serial_number"].native < 2**127

    attrs = {a["type"].native: a["values"] for a in signer_info["signed_attrs"]}
    assert set(attrs) == {
        "content_type",
        "message_digest",
        "signing_time",
        "signing_certificate_v2",
    }
    assert attrs["content_type"][0].native == "tst_info"
    assert attrs["signing_time"][0].native == moment.replace(microsecond=0)
    ess = attrs["signing_certificate_v2"][0]["certs"][0]
    expected_hash = "sm3" if family == "sm2" else "sha256"
    assert ess["hash_algorithm"]["algorithm"].native == expected_hash
    assert ess["cert_hash"].native == algorithms.digest(expected_hash, h.tsa.dump())
    assert ess["issuer_serial"]["serial_number"].native == h.tsa.serial_number
    certs = [c.chosen.dump() for c in token["content"]["certificates"]]
    assert sorted(certs) == sorted([h.tsa.dump(), h.issuing.dump()])  # a DER SET OF
    assert verify_signed_data(token).signing_time == moment.replace(microsecond=0)


def test_accuracy_of_a_second_or_more_gives_whole_seconds() -> None:
    h = build_hierarchy("rsa")
    moment = h.valid_at.replace(microsecond=987654)
    token = make_tsa(h, accuracy_ms=1500, clock=lambda: moment).stamp(bytes(32), "sha256")
    tst = token_parts(token)[1]
    assert tst["accuracy"].native == {"seconds": 1, "millis": 500, "micros": None}
    assert tst["gen_time"].contents == moment.strftime("%Y%m%d%H%M%SZ").encode()


def test_serials_unique_and_from_the_serial_source() -> None:
    h = build_hierarchy("rsa")
    tsa = make_tsa(h)
    serials = {
        token_parts(tsa.stamp(bytes(32), "sha256"))[1]["serial_number"].native for _ in range(200)
    }
    assert len(serials) == 200
    counter = iter(range(1000, 2000))
    tsa = make_tsa(h, serial_source=lambda: next(counter))
    assert [
        token_parts(tsa.stamp(bytes(32), "sha256"))[1]["serial_number"].native for _ in range(3)
    ] == [1000, 1001, 1002]


def test_without_cert_req_no_certificates_are_embedded() -> None:
    h = build_hierarchy("sm2")
    token = make_tsa(h).stamp(algorithms.digest("sm3", DATA), "sm3", cert_req=False)
    assert not token["content"]["certificates"]
    with pytest.raises(SignatureInvalid, match="certificate is not in"):
        verify_signed_data(token)
    assert verify_signed_data(token, extra_certificates=[h.tsa]).scheme.value == "sm2_sm3"


def test_clock_moves_the_time() -> None:
    h = build_hierarchy("rsa")
    now = [h.valid_at]
    tsa = make_tsa(h, clock=lambda: now[0])
    first = token_parts(tsa.stamp(bytes(32), "sha256"))[1]["gen_time"].native
    now[0] += timedelta(minutes=5)
    second = token_parts(tsa.stamp(bytes(32), "sha256"))[1]["gen_time"].native
    assert second - first == timedelta(minutes=5)


# --- bad input: rejection responses, never exceptions ---------------------------------------


def assert_rejected(der: bytes, failure: str) -> None:
    status = response_of(der)["status"]
    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {failure}
    assert isinstance(response_of(der)["time_stamp_token"], core.Void)


def valid_request(**changes: object) -> tsp.TimeStampReq:
    fields = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": bytes(32)},
        "cert_req": True,
    }
    fields.update(changes)
    return tsp.TimeStampReq(fields)


@pytest.mark.parametrize(
    "request_der",
    [
        b"",
        b"garbage",
        b"\x30\x80",
        valid_request().dump()[:-3],
        valid_request().dump() + b"\x00",
        valid_request(version="v2").dump(),
    ],
    ids=["empty", "garbage", "indefinite", "truncated", "trailing-byte", "version-2"],
)
def test_malformed_requests_are_bad_data_format(request_der: bytes) -> None:
    assert_rejected(make_tsa(build_hierarchy("rsa")).respond(request_der), "bad_data_format")


def test_rejections_readable_by_openssl(workdir: Path) -> None:
    tsa = make_tsa(build_hierarchy("rsa"))
    (workdir / "sha1.tsr").write_bytes(tsa.respond(query(workdir, "-sha1", name="sha1.tsq")))
    assert_rejected((workdir / "sha1.tsr").read_bytes(), "bad_alg")
    text = openssl("ts", "-reply", "-in", "sha1.tsr", "-text", cwd=workdir).stdout
    assert "Status: Rejected." in text
    assert "unrecognized or unsupported algorithm identifier" in text

    policy_req = query(workdir, "-sha256", "-tspolicy", "1.2.3.4", name="pol.tsq")
    assert_rejected(tsa.respond(policy_req), "unaccepted_policy")


def test_other_bad_requests() -> None:
    tsa = make_tsa(build_hierarchy("rsa"))
    short = {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": bytes(20)}
    assert_rejected(tsa.respond(valid_request(message_imprint=short).dump()), "bad_data_format")
    md5 = {"hash_algorithm": {"algorithm": "md5"}, "hashed_message": bytes(16)}
    assert_rejected(tsa.respond(valid_request(message_imprint=md5).dump()), "bad_alg")
    extension = [{"extn_id": "1.2.3.4", "critical": False, "extn_value": b"\x05\x00"}]
    assert_rejected(
        tsa.respond(valid_request(extensions=extension).dump()), "unaccepted_extensions"
    )
    ours = tsa.respond(valid_request(req_policy=POLICY_TSA).dump())
    assert response_of(ours)["status"]["status"].native == "granted"
    with pytest.raises(TimeStampRejected) as caught:
        tsa.stamp(bytes(20), "sha1")
    assert caught.value.failure_info == "bad_alg"


def test_expired_tsa_certificate_is_a_system_failure() -> None:
    h = build_hierarchy("rsa")
    tsa = make_tsa(h, clock=lambda: datetime(2099, 1, 1, tzinfo=UTC))
    assert_rejected(tsa.respond(valid_request().dump()), "system_failure")


def test_only_a_tsa_certificate_with_its_key_can_stamp() -> None:
    h = build_hierarchy("rsa")
    with pytest.raises(CertificateError, match="timeStamping"):
        TimeStampAuthority(h.seal, h.seal_key)
    with pytest.raises(CertificateError, match="does not match"):
        TimeStampAuthority(h.tsa, h.seal_key)
    assert "key" not in repr(make_tsa(h)).lower()


# --- pki.cms on its own: detached content, tampering ------------------------------------


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_detached_signed_data_round_trip(family: str) -> None:
    h = build_hierarchy(family)
    digest_name = "sm3" if family == "sm2" else "sha256"
    signed = build_signed_data(
        "data",
        None,
        h.seal_key,
        h.seal,
        [h.seal, h.issuing],
        content_digest=algorithms.digest(digest_name, DATA),
        signing_time=h.valid_at,
    )
    identity = verify_signed_data(signed, detached_content=DATA)
    assert identity.certificate.dump() == h.seal.dump()
    assert identity.digest_algorithm == digest_name
    assert identity.content == DATA
    with pytest.raises(SignatureInvalid, match="does not match the signed message digest"):
        verify_signed_data(signed, detached_content=DATA + b" ")
    with pytest.raises(SignatureInvalid, match="content was not given"):
        verify_signed_data(signed)


def test_rsa_detached_signature_verifies_in_openssl(workdir: Path) -> None:
    h = build_hierarchy("rsa")
    write_pem(workdir, "root.pem", h.root)
    signed = build_signed_data(
        "data",
        None,
        h.seal_key,
        h.seal,
        [h.seal, h.issuing],
        content_digest=algorithms.digest("sha256", DATA),
    )
    (workdir / "sig.der").write_bytes(signed.dump())
    result = openssl(
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "sig.der",
        "-content",
        "data.txt",
        "-CAfile",
        "root.pem",
        "-purpose",
        "any",
        "-out",
        "/dev/null",
        cwd=workdir,
        check=False,
    )
    assert "Verification successful" in result.stderr, result.stderr


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_tampered_tokens_are_refused(family: str) -> None:
    h = build_hierarchy(family)
    token = make_tsa(h).stamp(bytes(32), "sha256", nonce=1)

    forged = token.copy()
    tst = forged["content"]["encap_content_info"]["content"].parsed
    tst["nonce"] = 2
    forged["content"]["encap_content_info"]["content"] = core.ParsableOctetString(tst.dump())
    with pytest.raises(SignatureInvalid, match="message digest"):
        verify_signed_data(cms.ContentInfo.load(forged.dump()))

    resigned = token.copy()
    signer_info = resigned["content"]["signer_infos"][0]
    signature = bytearray(signer_info["signature"].native)
    signature[-3] ^= 1
    signer_info["signature"] = bytes(signature)
    with pytest.raises(SignatureInvalid):
        verify_signed_data(cms.ContentInfo.load(resigned.dump()))

    # Point the SignerInfo at another certificate of the same CA: the ESS binding objects.
    other = h.ocsp
    swapped = token.copy()
    swapped["content"]["signer_infos"][0]["sid"] = cms.SignerIdentifier(
        name="issuer_and_serial_number",
        value={"issuer": other.issuer, "serial_number": other.serial_number},
    )
    with pytest.raises(SignatureInvalid, match="ESS signing-certificate"):
        verify_signed_data(cms.ContentInfo.load(swapped.dump()), extra_certificates=[other])

    with pytest.raises(SignatureInvalid, match="does not hold a SignedData"):
        verify_signed_data(cms.ContentInfo({"content_type": "data", "content": b"x"}))


def test_profile_of_the_fixture_tsa_is_what_the_tsa_requires() -> None:
    h = build_hierarchy("sm2")
    assert h.tsa.extended_key_usage_value.native == ["time_stamping"]
    assert Profile.TSA.value == "tsa"


# --- cached parts and the in-process client --------------------------------------------------


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_tokens_share_no_mutable_parts(family: str) -> None:
    """Per-signer parts are cached; changing one token must not leak into the next."""
    h = build_hierarchy(family)
    tsa = make_tsa(h)
    digest = "sm3" if family == "sm2" else "sha256"
    first = tsa.stamp(bytes(32), digest)
    signer_info = first["content"]["signer_infos"][0]
    signer_info["sid"].chosen["serial_number"] = 1
    first["content"]["certificates"][0].chosen["tbs_certificate"]["serial_number"] = 2
    second = tsa.stamp(bytes(32), digest)
    assert verify_signed_data(second).certificate.dump() == h.tsa.dump()
    embedded = {choice.chosen.dump() for choice in second["content"]["certificates"]}
    assert embedded == {h.tsa.dump(), h.issuing.dump()}


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_shared_constants_serve_each_signed_data_its_own_fields(family: str) -> None:
    """Versions, content types and the tagged certificate sets are parsed once and shared
    by every SignedData; alternating kinds of structure must not leak into one another."""
    h = build_hierarchy(family)
    tsa = make_tsa(h)
    digest = "sm3" if family == "sm2" else "sha256"

    def shape(token: cms.ContentInfo) -> tuple[str, str, list[bytes]]:
        signed_data = token["content"]
        certificates = [c.chosen.dump() for c in signed_data["certificates"] or []]
        content_type = signed_data["encap_content_info"]["content_type"].native
        return signed_data["version"].native, content_type, sorted(certificates)

    tsa_certs = sorted([h.tsa.dump(), h.issuing.dump()])
    detached = build_signed_data(
        "data", None, h.seal_key, h.seal, [h.seal], content_digest=algorithms.digest(digest, DATA)
    )
    tokens = [
        tsa.stamp(bytes(32), digest),
        tsa.stamp(bytes(32), digest, cert_req=False),
        detached,
        tsa.stamp(bytes(32), digest),
    ]
    assert [shape(t) for t in tokens] == [
        ("v3", "tst_info", tsa_certs),
        ("v3", "tst_info", []),
        ("v1", "data", [h.seal.dump()]),
        ("v3", "tst_info", tsa_certs),
    ]
    for token in (*tokens[:2], tokens[3]):
        assert verify_signed_data(token, extra_certificates=[h.tsa]).content_type == "tst_info"
    assert verify_signed_data(detached, detached_content=DATA).content_type == "data"


def _timestamper(h: Hierarchy, tamper: object = None) -> TsaTimeStamper:
    tsa = make_tsa(h)

    def respond(request_der: bytes) -> bytes:
        request = tsp.TimeStampReq.load(request_der)
        if tamper == "nonce":
            request["nonce"] = request["nonce"].native + 1
        elif tamper == "imprint":
            request["message_imprint"]["hashed_message"] = bytes(32)
        return tsa.respond(request.dump())

    return TsaTimeStamper(respond)


def test_in_process_timestamper_checks_nonce_and_imprint() -> None:
    h = build_hierarchy("rsa")
    digest = algorithms.digest("sha256", DATA)
    token = asyncio.run(_timestamper(h).async_timestamp(digest, "sha256"))
    tst_info = token_parts(token)[1]
    assert tst_info["message_imprint"]["hashed_message"].native == digest
    assert verify_signed_data(token).content_type == "tst_info"
    with pytest.raises(TimestampRequestError, match="nonce"):
        asyncio.run(_timestamper(h, "nonce").async_timestamp(digest, "sha256"))
    with pytest.raises(TimestampRequestError, match="imprint"):
        asyncio.run(_timestamper(h, "imprint").async_timestamp(digest, "sha256"))


@pytest.mark.parametrize("md", ["sha256", "sm3"])
def test_in_process_request_is_what_pyhanko_would_send(md: str) -> None:
    """The cached-parts request encodes exactly like pyHanko's own (same nonce)."""
    h = build_hierarchy("sm2")
    ours = _timestamper(h)
    nonce, request = ours.request_cms(bytes(32), md)
    ours.include_nonce = False
    _, reference = super(TsaTimeStamper, ours).request_cms(bytes(32), md)
    ours.include_nonce = True
    reference["nonce"] = nonce
    assert request.dump() == reference.dump()


def test_dummy_token_is_shared_by_time_stampers_of_one_tsa() -> None:
    h = build_hierarchy("rsa")
    calls: list[bytes] = []
    tsa = make_tsa(h)

    def respond(request_der: bytes) -> bytes:
        calls.append(request_der)
        return tsa.respond(request_der)

    first = asyncio.run(TsaTimeStamper(respond).async_dummy_response("sha256"))
    second = asyncio.run(TsaTimeStamper(respond).async_dummy_response("sha256"))
    assert len(calls) == 1
    assert first.dump() == second.dump()
    other = asyncio.run(TsaTimeStamper(make_tsa(h).respond).async_dummy_response("sha256"))
    assert other.dump() != first.dump()  # another TSA instance gets its own token


def test_time_stampers_made_per_seal_share_the_dummy_token() -> None:
    """``Sealer`` makes a time-stamper per seal from ``authority.respond``: each lookup is a
    new bound-method object, and it must still find the token the first one cached."""
    tsa = make_tsa(build_hierarchy("rsa"))
    first = asyncio.run(TsaTimeStamper(tsa.respond).async_dummy_response("sha256"))
    second = asyncio.run(TsaTimeStamper(tsa.respond).async_dummy_response("sha256"))
    assert second is first
