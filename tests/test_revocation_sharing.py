"""One document's revocation work is shared, and still judged certificate by certificate.

A sealed OFD asks about three certificates under one CA — the seal's signer, the seal
maker (GB/T 38540's SESeal signature) and the TSA — and their CA.  The evidence pool
batches one OCSP request for the three, and its :class:`pki.chain.RevocationJudge` sets
the engine up once per item (the CA's CRL, the batched answer, the root's CRL) instead of
once per certificate and item.  Counted here by instrumentation (engine set-ups, OCSP
requests and the certificates each asks about), never by timing.

Sharing must not blur anything: a revoked maker beside a good signer (and the reverse),
a CRL in the CA's name signed by another key, and a CRL past its nextUpdate are read as
before — through the shared set-up, and after the caches are cleared.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from asn1crypto import crl, ocsp, x509
from helpers.pki_fixtures import Hierarchy, build_hierarchy, issue_leaf, resign

from pki import algorithms
from pki.certificates import Profile
from pki.chain import RevocationJudge, revocation_statement
from pki.crl import RevokedEntry, build_crl
from pki.ocsp import CertStatus, OcspResponder
from sealsvc.verification.revocation import EvidencePool, Outcome, clear_caches, decide

MAKER_NAME = "深圳市电子印章制章系统"


def _crl(
    h: Hierarchy,
    revoked: tuple[tuple[x509.Certificate, datetime], ...] = (),
    *,
    issuer: x509.Certificate | None = None,
    key: algorithms.SigningKey | None = None,
    this_update: datetime | None = None,
    days: int = 7,
) -> bytes:
    start = this_update or h.not_before
    return build_crl(
        issuer_certificate=issuer or h.issuing,
        issuer_key=key or h.issuing_key,
        revoked=[RevokedEntry(c.serial_number, at, "key_compromise") for c, at in revoked],
        crl_number=1,
        this_update=start,
        next_update=start + timedelta(days=days),
    ).dump()


def _root_crl(h: Hierarchy) -> bytes:
    return build_crl(
        issuer_certificate=h.root,
        issuer_key=h.root_key,
        revoked=[],
        crl_number=1,
        this_update=h.not_before,
        next_update=h.not_before + timedelta(days=7),
    ).dump()


class _Services:
    """The CA's OCSP responder (with a status table) and CRLs, answering the pool's fetches
    and recording what was asked."""

    def __init__(self, h: Hierarchy, issuing_crl: bytes) -> None:
        self.h = h
        self.statuses: dict[int, CertStatus] = {}
        self.crls = {h.urls.crl: issuing_crl, h.root_urls.crl: _root_crl(h)}
        self.responder = OcspResponder(
            h.ocsp,
            h.ocsp_key,
            h.issuing,
            lambda serial: self.statuses.get(serial, CertStatus("good")),
        )
        self.ocsp_requests: list[list[int]] = []

    def revoke(self, certificate: x509.Certificate, at: datetime) -> None:
        self.statuses[certificate.serial_number] = CertStatus("revoked", at, "key_compromise")

    def fetch(self, url: str, request: bytes | None) -> bytes:
        if request is None:
            return self.crls[url]
        entries = ocsp.OCSPRequest.load(request)["tbs_request"]["request_list"]
        self.ocsp_requests.append([e["req_cert"]["serial_number"].native for e in entries])
        return self.responder.respond(request)


@pytest.fixture(scope="module")
def h() -> Hierarchy:
    return build_hierarchy("sm2")


@pytest.fixture(scope="module")
def maker(h: Hierarchy) -> x509.Certificate:
    return issue_leaf(h, common_name=MAKER_NAME)[0]


@pytest.fixture(autouse=True)
def _cold() -> None:
    """Every test starts from empty caches: what it counts is this pool's own work."""
    clear_caches()


