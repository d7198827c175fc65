"""The service's own TSA, OCSP responder and CRLs, wired to the registry's live state.

``pki`` has them as plain objects (``TimeStampAuthority``, ``OcspResponder``, CRL bytes);
this module picks the current TSA / OCSP signer certificates of a hierarchy, loads their
keys from the key store once per process, answers OCSP from the ``certificates`` table
(so a revocation is visible the moment it commits) and assembles the validation data that
sealing embeds for B-LT / B-LTA.  The HTTP endpoints serve the same objects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from asn1crypto import crl, ocsp, x509
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pki.certificates import Profile, load_certificate
from pki.chain import ChainError, ChainFailure, validate_path
from pki.clock import now_utc
from pki.errors import PkiError
from pki.ocsp import CertStatus, OcspResponder, build_request
from pki.tsa import TimeStampAuthority
from sealsvc.ca import HIERARCHIES, CaSet
from sealsvc.config import ConfigError
from sealsvc.errors import NotFound, SealsvcError, ServerFault
from sealsvc.models import Certificate, CertificateStatus, Crl
from sealsvc.pades import RevocationMaterial

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sealsvc.context import ServiceContext

__all__ = ["CRL_REFRESH_ACTOR", "TrustServices"]

CRL_REFRESH_ACTOR = "service:crl-refresh"
"""Audit actor of CRLs the service re-issues because the previous one aged."""


class TrustServices:
    """Per-process cache of TSA and OCSP responders for both hierarchies.

    Objects are rebuilt when the current TSA/OCSP certificate of a hierarchy changes (a
    re-issued TSA certificate is picked up without a restart).
    """

    def __init__(self, context: ServiceContext, clock: Callable[[], datetime] = now_utc) -> None:
        self._context = context
        self._clock = clock
        self._lock = threading.Lock()
        self._tsa: dict[str, tuple[int, TimeStampAuthority]] = {}
        self._ocsp: dict[str, tuple[int, OcspResponder]] = {}
        self._person_ocsp: dict[str, tuple[int, OcspResponder]] = {}

    def _ca_set(self, hierarchy: str) -> CaSet:
        if hierarchy not in HIERARCHIES:
            raise NotFound(f"unknown hierarchy {hierarchy!r}")
        with self._context.database.session(read_only=True) as session:
            return self._context.ca.ca_set(session, hierarchy)

    def tsa(self, hierarchy: str) -> TimeStampAuthority:
        """The time-stamp authority of ``hierarchy`` (RSA TSA for RSA seals, SM2 for SM2).

        Every call checks which TSA certificate is current (one row), and loads the whole
        CA set only when it changed: a time-stamp per seal made the four-certificate read a
        fifth of an OFD seal's cost.
        """
        if hierarchy not in HIERARCHIES:
            raise NotFound(f"unknown hierarchy {hierarchy!r}")
        with self._context.database.session(read_only=True) as session:
            current = self._context.ca.current(session, hierarchy, Profile.TSA).id
        with self._lock:
            cached = self._tsa.get(hierarchy)
            if cached is not None and cached[0] == current:
                return cached[1]
        ca_set = self._ca_set(hierarchy)
        with self._lock:
            cached = self._tsa.get(hierarchy)
            if cached is None or cached[0] != ca_set.tsa.id:
                authority = TimeStampAuthority(
                    load_certificate(ca_set.tsa.der),
                    self._context.keystore.signer(ca_set.tsa.key_id),
                    chain=list(ca_set.chain()),
                    clock=self._clock,
                )
                cached = self._tsa[hierarchy] = (ca_set.tsa.id, authority)
        return cached[1]

    def ocsp(self, hierarchy: str) -> OcspResponder:
        """The OCSP responder for certificates of the current issuing CA of ``hierarchy``."""
        ca_set = self._ca_set(hierarchy)
        with self._lock:
            cached = self._ocsp.get(hierarchy)
            if cached is None or cached[0] != ca_set.ocsp.id:
                issuing_id = ca_set.issuing.id
                responder = OcspResponder(
                    load_certificate(ca_set.ocsp.der),
                    self._context.keystore.signer(ca_set.ocsp.key_id),
                    load_certificate(ca_set.issuing.der),
                    status_lookup=lambda serial: self.status(hierarchy, issuing_id, serial),
                    clock=self._clock,
                )
                cached = self._ocsp[hierarchy] = (ca_set.ocsp.id, responder)
        return cached[1]

    def person_ocsp(self, hierarchy: str) -> OcspResponder:
        """The OCSP responder for persons' certificates: the personal-signing CA answers
        itself (RFC 6960 §2.2 allows the CA as signer), so it needs no delegated responder
        certificate of its own."""
        if hierarchy not in HIERARCHIES:
            raise NotFound(f"unknown hierarchy {hierarchy!r}")
        with self._context.database.session(read_only=True) as session:
            person_ca = self._context.ca.current(session, hierarchy, Profile.PERSON_CA)
        with self._lock:
            cached = self._person_ocsp.get(hierarchy)
            if cached is None or cached[0] != person_ca.id:
                certificate, ca_id = load_certificate(person_ca.der), person_ca.id
                responder = OcspResponder(
                    certificate,
                    self._context.keystore.signer(person_ca.key_id),
                    certificate,
                    status_lookup=lambda serial: self.status(hierarchy, ca_id, serial),
                    clock=self._clock,
                )
                cached = self._person_ocsp[hierarchy] = (person_ca.id, responder)
        return cached[1]

    def status(self, hierarchy: str, issuer_id: int, serial: int) -> CertStatus:
        """Live status of a certificate of issuer ``issuer_id`` from the registry."""
        with self._context.database.session(read_only=True) as session:
            row = session.scalars(
                select(Certificate).where(
                    Certificate.hierarchy == hierarchy,
                    Certificate.serial == str(serial),
                    Certificate.issuer_certificate_id == issuer_id,
                )
            ).first()
            if row is None:
                return CertStatus("unknown")
            if row.status == CertificateStatus.REVOKED.value:
                return CertStatus("revoked", row.revoked_at, row.revocation_reason or "unspecified")
            if row.status == CertificateStatus.ON_HOLD.value:
                return CertStatus("revoked", row.revoked_at, "certificate_hold")
            return CertStatus("good")

    def latest_crl_der(self, hierarchy: str, issuer: Profile) -> bytes:
        """The newest CRL of the root, issuing or personal CA of ``hierarchy`` (DER), kept fresh.

        A CRL past half its lifetime is replaced by a new one before it is served or
        embedded, so relying parties never get a stale CRL from a running service even when
        nothing was revoked for a week.  Two workers refreshing at once race on the CRL
        number's unique constraint; the loser simply serves the winner's CRL.
        """
        ca = self._context.ca
        with self._context.database.session(read_only=True) as session:
            row = self._latest_crl(session, hierarchy, issuer)
        if row is None or ca.clock() >= row.this_update + (row.next_update - row.this_update) / 2:
            try:
                with self._context.database.session() as session:
                    row = ca.publish_crl(session, hierarchy, issuer, actor=CRL_REFRESH_ACTOR)
            except IntegrityError:
                with self._context.database.session(read_only=True) as session:
                    row = self._latest_crl(session, hierarchy, issuer)
            if row is None:
                raise NotFound(f"no CRL has been published for the {hierarchy} {issuer.value}")
        return row.der

    def _latest_crl(self, session: Session, hierarchy: str, issuer: Profile) -> Crl | None:
        ca = self._context.ca
        return ca.latest_crl(session, ca.current(session, hierarchy, issuer))

    def validation_data(self, hierarchy: str, certificate: x509.Certificate) -> RevocationMaterial:
        """What a B-LT seal embeds: CA/TSA/OCSP certificates, both CRLs, a fresh OCSP answer."""
        ca_set = self._ca_set(hierarchy)
        issuing, root = ca_set.chain()
        responder = self.ocsp(hierarchy)
        response = ocsp.OCSPResponse.load(
            responder.respond(build_request(certificate, issuing, nonce=False))
        )
        material = RevocationMaterial(
            certificates=(
                issuing,
                root,
                load_certificate(ca_set.tsa.der),
                load_certificate(ca_set.ocsp.der),
            ),
            crls=tuple(
                crl.CertificateList.load(self.latest_crl_der(hierarchy, p))
                for p in (Profile.ROOT_CA, Profile.ISSUING_CA)
            ),
            ocsp_responses=(response,),
        )
        # The engine that will verify the seal judges what gets embedded: a B-LT document
        # must validate from its DSS alone, so a gap shows when sealing, not years later.
        # An archive renewal covers certificates that have expired since: judge those at
        # their last valid moment, with today's CRLs and OCSP answers.
        at = min(self._clock(), certificate.not_valid_after)
        try:
            validate_path(
                certificate,
                material.certificates,
                [root],
                at,
                required_key_usage=(),
                crls=material.crls,
                ocsps=material.ocsp_responses,
                check_revocation=True,
                retroactive_revinfo=True,
            )
        except ChainError as exc:
            # A revocation found is evidence to embed (an archive renewal of a seal revoked
            # after sealing proves exactly that); missing or unusable data is a fault.
            if exc.reason is not ChainFailure.REVOKED:
                raise ServerFault(
                    f"the validation data to embed does not validate: {exc}"
                ) from None
        return material

    def local_fetcher(
        self, fallback: Callable[[str, bytes | None], bytes] | None = None
    ) -> Callable[[str, bytes | None], bytes]:
        """A revocation fetcher for verification that answers this service's own URLs
        (``{base_url}/pki/{rsa|sm2}/ocsp``, ``…/person-ocsp``, ``…/root.crl``,
        ``…/issuing.crl``, ``…/person.crl``) in-process.

        Our own seals' status is then known to verification without an HTTP round trip to
        ourselves.  Any other URL goes to ``fallback`` or is not fetched at all: a hostile
        PDF must not make the service send requests to addresses it names (SSRF).
        """
        prefix = f"{self._context.settings.base_url}/pki/"
        crls = {
            "root.crl": Profile.ROOT_CA,
            "issuing.crl": Profile.ISSUING_CA,
            "person.crl": Profile.PERSON_CA,
        }

        def fetch(url: str, ocsp_request: bytes | None) -> bytes:
            if not url.startswith(prefix):
                if fallback is None:
                    raise ConnectionError(f"not fetching {url}: not this service's URL")
                return fallback(url, ocsp_request)
            hierarchy, _, name = url.removeprefix(prefix).partition("/")
            try:
                if ocsp_request is not None and name == "ocsp":
                    return self.ocsp(hierarchy).respond(ocsp_request)
                if ocsp_request is not None and name == "person-ocsp":
                    return self.person_ocsp(hierarchy).respond(ocsp_request)
                if ocsp_request is None and name in crls:
                    return self.latest_crl_der(hierarchy, crls[name])
            except (SealsvcError, PkiError, ConfigError) as exc:
                raise ConnectionError(f"{url}: {exc}") from None
            raise ConnectionError(f"{url} is not a revocation service of sealsvc")

        return fetch
