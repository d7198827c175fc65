"""The evidence an archive information package carries, and how a verifier reads it offline.

Two kinds of evidence go into a package:

* **what the document holds** — certificates, CRLs, OCSP answers and time-stamp tokens
  in a PDF's signatures and DSS, or in an OFD's ``SES_Signature`` objects — extracted
  into files of their own, so an archivist (or ``openssl``) can read them without a PDF or
  SES parser;
* **what the service answered** while it verified the document at export: every CRL and
  OCSP answer the verification engine asked for (:class:`RecordingFetcher`).  Our OCSP
  requests carry no nonce, so the same question has the same bytes years later, and
  :class:`ReplayFetcher` answers it from the package alone — the engine then decides
  exactly as it did at export, only from the package, with no service to ask.

Every item is signed by its issuer; the engine verifies each before it uses it, so a
package cannot vouch for itself with forged revocation data.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import cms, ocsp, x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore

from ofd.package import OfdPackage
from ofd.signatures import read_signature, read_signatures
from pki.ses import parse_signature
from sealsvc.verification.pdf_signatures import signature_timestamp_token
from sealsvc.verification.revocation import RevocationFetcher

__all__ = [
    "REVOCATION_INDEX",
    "EvidenceSet",
    "RecordingFetcher",
    "ReplayFetcher",
    "certificates_in",
    "document_evidence",
]

REVOCATION_INDEX = "evidence/revocation.json"
"""The answers recorded at export: ``[{url, request (base64 or null), file}]``."""


def _name(data: bytes) -> str:
    """Files are named by content: the same item twice is one file."""
    return hashlib.sha256(data).hexdigest()[:24]


@dataclass
class EvidenceSet:
    """Certificates, CRLs, OCSP answers and time-stamp tokens (DER), each kept once."""

    certificates: dict[bytes, None] = field(default_factory=dict)
    crls: dict[bytes, None] = field(default_factory=dict)
    ocsps: dict[bytes, None] = field(default_factory=dict)
    timestamps: dict[bytes, None] = field(default_factory=dict)

    def add_certificates(self, ders: Iterable[bytes]) -> None:
        self.certificates.update(dict.fromkeys(ders))

    def files(self) -> dict[str, bytes]:
        """Package paths → bytes: ``evidence/{certificates,crls,ocsp,timestamps}/…``."""
        out: dict[str, bytes] = {}
        for folder, suffix, items in (
            ("certificates", "cer", self.certificates),
            ("crls", "crl", self.crls),
            ("ocsp", "ocsp", self.ocsps),
            ("timestamps", "tst", self.timestamps),
        ):
            out.update({f"evidence/{folder}/{_name(d)}.{suffix}": d for d in items})
        return out


def _ocsp_certificates(response: bytes) -> list[bytes]:
    """The responder certificates an OCSP answer carries."""
    try:
        parsed = ocsp.OCSPResponse.load(response)["response_bytes"]["response"].parsed
        return [c.dump() for c in parsed["certs"] or ()]
    except (ValueError, TypeError, KeyError):
        return []


def _token_certificates(token: cms.ContentInfo | cms.SignedData) -> list[bytes]:
    signed = token["content"] if isinstance(token, cms.ContentInfo) else token
    return [c.chosen.dump() for c in signed["certificates"] or () if c.name == "certificate"]


def _pdf_evidence(pdf: bytes, into: EvidenceSet) -> None:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    for embedded in reader.embedded_signatures:
        into.add_certificates(
            c.dump() for c in (embedded.signer_cert, *embedded.other_embedded_certs)
        )
        token = signature_timestamp_token(embedded)
        if token is not None:
            into.timestamps[
                cms.ContentInfo({"content_type": "signed_data", "content": token}).dump()
            ] = None
            into.add_certificates(_token_certificates(token))
        if embedded.sig_object.get("/Type") == "/DocTimeStamp":
            into.timestamps[bytes(embedded.sig_object["/Contents"]).rstrip(b"\0")] = None
    if "/DSS" in reader.root:
        dss = DocumentSecurityStore.read_dss(reader)
        into.add_certificates(c.dump() for c in dss.load_certs())
        into.crls.update(dict.fromkeys(_streams(dss.crls, DecodePurpose.CRL)))
        into.ocsps.update(dict.fromkeys(_streams(dss.ocsps, DecodePurpose.OCSP_RESPONSE)))


def _streams(references: Iterable[generic.IndirectObject], purpose: DecodePurpose) -> list[bytes]:
    """The decoded streams of DSS entries (pyHanko's per-purpose size limits apply)."""
    return [reference.get_object().read_data(purpose) for reference in references]


def _ofd_evidence(ofd: bytes, into: EvidenceSet) -> None:
    package = OfdPackage.read(ofd)
    for entry in read_signatures(package).entries:
        signature = parse_signature(package[read_signature(package, entry).signed_value_path])
        into.add_certificates(
            [
                signature.signer_certificate,
                signature.seal.maker_certificate,
                *signature.seal.certificates,
            ]
        )
        if signature.time_stamp_token is not None:
            into.timestamps[signature.time_stamp_token] = None
            into.add_certificates(
                _token_certificates(cms.ContentInfo.load(signature.time_stamp_token))
            )


def document_evidence(document: bytes, *, is_ofd: bool) -> EvidenceSet:
    """What ``document`` (already verified, so readable) carries as evidence."""
    found = EvidenceSet()
    (_ofd_evidence if is_ofd else _pdf_evidence)(document, found)
    return found


class RecordingFetcher:
    """Wraps a fetcher and keeps every answer it gave, for the package's evidence."""

    def __init__(self, fetcher: RevocationFetcher) -> None:
        self._fetcher = fetcher
        self.answers: dict[tuple[str, bytes | None], bytes] = {}

    def __call__(self, url: str, request: bytes | None) -> bytes:
        answer = self._fetcher(url, request)
        self.answers[(url, request)] = answer
        return answer

    def record_into(self, evidence: EvidenceSet) -> list[dict[str, Any]]:
        """Add the answers to ``evidence``; the index :class:`ReplayFetcher` reads."""
        index = []
        for (url, request), answer in self.answers.items():
            if request is None:
                evidence.crls[answer] = None
                path = f"evidence/crls/{_name(answer)}.crl"
            else:
                evidence.ocsps[answer] = None
                evidence.add_certificates(_ocsp_certificates(answer))
                path = f"evidence/ocsp/{_name(answer)}.ocsp"
            index.append(
                {
                    "url": url,
                    "request": None if request is None else base64.b64encode(request).decode(),
                    "file": path,
                }
            )
        return sorted(index, key=lambda item: (item["url"], item["request"] or ""))


class ReplayFetcher:
    """Answers the engine's CRL/OCSP questions from a package's recorded answers only."""

    def __init__(self, index: list[dict[str, Any]], files: Mapping[str, bytes]) -> None:
        self._answers: dict[tuple[str, bytes | None], bytes] = {}
        for item in index:
            if not isinstance(item, dict) or not isinstance(item.get("url"), str):
                continue  # an index from outside: what is not as we write it answers nothing
            request, data = item.get("request"), files.get(str(item.get("file")))
            try:
                key = (item["url"], None if request is None else base64.b64decode(request))
            except (TypeError, ValueError):
                continue
            if data is not None:
                self._answers[key] = data

    @classmethod
    def from_json(cls, text: bytes, files: Mapping[str, bytes]) -> ReplayFetcher:
        try:
            index = json.loads(text)
        except ValueError:
            index = []
        return cls(index if isinstance(index, list) else [], files)

    def __call__(self, url: str, request: bytes | None) -> bytes:
        try:
            return self._answers[(url, request)]
        except KeyError:
            raise ConnectionError(f"offline: the package holds no answer from {url}") from None


def certificates_in(files: Mapping[str, bytes], folder: str) -> list[x509.Certificate]:
    """The certificates stored under ``folder`` (unreadable ones skipped: the engine decides)."""
    found = []
    for path, data in sorted(files.items()):
        if path.startswith(folder) and path.endswith(".cer"):
            try:
                certificate = x509.Certificate.load(data)
                certificate.native  # noqa: B018 - parse now, not inside the engine
                found.append(certificate)
            except ValueError:
                continue
    return found
