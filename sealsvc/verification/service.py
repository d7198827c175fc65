"""Verification as the service offers it: our trust anchors, our registry, our licences.

:class:`DocumentVerifier` is built once per process (the API builds one per worker): it
holds the trust anchors — the service's own RSA and SM2 roots from ``<data dir>/ca/`` —
and the registry lookup, and answers each upload with the validation report plus, when
the file is (or claims to be) one of our licences, the licence's registry status.
Revocation data of our own certificates comes from the service's OCSP responder and CRLs
in-process (a B-T seal then verifies without embedded revocation data); other URLs named
in an uploaded file are never fetched.

Reports are remembered (:class:`.VerdictCache`) under the head of the audit log: every
change of a seal's or certificate's status — revocation, suspension, resumption,
rotation — is audited in the transaction that makes it, so a new head means the registry
and the revocation answers may read differently, and no report computed before is used.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader

from ofd.package import OfdPackage, is_ofd
from pki.certificates import POLICY_SEAL_MAKER
from pki.clock import now_utc
from pki.lru import LruCache
from sealsvc.licences.identify import LicenceMatch, identify_licence, identify_licences
from sealsvc.licences.status import check_number
from sealsvc.models import AuditHead
from sealsvc.trust_services import TrustServices
from sealsvc.verification.anchors import registry_anchors, service_anchors
from sealsvc.verification.cache import VerdictCache
from sealsvc.verification.ofd import (
    licence_number_in_ofd,
    read_ofd_package,
    verify_ofd,
)
from sealsvc.verification.registry import database_lookup
from sealsvc.verification.report import ValidationReport
from sealsvc.verification.revocation import RevocationFetcher
from sealsvc.verification.ses import SesVerifier, database_ses_lookup
from sealsvc.verification.validator import TrustAnchors, verify

_T = TypeVar("_T")

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = [
    "DocumentCheck",
    "DocumentVerifier",
    "RegistryState",
    "Verified",
    "match_licence",
    "match_licences",
    "service_anchors",
]
# service_anchors lives in .anchors (ses.py needs it too); it is still imported from here.


@dataclass(frozen=True)
class DocumentCheck:
    """The verdict on one uploaded file: its seals, and the registry status of its licence.

    Seals that verify do not make an annulled or superseded licence valid again, so the
    verdict a person or a program acts on is :attr:`accepted`, not the seals' verdict alone.
    """

    report: ValidationReport
    licence: LicenceMatch | None
    """The registered licence the file is or names, ``None`` if it is none of ours."""

    @property
    def licence_status(self) -> str | None:
        """``valid``, ``annulled`` or ``superseded``; ``None`` for a file that is no licence."""
        return self.licence.status if self.licence else None

    @property
    def accepted(self) -> bool:
        """TOTAL_PASSED and, if the file is one of our licences, that licence still valid."""
        return self.report.passed and (self.licence is None or self.licence.sentence is None)

    @property
    def conclusion(self) -> str:
        """The one sentence to read: the seals' sentence, or what the registry says against it.

        ``印章有效，但该证照已于 2026-12-04 被注销，不再有效。``
        """
        gone = self.licence.sentence if self.licence else None
        if gone is None:
            return self.report.sentence
        if self.report.passed:
            return "印章有效，但" + gone
        return f"{self.report.sentence}{gone}"

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON (schema ``sealsvc.verification/1``) plus the licence's verdict.

        ``accepted``, ``licence_status`` and ``conclusion`` sit at the top level so that an
        approval system gating on ``verdict`` alone is not the only reading on offer.
        """
        return {
            **self.report.to_dict(),
            "accepted": self.accepted,
            "licence_status": self.licence_status,
            "conclusion": self.conclusion,
            "licence": self.licence and self.licence.as_dict(),
        }


RegistryState = tuple[int, str] | None
"""The head of the audit log (sequence number, entry hash), ``None`` without one: the
token every remembered answer of a verifier is keyed on."""


@dataclass(frozen=True)
class Verified:
    """A file's seals judged, before the registry is asked which licence the file is."""

    report: ValidationReport
    package: OfdPackage | None
    """An OFD's package as read for its verification (its ``CustomDatas`` name its
    licence); ``None`` for a PDF (its XMP is searched) or an unreadable package."""


def match_licence(
    context: ServiceContext,
    report: ValidationReport,
    pdf: bytes,
    licence_number: str | None = None,
    *,
    package: OfdPackage | None = None,
) -> DocumentCheck:
    """``report`` with the registered licence the file (PDF or OFD) is or names (see
    :mod:`identify`; an OFD names it in ``DocInfo/CustomDatas``)."""
    if package is None and is_ofd(pdf):
        package = read_ofd_package(pdf)
    claimed = licence_number_in_ofd(package)
    with context.database.session(read_only=True) as session:
        licence = identify_licence(
            session,
            report.document_sha256,
            pdf,
            number=licence_number,
            settings=context.settings,
            metadata_number=claimed,
        )
    return DocumentCheck(report, licence)


def match_licences(
    context: ServiceContext, files: Sequence[tuple[Verified, bytes]]
) -> list[DocumentCheck]:
    """:func:`match_licence` of each (verified file, its bytes) of a batch, the registry
    read once for all of them (:func:`.identify_licences`)."""
    if not files:
        return []
    with context.database.session(read_only=True) as session:
        matches = identify_licences(
            session,
            [
                (v.report.document_sha256, data, licence_number_in_ofd(v.package))
                for v, data in files
            ],
            settings=context.settings,
        )
    return [DocumentCheck(v.report, m) for (v, _), m in zip(files, matches, strict=True)]


