"""Revocation status of a certificate at a given time, from CRLs and OCSP answers.

One implementation for RSA, ECDSA and SM2: CRL signatures are checked with
:func:`pki.crl.verify_crl_signature`, OCSP answers with :func:`pki.ocsp.parse_response`
(both through :mod:`pki.algorithms`).  Evidence comes from the PDF's Document Security
Store and — only when the caller allows fetching — from the certificate's CRL distribution
points and OCSP URL, through a :data:`RevocationFetcher` (the default speaks HTTP; tests and
the service can answer in-process).

The decision follows EN 319 102-1 / EU DSS:

* revoked at or before the proven signing time → ``REVOKED`` (TOTAL_FAILED);
* revoked after the proven signing time → still good (the seal was made while valid);
* revoked, but no proof of when the seal was made → ``REVOKED_NO_POE`` (INDETERMINATE);
* the newest answer says *on hold* (reason certificateHold) → ``ON_HOLD``: DSS's
  CertificateOnHoldCheck gives INDETERMINATE/TRY_LATER whenever the validation time is
  after the hold date, even if the seal was time-stamped before — a hold may be lifted or
  turn into a revocation, so the verdict is deferred;
* no answer that speaks for the signing time (issued at/after it, or valid across it) →
  ``NO_DATA`` (INDETERMINATE/TRY_LATER).
"""

from __future__ import annotations

import functools
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import NamedTuple

from asn1crypto import crl, ocsp, x509

from pki.crl import load_crl, verify_crl_signature
from pki.errors import PkiError
from pki.ocsp import SingleStatus, build_request, parse_response
from pki.ocsp import clear_caches as clear_ocsp_caches
from sealsvc.verification.certificates import shared_certificate
from sealsvc.verification.report import RevocationCheck

__all__ = [
    "MAX_FETCH_BYTES",
    "Evidence",
    "EvidencePool",
    "Outcome",
    "RevocationFetcher",
    "clear_caches",
    "decide",
    "http_fetcher",
]

RevocationFetcher = Callable[[str, bytes | None], bytes]
"""``fetch(url, ocsp_request_der)`` → response bytes: a POST of an OCSP request, or a GET
of a CRL when the request is ``None``.  Raise any exception on failure."""

MAX_FETCH_BYTES = 10 * 1024 * 1024
"""Largest CRL or OCSP response the default fetcher reads."""

TOLERANCE = timedelta(seconds=1)
"""Clock slack between a time-stamp and an OCSP answer produced right after it."""

_ERRORS = (PkiError, ValueError, TypeError, KeyError)


