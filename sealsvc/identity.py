"""Who a signer is: ID tokens of trusted identity providers, checked once, as a frozen identity.

sealsvc never authenticates a person itself.  The 一网通办 platform (统一身份认证) already has,
and says so in an OIDC ID token — a JWT signed by the provider's key.  An operator registers
each provider once (``sealctl idp add``): its issuer, our audience at it, its key set (JWKS,
from a file kept in the database so every node sees the same keys, or from a URL fetched
with a timeout and cached), and, where its claim names differ from ours, a claim map.

:func:`verify_id_token` checks a token in a fixed order and refuses it with
:class:`IdentityTokenRefused` naming the first check that failed (:class:`Check`): the
API answers a 401 problem saying which.  The token id (``jti``, else ``nonce``) is then
recorded in ``identity_token_uses``; its primary key makes a second use fail on every node
of one PostgreSQL at once, so a token signs one event only.  Rows past the token's expiry
can no longer matter (the token would be refused as expired) and are deleted as we go.

Personal data: the ID number the token carries is hashed at once, keyed with a secret of
the installation (:func:`id_number_hash`), and only the hash and a masked form
(:func:`mask_id_number`) leave this module — never the number.

Algorithms: RS256 and ES256, the ones OIDC providers use, and SM2 for 国密 providers.
JOSE has no registered SM2 algorithm, so :mod:`pki.sm2_jose` accepts the names such
providers write (``SM2``, ``SM3withSM2``, ``GmSM2``), the signature as ``r ‖ s`` or DER,
with SM3 and the default signer ID, under an ``{"kty": "EC", "crv": "SM2"}`` JWK; PyJWT
(which knows no SM2) then checks the claims exactly as for the others.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import jwt
from asn1crypto import keys
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pki import sm2_jose
from pki.errors import CertificateError, SignatureInvalid
from sealsvc import audit
from sealsvc.errors import Conflict, InvalidInput, NotFound, Unauthorized
from sealsvc.licences.templates import masked
from sealsvc.models import IdentityProvider, IdentityTokenUse, InstallationSecret, Person, utcnow

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = [
    "ALGORITHMS",
    "CLAIMS",
    "LEEWAY",
    "Check",
    "IdentityTokenRefused",
    "PersonIdentity",
    "add_provider",
    "ensure_id_salt",
    "get_provider",
    "id_number_hash",
    "list_providers",
    "mask_id_number",
    "mask_name",
    "provider_dict",
    "remove_provider",
    "set_jwks",
    "verify_id_token",
]

ALGORITHMS = ("RS256", "ES256", *sm2_jose.JWS_ALGORITHMS)
"""JWS algorithms accepted from a provider.  Never ``none`` nor an HMAC: a provider's JWKS
is public, so a token "signed" with HS256 under the public key as secret proves nothing."""

LEEWAY = timedelta(seconds=60)
"""Clock skew tolerated on ``exp``, ``nbf`` and ``iat`` between the provider and us."""

MAX_LIFETIME = timedelta(hours=24)
"""Longest time before its ``exp`` a token is accepted: ID tokens live minutes, and a used
token id is kept until the token expires, so a token "valid" for years would be a liability
(and an ``exp`` past year 9999 no date at all)."""

CLAIMS = ("name", "id_number", "id_type", "department", "role")
"""Our names for the claims we read; a provider's claim map renames any of them."""

DEFAULT_ID_TYPE = "id_card"
"""``id_type`` when the token has none: 居民身份证 (GB 11643 citizen identity number)."""

ACTION_REFUSED = "identity.refused"
SALT_NAME = "id-number-salt"
JWKS_TIMEOUT = 5.0
"""Seconds a JWKS URL may take to answer: a signing request waits for it."""
JWKS_CACHE_SECONDS = 300.0
"""How long a fetched JWKS is reused; an unknown ``kid`` re-fetches sooner (key rotation)."""
JWKS_REFETCH_SECONDS = 30.0
"""At most one re-fetch per this many seconds for an unknown ``kid``: a stream of tokens
with made-up key ids must not turn us into a client hammering the provider."""
MAX_JWKS_BYTES = 256 * 1024
MAX_TOKEN_BYTES = 16 * 1024

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_ID_NUMBER = re.compile(r"[0-9A-Z-]{4,64}")
_ID_CARD_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CARD_CHECK = "10X98765432"