class DocumentVerifier:
    """Verifies uploads against the service's trust anchors and registry; thread-safe."""

    def __init__(
        self,
        context: ServiceContext,
        trust: TrustServices | None = None,
        *,
        clock: Callable[[], datetime] = now_utc,
        cache: VerdictCache | None = None,
        fetcher: RevocationFetcher | None = None,
    ) -> None:
        """``fetcher`` replaces the in-process answers of our OCSP responder and CRLs (the
        archive export wraps them to keep every answer as evidence)."""
        self._context = context
        self._lookup = database_lookup(context.database)
        self._ses_lookup = database_ses_lookup(context.database)
        trust = trust or TrustServices(context)
        self._fetch = fetcher or trust.local_fetcher()
        self._ses = SesVerifier(context, trust)
        self._clock = clock
        self.cache = cache if cache is not None else VerdictCache()
        self._answers: LruCache[tuple[Any, datetime]] = LruCache(1024)
        self._lock = threading.Lock()
        self._anchors: TrustAnchors | None = None
        self._issuing: tuple[object, list[x509.Certificate]] | None = None

    def anchors(self) -> TrustAnchors:
        """Read once from the registry; re-read while still empty (a service started
        before its first CA)."""
        with self._lock:
            if self._anchors is None or not self._anchors.certificates:
                with self._context.database.session(read_only=True) as session:
                    self._anchors = registry_anchors(session)
            return self._anchors

    def check(
        self,
        pdf: bytes,
        *,
        licence_number: str | None = None,
        ofd: bool | None = None,
        reader: PdfFileReader | None = None,
    ) -> DocumentCheck:
        """Verify ``pdf`` — a PDF, or an OFD when ``ofd`` says so or, left ``None``, when
        the content does (a ZIP naming ``OFD.xml``); compare it with licence
        ``licence_number`` when one is named.

        Never raises for a bad file (the report says FORMAT_FAILURE); a named licence
        number must be well-formed (InvalidInput) and registered (NotFound).  ``reader``:
        the PDF already opened by :func:`.pdf_signatures.open_reader`.
        """
        if licence_number is not None:
            check_number(licence_number)
        verified = self.verified(pdf, self.registry_state(), ofd=ofd, reader=reader)
        return match_licence(
            self._context, verified.report, pdf, licence_number, package=verified.package
        )

    def verified(
        self,
        pdf: bytes,
        state: RegistryState,
        *,
        ofd: bool | None = None,
        reader: PdfFileReader | None = None,
    ) -> Verified:
        """The seals of ``pdf`` (see :meth:`check`) judged as of registry ``state`` (read
        by :meth:`registry_state` when, or before, this check began), without asking which
        licence the file is: a batch (the archive check) asks that for many files at once
        (:func:`match_licences`).  ``reader``: as for :meth:`check` (the archive check
        reads its own facts from the same parsed objects)."""
        now = self._clock()
        if ofd or (ofd is None and is_ofd(pdf)):
            package = read_ofd_package(pdf)
            report = verify_ofd(
                pdf,
                package=package,
                trust=self.anchors(),
                intermediates=self._intermediates(state),
                registry_lookup=self._remembered("seal", self._lookup, state, now),
                ses_lookup=self._remembered("ses", self._ses_lookup, state, now),
                now=now,
                fetcher=lambda url, request: self._fetched(url, request, state, now),
                maker_policy=POLICY_SEAL_MAKER,
            )
            return Verified(report, package)
        report = verify(
            pdf,
            trust=self.anchors(),
            registry_lookup=self._remembered("seal", self._lookup, state, now),
            now=now,
            allow_fetching=True,
            fetcher=lambda url, request: self._fetched(url, request, state, now),
            cache=self.cache,
            state=state,
            reader=reader,
        )
        return Verified(report, None)

    def _fetched(self, url: str, request: bytes | None, state: object, now: datetime) -> bytes:
        """Our own OCSP answer or CRL, produced once per registry state and ``max_age``.

        Within one state the responder would say the same, only signed a little later;
        producing (signing) it for every upload was most of a verification's cost.
        """
        if state is None:  # no audit log to tell a change by: ask every time
            return self._fetch(url, request)
        key = (url, request, state)
        found = self._answers.get(key)
        if found is not None and found[1] <= now < found[1] + self.cache.max_age:
            return found[0]
        answer = self._fetch(url, request)
        self._answers.put(key, (answer, now))
        return answer

    def _remembered(
        self, name: str, lookup: Callable[..., _T], state: object, now: datetime
    ) -> Callable[..., _T]:
        """``lookup`` answered once per registry state and ``max_age``, like our OCSP
        answers (:meth:`_fetched`): a seal's status changes only with an audited change,
        and the same seals come back in document after document."""
        if state is None:
            return lookup

        def remembered(*key: str) -> _T:
            found = self._answers.get((name, key, state))
            if found is not None and found[1] <= now < found[1] + self.cache.max_age:
                return found[0]
            answer = lookup(*key)
            self._answers.put((name, key, state), (answer, now))
            return answer

        return remembered

    def _intermediates(self, state: object) -> list[x509.Certificate]:
        """Our issuing CAs (what OFD seals' paths need), read once per registry state: a
        new CA certificate is audited, so a new state may mean a new one."""
        if state is None:
            return self._ses.intermediates()
        with self._lock:
            if self._issuing is not None and self._issuing[0] == state:
                return self._issuing[1]
        issuing = self._ses.intermediates()
        with self._lock:
            self._issuing = (state, issuing)
        return issuing

    def registry_state(self) -> RegistryState:
        """The head of the audit log: it moves with every audited status change."""
        with self._context.database.session(read_only=True) as session:
            head = session.get(AuditHead, 1)
            return None if head is None else (head.seq, head.entry_hash)
