"""The validation report: frozen dataclasses, their JSON form and its schema.

The report answers, for every signature in a PDF (seals and document time-stamps): who
sealed, whether the bytes are intact, what changed afterwards, whether the certificate
chains to one of our trust anchors, which time the seal can be proven to have existed at,
what the revocation status was then — and the ETSI EN 319 102-1 indication that follows.

The vocabulary of indications is pyHanko's (:mod:`pyhanko.sign.ades.report`), so an
operator who knows EU DSS or pyHanko reads the same words: ``TOTAL_PASSED``,
``INDETERMINATE``, ``TOTAL_FAILED`` with sub-indications such as ``HASH_FAILURE`` or
``REVOKED_NO_POE``.  The JSON form is versioned (:data:`SCHEMA_ID`) and documented in
``docs/verification-report.md``; :data:`JSON_SCHEMA` is the machine-readable schema.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from asn1crypto import x509
from pyhanko.sign.ades.report import AdESStatus, AdESSubIndic

from pki.certificates import POLICY_PERSON_EVENT, POLICY_PERSON_OFFICIAL
from sealsvc.identity import mask_name
from sealsvc.verification.certificates import shared_certificate

__all__ = [
    "JSON_SCHEMA",
    "SCHEMA_ID",
    "CertificateInfo",
    "ChainCheck",
    "DocumentVerdict",
    "IntegrityCheck",
    "ModificationCheck",
    "PersonInfo",
    "RegistryMatch",
    "RevocationCheck",
    "SignatureReport",
    "TimestampCheck",
    "ValidationReport",
    "clear_person_cache",
    "indication_name",
    "person_info",
]

SCHEMA_ID = "sealsvc.verification/1"
"""Identifier written as ``"schema"`` into every JSON report; bumped on incompatible change."""


def indication_name(status: AdESStatus) -> str:
    """ETSI/DSS spelling of a pyHanko status (``TOTAL_PASSED``, ``INDETERMINATE`` …)."""
    return {
        AdESStatus.PASSED: "TOTAL_PASSED",
        AdESStatus.INDETERMINATE: "INDETERMINATE",
        AdESStatus.FAILED: "TOTAL_FAILED",
    }[status]


class DocumentVerdict(StrEnum):
    """The whole-document verdict: the worst indication of its signatures, or NOT_SIGNED."""

    TOTAL_PASSED = "TOTAL_PASSED"
    INDETERMINATE = "INDETERMINATE"
    TOTAL_FAILED = "TOTAL_FAILED"
    NOT_SIGNED = "NOT_SIGNED"


@dataclass(frozen=True)
class CertificateInfo:
    """A certificate as a person reads it: names, serial, issuer, algorithm, validity."""

    subject: str
    """The full subject DN in RFC 4514 order as asn1crypto renders it ("human friendly");
    what an operator compares with the certificate list of the CA."""
    common_name: str | None
    """The subject CN; for a seal certificate this is the seal name (印章名称), e.g.
    "深圳市市场监督管理局行政审批专用章"."""
    organizational_unit: str | None
    """The subject OU; for our seals the department or office that holds the seal."""
    organization: str | None
    """The subject O: the organisation the seal belongs to; the citizen sentence names it."""
    serial_hex: str
    """The certificate serial number in lower-case hex, as ``openssl x509 -serial`` shows
    it (without leading zeros)."""
    issuer: str
    """The issuer DN ("human friendly"), naming the CA that vouches for the subject."""
    algorithm: str
    """Key family of the certificate: ``RSA``, ``ECDSA`` or ``SM2`` (an EC key on the
    curve 1.2.156.10197.1.301); ``unknown`` for anything else."""
    sha256: str
    """Hex SHA-256 of the certificate DER: the key the registry finds a seal by."""
    not_before: datetime
    """Start of the validity period (UTC)."""
    not_after: datetime
    """End of the validity period (UTC); after it, only proof of existence from a
    time-stamp keeps older seals valid."""


@dataclass(frozen=True)
class PersonInfo:
    """A personal signature (电子签名): who signed as a person, in which role, with which
    kind of certificate.  ``None`` in a report for a seal or a time-stamp."""

    name: str
    """The signer's name masked (张*三), as a public answer shows a person."""
    role: str | None
    """The role the signer signed in (经办人, 审核人, 签发人, 申请人 …): the signature's
    ``/Reason``."""
    certificate: str
    """``event`` (事件型证书: made for this one signing, valid minutes) or ``official`` (an
    official's long-lived certificate), told apart by the certificate policy OID."""


