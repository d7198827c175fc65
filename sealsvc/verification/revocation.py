"""Revocation status of a certificate at a given time, from CRLs and OCSP answers.

One rule set with the path-validation engine: whether a CRL or OCSP answer is evidence
about a certificate at all — issuer and scope, signature (RSA, ECDSA, SM2), responder
authorisation — is decided by :func:`pki.chain.revocation_statement`, the RFC 5280 / RFC
6960 code that also judges revocation on the PKITS path; this module adds only the EN 319
102-1 time rules below.  Evidence comes from the PDF's Document Security
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
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import NamedTuple

from asn1crypto import crl, ocsp, x509

from pki.chain import RevocationJudge, RevocationStatement
from pki.crl import load_crl
from pki.errors import PkiError
from pki.lru import LruCache
from pki.ocsp import build_batch_request
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
    "ocsp_serials",
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
    request = urllib.request.Request(url, data=ocsp_request, headers=headers)  # noqa: S310  (idem)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  http(s) only, above
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
    indirect: bool
    partial: bool
    """A delta CRL or one covering only some reasons: read beside a complete CRL."""


class EvidencePool:
    """CRLs and OCSP responses of one document (plus fetched ones), verified lazily, cached."""

    def __init__(
        self,
        crls: Iterable[bytes],
        ocsps: Iterable[bytes],
        fetcher: RevocationFetcher | None = None,
        certificates: Iterable[x509.Certificate] = (),
        *,
        asked_about: Iterable[x509.Certificate] = (),
    ) -> None:
        """``certificates`` are the document's other certificates; ``asked_about`` the
        ones the verification will ask about (a seal's signer, its maker, its TSA), so
        that one OCSP request covers those of one issuer and responder."""
        self._crls: list[_Crl] = []
        # The document's other certificates: a CRL issuer or responder may be among them
        # (a separate CRL-signing key, an indirect CRL, a key rollover), as for the engine.
        self._others = tuple(c.dump() for c in certificates)
        for data in crls:
            self._add_crl("dss", data)
        self._ocsps = [("dss", data) for data in ocsps]
        self._fetcher = fetcher
        self._asked_about = tuple(asked_about)
        self._fetched: set[bytes] = set()
        # (certificate, issuer, URL) already in an OCSP request of this pool.
        self._ocsp_asked: set[tuple[bytes, bytes, str]] = set()
        # A CRL speaks for every certificate of its issuer: a seal's, its maker's and the
        # TSA's certificates under one CA name one distribution point, fetched once here.
        self._fetched_crls: set[str] = set()
        self._cache: dict[tuple[bytes, ...], list[Evidence]] = {}
        # One engine set-up per item for all the certificates asked about (the same CRL,
        # the same batched OCSP answer), and one parse per OCSP response for it to key on.
        self._judge = RevocationJudge()
        self._responses: dict[bytes, ocsp.OCSPResponse | None] = {}

    @property
    def engine_setups(self) -> int:
        """How many items the engine was set up for (tests: one per item, not per
        certificate asked about)."""
        return self._judge.contexts_built

    def evidence(
        self, certificate: x509.Certificate, issuers: tuple[x509.Certificate, ...]
    ) -> list[Evidence]:
        """Every CRL entry / OCSP answer the engine accepts about ``certificate``;
        ``issuers`` is the rest of its validated path, issuer first, trust anchor last."""
        issuer = issuers[0]
        key = (certificate.dump(), *(c.dump() for c in issuers))
        if key not in self._cache:
            if self._fetcher is not None and key[0] not in self._fetched:
                self._fetched.add(key[0])
                self._fetch(certificate, issuer)
            self._cache[key] = [
                *self._from_crls(certificate, key[1:]),
                *self._from_ocsps(certificate, key[1:]),
            ]
        return self._cache[key]

    def _fetch(self, certificate: x509.Certificate, issuer: x509.Certificate) -> None:
        assert self._fetcher is not None  # noqa: S101  called only when fetching is on
        for url in certificate.ocsp_urls:
            batch = self._ocsp_batch(certificate, issuer, url)
            if not batch:
                continue
            try:
                request = _request(tuple(c.dump() for c in batch), issuer.dump())
                self._ocsps.append(("fetched", self._fetcher(url, request)))
            except Exception:  # noqa: S112  unreachable: the status stays unknown, and says so
                continue
        for point in certificate.crl_distribution_points:
            url = point.url
            if not url or url in self._fetched_crls:
                continue
            self._fetched_crls.add(url)
            try:
                self._add_crl("fetched", self._fetcher(url, None))
            except Exception:  # noqa: S112  unreachable: the status stays unknown, and says so
                continue

    def _ocsp_batch(
        self, certificate: x509.Certificate, issuer: x509.Certificate, url: str
    ) -> list[x509.Certificate]:
        """``certificate`` and the certificates asked about that name the same issuer and
        responder, each not yet asked about there with this issuer's CertID nor fetched for
        on its own.

        A certificate with the issuer's name but another key (a CA's rollover) gets an
        answer the engine does not match to it, and is asked again with its own issuer.
        """
        issuer_der, issuer_name = issuer.dump(), issuer.subject.dump()
        batch = []
        for candidate in (certificate, *self._asked_about):
            key = (candidate.dump(), issuer_der, url)
            if key in self._ocsp_asked or candidate.issuer.dump() != issuer_name:
                continue
            if candidate is not certificate and (
                key[0] in self._fetched or url not in candidate.ocsp_urls
            ):
                continue  # answered with its own issuer already, or another responder's
            self._ocsp_asked.add(key)
            batch.append(candidate)
        return batch

    def _add_crl(self, source: str, data: bytes) -> None:
        """Hold ``data`` once: a second copy (the DSS's and a fetched one) would be judged
        again and counted twice."""
        if any(c.der == data for c in self._crls):
            return
        try:
            certificate_list = _crl(data)
            point = certificate_list.issuing_distribution_point_value
            self._crls.append(
                _Crl(
                    source,
                    data,
                    certificate_list.issuer.dump(),
                    certificate_list,
                    bool(point is not None and point["indirect_crl"].native),
                    certificate_list.delta_crl_indicator_value is not None
                    or bool(point is not None and point["only_some_reasons"].native),
                )
            )
        except _ERRORS:
            return

    def _from_crls(
        self, certificate: x509.Certificate, issuers: tuple[bytes, ...]
    ) -> list[Evidence]:
        out = []
        issuer = shared_certificate(issuers[0])
        issuer_name, issuer_key_id = issuer.subject.dump(), issuer.key_identifier
        for source, der, crl_issuer, certificate_list, indirect, _ in self._crls:
            if crl_issuer != issuer_name and not indirect:
                continue  # cheap pre-filter: the engine would find no CRL issuer either
            # What the engine reads beside this CRL: the issuer's partial CRLs (delta,
            # some reasons) and — unless the CRL names the issuer's own key, whose path is
            # validated already — other issuers' CRLs, about the CRL signer's certificate.
            # Another complete CRL of this issuer is a statement of its own.
            own_key = (
                issuer_key_id is not None
                and certificate_list.authority_key_identifier == issuer_key_id
            )
            companions = tuple(
                c.der
                for c in self._crls
                if c.der != der
                and (
                    (c.partial and c.issuer == crl_issuer)
                    or (not own_key and c.issuer != crl_issuer)
                )
            )
            tbs = certificate_list["tbs_cert_list"]
            this_update, next_update = tbs["this_update"].native, tbs["next_update"].native
            statement = self._crl_statement(der, companions, certificate.dump(), issuers)
            if statement is not None:
                out.append(_evidence("crl", source, statement, this_update, next_update))
        return out

    def _from_ocsps(
        self, certificate: x509.Certificate, issuers: tuple[bytes, ...]
    ) -> list[Evidence]:
        out = []
        for source, data in self._ocsps:
            for this_update, next_update in _ocsp_singles(data).get(certificate.serial_number, ()):
                statement = self._ocsp_statement(
                    data, this_update, next_update, certificate.dump(), issuers
                )
                if statement is not None:
                    out.append(_evidence("ocsp", source, statement, this_update, next_update))
        return out

    def _crl_statement(
        self,
        crl_der: bytes,
        companions: tuple[bytes, ...],
        certificate_der: bytes,
        issuers: tuple[bytes, ...],
    ) -> RevocationStatement | None:
        """The engine's reading of a CRL (with its companions) about a certificate."""
        key = ("crl", crl_der, companions, certificate_der, issuers, self._others)
        found = _STATEMENTS.get(key)
        if found is None:
            certificate_list = _crl(crl_der)
            tbs = certificate_list["tbs_cert_list"]
            found = (
                self._judge.statement(
                    shared_certificate(certificate_der),
                    tuple(shared_certificate(c) for c in issuers),
                    certificate_list,
                    tbs["this_update"].native,
                    tbs["next_update"].native,
                    companions=[_crl(c) for c in companions],
                    others=[shared_certificate(c) for c in self._others],
                ),
            )
            _STATEMENTS.put(key, found)
        return found[0]

    def _ocsp_statement(
        self,
        response_der: bytes,
        this_update: datetime,
        next_update: datetime | None,
        certificate_der: bytes,
        issuers: tuple[bytes, ...],
    ) -> RevocationStatement | None:
        """The engine's reading of an OCSP response about a certificate, as of the
        answer's thisUpdate (parsed once per pool: certvalidator keeps state on the objects
        it is given, and a batched answer serves every certificate it names)."""
        key = (
            "ocsp",
            response_der,
            this_update,
            next_update,
            certificate_der,
            issuers,
            self._others,
        )
        found = _STATEMENTS.get(key)
        if found is None:
            response = self._response(response_der)
            statement = None
            if response is not None:
                statement = self._judge.statement(
                    shared_certificate(certificate_der),
                    tuple(shared_certificate(c) for c in issuers),
                    response,
                    this_update,
                    next_update,
                    others=[shared_certificate(c) for c in self._others],
                )
            found = (statement,)
            _STATEMENTS.put(key, found)
        return found[0]

    def _response(self, data: bytes) -> ocsp.OCSPResponse | None:
        if data not in self._responses:
            try:
                self._responses[data] = ocsp.OCSPResponse.load(data)
            except _ERRORS:
                self._responses[data] = None
        return self._responses[data]


def _evidence(
    kind: str,
    source: str,
    statement: RevocationStatement,
    this_update: datetime,
    next_update: datetime | None,
) -> Evidence:
    """An :class:`Evidence` from the engine's statement and the item's own update times."""
    status = statement.status
    if status == "revoked" and statement.reason == "certificate_hold":
        status = "on_hold"
    return Evidence(
        kind,
        source,
        status,
        this_update,
        next_update,
        statement.revoked_at,
        statement.reason,
    )


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
def _request(certificate_ders: tuple[bytes, ...], issuer_der: bytes) -> bytes:
    """The OCSP request about certificates of one issuer (no nonce: the same bytes every
    time)."""
    certificates = [shared_certificate(c) for c in certificate_ders]
    return build_batch_request(certificates, shared_certificate(issuer_der), nonce=False)


_STATEMENTS: LruCache[tuple[RevocationStatement | None]] = LruCache(2048)
"""The engine's reading of a CRL (with its companions) or an OCSP answer (as of one
answer's update times) about a certificate, keyed on the encodings it is a function of:
the item, the certificate, its issuer path and the other certificates offered.  Kept
across documents (thread-safe, LRU); ``None`` — not evidence about it — is kept too."""


@functools.lru_cache(maxsize=256)
def _ocsp_singles(data: bytes) -> dict[int, tuple[tuple[datetime, datetime | None], ...]]:
    """(thisUpdate, nextUpdate) of each answer of an OCSP response, by serial number
    (unverified: only to find the answers about a certificate; the engine judges them)."""
    out: dict[int, tuple[tuple[datetime, datetime | None], ...]] = {}
    try:
        basic = ocsp.OCSPResponse.load(data).basic_ocsp_response
        for single in basic["tbs_response_data"]["responses"]:
            serial = single["cert_id"]["serial_number"].native
            times = (single["this_update"].native, single["next_update"].native)
            out[serial] = (*out.get(serial, ()), times)
    except (*_ERRORS, AttributeError):
        return {}
    return out


def ocsp_serials(data: bytes) -> frozenset[int] | None:
    """The serial numbers an OCSP response answers about (unverified), from the reading
    of it the verification keeps per encoding (so a file's DSS answers are not parsed
    again to list them); ``None`` when it gives none — unreadable, or no answers."""
    singles = _ocsp_singles(data)
    return frozenset(singles) if singles else None


def clear_caches() -> None:
    """Forget every parsed and verified item (benchmarks measure a cold start with it)."""
    for cached in (_crl, _request, _ocsp_singles):
        cached.cache_clear()
    _STATEMENTS.clear()
    clear_ocsp_caches()


_ALWAYS = datetime.min.replace(tzinfo=UTC)


def decide(
    evidence: list[Evidence], best_time: datetime | None, now: datetime
) -> tuple[Outcome, RevocationCheck]:
    """Apply the rules of the module docstring; ``best_time`` is the proven signing time."""
    # A revocation without a time (no parser yields one) counts from the start: conservative.
    revoked = [(e.revoked_at or _ALWAYS, e) for e in evidence if e.status == "revoked"]
    if revoked:
        revoked_at, first = min(revoked, key=lambda pair: pair[0])
        check = _check(first)
        if best_time is None:
            return Outcome.REVOKED_NO_POE, check
        if revoked_at <= best_time:
            return Outcome.REVOKED, check
        return Outcome.GOOD, check
    if evidence:
        # Same second (OCSP and CRL times are whole seconds): the hold wins, conservatively.
        newest = max(evidence, key=lambda e: (e.issued_at, e.status == "on_hold"))
        if newest.status == "on_hold" and (newest.revoked_at or _ALWAYS) <= now:
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
