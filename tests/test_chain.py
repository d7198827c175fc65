"""pki.chain.validate_path against real hierarchies, cross-checked with openssl and gmssl.

For RSA, ``openssl verify`` sees the whole chain at once and must agree with us on every
case.  OpenSSL 3.0 applies ``-vfyopt distid:…`` only to the certificate being verified, so
SM2 chains are checked by openssl link by link (``-partial_chain`` with the issuer as the
only trusted certificate), and every SM2 signature is also checked by gmssl.
"""

from __future__ import annotations

import hashlib
import inspect
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import ocsp, x509
from helpers.pki_fixtures import (
    SM2_DISTID,
    Hierarchy,
    build_hierarchy,
    empty_crls,
    flip_last_byte_of,
    gmssl_verify,
    issue_leaf,
    openssl,
    resign,
    write_pem,
)
from pyhanko_certvalidator.revinfo import validate_ocsp

from pki import algorithms, chain, sm2
from pki.certificates import PROFILES, Profile, ProfileSpec, build_name, issue_certificate
from pki.chain import ChainError, ChainFailure, RevocationJudge, ValidatedPath, validate_path
from pki.ocsp import CertStatus, OcspResponder, build_batch_request, build_request

SEAL_USAGE = ("digital_signature", "non_repudiation")


def _validate(h: Hierarchy, leaf: x509.Certificate, at: datetime | None = None, **kw: object):
    return validate_path(leaf, [h.issuing], [h.root], at or h.valid_at, **kw)


def _reason(h: Hierarchy, leaf: x509.Certificate, *extra: x509.Certificate, at=None):
    try:
        validate_path(leaf, [h.issuing, *extra], [h.root], at or h.valid_at)
    except ChainError as exc:
        return exc.reason
    return None


def _openssl_rsa(tmp: Path, h: Hierarchy, leaf: x509.Certificate, *extra, at=None):
    """``openssl verify`` of the whole RSA chain; returns (ok, output)."""
    root = write_pem(tmp, "root.pem", h.root)
    untrusted = write_pem(tmp, "untrusted.pem", h.issuing, *extra)
    leaf_pem = write_pem(tmp, "leaf.pem", leaf)
    attime = ["-attime", str(int(at.timestamp()))] if at else []
    result = openssl("verify", *attime, "-CAfile", root, "-untrusted", untrusted, leaf_pem)
    return result.returncode == 0, result.stdout + result.stderr


def _openssl_sm2_link(tmp: Path, issuer: x509.Certificate, cert: x509.Certificate, at=None):
    """One SM2 link: ``cert`` verified with ``issuer`` as the only (partial-chain) anchor."""
    issuer_pem = write_pem(tmp, "issuer.pem", issuer)
    cert_pem = write_pem(tmp, "cert.pem", cert)
    attime = ["-attime", str(int(at.timestamp()))] if at else []
    result = openssl(
        "verify", "-vfyopt", SM2_DISTID, *attime, "-partial_chain", "-CAfile", issuer_pem, cert_pem
    )
    return result.returncode == 0, result.stdout + result.stderr