_PERSON_POLICIES = {POLICY_PERSON_EVENT: "event", POLICY_PERSON_OFFICIAL: "official"}


def person_info(certificate: x509.Certificate, role: str | None) -> PersonInfo | None:
    """The :class:`PersonInfo` of a signer certificate issued to a natural person by a
    personal-signing CA (its policy OID says so), else ``None`` (a seal, a TSA, anyone else's)."""
    person = _person_of(certificate.dump())
    if person is None:
        return None
    name, kind = person
    return PersonInfo(name=name, role=role or None, certificate=kind)


def clear_person_cache() -> None:
    """Forget every certificate's person (a benchmark's cold start)."""
    _person_of.cache_clear()


@functools.lru_cache(maxsize=1024)
def _person_of(der: bytes) -> tuple[str, str] | None:
    """(masked name, kind of personal certificate) of the certificate encoded by ``der``,
    worked out once per certificate: decoding its policies and subject was most of what
    reporting a seal cost, and the same seals come back in document after document."""
    certificate = shared_certificate(der)
    try:
        policies = certificate.certificate_policies_value
    except ValueError:
        return None
    kinds = {
        kind
        for policy in policies or ()
        if (kind := _PERSON_POLICIES.get(policy["policy_identifier"].dotted)) is not None
    }
    names = certificate.subject.native.get("common_name")
    name = names[0] if isinstance(names, list) and names else names
    if len(kinds) != 1 or not isinstance(name, str):
        return None
    return mask_name(name), kinds.pop()


@dataclass(frozen=True)
class RegistryMatch:
    """What our own registry knows about a seal certificate (only for seals we issued)."""

    seal_code: str
    """The seal code (印章编码) the registry knows the seal under."""
    seal_status: str
    """The seal's status *now*: ``active``, ``suspended``, ``revoked`` or ``expired``.  It
    describes the seal today, not at signing time; the indication relies on revocation
    data (CRL/OCSP), which is what a verifier outside the service sees as well."""
    certificate_status: str
    """The certificate's status now: ``valid``, ``superseded`` (the seal was re-keyed or
    renewed; documents sealed before stay valid), ``on_hold`` or ``revoked``."""


@dataclass(frozen=True)
class IntegrityCheck:
    """Whether the signed bytes are the bytes in the file and the CMS signature verifies."""

    byte_range: tuple[int, ...]
    """The ``/ByteRange`` of the signature dictionary as found (normally four integers)."""
    coverage: str
    """pyHanko's coverage level: ``ENTIRE_FILE``, ``ENTIRE_REVISION`` (the signature covers
    its whole revision; later revisions are judged by the modification analysis),
    ``CONTIGUOUS_BLOCK_FROM_START`` or ``UNCLEAR`` (the byte range leaves out more than the
    ``/Contents`` hole — treated as tampering)."""
    digest_algorithm: str | None
    """The digest of the byte range (``sha256``, ``sm3`` …), from the SignerInfo."""
    digest_matches: bool
    """The digest over the byte range equals the signed messageDigest attribute (for a
    document time-stamp: the message imprint)."""
    signature_valid: bool
    """The signature over the signed attributes verifies under the signer certificate's
    key (SM2 with the Z value over the default signer ID 1234567812345678)."""