def http_fetcher(url: str, ocsp_request: bytes | None) -> bytes:
    """Fetch over HTTP(S) with a 10 s timeout and a size cap (the default fetcher)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"refusing to fetch {url!r}")
    headers = {"Content-Type": "application/ocsp-request"} if ocsp_request else {}
    request = urllib.request.Request(url, data=ocsp_request, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        data = response.read(MAX_FETCH_BYTES + 1)
    if len(data) > MAX_FETCH_BYTES:
        raise ValueError("response too large")
    return data


class Outcome(Enum):
    """What the evidence says about the certificate at the proven signing time."""

    GOOD = "good"
    REVOKED = "revoked"
    REVOKED_NO_POE = "revoked_no_poe"
    ON_HOLD = "on_hold"
    NO_DATA = "no_data"


@dataclass(frozen=True)
class Evidence:
    """One verified statement about one certificate."""

    kind: str
    source: str
    status: str  # good | revoked | on_hold
    issued_at: datetime
    next_update: datetime | None
    revoked_at: datetime | None
    reason: str | None


class _Crl(NamedTuple):
    """A CRL of the pool with the encodings it is matched by (asn1crypto's ``dump()``
    walks the whole parsed list each time, and a document asks once per certificate)."""

    source: str
    der: bytes
    issuer: bytes
    certificate_list: crl.CertificateList


class EvidencePool:
    """CRLs and OCSP responses of one document (plus fetched ones), verified lazily, cached."""

    def __init__(
        self,
        crls: Iterable[bytes],
        ocsps: Iterable[bytes],
        fetcher: RevocationFetcher | None = None,
    ) -> None:
        self._crls: list[_Crl] = []
        for data in crls:
            self._add_crl("dss", data)
        self._ocsps = [("dss", data) for data in ocsps]
        self._fetcher = fetcher
        self._fetched: set[bytes] = set()
        self._cache: dict[tuple[bytes, bytes], list[Evidence]] = {}

    def evidence(self, certificate: x509.Certificate, issuer: x509.Certificate) -> list[Evidence]:
        """Every verified CRL entry / OCSP answer about ``certificate`` from ``issuer``."""
        key = (certificate.dump(), issuer.dump())
        if key not in self._cache:
            if self._fetcher is not None and key[0] not in self._fetched:
                self._fetched.add(key[0])
                self._fetch(certificate, issuer)
            self._cache[key] = [
                *self._from_crls(certificate, issuer),
                *self._from_ocsps(certificate, issuer),
            ]
        return self._cache[key]

    def _fetch(self, certificate: x509.Certificate, issuer: x509.Certificate) -> None:
        assert self._fetcher is not None
        for url in certificate.ocsp_urls:
            try:
                request = _request(certificate.dump(), issuer.dump())
                self._ocsps.append(("fetched", self._fetcher(url, request)))
            except Exception:
                continue
        for point in certificate.crl_distribution_points:
            url = point.url
            if not url:
                continue
            try:
                self._add_crl("fetched", self._fetcher(url, None))
            except Exception:
                continue

    def _add_crl(self, source: str, data: bytes) -> None:
        try:
            certificate_list = _crl(data)
            self._crls.append(_Crl(source, data, certificate_list.issuer.dump(), certificate_list))
        except _ERRORS:
            return

    def _from_crls(self, certificate: x509.Certificate, issuer: x509.Certificate) -> list[Evidence]:
        out = []
        issuer_name = issuer.subject.dump()
        for source, der, crl_issuer, certificate_list in self._crls:
            if crl_issuer != issuer_name or not _crl_signed_by(der, issuer.dump()):
                continue
            tbs = certificate_list["tbs_cert_list"]
            this_update = tbs["this_update"].native
            next_update = tbs["next_update"].native
            entry = _crl_entry(certificate_list, certificate.serial_number)
            if entry is None:
                out.append(Evidence("crl", source, "good", this_update, next_update, None, None))
                continue
            reason = entry.crl_reason_value.native if entry.crl_reason_value else None
            status = "on_hold" if reason == "certificate_hold" else "revoked"
            out.append(
                Evidence(
                    "crl",
                    source,
                    status,
                    this_update,
                    next_update,
                    entry["revocation_date"].native,
                    reason,
                )
            )
        return out

    def _from_ocsps(
        self, certificate: x509.Certificate, issuer: x509.Certificate
    ) -> list[Evidence]:
        out = []
        for source, data in self._ocsps:
            if certificate.serial_number not in _ocsp_serials(data):
                continue  # cheap pre-filter: parse_response decodes the whole response
            for answer in _ocsp_answers(data, issuer.dump()):
                if answer.serial_number != certificate.serial_number or answer.status == "unknown":
                    continue
                status = answer.status
                if status == "revoked" and answer.reason == "certificate_hold":
                    status = "on_hold"
                out.append(
                    Evidence(
                        "ocsp",
                        source,
                        status,
                        answer.this_update,
                        answer.next_update,
                        answer.revoked_at,
                        answer.reason,
                    )
                )
        return out


# Whether a CRL or an OCSP response was signed by a given issuer does not depend on the
# document or the moment, only on the two encodings: remembered across documents (a
# service sees the same CRLs and responder answers again and again), bounded, and
# thread-safe (functools.lru_cache).  New evidence — a CRL listing a revocation, a fresh
# OCSP answer — has other bytes, hence another key: nothing here can hide a revocation.


@functools.lru_cache(maxsize=256)
def _crl(data: bytes) -> crl.CertificateList:
    """A CRL parsed once (``load_crl`` decodes it fully, so sharing it is read-only)."""
    return load_crl(data)


@functools.lru_cache(maxsize=512)
def _request(certificate_der: bytes, issuer_der: bytes) -> bytes:
    """The OCSP request about a certificate (no nonce: the same bytes every time)."""
    certificate, issuer = shared_certificate(certificate_der), shared_certificate(issuer_der)
    return build_request(certificate, issuer, nonce=False)


@functools.lru_cache(maxsize=1024)
def _crl_signed_by(crl_der: bytes, issuer_der: bytes) -> bool:
    try:
        verify_crl_signature(_crl(crl_der), shared_certificate(issuer_der))
    except _ERRORS:
        return False
    return True


@functools.lru_cache(maxsize=1024)
def _ocsp_answers(response_der: bytes, issuer_der: bytes) -> tuple[SingleStatus, ...]:
    """The verified answers of an OCSP response about ``issuer``'s certificates."""
    try:
        return tuple(parse_response(response_der, shared_certificate(issuer_der)))
    except _ERRORS:
        return ()