class Check(StrEnum):
    """The check an identity token failed, in the order they are made."""

    FORMAT = "format"
    """Not a JWS compact serialisation of a JSON object, or too large."""
    ISSUER = "issuer"
    """Its ``iss`` names no configured identity provider (or not the one that signed)."""
    ALGORITHM = "algorithm"
    """``alg`` is not RS256/ES256/SM2 (``none``, HS256 …) or does not fit the key's type."""
    KEY = "key"
    """Its ``kid`` names no key of the provider's JWKS (or the JWKS cannot be had)."""
    SIGNATURE = "signature"
    """The signature does not verify: the token was altered or signed by someone else."""
    AUDIENCE = "audience"
    """The token was issued for another relying party."""
    EXPIRY = "expiry"
    """``exp`` has passed (beyond :data:`LEEWAY`), or is more than :data:`MAX_LIFETIME` away."""
    NOT_YET_VALID = "not-yet-valid"
    """``nbf`` or ``iat`` is in the future (beyond :data:`LEEWAY`)."""
    CLAIMS = "claims"
    """A claim we need (``sub``, ``exp``, ``iat``, the name, the ID number) is missing or bad."""
    REPLAY = "replay"
    """The token id was used before, or the token has none (``jti`` or ``nonce``)."""


class IdentityTokenRefused(Unauthorized):
    """An identity token failed :attr:`check`; the message says which and why, never the
    token or a claim value (it may carry an ID number)."""

    kind = "identity-token"

    def __init__(self, check: Check, reason: str) -> None:
        super().__init__(f"identity token refused: {check.value} check failed ({reason})")
        self.check = check

    @property
    def problem_extensions(self) -> dict[str, str]:
        """``{"check": …}`` in the API's 401 problem, for a client to act on."""
        return {"check": self.check.value}


@dataclass(frozen=True)
class PersonIdentity:
    """A person as a verified identity token describes them, without their ID number."""

    provider: str
    """Name of the identity provider (``sealctl idp add NAME``) that vouched."""
    subject: str
    """The provider's ``sub``: its stable account id for the person."""
    name: str
    """The person's name as the provider asserts it (certificate CN)."""
    id_type: str
    """Kind of ID document (``id_card`` = 居民身份证 unless the provider says otherwise)."""
    id_hash: str
    """Salted hash of the ID number (:func:`id_number_hash`): the certificate's serialNumber."""
    id_masked: str
    """The ID number masked for display (``4101**********1234``)."""
    token_id: str
    """The token's ``jti`` (or ``nonce``), now used up: names the event in the audit log."""
    expires_at: datetime
    """The token's ``exp``: an identity is fresh until then."""
    department: str | None = None
    """For officials: the department the provider says they work in."""
    role: str | None = None
    """For officials: their role (经办人, 审核人, 签发人 …) as the provider asserts it."""

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)


# --- personal data ----------------------------------------------------------------------------