@dataclass(frozen=True)
class ModificationCheck:
    """What happened to the document after this signature's revision."""

    later_revisions: int
    """How many incremental updates follow the signed revision (0: the signature covers
    the whole file)."""
    level: str
    """pyHanko's :class:`~pyhanko.sign.diff_analysis.ModificationLevel` name of the later
    changes: ``NONE``, ``LTA_UPDATES`` (DSS, document time-stamps), ``FORM_FILLING``
    (further signatures, form fields), ``ANNOTATIONS`` or ``OTHER`` (a change a reader
    sees: page content, pages, annotation appearances — judged by effect where pyHanko's
    whitelist cannot explain an update), or ``UNCLASSIFIED`` (the later revisions could
    not be compared; INDETERMINATE, never "tampered")."""
    allowed: bool
    """The later changes are acceptable: not ``OTHER`` and within the DocMDP permission of
    the certification signature, if any."""
    docmdp: int | None
    """The DocMDP permission (1 no changes, 2 form filling and signing, 3 plus
    annotations) in force for this signature, ``None`` if the document is not certified."""
    certification: bool
    """This signature is the certification (author) signature of the document."""
    detail: str | None
    """pyHanko's explanation when the changes are not allowed."""


@dataclass(frozen=True)
class ChainCheck:
    """The certificate path from the signer to one of the trust anchors."""

    trusted: bool
    """A valid path to a configured trust anchor exists at ``validated_at``."""
    path: tuple[str, ...]
    """Subjects of the certificates on the path, signer first, trust anchor last (empty
    when no path was found)."""
    validated_at: datetime | None
    """The moment the path was valid: the validation time, or — for a certificate that
    has expired since — the time proven by a time-stamp (proof of existence)."""
    validator: str
    """Which engine checked the path: ``pyhanko-certvalidator`` for every key family
    (:mod:`pki.chain`)."""
    problem: str | None
    """Why the path did not validate, in one sentence, when it did not."""


@dataclass(frozen=True)
class TimestampCheck:
    """An RFC 3161 time-stamp: a signature time-stamp or a document time-stamp."""

    time: datetime
    """The genTime of the token (UTC)."""
    authority: str
    """The TSA's certificate subject CN (or DN)."""
    valid: bool
    """The token's CMS signature verifies, its message imprint matches what it stamps
    (the signature value, or the document's byte range), and the TSA certificate chains
    to a trust anchor with the timeStamping purpose."""
    problem: str | None
    """Why the token is not usable as proof of time, when it is not."""


@dataclass(frozen=True)
class RevocationCheck:
    """The revocation status of the signer certificate at the proven signing time."""

    status: str
    """``good``, ``revoked``, ``on_hold`` (suspended: revoked with reason
    certificateHold), or ``unknown`` (no usable CRL/OCSP data)."""
    source: str | None
    """Where the deciding evidence came from: ``dss`` (embedded in the PDF: the DSS or a
    signature's ``adbe-revocationInfoArchival`` attribute), ``fetched``
    (CRL/OCSP from the certificate's URLs), ``None`` when there was none."""
    kind: str | None
    """``crl`` or ``ocsp`` for the deciding evidence."""
    issued_at: datetime | None
    """thisUpdate of the deciding CRL / OCSP answer."""
    revoked_at: datetime | None
    """Revocation (or hold) time, when revoked or on hold."""
    reason: str | None
    """RFC 5280 reason name, when given (``key_compromise``, ``certificate_hold`` …)."""


