"""RFC 3161 time-stamp authority for RSA and SM2 hierarchies, as plain functions over DER.

:class:`TimeStampAuthority` turns a TimeStampReq into a TimeStampResp (``respond``, what
the HTTP endpoint will call) or a message imprint straight into a token (``stamp``, what
in-process sealing calls for PAdES B-T/B-LTA).  The token is a CMS SignedData over a
TSTInfo built by :func:`pki.cms.build_signed_data`, so RSA and SM2 tokens share one path:
an RSA TSA signs with sha256WithRSAEncryption, an SM2 TSA with SM2-with-SM3 (see
:mod:`pki.cms` for the identifiers and why).

Bad requests never raise: they become a ``rejection`` response with the RFC 3161
failure info a client can act on (``badDataFormat``, ``badAlg``, ``unacceptedPolicy``,
``unacceptedExtension``).  The clock is injected so tests (and an operator's trusted time
source) decide what "now" is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from asn1crypto import cms, core, tsp, x509

from pki.algorithms import SigningKey
from pki.asn1.cached import parsed
from pki.certificates import POLICY_TSA, random_serial
from pki.clock import now_utc
from pki.cms import build_signed_data
from pki.errors import CertificateError, PkiError

__all__ = ["SUPPORTED_HASHES", "TimeStampAuthority", "TimeStampRejected", "TimeStampResp"]

_log = logging.getLogger(__name__)

SUPPORTED_HASHES: dict[str, int] = {"sha256": 32, "sha384": 48, "sha512": 64, "sm3": 32}
"""Message-imprint digests the TSA accepts (asn1crypto name → digest length in bytes).