def _ask_all(pool: EvidencePool, h: Hierarchy, maker: x509.Certificate) -> dict[str, list]:
    """What a sealed OFD asks: the TSA first (inside the time-stamp check), then the
    signer, the maker, and their CA."""
    below = (h.issuing, h.root)
    return {
        "tsa": pool.evidence(h.tsa, below),
        "seal": pool.evidence(h.seal, below),
        "maker": pool.evidence(maker, below),
        "issuing": pool.evidence(h.issuing, (h.root,)),
    }


def test_one_ocsp_request_and_one_engine_setup_per_item(
    h: Hierarchy, maker: x509.Certificate
) -> None:
    services = _Services(h, _crl(h))
    pool = EvidencePool([], [], services.fetch, asked_about=(h.seal, maker, h.tsa))
    found = _ask_all(pool, h, maker)
    # One request for the three leaves of the CA (the one asked first leads).
    assert services.ocsp_requests == [
        [h.tsa.serial_number, h.seal.serial_number, maker.serial_number]
    ]
    for name in ("tsa", "seal", "maker"):
        assert sorted((e.kind, e.status) for e in found[name]) == [
            ("crl", "good"),
            ("ocsp", "good"),
        ], name
    assert [(e.kind, e.status) for e in found["issuing"]] == [("crl", "good")]
    # Seven statements (CRL and OCSP for each leaf, the root's CRL for the CA) from three
    # engine set-ups: the CA's CRL, the batched answer, the root's CRL.
    assert pool.engine_setups == 3


def test_without_siblings_each_certificate_asks_alone(
    h: Hierarchy, maker: x509.Certificate
) -> None:
    """No ``asked_about``: one OCSP request per certificate, as before; the CRL set-up is
    shared all the same."""
    services = _Services(h, _crl(h))
    pool = EvidencePool([], [], services.fetch)
    _ask_all(pool, h, maker)
    assert services.ocsp_requests == [
        [h.tsa.serial_number],
        [h.seal.serial_number],
        [maker.serial_number],
    ]
    assert pool.engine_setups == 1 + 3 + 1  # the CA's CRL, three answers, the root's CRL


@pytest.mark.parametrize("revoked_one", ["maker", "seal"])
def test_a_revoked_certificate_beside_a_good_one_under_the_shared_setup(
    h: Hierarchy, maker: x509.Certificate, revoked_one: str
) -> None:
    """One CRL and one OCSP answer speak of both; each certificate still gets its own
    entry: the revoked one REVOKED, the other GOOD — warm and after clearing the caches."""
    certificates = {"maker": maker, "seal": h.seal}
    revoked = certificates[revoked_one]
    at = h.not_before + timedelta(hours=2)
    services = _Services(h, _crl(h, ((revoked, at),), this_update=at + timedelta(minutes=1)))
    services.revoke(revoked, at)
    signed = at + timedelta(hours=1)
    for state in ("cold", "warm", "cleared"):
        pool = EvidencePool([], [], services.fetch, asked_about=(h.seal, maker, h.tsa))
        found = _ask_all(pool, h, maker)
        bad = found[revoked_one]
        assert sorted((e.kind, e.status) for e in bad) == [("crl", "revoked"), ("ocsp", "revoked")]
        assert decide(bad, signed, signed)[0] is Outcome.REVOKED
        assert decide(bad, at - timedelta(hours=1), signed)[0] is Outcome.GOOD  # sealed before
        other = found["seal" if revoked_one == "maker" else "maker"]
        assert {e.status for e in other} == {"good"}
        assert decide(other, signed, signed)[0] is Outcome.GOOD
        # Warm, the CRLs' statements come from the cache; the responder signs anew.
        assert pool.engine_setups == (1 if state == "warm" else 3)
        if state == "warm":
            clear_caches()