@dataclass(frozen=True)
class SignatureReport:
    """Everything established about one signature and the ETSI indication it leads to."""

    field_name: str
    """The PDF signature field's fully qualified name."""
    kind: str
    """``signature`` (a seal, /Type /Sig) or ``document_timestamp`` (/DocTimeStamp)."""
    indication: AdESStatus
    """pyHanko's :class:`~pyhanko.sign.ades.report.AdESStatus`: PASSED, INDETERMINATE or
    FAILED (``TOTAL_PASSED`` / ``INDETERMINATE`` / ``TOTAL_FAILED`` in JSON)."""
    sub_indication: AdESSubIndic | None
    """pyHanko's sub-indication (an ``AdESFailure`` or ``AdESIndeterminate`` member), or
    ``None`` when the indication is PASSED."""
    message: str
    """One English sentence with the reason for the indication, for operators and logs."""
    sentence: str
    """The plain-Chinese sentence for citizens (times in Beijing time, UTC+8)."""
    signer: CertificateInfo | None = None
    """The signer's (or TSA's) certificate, ``None`` when the CMS could not be read."""
    claimed_signing_time: datetime | None = None
    """The signing-time the signer claims (signed attribute or /M); not proof of time."""
    best_signature_time: datetime | None = None
    """The earliest time the signature is proven to have existed: the signature
    time-stamp, else a later document time-stamp; ``None`` without such proof."""
    registry: RegistryMatch | None = None
    """Our registry's view of the seal, when the certificate is one of ours."""
    integrity: IntegrityCheck | None = None
    """Byte range and CMS checks, ``None`` when the signature could not be parsed."""
    modifications: ModificationCheck | None = None
    """Changes after signing, ``None`` when the signature could not be parsed."""
    chain: ChainCheck | None = None
    """The certificate path, ``None`` when checking stopped earlier."""
    timestamp: TimestampCheck | None = None
    """The signature time-stamp (B-T and above) or, for a document time-stamp, the token
    itself; ``None`` when there is none."""
    revocation: RevocationCheck | None = None
    """Revocation status at the proven signing time, ``None`` when checking stopped earlier."""
    warnings: tuple[str, ...] = ()
    """Observations that do not change the indication (an unusable time-stamp, a claimed
    signing time far from the time-stamp …)."""
    person: PersonInfo | None = None
    """For a personal signature (电子签名): the person, their role and certificate kind."""

    @property
    def passed(self) -> bool:
        return self.indication is AdESStatus.PASSED