@functools.lru_cache(maxsize=256)
def _ocsp_serials(data: bytes) -> frozenset[int]:
    """Serial numbers an OCSP response answers about (unverified; only to skip others)."""
    try:
        basic = ocsp.OCSPResponse.load(data).basic_ocsp_response
        responses = basic["tbs_response_data"]["responses"]
        return frozenset(r["cert_id"]["serial_number"].native for r in responses)
    except (*_ERRORS, AttributeError):
        return frozenset()


def clear_caches() -> None:
    """Forget every parsed and verified item (benchmarks measure a cold start with it)."""
    for cached in (_crl, _request, _crl_signed_by, _ocsp_answers, _ocsp_serials):
        cached.cache_clear()
    clear_ocsp_caches()


def _crl_entry(certificate_list: crl.CertificateList, serial: int):
    for entry in certificate_list["tbs_cert_list"]["revoked_certificates"] or []:
        if entry["user_certificate"].native == serial:
            return entry
    return None


def decide(
    evidence: list[Evidence], best_time: datetime | None, now: datetime
) -> tuple[Outcome, RevocationCheck]:
    """Apply the rules of the module docstring; ``best_time`` is the proven signing time."""
    revoked = [e for e in evidence if e.status == "revoked"]
    if revoked:
        first = min(revoked, key=lambda e: e.revoked_at)
        check = _check(first)
        if best_time is None:
            return Outcome.REVOKED_NO_POE, check
        if first.revoked_at <= best_time:
            return Outcome.REVOKED, check
        return Outcome.GOOD, check
    if evidence:
        # Same second (OCSP and CRL times are whole seconds): the hold wins, conservatively.
        newest = max(evidence, key=lambda e: (e.issued_at, e.status == "on_hold"))
        if newest.status == "on_hold" and newest.revoked_at <= now:
            return Outcome.ON_HOLD, _check(newest)
    at = best_time or now
    usable = [
        e
        for e in evidence
        if e.status == "good"
        and (
            e.issued_at >= at - TOLERANCE
            or (e.issued_at <= at and (e.next_update is None or at <= e.next_update))
        )
    ]
    if usable:
        return Outcome.GOOD, _check(max(usable, key=lambda e: e.issued_at))
    return Outcome.NO_DATA, RevocationCheck("unknown", None, None, None, None, None)


def _check(e: Evidence) -> RevocationCheck:
    return RevocationCheck(e.status, e.source, e.kind, e.issued_at, e.revoked_at, e.reason)