def test_a_crl_in_the_cas_name_signed_by_another_key_is_no_evidence(
    h: Hierarchy, maker: x509.Certificate
) -> None:
    """Same issuer name, another key: the engine refuses it for every certificate the
    shared set-up serves — neither its "good" nor its "revoked" counts — while the
    genuine CRL beside it is read."""
    impostor_key = algorithms.generate(h.key_algorithm)
    impostor = resign(
        h.issuing,
        impostor_key,
        subject_public_key_info=impostor_key.public_key_info,
    )
    forged = _crl(h, ((maker, h.not_before),), issuer=impostor, key=impostor_key)
    pool = EvidencePool([forged], [], asked_about=(h.seal, maker))
    assert _ask_all(pool, h, maker)["maker"] == []
    assert pool.evidence(h.seal, (h.issuing, h.root)) == []
    genuine = EvidencePool([forged, _crl(h)], [], asked_about=(h.seal, maker))
    assert [e.status for e in genuine.evidence(maker, (h.issuing, h.root))] == ["good"]
    assert [e.status for e in genuine.evidence(h.seal, (h.issuing, h.root))] == ["good"]


def test_an_expired_crl_does_not_speak_for_a_later_signing_time(
    h: Hierarchy, maker: x509.Certificate
) -> None:
    """A CRL valid for one day, judged once for both certificates: good evidence for a
    seal made within its day, no data for one made after its nextUpdate."""
    stale = _crl(h, days=1)
    pool = EvidencePool([stale], [], asked_about=(h.seal, maker))
    within, after = h.not_before + timedelta(hours=12), h.not_before + timedelta(days=2)
    for certificate in (h.seal, maker):
        evidence = pool.evidence(certificate, (h.issuing, h.root))
        assert [(e.kind, e.status) for e in evidence] == [("crl", "good")]
        assert decide(evidence, within, after)[0] is Outcome.GOOD
        assert decide(evidence, after, after)[0] is Outcome.NO_DATA
    assert pool.engine_setups == 1


def test_the_judge_answers_as_a_fresh_engine_does(h: Hierarchy, maker: x509.Certificate) -> None:
    """The shared set-up gives, certificate by certificate, what
    :func:`revocation_statement` (a fresh set-up per question) gives."""
    at = h.not_before + timedelta(hours=2)
    listed = crl.CertificateList.load(_crl(h, ((maker, at),), this_update=at))
    tbs = listed["tbs_cert_list"]
    times = (tbs["this_update"].native, tbs["next_update"].native)
    judge = RevocationJudge()
    for certificate in (h.seal, maker, h.tsa, h.ocsp):
        shared = judge.statement(certificate, (h.issuing, h.root), listed, *times)
        fresh = revocation_statement(certificate, (h.issuing, h.root), listed, *times)
        assert shared == fresh
    assert judge.statement(maker, (h.issuing, h.root), listed, *times).status == "revoked"
    assert judge.contexts_built == 1
    # Another validity moment is another set-up (the engine reads the item as of it).
    judge.statement(h.seal, (h.issuing, h.root), listed, times[0], times[1] + timedelta(days=1))
    assert judge.contexts_built == 2


def test_a_ca_certificate_of_the_same_name_but_another_key_is_asked_again(
    h: Hierarchy,
) -> None:
    """A certificate in ``asked_about`` whose issuer has the CA's name is batched with the
    CA's CertID; asked later under another issuer certificate (a key rollover), it gets
    its own request — and the one already answered is not asked again."""
    other_key = algorithms.generate(h.key_algorithm)
    rollover = resign(h.issuing, h.root_key, subject_public_key_info=other_key.public_key_info)
    leaf = issue_leaf(h, Profile.SEAL, common_name="深圳市新签发CA下的印章")[0]
    services = _Services(h, _crl(h))
    pool = EvidencePool([], [], services.fetch, asked_about=(h.seal, leaf))
    pool.evidence(h.seal, (h.issuing, h.root))
    pool.evidence(leaf, (rollover, h.root))
    assert services.ocsp_requests == [
        [h.seal.serial_number, leaf.serial_number],
        [leaf.serial_number],
    ]
