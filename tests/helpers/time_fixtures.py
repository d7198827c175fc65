"""A service whose clock can be moved: the ``world`` fixture for tests that travel in time.

Time is injected where the service takes it: ``CertificateAuthority.clock`` (certificates
and CRLs issued "then"), ``TrustServices(clock=...)`` (time-stamps and OCSP answers), the
``now=`` of lifecycle changes, ``Sealer.seal`` and ``verify`` — never the system clock.

Use from a test module: ``pytest_plugins = ("helpers.seal_fixtures", "helpers.time_fixtures")``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from helpers.pdf_fixtures import chinese_pdf
from pki.certificates import Profile, load_certificate
from pki.clock import now_utc
from sealsvc import seals
from sealsvc.context import ServiceContext
from sealsvc.pades import Level, Placement, SealOptions
from sealsvc.sealing import Sealer
from sealsvc.trust_services import TrustServices
from sealsvc.verification import TrustAnchors, verify

ACTOR = "test:time-travel"
YEAR = timedelta(days=365)


@dataclass
class Clock:
    """A settable time source; ``None`` follows the system clock."""

    at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or now_utc()


@dataclass
class World:
    context: ServiceContext
    clock: Clock
    trust: TrustServices
    sealer: Sealer
    anchors: TrustAnchors

    def travel(self, moment: datetime) -> datetime:
        """Move the CA's and the TSA/OCSP's time to ``moment`` (the system clock stays)."""
        self.clock.at = moment
        return moment

    def issue_seal(self, algorithm: str = "rsa", validity: timedelta | None = None) -> str:
        """A new 公章 of the market regulator, issued at the clock's time; its code."""
        view = seals.issue(
            self.context,
            department="郑州市市场监督管理局",
            kind="公章",
            algorithm=algorithm,
            validity=validity,
            actor=ACTOR,
        )
        return view.code

    def seal(self, code: str, level: Level, now: datetime | None = None) -> bytes:
        options = SealOptions(level=level, placement=Placement(invisible=True))
        return self.sealer.seal(chinese_pdf(1), code, options, actor=ACTOR, now=now).pdf

    def fetcher(self, *, ocsp: bool) -> Callable[[str, bytes | None], bytes]:
        """Revocation data as the service publishes it at the clock's time, in-process.

        CRLs are the latest published ones (whatever their age); OCSP is answered by the
        live responder only when ``ocsp`` — else the relying party has the CRL alone.
        """
        base = self.context.settings.base_url

        def fetch(url: str, request: bytes | None) -> bytes:
            hierarchy, name = url.removeprefix(f"{base}/pki/").split("/", 1)
            if request is None:
                issuer = Profile.ROOT_CA if name == "root.crl" else Profile.ISSUING_CA
                return self.trust.latest_crl_der(hierarchy, issuer)
            if not ocsp:
                raise ConnectionError("OCSP responder unreachable")
            return self.trust.ocsp(hierarchy).respond(request)

        return fetch

    def verify(self, pdf: bytes, at: datetime, *, fetch: bool = False, ocsp: bool = True):
        fetcher = self.fetcher(ocsp=ocsp) if fetch else None
        return verify(pdf, trust=self.anchors, now=at, allow_fetching=fetch, fetcher=fetcher)

    def latest_issuing_crl(self, hierarchy: str = "rsa"):
        with self.context.database.session(read_only=True) as session:
            ca_set = self.context.ca.ca_set(session, hierarchy)
            row = self.context.ca.latest_crl(session, ca_set.issuing)
            return row.this_update, row.next_update, row.crl_number


@pytest.fixture
def world(sqlite_seal_context: ServiceContext) -> World:
    context = sqlite_seal_context
    clock = Clock()
    context.ca.clock = clock
    trust = TrustServices(context, clock=clock)
    with context.database.session(read_only=True) as session:
        roots = tuple(
            load_certificate(context.ca.ca_set(session, h).root.der) for h in ("rsa", "sm2")
        )
    return World(context, clock, trust, Sealer(context, trust), TrustAnchors(roots))