def _gmssl_link(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    return gmssl_verify(
        issuer.public_key, cert["tbs_certificate"].dump(), cert["signature_value"].native
    )


# --- the good hierarchies -----------------------------------------------------------------


@pytest.mark.parametrize("family", ["rsa", "ecdsa", "sm2"])
@pytest.mark.parametrize(
    ("leaf", "usage", "eku"),
    [
        ("seal", SEAL_USAGE, None),
        ("tsa", SEAL_USAGE, "time_stamping"),
        ("ocsp", ("digital_signature",), "ocsp_signing"),
    ],
)
def test_every_leaf_validates(family: str, leaf: str, usage, eku) -> None:
    h = build_hierarchy(family)
    cert = h.leaves[leaf][0]
    result = _validate(h, cert, required_key_usage=usage, required_eku=eku)
    assert isinstance(result, ValidatedPath)
    assert [c.dump() for c in result.path] == [cert.dump(), h.issuing.dump(), h.root.dump()]
    assert result.leaf is cert and result.trust_anchor.dump() == h.root.dump()
    assert result.at == h.valid_at


@pytest.mark.parametrize("leaf", ["seal", "tsa", "ocsp"])
def test_openssl_agrees_rsa_chain_is_good(tmp_path: Path, leaf: str) -> None:
    h = build_hierarchy("rsa")
    cert = h.leaves[leaf][0]
    ok, output = _openssl_rsa(tmp_path, h, cert)
    assert ok, output
    assert _reason(h, cert) is None


def test_openssl_and_gmssl_agree_sm2_chain_is_good(tmp_path: Path) -> None:
    h = build_hierarchy("sm2")
    for issuer, cert in [(h.root, h.issuing), *((h.issuing, c) for c, _ in h.leaves.values())]:
        ok, output = _openssl_sm2_link(tmp_path, issuer, cert)
        assert ok, output
        assert _gmssl_link(issuer, cert)
    assert all(_reason(h, c) is None for c, _ in h.leaves.values())


def test_leaf_that_is_a_trust_anchor_is_a_path_of_one() -> None:
    h = build_hierarchy("sm2")
    result = validate_path(h.root, [], [h.root], h.valid_at, required_key_usage=["key_cert_sign"])
    assert [c.dump() for c in result.path] == [h.root.dump()]


def test_order_and_duplicates_of_inputs_do_not_matter() -> None:
    h = build_hierarchy("rsa")
    result = validate_path(
        h.seal, [h.root, h.tsa, h.issuing, h.issuing], [h.root, h.root], h.valid_at
    )
    assert len(result.path) == 3


def test_builder_tries_the_next_candidate_when_the_first_path_fails() -> None:
    """A CA renewed with the same key: the stale, expired copy must not hide the good one."""
    h = build_hierarchy("rsa")
    stale = _reissued_issuing_ca(h, timedelta(minutes=5))
    result = validate_path(h.seal, [stale, h.issuing], [h.root], h.valid_at)
    assert result.path[1].dump() == h.issuing.dump()
    with pytest.raises(ChainError) as caught:
        validate_path(h.seal, [stale], [h.root], h.valid_at)
    assert caught.value.reason is ChainFailure.EXPIRED


def test_naive_time_is_refused() -> None:
    h = build_hierarchy("rsa")
    with pytest.raises(ValueError, match="timezone"):
        validate_path(h.seal, [h.issuing], [h.root], datetime(2030, 1, 1))


# --- no path -------------------------------------------------------------------------------


def test_missing_intermediate_is_no_chain(tmp_path: Path) -> None:
    h = build_hierarchy("rsa")
    with pytest.raises(ChainError) as caught:
        validate_path(h.seal, [], [h.root], h.valid_at)
    assert caught.value.reason is ChainFailure.NO_CHAIN
    assert "深圳市市场监督管理局行政审批专用章" in str(caught.value)
    root, leaf = write_pem(tmp_path, "r.pem", h.root), write_pem(tmp_path, "l.pem", h.seal)
    result = openssl("verify", "-CAfile", root, leaf)
    assert result.returncode != 0 and "unable to get local issuer certificate" in result.stderr


def test_other_familys_root_is_no_chain() -> None:
    rsa, sm2 = build_hierarchy("rsa"), build_hierarchy("sm2")
    with pytest.raises(ChainError) as caught:
        validate_path(sm2.seal, [sm2.issuing, rsa.issuing], [rsa.root], sm2.valid_at)
    assert caught.value.reason is ChainFailure.NO_CHAIN


# --- negative cases, each checked by us and by an outside tool -------------------------------


def _reissued_issuing_ca(h: Hierarchy, lifetime: timedelta) -> x509.Certificate:
    """Another certificate for the issuing CA (same name and key) from the root."""
    return issue_certificate(
        profile=Profile.ISSUING_CA,
        subject=h.issuing.subject,
        subject_public_key=h.issuing_key.public_key_info,
        issuer_key=h.root_key,
        issuer_certificate=h.root,
        not_before=h.not_before,
        not_after=h.not_before + lifetime,
    )


def _assert_tools_see_signature_failure(
    tmp: Path, h: Hierarchy, family: str, bad: x509.Certificate
) -> None:
    """openssl (and for SM2 also gmssl) refuse ``bad`` as signed by the issuing CA."""
    if family == "rsa":
        ok, output = _openssl_rsa(tmp, h, bad)
        assert not ok and "signature failure" in output
    else:
        ok, output = _openssl_sm2_link(tmp, h.issuing, bad)
        assert not ok and "signature failure" in output
        assert not _gmssl_link(h.issuing, bad)


def _tampered(cert: x509.Certificate) -> x509.Certificate:
    serial = cert["tbs_certificate"]["serial_number"].contents
    return x509.Certificate.load(flip_last_byte_of(cert.dump(), serial))


def _impostor_leaf(h: Hierarchy) -> x509.Certificate:
    """Issued by a CA with the issuing CA's name but its own key (AKI names that key)."""
    impostor_key = algorithms.generate(h.key_algorithm)
    impostor = issue_certificate(
        profile=Profile.ISSUING_CA,
        subject=h.issuing.subject,
        subject_public_key=impostor_key.public_key_info,
        issuer_key=impostor_key,
        issuer_certificate=None,
        not_before=h.not_before,
        not_after=h.not_before + timedelta(days=365),
    )
    return issue_certificate(
        profile=Profile.SEAL,
        subject=h.seal.subject,
        subject_public_key=h.seal_key.public_key_info,
        issuer_key=impostor_key,
        issuer_certificate=impostor,
        not_before=h.not_before,
        not_after=h.not_before + timedelta(days=365),
    )


def _signed_by_leaf(h: Hierarchy) -> x509.Certificate:
    """The seal's key used as a CA: a certificate whose issuer is the seal certificate."""
    key = algorithms.generate(h.key_algorithm)
    return issue_certificate(
        profile=Profile.SEAL,
        subject=build_name(country_name="CN", common_name="伪造的下级印章"),
        subject_public_key=key.public_key_info,
        issuer_key=h.seal_key,
        issuer_certificate=h.seal,
        not_before=h.not_before,
        not_after=h.not_before + timedelta(days=30),
    )


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_tampered_certificate(tmp_path: Path, family: str) -> None:
    h = build_hierarchy(family)
    bad = _tampered(h.seal)
    assert bad["tbs_certificate"].dump() != h.seal["tbs_certificate"].dump()
    assert _reason(h, bad) is ChainFailure.SIG_FAILURE
    _assert_tools_see_signature_failure(tmp_path, h, family, bad)


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_signed_by_the_wrong_key(tmp_path: Path, family: str) -> None:
    """Same TBS (issuer name and AKI of the real CA) but signed by the root's key."""
    h = build_hierarchy(family)
    bad = resign(h.seal, h.root_key)
    assert _reason(h, bad) is ChainFailure.SIG_FAILURE
    _assert_tools_see_signature_failure(tmp_path, h, family, bad)
    if family == "sm2":
        assert _gmssl_link(h.root, bad)  # gmssl sees whose key it really was


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_issued_by_an_impostor_ca_is_no_chain(tmp_path: Path, family: str) -> None:
    h = build_hierarchy(family)
    bad = _impostor_leaf(h)
    assert bad.issuer == h.issuing.subject
    assert _reason(h, bad) is ChainFailure.NO_CHAIN  # key identifiers do not chain
    if family == "rsa":
        ok, output = _openssl_rsa(tmp_path, h, bad)
        assert not ok and "unable to get local issuer certificate" in output
    else:
        ok, _ = _openssl_sm2_link(tmp_path, h.issuing, bad)
        assert not ok
        assert not _gmssl_link(h.issuing, bad)


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_expired_and_not_yet_valid_leaf(tmp_path: Path, family: str) -> None:
    h = build_hierarchy(family)
    leaf = h.seal
    after = leaf.not_valid_after + timedelta(seconds=1)
    before = leaf.not_valid_before - timedelta(seconds=1)
    assert _reason(h, leaf, at=after) is ChainFailure.EXPIRED
    assert _reason(h, leaf, at=before) is ChainFailure.NOT_YET_VALID
    assert _reason(h, leaf, at=leaf.not_valid_after) is None  # bounds are inclusive
    for at, word in [(after, "expired"), (before, "not yet valid")]:
        if family == "rsa":
            ok, output = _openssl_rsa(tmp_path, h, leaf, at=at)
        else:
            ok, output = _openssl_sm2_link(tmp_path, h.issuing, leaf, at=at)
        assert not ok and word in output


def test_leaf_expired_now(tmp_path: Path) -> None:
    """openssl checks against the real clock: a leaf that ended an hour ago fails both."""
    h = build_hierarchy("rsa")
    now = datetime.now(UTC)
    leaf, _ = issue_leaf(h, not_before=h.not_before, not_after=now - timedelta(hours=1))
    ok, output = _openssl_rsa(tmp_path, h, leaf)
    assert not ok and "certificate has expired" in output
    with pytest.raises(ChainError) as caught:
        validate_path(leaf, [h.issuing], [h.root], now)
    assert caught.value.reason is ChainFailure.EXPIRED
    assert caught.value.certificate is leaf


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_leaf_used_as_ca(tmp_path: Path, family: str) -> None:
    h = build_hierarchy(family)
    bad = _signed_by_leaf(h)
    with pytest.raises(ChainError) as caught:
        validate_path(bad, [h.issuing, h.seal], [h.root], h.valid_at)
    assert caught.value.reason is ChainFailure.NOT_A_CA
    assert caught.value.certificate.dump() == h.seal.dump()
    if family == "rsa":
        ok, output = _openssl_rsa(tmp_path, h, bad, h.seal)
        assert not ok and "invalid CA certificate" in output
    else:
        ok, output = _openssl_sm2_link(tmp_path, h.seal, bad)
        assert not ok and "invalid CA certificate" in output
        assert _gmssl_link(h.seal, bad)  # the signature itself is fine: the rule is what fails


def test_path_length_exceeded_rsa(tmp_path: Path) -> None:
    """The issuing CA has pathLen 0; a sub-CA below it must be refused."""
    h = build_hierarchy("rsa")
    sub_key = algorithms.generate(h.key_algorithm)
    sub = issue_certificate(
        profile=Profile.ISSUING_CA,
        subject=build_name(country_name="CN", common_name="违规的三级CA"),
        subject_public_key=sub_key.public_key_info,
        issuer_key=h.issuing_key,
        issuer_certificate=h.issuing,
        not_before=h.not_before,
        not_after=h.not_before + timedelta(days=365),
    )
    leaf = issue_certificate(
        profile=Profile.SEAL,
        subject=build_name(country_name="CN", common_name="三级CA签发的印章"),
        subject_public_key=h.seal_key.public_key_info,
        issuer_key=sub_key,
        issuer_certificate=sub,
        not_before=h.not_before,
        not_after=h.not_before + timedelta(days=30),
    )
    assert _reason(h, leaf, sub) is ChainFailure.PATH_LENGTH
    ok, output = _openssl_rsa(tmp_path, h, leaf, sub)
    assert not ok and "path length constraint exceeded" in output


def test_ca_without_key_cert_sign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = build_hierarchy("rsa")
    monkeypatch.setitem(PROFILES, Profile.ISSUING_CA, ProfileSpec(True, 0, frozenset({"crl_sign"})))
    crippled = _reissued_issuing_ca(h, timedelta(days=365))  # under the patched profile
    with pytest.raises(ChainError) as caught:
        validate_path(h.seal, [crippled], [h.root], h.valid_at)
    assert caught.value.reason is ChainFailure.CA_KEY_USAGE
    root = write_pem(tmp_path, "root.pem", h.root)
    ca = write_pem(tmp_path, "ca.pem", crippled)
    result = openssl(
        "verify", "-CAfile", root, "-untrusted", ca, write_pem(tmp_path, "l.pem", h.seal)
    )
    assert result.returncode != 0 and "key usage does not include certificate signing" in (
        result.stdout + result.stderr
    )


def test_unknown_critical_extension(tmp_path: Path) -> None:
    h = build_hierarchy("rsa")
    odd = x509.Extension(
        {"extn_id": "1.3.6.1.4.1.55555.1", "critical": True, "extn_value": b"\x05\x00"}
    )
    bad = resign(h.seal, h.issuing_key, extensions=[*h.seal["tbs_certificate"]["extensions"], odd])
    assert _reason(h, bad) is ChainFailure.UNKNOWN_CRITICAL_EXTENSION
    ok, output = _openssl_rsa(tmp_path, h, bad)
    assert not ok and "unhandled critical extension" in output


def test_inner_and_outer_algorithm_must_match() -> None:
    h = build_hierarchy("rsa")
    pss = algorithms.SignatureScheme.RSA_PSS_SHA256.algorithm_identifier()
    bad = resign(h.seal, h.issuing_key, signature=pss)
    assert _reason(h, bad) is ChainFailure.SIG_FAILURE


@pytest.mark.parametrize(
    ("leaf", "usage", "eku", "reason"),
    [
        ("ocsp", SEAL_USAGE, None, ChainFailure.KEY_USAGE),
        ("seal", ("key_cert_sign",), None, ChainFailure.KEY_USAGE),
        ("seal", SEAL_USAGE, "time_stamping", ChainFailure.EXTENDED_KEY_USAGE),
        ("tsa", SEAL_USAGE, "ocsp_signing", ChainFailure.EXTENDED_KEY_USAGE),
    ],
)
def test_leaf_purpose(leaf: str, usage, eku, reason: ChainFailure) -> None:
    h = build_hierarchy("sm2")
    with pytest.raises(ChainError) as caught:
        _validate(h, h.leaves[leaf][0], required_key_usage=usage, required_eku=eku)
    assert caught.value.reason is reason


@pytest.mark.parametrize(("leaf_name", "expect_ok"), [("tsa", True), ("seal", False)])
def test_openssl_purpose_checks_agree_on_tsa(
    tmp_path: Path, leaf_name: str, expect_ok: bool
) -> None:
    h = build_hierarchy("rsa")
    leaf = getattr(h, leaf_name)
    root = write_pem(tmp_path, "r.pem", h.root)
    issuing = write_pem(tmp_path, "i.pem", h.issuing)
    leaf_pem = write_pem(tmp_path, "l.pem", leaf)
    result = openssl(
        "verify", "-purpose", "timestampsign", "-CAfile", root, "-untrusted", issuing, leaf_pem
    )
    ours = _reason_eku(h, leaf, "time_stamping")
    assert (result.returncode == 0) is expect_ok is (ours is None), result.stderr


def _reason_eku(h: Hierarchy, leaf: x509.Certificate, eku: str):
    try:
        _validate(h, leaf, required_eku=eku)
    except ChainError as exc:
        return exc.reason
    return None


# --- revocation through the same engine ------------------------------------------------


def _ocsp_answer(h: Hierarchy, status: CertStatus, hash_algo: str = "sha1") -> ocsp.OCSPResponse:
    responder = OcspResponder(h.ocsp, h.ocsp_key, h.issuing, lambda serial: status)
    request = build_request(h.seal, h.issuing, nonce=False, hash_algo=hash_algo)
    return ocsp.OCSPResponse.load(responder.respond(request))


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_revocation_from_crls_and_a_delegated_ocsp_responder(family: str) -> None:
    """The issuing CA's status from the root's CRL, the seal's from an OCSP answer signed by
    a responder with id-pkix-ocsp-nocheck — SM2 signatures on both, for SM2."""
    h = build_hierarchy(family)
    _, root_crl = empty_crls(h)
    good = _ocsp_answer(h, CertStatus("good"))
    revoked = _ocsp_answer(
        h, CertStatus("revoked", revoked_at=h.not_before, reason="key_compromise")
    )
    kw = {"required_key_usage": (), "crls": [root_crl], "check_revocation": True}
    validate_path(h.seal, [h.issuing, h.ocsp], [h.root], h.valid_at, ocsps=[good], **kw)
    with pytest.raises(ChainError) as caught:
        validate_path(h.seal, [h.issuing, h.ocsp], [h.root], h.valid_at, ocsps=[revoked], **kw)
    assert caught.value.reason is ChainFailure.REVOKED
    with pytest.raises(ChainError) as caught:
        validate_path(h.seal, [h.issuing, h.ocsp], [h.root], h.valid_at, ocsps=[], **kw)
    assert caught.value.reason is ChainFailure.NO_REVOCATION_DATA


@pytest.mark.parametrize("status", ["good", "revoked"])
def test_sm3_cert_id_answer_is_evidence(status: str) -> None:
    """An answer whose CertID hashes with SM3 (GM/T 0014 responders) counts like a SHA-1 one."""
    h = build_hierarchy("sm2")
    _, root_crl = empty_crls(h)
    revoked_at = h.not_before if status == "revoked" else None
    reason = "key_compromise" if status == "revoked" else None
    answer = _ocsp_answer(h, CertStatus(status, revoked_at, reason), hash_algo="sm3")
    assert (
        answer.basic_ocsp_response["tbs_response_data"]["responses"][0]["cert_id"][
            "hash_algorithm"
        ]["algorithm"].native
        == "sm3"
    )
    kw = {"required_key_usage": (), "crls": [root_crl], "check_revocation": True}
    if status == "good":
        validated = validate_path(
            h.seal, [h.issuing, h.ocsp], [h.root], h.valid_at, ocsps=[answer], **kw
        )
        assert isinstance(validated, ValidatedPath)
    else:
        with pytest.raises(ChainError) as caught:
            validate_path(h.seal, [h.issuing, h.ocsp], [h.root], h.valid_at, ocsps=[answer], **kw)
        assert caught.value.reason is ChainFailure.REVOKED


def test_sm3_cert_id_hashes_are_what_certvalidator_looks_up() -> None:
    """The pin: certvalidator still matches CertIDs by attribute name, and ours hash what
    RFC 6960 says (the DER name; the key's BIT STRING value), like asn1crypto's SHA-1."""
    source = inspect.getsource(validate_ocsp._match_ocsp_certid)
    assert "getattr(cert.issuer, issuer_hash_algo)" in source
    assert "getattr(issuer.public_key, issuer_hash_algo)" in source
    h = build_hierarchy("sm2")
    assert h.seal.issuer.sha1 == hashlib.sha1(h.seal.issuer.dump()).digest()
    assert (
        h.issuing.public_key.sha1
        == hashlib.sha1(bytes(h.issuing.public_key["public_key"])).digest()
    )
    assert h.seal.issuer.sm3 == sm2.sm3(h.seal.issuer.dump())
    assert h.issuing.public_key.sm3 == sm2.sm3(bytes(h.issuing.public_key["public_key"]))


def test_other_cert_id_hashes_are_no_evidence_not_a_crash() -> None:
    h = build_hierarchy("sm2")
    _, root_crl = empty_crls(h)
    answer = _ocsp_answer(h, CertStatus("good"), hash_algo="sha512")
    with pytest.raises(ChainError) as caught:
        validate_path(
            h.seal,
            [h.issuing, h.ocsp],
            [h.root],
            h.valid_at,
            required_key_usage=(),
            crls=[root_crl],
            ocsps=[answer],
            check_revocation=True,
        )
    assert caught.value.reason is ChainFailure.NO_REVOCATION_DATA


def test_ocsp_nocheck_context_pin() -> None:
    """pki.chain replaces ``ValidationContext`` in certvalidator's OCSP module because its
    nocheck-responder branch builds a context without our signature validator.  When this
    fails, upstream changed that code: check whether the replacement is still needed."""
    source = inspect.getsource(chain._upstream_responder_provenance)
    assert "vc = ValidationContext(" in source
    assert "signature_validator" not in source
    assert validate_ocsp.ValidationContext.__name__ == "_SmValidationContext"


def test_responder_provenance_pin() -> None:
    """pki.chain remembers a nocheck responder's authorisation per context by replacing
    certvalidator's provenance check, which _check_ocsp_authorisation calls through the
    module global.  When this fails, upstream changed that code: revisit the pin."""
    assert validate_ocsp._validate_delegated_ocsp_provenance is (
        chain._remembered_responder_provenance
    )
    caller = inspect.getsource(validate_ocsp._check_ocsp_authorisation)
    assert "await _validate_delegated_ocsp_provenance(" in caller
    upstream = inspect.getsource(chain._upstream_responder_provenance)
    assert "responder_cert.ocsp_no_check_value is not None" in upstream
    assert "check_path_verif_recursion(responder_cert)" in upstream
    assert "trust_roots=[TrustAnchor(issuer)]" in upstream
    assert "validation_context.record_validation(responder_cert, responder_chain)" in upstream


def _answer_about(h: Hierarchy, responder: x509.Certificate, *certificates: x509.Certificate):
    """One signed OCSP answer about ``certificates``, all good, from ``responder``."""
    signer = OcspResponder(responder, h.ocsp_key, h.issuing, lambda serial: CertStatus("good"))
    request = build_batch_request(list(certificates), h.issuing, nonce=False)
    answer = ocsp.OCSPResponse.load(signer.respond(request))
    single = answer.basic_ocsp_response["tbs_response_data"]["responses"][0]
    return answer, single["this_update"].native, single["next_update"].native


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_a_responder_is_authorised_once_per_answer_and_refused_every_time(
    family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One answer about the seal and the TSA, read in one context: the responder's
    delegation is checked once and both certificates are judged good.  A responder whose
    certificate has expired is refused for each certificate — a failure is not kept."""
    h = build_hierarchy(family)
    calls: list[bytes] = []
    upstream = chain._upstream_responder_provenance

    async def counting(responder_cert, *args, **kwargs):
        calls.append(responder_cert.dump())
        await upstream(responder_cert, *args, **kwargs)

    monkeypatch.setattr(chain, "_upstream_responder_provenance", counting)
    answer, this_update, next_update = _answer_about(h, h.ocsp, h.seal, h.tsa)
    judge = RevocationJudge()
    for certificate in (h.seal, h.tsa):
        found = judge.statement(certificate, (h.issuing, h.root), answer, this_update, next_update)
        assert found is not None and found.status == "good"
    assert len(calls) == 1 and judge.contexts_built == 1

    expired, _ = issue_leaf(
        h,
        Profile.OCSP,
        common_name="深圳市电子印章OCSP服务（已过期）",
        not_before=h.not_before,
        not_after=h.not_before + timedelta(minutes=5),
        key=h.ocsp_key,
    )
    calls.clear()
    answer, this_update, next_update = _answer_about(h, expired, h.seal, h.tsa)
    judge = RevocationJudge()
    for certificate in (h.seal, h.tsa):
        assert (
            judge.statement(certificate, (h.issuing, h.root), answer, this_update, next_update)
            is None
        )
    assert len(calls) == 2


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_undecodable_extension_is_a_verdict_not_a_crash(family: str) -> None:
    """asn1crypto decodes extensions lazily; garbage inside one (here keyUsage) must end
    as MALFORMED, not as an exception out of the verifier."""
    h = build_hierarchy(family)
    usage = next(
        e for e in h.seal["tbs_certificate"]["extensions"] if e["extn_id"].native == "key_usage"
    )
    bit_string = usage["extn_value"].contents
    tbs_der = h.seal["tbs_certificate"].dump().replace(bit_string, b"\x23" + bit_string[1:], 1)
    template = x509.Certificate(
        {
            "tbs_certificate": x509.TbsCertificate.load(tbs_der),
            "signature_algorithm": h.seal["signature_algorithm"],
            "signature_value": b"",
        }
    )
    bad = x509.Certificate.load(resign(template, h.issuing_key).dump())
    assert _reason(h, bad) is ChainFailure.MALFORMED