def mask_name(name: str) -> str:
    """``张*三``, ``李*``, ``欧**明``: the family name and the last character, as Chinese
    verification pages show a person; a one-character name is shown as it is."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(number: str) -> str:
    """``4101**********1234``: region prefix and the last four, the usual display form.

    Four leading characters, not the six :func:`masked` keeps of a credit code: six digits
    of an ID number name the county of birth, which the page has no need to show.
    """
    return masked(normalise_id_number(number), keep=(4, 4))


def normalise_id_number(number: str) -> str:
    """Upper case without blanks, so ``...123x`` and ``...123X`` hash the same."""
    return re.sub(r"\s+", "", number).upper()


def _checked_id_number(number: str, id_type: str) -> str:
    """The normalised number; a 居民身份证 number must have its GB 11643 check digit right
    (an officer's typo would otherwise enrol a person no token will ever match)."""
    value = normalise_id_number(number)
    if not _ID_NUMBER.fullmatch(value):
        raise InvalidInput("the ID number must be 4 to 64 letters, digits or '-'")
    if id_type == DEFAULT_ID_TYPE:
        if not re.fullmatch(r"\d{17}[\dX]", value):
            raise InvalidInput("a 居民身份证 number has 17 digits and a check character")
        total = sum(int(d) * w for d, w in zip(value[:17], _ID_CARD_WEIGHTS, strict=True))
        if _ID_CARD_CHECK[total % 11] != value[17]:
            raise InvalidInput("the 居民身份证 number's check character is wrong (GB 11643)")
    return value


def ensure_id_salt(session: Session) -> bytes:
    """The installation's ID-number salt, made (32 random bytes) on first use.

    Kept in the database so every node hashes alike.  Two nodes making it at once: the
    primary key lets one win, and the other reads the winner's.
    """
    row = session.get(InstallationSecret, SALT_NAME)
    if row is not None:
        return row.value
    try:
        with session.begin_nested():
            session.add(InstallationSecret(name=SALT_NAME, value=secrets.token_bytes(32)))
    except IntegrityError:
        pass
    return session.get_one(InstallationSecret, SALT_NAME).value


def id_number_hash(session: Session, number: str, id_type: str = DEFAULT_ID_TYPE) -> str:
    """HMAC-SHA256 of ``id_type`` and the normalised number under the installation salt, hex.

    64 hex characters: exactly the X.520 upper bound of serialNumber.  Keyed, because an ID
    number has little entropy (region, birth date, sequence): a plain hash would be
    reversed by trying them all; this one needs the salt, which never leaves the database.
    """
    value = _checked_id_number(number, id_type)
    message = f"{id_type}\x00{value}".encode()
    return hmac.new(ensure_id_salt(session), message, hashlib.sha256).hexdigest()


# --- providers --------------------------------------------------------------------------------


def _claim_map(claims: Mapping[str, str] | None) -> dict[str, str]:
    mapping = {name: name for name in CLAIMS}
    for ours, theirs in (claims or {}).items():
        if ours not in CLAIMS:
            raise InvalidInput(f"unknown claim {ours!r}: use one of {', '.join(CLAIMS)}")
        if not theirs or len(theirs) > 200:
            raise InvalidInput(f"the provider's claim name for {ours!r} must be 1-200 characters")
        mapping[ours] = theirs
    return mapping


def _parse_jwks(text: str | bytes, where: str) -> dict[str, Any]:
    """A JWKS with at least one RS256/ES256/SM2-capable key, or a one-line error naming
    ``where``.  PyJWT reads the RSA and EC keys; SM2 keys (which it does not know) are read
    by :func:`pki.sm2_jose.jwk_public_key`, which checks the point is on the curve."""
    if len(text) > MAX_JWKS_BYTES:
        raise InvalidInput(f"the JWKS {where} is larger than {MAX_JWKS_BYTES} bytes")
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError('not an object with a "keys" list')
        listed = [key for key in document["keys"] if isinstance(key, dict)]
        if any("d" in key for key in listed):
            raise InvalidInput(f"the JWKS {where} holds a private key: publish public keys only")
        sm2_keys = [sm2_jose.jwk_public_key(key) for key in listed if sm2_jose.is_sm2_jwk(key)]
        others = [key for key in listed if not sm2_jose.is_sm2_jwk(key)]
        pyjwt_keys = jwt.PyJWKSet.from_dict({"keys": others}).keys if others else []
    except (ValueError, TypeError, jwt.PyJWKSetError, jwt.PyJWKError, CertificateError) as exc:
        raise InvalidInput(f"the JWKS {where} is not a usable JSON Web Key Set: {exc}") from None
    if not sm2_keys and not any(key.key_type in ("RSA", "EC") for key in pyjwt_keys):
        raise InvalidInput(f"the JWKS {where} has no RSA, EC or SM2 key")
    return document


def add_provider(
    session: Session,
    *,
    name: str,
    issuer: str,
    audience: str,
    jwks: str,
    claims: Mapping[str, str] | None = None,
    actor: str,
) -> IdentityProvider:
    """Register a provider; ``jwks`` is a file path (its keys are stored) or an https URL.

    A URL is fetched once now, so a typo fails here rather than at the first signature.
    Audited as ``idp.add``.
    """
    if not _NAME.fullmatch(name):
        raise InvalidInput("a provider name is 1-64 of a-z, 0-9, '_' and '-', starting alnum")
    if not issuer or len(issuer) > 500 or not audience or len(audience) > 500:
        raise InvalidInput("issuer and audience must be 1-500 characters")
    if session.scalar(select(IdentityProvider).where(IdentityProvider.name == name)):
        raise Conflict(f"identity provider {name!r} already exists")
    if session.scalar(select(IdentityProvider).where(IdentityProvider.issuer == issuer)):
        raise Conflict(f"another identity provider already has issuer {issuer!r}")
    jwks_text, jwks_url = _jwks_source(jwks)
    row = IdentityProvider(
        name=name,
        issuer=issuer,
        audience=audience,
        jwks=jwks_text,
        jwks_url=jwks_url,
        claims=json.dumps(_claim_map(claims), sort_keys=True),
    )
    session.add(row)
    session.flush()
    audit.append(session, action="idp.add", actor=actor, details=provider_dict(row))
    return row


def _jwks_source(jwks: str) -> tuple[str | None, str | None]:
    """(stored JWKS text, URL) for ``--jwks``: a file is read and checked now, a URL fetched
    now, so a typo fails at configuration rather than at the first signature."""
    if jwks.startswith(("https://", "http://")):
        _fetch_jwks(jwks)
        return None, jwks
    try:
        raw = Path(jwks).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read the JWKS file {jwks}: {exc.strerror}") from None
    return json.dumps(_parse_jwks(raw, f"file {jwks}"), sort_keys=True), None


def set_jwks(session: Session, name: str, jwks: str, *, actor: str) -> IdentityProvider:
    """Replace a provider's key set (its key rotation), keeping its enrolled officials.

    Audited as ``idp.set_jwks`` with the key ids before and after.
    """
    row = get_provider(session, name)
    before = provider_dict(row)
    row.jwks, row.jwks_url = _jwks_source(jwks)
    session.flush()
    after = provider_dict(row)
    audit.append(
        session,
        action="idp.set_jwks",
        actor=actor,
        details={
            "name": name,
            "before": {k: before[k] for k in ("jwks_url", "jwks_kids")},
            "after": {k: after[k] for k in ("jwks_url", "jwks_kids")},
        },
    )
    return row


def get_provider(session: Session, name: str) -> IdentityProvider:
    row = session.scalar(select(IdentityProvider).where(IdentityProvider.name == name))
    if row is None:
        raise NotFound(f"no identity provider named {name!r} (see `sealctl idp list`)")
    return row


def list_providers(session: Session) -> list[IdentityProvider]:
    return list(session.scalars(select(IdentityProvider).order_by(IdentityProvider.name)))


def remove_provider(session: Session, name: str, *, actor: str) -> None:
    """Stop trusting a provider.  Refused while officials enrolled through it exist: their
    enrolment would point at nothing (revoke them first).  Audited as ``idp.remove``."""
    row = get_provider(session, name)
    if session.scalar(select(Person.id).where(Person.provider_id == row.id).limit(1)):
        raise Conflict(f"officials are enrolled through {name!r}: revoke them before removing it")
    details = provider_dict(row)
    session.execute(delete(IdentityTokenUse).where(IdentityTokenUse.provider_id == row.id))
    session.delete(row)
    session.flush()
    audit.append(session, action="idp.remove", actor=actor, details=details)


def provider_dict(row: IdentityProvider) -> dict[str, Any]:
    """What ``sealctl idp list --json`` shows and the audit log records of a provider."""
    keys = json.loads(row.jwks)["keys"] if row.jwks else []
    return {
        "name": row.name,
        "issuer": row.issuer,
        "audience": row.audience,
        "jwks_url": row.jwks_url,
        "jwks_kids": [key.get("kid") for key in keys],
        "claims": json.loads(row.claims),
    }


# --- JWKS from a URL --------------------------------------------------------------------------

_jwks_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks_lock = threading.Lock()


def _fetch_jwks(url: str) -> dict[str, Any]:
    """GET the JWKS (the standard library's client: one small request needs no other),
    reading at most one byte more than :data:`MAX_JWKS_BYTES` so an endless body stops."""
    try:
        # S310: only http(s) URLs are stored as a provider's JWKS URL (register, set-jwks).
        with urllib.request.urlopen(url, timeout=JWKS_TIMEOUT) as response:  # noqa: S310
            body = response.read(MAX_JWKS_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise InvalidInput(f"cannot fetch the JWKS at {url}: {exc}") from None
    document = _parse_jwks(body, f"at {url}")
    with _jwks_lock:
        _jwks_cache[url] = (time.monotonic(), document)
    return document


def _provider_jwks(row: IdentityProvider, kid: str | None) -> dict[str, Any]:
    """The provider's key set: stored, or cached from its URL (re-fetched when stale, or
    when ``kid`` is unknown and the last fetch is older than :data:`JWKS_REFETCH_SECONDS`)."""
    if row.jwks is not None:
        return json.loads(row.jwks)
    assert row.jwks_url is not None  # noqa: S101  a provider has a key set or its URL
    with _jwks_lock:
        fetched_at, document = _jwks_cache.get(row.jwks_url, (float("-inf"), {"keys": []}))
    age = time.monotonic() - fetched_at
    known = any(key.get("kid") == kid for key in document["keys"])
    if age > JWKS_CACHE_SECONDS or (not known and age > JWKS_REFETCH_SECONDS):
        try:
            document = _fetch_jwks(row.jwks_url)
        except InvalidInput as exc:
            raise IdentityTokenRefused(Check.KEY, str(exc)) from None
    return document


# --- verification -----------------------------------------------------------------------------

_KEY_TYPES = {
    "RS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
    **dict.fromkeys(sm2_jose.JWS_ALGORITHMS, ("EC", "SM2")),
}


def _select_key(
    document: Mapping[str, Any], kid: str | None, alg: str
) -> jwt.PyJWK | keys.PublicKeyInfo:
    """The JWK named by ``kid`` (or the only one when the token names none), checked to be
    of the type ``alg`` needs — so an RSA key is never used as, say, an HMAC secret, nor a
    P-256 key for an SM2 signature."""
    candidates = [k for k in document["keys"] if isinstance(k, dict)]
    if kid is not None:
        candidates = [k for k in candidates if k.get("kid") == kid]
    elif len(candidates) != 1:
        raise IdentityTokenRefused(Check.KEY, "the token names no kid and the JWKS has several")
    if not candidates:
        raise IdentityTokenRefused(Check.KEY, "the token's kid is not in the provider's JWKS")
    jwk = candidates[0]
    kty, crv = _KEY_TYPES[alg]
    named = jwk.get("alg", alg)
    if crv == "SM2" and named in sm2_jose.JWS_ALGORITHMS:
        named = alg  # one algorithm under several names
    if jwk.get("kty") != kty or (crv and jwk.get("crv") != crv) or named != alg:
        raise IdentityTokenRefused(Check.ALGORITHM, f"{alg} does not fit the provider's key")
    if crv == "SM2":
        try:
            return sm2_jose.jwk_public_key(jwk)
        except CertificateError as exc:
            raise IdentityTokenRefused(
                Check.KEY, f"the provider's key is unusable: {exc}"
            ) from None
    try:
        return jwt.PyJWK(jwk, algorithm=alg)
    except jwt.PyJWKError as exc:
        raise IdentityTokenRefused(Check.KEY, f"the provider's key is unusable: {exc}") from None


_CLAIM_CHECKS = {
    "verify_exp": True,
    "verify_nbf": True,
    "verify_iat": True,
    "verify_aud": True,
    "verify_iss": True,
    "require": ["exp", "iat", "iss", "aud", "sub"],
}
"""PyJWT's claim checks, asked for explicitly: for an SM2 token, whose signature is
checked before PyJWT sees it, ``verify_signature`` off would otherwise turn them off too."""


def _decode(
    token: str, key: jwt.PyJWK | keys.PublicKeyInfo, alg: str, provider: IdentityProvider
) -> dict[str, Any]:
    """Signature, then issuer, audience, expiry, nbf/iat; each failure named."""
    if isinstance(key, keys.PublicKeyInfo):
        try:
            sm2_jose.verify_jws(token, key)
        except SignatureInvalid:
            raise IdentityTokenRefused(Check.SIGNATURE, "the signature does not verify") from None
        verified: dict[str, Any] = {"options": {**_CLAIM_CHECKS, "verify_signature": False}}
    else:
        verified = {"key": key, "algorithms": [alg], "options": _CLAIM_CHECKS}
    try:
        return jwt.decode(
            token,
            audience=provider.audience,
            issuer=provider.issuer,
            leeway=LEEWAY,
            **verified,
        )
    except jwt.InvalidSignatureError:
        raise IdentityTokenRefused(Check.SIGNATURE, "the signature does not verify") from None
    except jwt.ExpiredSignatureError:
        raise IdentityTokenRefused(Check.EXPIRY, "the token has expired") from None
    except jwt.ImmatureSignatureError as exc:
        raise IdentityTokenRefused(Check.NOT_YET_VALID, str(exc)) from None
    except jwt.InvalidAudienceError:
        raise IdentityTokenRefused(Check.AUDIENCE, "the token is for another audience") from None
    except jwt.InvalidIssuerError:
        raise IdentityTokenRefused(Check.ISSUER, "the issuer does not match") from None
    except jwt.MissingRequiredClaimError as exc:
        raise IdentityTokenRefused(Check.CLAIMS, f"missing claim {exc.claim!r}") from None
    except jwt.InvalidAlgorithmError:
        raise IdentityTokenRefused(Check.ALGORITHM, f"{alg} is not accepted") from None
    except jwt.InvalidTokenError as exc:
        raise IdentityTokenRefused(Check.FORMAT, f"{type(exc).__name__}: {exc}") from None


NAME_LIMIT = 64
"""Longest name or department accepted: X.520's upper bound of commonName and
organizationName, which carry them in the person's certificate."""


@overload
def _text_claim(
    payload: Mapping[str, Any], claim: str, *, required: Literal[True], limit: int = 255
) -> str: ...
@overload
def _text_claim(
    payload: Mapping[str, Any], claim: str, *, required: Literal[False], limit: int = 255
) -> str | None: ...
def _text_claim(
    payload: Mapping[str, Any], claim: str, *, required: bool, limit: int = 255
) -> str | None:
    """A claim's text (stripped), refused when missing, not text or over ``limit``
    characters; the message names the claim, never its value."""
    value = payload.get(claim)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise IdentityTokenRefused(
            Check.CLAIMS, f"claim {claim!r} is missing, not text or over {limit} characters"
        )
    return value.strip()


def _identity(
    session: Session, provider: IdentityProvider, payload: Mapping[str, Any]
) -> PersonIdentity:
    claims = json.loads(provider.claims)
    subject = _text_claim(payload, "sub", required=True)
    name = _text_claim(payload, claims["name"], required=True, limit=NAME_LIMIT)
    id_type = _text_claim(payload, claims["id_type"], required=False, limit=32) or DEFAULT_ID_TYPE
    number = _text_claim(payload, claims["id_number"], required=True)
    token_id = payload.get("jti", payload.get("nonce"))
    if not isinstance(token_id, str) or not 0 < len(token_id) <= 255:
        raise IdentityTokenRefused(Check.REPLAY, "the token has no jti or nonce to use once")
    if int(payload["exp"]) - time.time() > MAX_LIFETIME.total_seconds():
        raise IdentityTokenRefused(Check.EXPIRY, "the token expires more than 24 hours from now")
    try:
        id_hash = id_number_hash(session, number, id_type)
    except InvalidInput as exc:
        raise IdentityTokenRefused(Check.CLAIMS, f"the ID number claim is invalid: {exc}") from None
    return PersonIdentity(
        provider=provider.name,
        subject=subject,
        name=name,
        id_type=id_type,
        id_hash=id_hash,
        id_masked=mask_id_number(number),
        token_id=token_id,
        expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        department=_text_claim(payload, claims["department"], required=False, limit=NAME_LIMIT),
        role=_text_claim(payload, claims["role"], required=False, limit=100),
    )


def _use_once(session: Session, provider: IdentityProvider, identity: PersonIdentity) -> None:
    """Record the token id; a second use, here or on another node, is a replay."""
    now = utcnow()
    session.execute(delete(IdentityTokenUse).where(IdentityTokenUse.expires_at < now))
    try:
        with session.begin_nested():
            session.add(
                IdentityTokenUse(
                    provider_id=provider.id,
                    token_id=identity.token_id,
                    used_at=now,
                    expires_at=identity.expires_at + LEEWAY,
                )
            )
    except IntegrityError:
        raise IdentityTokenRefused(Check.REPLAY, "the token was already used") from None


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise IdentityTokenRefused(Check.FORMAT, f"not a token of at most {MAX_TOKEN_BYTES} bytes")
    try:
        header = jwt.get_unverified_header(token)
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise IdentityTokenRefused(Check.FORMAT, f"not a signed JWT: {exc}") from None
    return header, payload


def _check_token(session: Session, token: str) -> tuple[IdentityProvider, PersonIdentity]:
    header, unverified = _unverified(token)
    issuer = unverified.get("iss")
    provider = (
        session.scalar(select(IdentityProvider).where(IdentityProvider.issuer == issuer))
        if isinstance(issuer, str)
        else None
    )
    if provider is None:
        raise IdentityTokenRefused(Check.ISSUER, "its issuer is no configured provider")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise IdentityTokenRefused(
            Check.ALGORITHM, f"alg {alg!r} is not one of {', '.join(ALGORITHMS)}"
        )
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise IdentityTokenRefused(Check.FORMAT, "kid is not a string")
    key = _select_key(_provider_jwks(provider, kid), kid, alg)
    payload = _decode(token, key, alg, provider)
    identity = _identity(session, provider, payload)
    _use_once(session, provider, identity)
    return provider, identity


def verify_id_token(context: ServiceContext, token: str, *, actor: str) -> PersonIdentity:
    """Check ``token`` completely, use up its id, and return the person it names.

    A refusal is audited (``identity.refused``: the check, the provider if known, never the
    token) in a transaction of its own and raised as :class:`IdentityTokenRefused`.
    """
    try:
        with context.database.session() as session:
            _, identity = _check_token(session, token)
        return identity
    except IdentityTokenRefused as refusal:
        with context.database.session() as session:
            audit.append(
                session,
                action=ACTION_REFUSED,
                actor=actor,
                details={
                    "check": refusal.check.value,
                    "reason": str(refusal),
                    "issuer": _claimed_issuer(token),
                },
            )
        raise


def _claimed_issuer(token: str) -> str | None:
    """The ``iss`` a refused token claims (for the audit entry), if it can be read at all."""
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except (jwt.InvalidTokenError, TypeError):
        return None
    return issuer[:500] if isinstance(issuer, str) else None