@dataclass(frozen=True)
class ValidationReport:
    """The report on a whole PDF: one :class:`SignatureReport` per signature and a verdict."""

    verdict: DocumentVerdict
    """Worst indication over all signatures (FAILED over INDETERMINATE over PASSED);
    ``NOT_SIGNED`` for a readable PDF without signatures."""
    sub_indication: AdESSubIndic | None
    """The sub-indication of the signature that decided the verdict (or of the file
    itself when it could not be read)."""
    message: str
    """One English sentence summarising the verdict."""
    sentence: str
    """The plain-Chinese summary for citizens."""
    validation_time: datetime
    """The moment the document was validated for ("now", or the ``now`` asked for)."""
    document_sha256: str
    """Hex SHA-256 of the file as received."""
    signatures: tuple[SignatureReport, ...] = field(default_factory=tuple)
    """Per-signature reports in document order (oldest revision first)."""

    @property
    def passed(self) -> bool:
        return self.verdict is DocumentVerdict.TOTAL_PASSED

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form described in ``docs/verification-report.md``."""
        return {
            "schema": SCHEMA_ID,
            "verdict": self.verdict.value,
            "sub_indication": sub_indication_name(self.sub_indication),
            "message": self.message,
            "sentence": self.sentence,
            "validation_time": iso_time(self.validation_time),
            "document_sha256": self.document_sha256,
            "signatures": [_signature(s) for s in self.signatures],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as a JSON string (UTF-8 text, Chinese not escaped)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)


def sub_indication_name(sub: AdESSubIndic | None) -> str | None:
    """The ETSI name of a sub-indication, as every report (PDF, SES, OFD) writes it."""
    return None if sub is None else sub.standard_name


def iso_time(moment: datetime | None) -> str | None:
    """A report time in ISO 8601 (``None`` stays ``None``)."""
    return None if moment is None else moment.isoformat()


def plain_fields(obj: Any) -> Any:
    """A report dataclass as JSON-ready fields (times and sub-indications encoded)."""
    if obj is None:
        return None
    out = {}
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        if isinstance(value, datetime):
            value = iso_time(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


def _signature(s: SignatureReport) -> dict[str, Any]:
    return {
        "field_name": s.field_name,
        "kind": s.kind,
        "indication": indication_name(s.indication),
        "sub_indication": sub_indication_name(s.sub_indication),
        "message": s.message,
        "sentence": s.sentence,
        "signer": plain_fields(s.signer),
        "claimed_signing_time": iso_time(s.claimed_signing_time),
        "best_signature_time": iso_time(s.best_signature_time),
        "registry": plain_fields(s.registry),
        "integrity": plain_fields(s.integrity),
        "modifications": plain_fields(s.modifications),
        "chain": plain_fields(s.chain),
        "timestamp": plain_fields(s.timestamp),
        "revocation": plain_fields(s.revocation),
        "warnings": list(s.warnings),
        "person": plain_fields(s.person),
    }


def _obj(properties: dict[str, Any], nullable: bool = False) -> dict[str, Any]:
    schema = {
        "type": ["object", "null"] if nullable else "object",
        "required": sorted(properties),
        "additionalProperties": False,
        "properties": properties,
    }
    return schema


_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {"type": ["string", "null"], "format": "date-time"}
_BOOL = {"type": "boolean"}
_INDICATION = {"enum": ["TOTAL_PASSED", "INDETERMINATE", "TOTAL_FAILED"]}

JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    **_obj(
        {
            "schema": {"const": SCHEMA_ID},
            "verdict": {"enum": [v.value for v in DocumentVerdict]},
            "sub_indication": _NSTR,
            "message": _STR,
            "sentence": _STR,
            "validation_time": _TIME,
            "document_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "signatures": {
                "type": "array",
                "items": _obj(
                    {
                        "field_name": _STR,
                        "kind": {"enum": ["signature", "document_timestamp"]},
                        "indication": _INDICATION,
                        "sub_indication": _NSTR,
                        "message": _STR,
                        "sentence": _STR,
                        "signer": _obj(
                            {
                                "subject": _STR,
                                "common_name": _NSTR,
                                "organizational_unit": _NSTR,
                                "organization": _NSTR,
                                "serial_hex": _STR,
                                "issuer": _STR,
                                "algorithm": {"enum": ["RSA", "ECDSA", "SM2", "unknown"]},
                                "sha256": _STR,
                                "not_before": _TIME,
                                "not_after": _TIME,
                            },
                            nullable=True,
                        ),
                        "claimed_signing_time": _NTIME,
                        "best_signature_time": _NTIME,
                        "registry": _obj(
                            {
                                "seal_code": _STR,
                                "seal_status": _STR,
                                "certificate_status": _STR,
                            },
                            nullable=True,
                        ),
                        "integrity": _obj(
                            {
                                "byte_range": {"type": "array", "items": {"type": "integer"}},
                                "coverage": _STR,
                                "digest_algorithm": _NSTR,
                                "digest_matches": _BOOL,
                                "signature_valid": _BOOL,
                            },
                            nullable=True,
                        ),
                        "modifications": _obj(
                            {
                                "later_revisions": {"type": "integer"},
                                "level": _STR,
                                "allowed": _BOOL,
                                "docmdp": {"type": ["integer", "null"]},
                                "certification": _BOOL,
                                "detail": _NSTR,
                            },
                            nullable=True,
                        ),
                        "chain": _obj(
                            {
                                "trusted": _BOOL,
                                "path": {"type": "array", "items": _STR},
                                "validated_at": _NTIME,
                                "validator": _STR,
                                "problem": _NSTR,
                            },
                            nullable=True,
                        ),
                        "timestamp": _obj(
                            {"time": _TIME, "authority": _STR, "valid": _BOOL, "problem": _NSTR},
                            nullable=True,
                        ),
                        "revocation": _obj(
                            {
                                "status": {"enum": ["good", "revoked", "on_hold", "unknown"]},
                                "source": {"enum": ["dss", "fetched", None]},
                                "kind": {"enum": ["crl", "ocsp", None]},
                                "issued_at": _NTIME,
                                "revoked_at": _NTIME,
                                "reason": _NSTR,
                            },
                            nullable=True,
                        ),
                        "warnings": {"type": "array", "items": _STR},
                        "person": _obj(
                            {
                                "name": _STR,
                                "role": _NSTR,
                                "certificate": {"enum": ["event", "official"]},
                            },
                            nullable=True,
                        ),
                    }
                ),
            },
        }
    ),
}
"""JSON Schema (draft 2020-12) of :meth:`ValidationReport.to_dict`."""
