"""Expiry and time: the service with its clock moved forward — by injection, never the system's.

Time is injected where the service takes it: ``CertificateAuthority.clock`` (certificates
and CRLs issued "then"), ``TrustServices(clock=...)`` (time-stamps and OCSP answers), the
``now=`` of lifecycle changes, ``Sealer.seal`` and ``verify``. What must hold:

* a seal's certificate ends → the seal cannot seal (:class:`SealNotUsable`), and
  ``sealctl seal list --expiring`` named it before; rotating it makes it usable again;
* an issuing-CA CRL lives 7 days (``CRL_LIFETIME``): after its ``nextUpdate`` a relying
  party holding only that CRL cannot tell a B-B seal's status → INDETERMINATE/TRY_LATER,
  until a new CRL is published; a B-LT seal is unaffected (its evidence speaks for the
  signing time);
* a B-LTA licence issued today still verifies six years later — after its seal
  certificate (3 years) expired, after the seal was rotated, and after the seal was revoked
  (revoked after the time-stamped signing → still valid); without a time-stamp the same
  revocation leaves the verdict open (REVOKED_NO_POE).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from helpers.time_fixtures import ACTOR, YEAR, World
from pyhanko.sign.ades.report import AdESIndeterminate, AdESStatus

from pki.certificates import Profile
from pki.clock import now_utc
from sealsvc import audit, seals
from sealsvc.ca import CRL_LIFETIME, VALIDITY
from sealsvc.errors import SealNotUsable
from sealsvc.licences import get_licence_pdf, issue_licence, load_template
from sealsvc.models import SealStatus
from sealsvc.pades import Level
from sealsvc.trust_services import CRL_REFRESH_ACTOR
from sealsvc.verification import DocumentVerdict, ValidationReport, verify

pytest_plugins = ("helpers.seal_fixtures", "helpers.time_fixtures")  # sqlite_seal_context, world


def _explain(report: ValidationReport) -> str:
    return report.to_json()


# --- seals expire ----------------------------------------------------------------------------


def test_an_expiring_seal_is_listed_then_refused_after_not_after_and_rotation_revives_it(
    world: World, sealctl: Callable[..., Result]
) -> None:
    short = world.issue_seal(validity=timedelta(days=10))
    long = world.issue_seal()
    with world.context.database.session(read_only=True) as session:
        not_after = seals.show(session, short).valid_until
        long_not_after = seals.show(session, long).valid_until

    # Beforehand (the system's now): the CLI names the short-lived seal, and only it.
    listed = sealctl("seal", "list", "--expiring", "30d", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["code"] for r in rows] == [short]
    assert rows[0]["status"] == "active"
    assert sealctl("seal", "list", "--expiring", "5d", "--json").stdout.strip() == "[]"

    # An hour before the end it still seals (B-T: the TSA lives at that time too).
    world.travel(not_after - timedelta(hours=1))
    sealed = world.seal(short, Level.B_T, now=world.clock())
    report = world.verify(sealed, world.clock())
    assert report.signatures[0].best_signature_time > not_after - timedelta(hours=2)
    assert report.signatures[0].indication is not AdESStatus.FAILED, _explain(report)

    # At and after notAfter: refused, reported expired, no longer "expiring".
    for moment in (not_after, not_after + timedelta(seconds=1), not_after + YEAR):
        with pytest.raises(SealNotUsable, match="expired"):
            world.seal(short, Level.B_B, now=moment)
    later = not_after + timedelta(days=1)
    with world.context.database.session(read_only=True) as session:
        assert seals.show(session, short, now=later).status is SealStatus.EXPIRED
        expired = seals.list_seals(session, status="expired", now=later)
        expiring = seals.list_seals(session, expiring_within=timedelta(days=30), now=later)
    assert short in [v.code for v in expired]
    assert short not in [v.code for v in expiring]

    # The default lifetime (3 years) ends the same way.
    assert abs(long_not_after - now_utc() - VALIDITY[Profile.SEAL]) < timedelta(minutes=10)
    with pytest.raises(SealNotUsable, match="expired"):
        world.seal(long, Level.B_B, now=long_not_after + timedelta(seconds=1))

    # Rotated at the injected time, the seal gets a certificate from then and seals again
    # (this needs Sealer's second, in-transaction check to use the same injected time).
    moment = world.travel(later)
    view = seals.rotate(world.context, short, actor=ACTOR, now=moment)
    assert view.status is SealStatus.ACTIVE
    assert view.current_certificate.not_before > now_utc() + timedelta(days=5)
    sealed = world.seal(short, Level.B_T, now=moment)
    report = world.verify(sealed, moment + timedelta(minutes=1), fetch=True)
    assert report.passed, _explain(report)


# --- CRLs go stale ---------------------------------------------------------------------------


def _openssl_next_update(crl_pem: Path) -> datetime:
    out = subprocess.run(
        ["openssl", "crl", "-in", str(crl_pem), "-noout", "-nextupdate"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    value = out.strip().removeprefix("nextUpdate=")
    return datetime.strptime(value, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=UTC)


def test_a_stale_crl_leaves_a_b_b_seal_indeterminate_and_the_service_refreshes_its_crl(
    world: World,
) -> None:
    code = world.issue_seal()  # publishes no CRL: the latest is the one `init` made
    bare = world.seal(code, Level.B_B)
    long_term = world.seal(code, Level.B_LT)
    this_update, next_update, number = world.latest_issuing_crl()
    assert next_update - this_update == CRL_LIFETIME[Profile.ISSUING_CA] == timedelta(days=7)
    # The published file says the same to a tool nobody here wrote.
    with world.context.database.session(read_only=True) as session:
        world.context.ca.export_files(session)
    pem = world.context.settings.ca_dir / "rsa-issuing.crl"
    assert abs(_openssl_next_update(pem) - next_update) < timedelta(seconds=1)

    today = now_utc()
    fresh = world.verify(bare, today, fetch=True, ocsp=False)
    assert fresh.passed, _explain(fresh)
    assert fresh.signatures[0].revocation.kind == "crl"
    assert world.latest_issuing_crl()[2] == number  # still young: not re-issued

    # A relying party that only has the old CRL (the service unreachable) cannot decide.
    old_crl = world.trust.latest_crl_der("rsa", Profile.ISSUING_CA)
    stale_at = next_update + timedelta(hours=1)

    def old_crls_only(url: str, request: bytes | None) -> bytes:
        if request is not None:
            raise ConnectionError("OCSP responder unreachable")
        if url.endswith("/root.crl"):
            return world.trust.latest_crl_der("rsa", Profile.ROOT_CA)
        return old_crl

    stale = verify(
        bare, trust=world.anchors, now=stale_at, allow_fetching=True, fetcher=old_crls_only
    )
    assert stale.verdict is DocumentVerdict.INDETERMINATE, _explain(stale)
    assert stale.sub_indication is AdESIndeterminate.TRY_LATER
    assert stale.signatures[0].revocation.status == "unknown"
    # Nothing else to go on (no fetching, no DSS): the same open verdict.
    blind = world.verify(bare, today)
    assert blind.sub_indication is AdESIndeterminate.TRY_LATER, _explain(blind)

    # B-LT carries an OCSP answer and CRLs from signing time: a stale CRL does not matter.
    assert world.verify(long_term, stale_at).passed

    # The running service re-issues an aged CRL before serving it: fetching from it then
    # gives a current CRL (the next number), and the B-B seal passes again.
    world.travel(stale_at)
    cured = world.verify(bare, stale_at + timedelta(minutes=1), fetch=True, ocsp=False)
    assert cured.passed, _explain(cured)
    assert world.latest_issuing_crl()[2] == number + 1
    with world.context.database.session(read_only=True) as session:
        actors = {e.actor for e in audit.query(session, action="crl.publish")}
    assert CRL_REFRESH_ACTOR in actors


# --- old licences keep verifying -------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["rsa", "sm2"])
def test_a_b_lta_licence_verifies_six_years_later_after_expiry_rotation_and_revocation(
    world: World, algorithm: str
) -> None:
    rotated = world.issue_seal(algorithm)
    revoked = world.issue_seal(algorithm)
    template = load_template("business_licence")
    pdfs = {}
    for code in (rotated, revoked):
        record = issue_licence(
            world.context,
            template,
            template.example,
            [code],
            actor=ACTOR,
            level=Level.B_LTA,
            sealer=world.sealer,
        )
        pdfs[code] = get_licence_pdf(world.context, record.number)
    untimed = world.seal(revoked, Level.B_B)  # the control: no time-stamp, no POE
    issued = now_utc()
    six_years = issued + 6 * YEAR

    for pdf in pdfs.values():
        report = world.verify(pdf, six_years)
        assert report.passed, _explain(report)
        seal_report = report.signatures[0]
        assert seal_report.signer.not_after < six_years  # the seal certificate has expired
        assert seal_report.chain.validated_at == seal_report.best_signature_time
        assert seal_report.best_signature_time <= issued
        assert [s.kind for s in report.signatures] == ["signature", "document_timestamp"]

    # A year on, one seal is rotated; two years on, both seals are revoked (the rotated
    # one's old certificate with it: revoking a seal revokes every key it ever had).
    moment = world.travel(issued + YEAR)
    seals.rotate(world.context, rotated, actor=ACTOR, now=moment)
    moment = world.travel(issued + 2 * YEAR)
    for code in (rotated, revoked):
        seals.revoke(world.context, code, reason="cessation_of_operation", actor=ACTOR, now=moment)

    world.travel(six_years)  # OCSP answers from then, CRLs as last published
    for code, pdf in pdfs.items():
        report = world.verify(pdf, six_years, fetch=True)
        assert report.passed, (code, _explain(report))
    # The revocation was seen, also of the rotated-away key, after the proven signing time.
    for pdf in pdfs.values():
        check = world.verify(pdf, six_years, fetch=True).signatures[0].revocation
        assert check.status == "revoked" and check.revoked_at > issued, check

    # Without a time-stamp, the same revocation leaves the seal's age unproven.
    control = world.verify(untimed, issued + 2 * YEAR + timedelta(days=1), fetch=True)
    assert control.sub_indication is AdESIndeterminate.REVOKED_NO_POE, _explain(control)