SHA-1 is refused: a time-stamp over a SHA-1 imprint proves little once collisions are cheap.
"""


class TimeStampResp(core.Sequence):
    """RFC 3161 §2.4.2 TimeStampResp with the token OPTIONAL, as the RFC declares it.

    asn1crypto 1.5 declares ``timeStampToken`` mandatory, so its ``tsp.TimeStampResp`` can
    neither build nor parse a rejection; use this declaration for both.
    """

    _fields = [  # noqa: RUF012  (asn1crypto's declaration style)
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


_GRANTED = parsed(tsp.PKIStatusInfo({"status": "granted"}))
"""The status of every granted response, parsed once so it serialises from cached bytes."""
_TST_INFO_V1 = parsed(tsp.Version("v1"))


class TimeStampRejected(PkiError):
    """A time-stamp request the TSA will not grant; ``failure_info`` is the RFC 3161 reason."""

    def __init__(self, failure_info: str, message: str) -> None:
        super().__init__(message)
        self.failure_info = failure_info
        """asn1crypto name of the PKIFailureInfo bit (``bad_alg``, ``bad_data_format`` …)."""


class TimeStampAuthority:
    """One TSA unit: a certificate with the critical timeStamping EKU, its key, a policy.

    ``accuracy_ms`` is what the TSA promises about its clock (RFC 3161 §2.4.2): with less
    than a second the genTime carries milliseconds, otherwise whole seconds.  Serial numbers
    come from ``serial_source`` or, by default, 127 random bits (:func:`random_serial`):
    random serials need no counter shared between the nodes of a TSA cluster (no database
    round trip, no coordination, nothing to lose on restore) and collide with negligible
    probability, which is all RFC 3161 asks ("unique for each TimeStampToken").
    """

    def __init__(
        self,
        certificate: x509.Certificate,
        key: SigningKey,
        chain: Sequence[x509.Certificate] = (),
        policy_oid: str = POLICY_TSA,
        accuracy_ms: int = 500,
        serial_source: Callable[[], int] | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        if certificate.public_key.dump() != key.public_key_info.dump():
            raise CertificateError("the TSA key does not match the TSA certificate")
        eku = certificate.extended_key_usage_value
        # RFC 3161 §2.3: exactly one KeyPurposeId, id-kp-timeStamping, marked critical.
        if (
            eku is None
            or eku.native != ["time_stamping"]
            or ("extended_key_usage" not in certificate.critical_extensions)
        ):
            raise CertificateError("a TSA certificate needs the critical timeStamping EKU only")
        if accuracy_ms < 1:
            raise ValueError("accuracy_ms must be at least 1")
        # Parsed copies serialise from cached bytes (``pki.asn1.cached``).
        self.certificate = parsed(certificate)
        self._key = key
        self.chain = [parsed(c) for c in chain]
        self.policy_oid = policy_oid
        self.accuracy_ms = accuracy_ms
        self._serial_source = serial_source or random_serial
        self._clock = clock
        # The per-token constants, built once and parsed back so each token serialises
        # them from cached bytes; ``tsa`` is loaded under the [0] its TSTInfo field wears,
        # so asn1crypto does not deep-copy the name into a re-tagged clone per token.
        validity = self.certificate["tbs_certificate"]["validity"]
        self._validity = (validity["not_before"].native, validity["not_after"].native)
        self._embedded = (self.certificate, *self.chain)
        self._policy = parsed(tsp.ObjectIdentifier(policy_oid))
        self._tsa_name = parsed(
            x509.GeneralName(name="directory_name", value=self.certificate.subject).retag(
                {"explicit": 0}
            ),
            explicit=0,
        )
        seconds, millis = divmod(accuracy_ms, 1000)
        accuracy = {k: v for k, v in (("seconds", seconds), ("millis", millis)) if v}
        self._accuracy = parsed(tsp.Accuracy(accuracy))

    def __repr__(self) -> str:
        return f"TimeStampAuthority({self.certificate.subject.human_friendly!r})"

    def stamp(
        self,
        message_imprint_hash: bytes,
        hash_algorithm: str,
        nonce: int | None = None,
        cert_req: bool = True,
    ) -> cms.ContentInfo:
        """A time-stamp token over a digest computed by the caller with ``hash_algorithm``.

        Raises :class:`TimeStampRejected` for an unsupported algorithm or a digest of the
        wrong length.  ``cert_req`` embeds the TSA certificate and its chain.
        """
        if hash_algorithm not in SUPPORTED_HASHES:
            raise TimeStampRejected("bad_alg", f"unsupported imprint hash {hash_algorithm}")
        imprint = tsp.MessageImprint(
            {
                "hash_algorithm": {"algorithm": hash_algorithm},
                "hashed_message": message_imprint_hash,
            }
        )
        return self._token(imprint, nonce, cert_req)

    def respond(self, request_der: bytes) -> bytes:
        """A DER TimeStampResp for a DER TimeStampReq; never raises for bad input."""
        try:
            request = _parse_request(request_der)
            if request["req_policy"].native not in (None, self.policy_oid):
                raise TimeStampRejected(
                    "unaccepted_policy", f"policy {request['req_policy'].dotted} not offered"
                )
            token = self._token(
                request["message_imprint"],
                request["nonce"].native,
                request["cert_req"].native,
            )
        except TimeStampRejected as exc:
            return _rejection(exc.failure_info, str(exc))
        except PkiError as exc:  # the key store or token failed: the client may retry
            _log.error("time-stamp signing failed: %s", exc)
            return _rejection("system_failure", "the TSA could not sign")
        return TimeStampResp({"status": _GRANTED, "time_stamp_token": token}).dump()

    def _token(
        self, imprint: tsp.MessageImprint, nonce: int | None, cert_req: bool
    ) -> cms.ContentInfo:
        _check_imprint(imprint)
        gen_time = self._gen_time()
        not_before, not_after = self._validity
        if not not_before <= gen_time <= not_after:
            raise TimeStampRejected("system_failure", "the TSA certificate is not valid now")
        tst_info = tsp.TSTInfo(
            {
                "version": _TST_INFO_V1,
                "policy": self._policy,
                "message_imprint": imprint,
                "serial_number": self._serial_source(),
                "gen_time": gen_time,
                "accuracy": self._accuracy,
                "nonce": nonce,
                "tsa": self._tsa_name,
            }
        )
        return build_signed_data(
            "tst_info",
            tst_info.dump(),
            self._key,
            self.certificate,
            self._embedded if cert_req else (),
            signing_time=gen_time,
        )

    def _gen_time(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the TSA clock must return timezone-aware datetimes")
        now = now.astimezone(UTC)
        if self.accuracy_ms < 1000:  # genTime no finer than the accuracy we can vouch for
            return now.replace(microsecond=now.microsecond // 1000 * 1000)
        return now.replace(microsecond=0)


def _parse_request(request_der: bytes) -> tsp.TimeStampReq:
    try:
        request = tsp.TimeStampReq.load(request_der, strict=True)
        request.native  # noqa: B018  (forces a full parse so errors surface here)
    # AttributeError: asn1crypto's ObjectDescriptor (tag 7) has no .native (found by fuzzing).
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TimeStampRejected("bad_data_format", f"not a TimeStampReq: {exc}") from None
    if request["version"].native != "v1":
        raise TimeStampRejected("bad_data_format", "TimeStampReq version must be 1")
    if request["extensions"].native:
        # RFC 3161 §2.4.1: a TSA must reject extensions it does not recognise; we know none.
        raise TimeStampRejected("unaccepted_extensions", "request extensions are not supported")
    return request


def _check_imprint(imprint: tsp.MessageImprint) -> None:
    algorithm = imprint["hash_algorithm"]
    name = algorithm["algorithm"].native
    if name not in SUPPORTED_HASHES:
        raise TimeStampRejected(
            "bad_alg", f"unsupported imprint hash {algorithm['algorithm'].dotted}"
        )
    if algorithm["parameters"].native is not None:
        raise TimeStampRejected("bad_alg", f"{name} takes no parameters")
    if len(imprint["hashed_message"].native) != SUPPORTED_HASHES[name]:
        raise TimeStampRejected(
            "bad_data_format", f"a {name} imprint has {SUPPORTED_HASHES[name]} bytes"
        )


def _rejection(failure_info: str, message: str) -> bytes:
    return TimeStampResp(
        {
            "status": {
                "status": "rejection",
                "status_string": [message],
                "fail_info": {failure_info},
            }
        }
    ).dump()
