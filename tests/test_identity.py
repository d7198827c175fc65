"""Identity tokens (issue #18 §1): a real provider's RS256/ES256 tokens accepted once, and
every kind of bad token refused with the check it failed — on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from asn1crypto import keys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi.testclient import TestClient
from gmssl import sm2 as gmssl_sm2
from helpers.idp_fixtures import AUDIENCE, ID_NUMBER, TestProvider, b64url, sm2_jwk
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from sqlalchemy import select

from api.app import create_app
from pki import algorithms
from sealsvc import identity
from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.errors import Conflict, InvalidInput
from sealsvc.identity import Check, IdentityTokenRefused, verify_id_token
from sealsvc.models import AuditEntry, IdentityTokenUse, InstallationSecret, utcnow

pytest_plugins = ("helpers.seal_fixtures",)  # seal_context, sqlite_seal_context

ACTOR = "test:identity"


def _register(context: ServiceContext, provider: TestProvider, name: str = "ywtb") -> None:
    with context.database.session() as session:
        identity.add_provider(
            session,
            name=name,
            issuer=provider.issuer,
            audience=AUDIENCE,
            jwks=str(provider.jwks_file),
            actor=ACTOR,
        )


@pytest.fixture
def provider(tmp_path: Path) -> TestProvider:
    return TestProvider(tmp_path)


@pytest.fixture
def context(seal_context: ServiceContext, provider: TestProvider) -> ServiceContext:
    _register(seal_context, provider)
    return seal_context


def _audit_text(context: ServiceContext) -> str:
    with context.database.session(read_only=True) as session:
        return "\n".join(f"{e.action} {e.details}" for e in session.scalars(select(AuditEntry)))


@pytest.mark.parametrize("alg", ["RS256", "ES256", "SM2", "SM3withSM2", "GmSM2"])
def test_a_valid_token_names_the_person_without_the_id_number(
    context: ServiceContext, provider: TestProvider, alg: str
) -> None:
    token = provider.token(alg, department="郑州市市场监督管理局", role="审核人")
    person = verify_id_token(context, token, actor=ACTOR)
    assert (person.provider, person.subject, person.name) == ("ywtb", "u-1001", "张三丰")
    assert (person.department, person.role, person.id_type) == (
        "郑州市市场监督管理局",
        "审核人",
        "id_card",
    )
    assert person.id_masked == "4101**********1213" and person.name_masked == "张*丰"
    assert person.token_id == jwt.decode(token, options={"verify_signature": False})["jti"]
    assert len(person.id_hash) == 64 and ID_NUMBER not in repr(person)
    # Keyed: not the plain hash of the number, and the key is the installation's salt.
    assert person.id_hash != hashlib.sha256(ID_NUMBER.encode()).hexdigest()
    with context.database.session(read_only=True) as session:
        salt = session.get_one(InstallationSecret, identity.SALT_NAME).value
        assert person.id_hash == identity.id_number_hash(session, f" {ID_NUMBER} ")
    expected = hmac.new(salt, b"id_card\x00" + ID_NUMBER.encode(), hashlib.sha256).hexdigest()
    assert person.id_hash == expected
    assert ID_NUMBER not in _audit_text(context)


def _tampered(provider: TestProvider) -> str:
    header, _, signature = provider.token().split(".")
    payload = b64url(json.dumps(provider.claims(name="李四")).encode())
    return f"{header}.{payload}.{signature}"


def _hs256_with_public_key(provider: TestProvider) -> str:
    """The classic key-confusion attack: HS256 keyed with the provider's public key (PEM)."""
    secret = provider.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = ".".join(
        b64url(json.dumps(part).encode())
        for part in ({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, provider.claims())
    )
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def _alg_none(provider: TestProvider) -> str:
    signing_input = ".".join(
        b64url(json.dumps(part).encode())
        for part in ({"alg": "none", "typ": "JWT"}, provider.claims())
    )
    return signing_input + "."


def _foreign_key_same_kid(provider: TestProvider) -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(provider.claims(), stranger, algorithm="RS256", headers={"kid": "rsa-1"})


def _es256_header_on_rsa_kid(provider: TestProvider) -> str:
    return jwt.encode(provider.claims(), provider.ec, algorithm="ES256", headers={"kid": "rsa-1"})


def _sm2_tampered(provider: TestProvider) -> str:
    header, _, signature = provider.token("SM2").split(".")
    payload = b64url(json.dumps(provider.claims(name="李四")).encode())
    return f"{header}.{payload}.{signature}"


def _sm2_foreign_key_same_kid(provider: TestProvider) -> str:
    return provider.sm2_token(key=algorithms.generate("sm2"))


def _sm2_header_on_an_ec_key(provider: TestProvider) -> str:
    return provider.sm2_token(kid="ec-1")


def _es256_header_on_the_sm2_kid(provider: TestProvider) -> str:
    return jwt.encode(provider.claims(), provider.ec, algorithm="ES256", headers={"kid": "sm2-1"})


def _sm2_signature_of_another_length(provider: TestProvider) -> str:
    """r ‖ s with a byte cut off: neither JOSE's 64 bytes nor DER."""
    signing_input, _, signature = provider.sm2_token().rpartition(".")
    return f"{signing_input}.{b64url(base64.urlsafe_b64decode(signature + '==')[:-1])}"


def _sm2_signature_not_base64url(provider: TestProvider) -> str:
    return provider.sm2_token()[:-2] + "+/"


now = int(time.time())
CORPUS: dict[str, tuple[Callable[[TestProvider], str], Check]] = {
    "tampered": (_tampered, Check.SIGNATURE),
    "foreign-key-same-kid": (_foreign_key_same_kid, Check.SIGNATURE),
    "expired": (lambda p: p.token(iat=now - 7200, exp=now - 3600), Check.EXPIRY),
    "not-yet-valid": (lambda p: p.token(nbf=now + 3600), Check.NOT_YET_VALID),
    "exp-in-year-3000000": (lambda p: p.token(exp=10**14), Check.EXPIRY),
    "issued-in-the-future": (
        lambda p: p.token(iat=now + 3600, exp=now + 7200),
        Check.NOT_YET_VALID,
    ),
    "wrong-issuer": (lambda p: p.token(iss="https://evil.example"), Check.ISSUER),
    "wrong-audience": (lambda p: p.token(aud="another-service"), Check.AUDIENCE),
    "unknown-kid": (lambda p: p.token(kid="rsa-2"), Check.KEY),
    "alg-none": (_alg_none, Check.ALGORITHM),
    "hs256-public-key-secret": (_hs256_with_public_key, Check.ALGORITHM),
    "es256-on-an-rsa-key": (_es256_header_on_rsa_kid, Check.ALGORITHM),
    "missing-id-number": (lambda p: p.token(id_number=None), Check.CLAIMS),
    "missing-name": (lambda p: p.token(name=None), Check.CLAIMS),
    "missing-exp": (lambda p: p.token(exp=None), Check.CLAIMS),
    "name-too-long": (lambda p: p.token(name="张" * 65), Check.CLAIMS),
    "name-not-text": (lambda p: p.token(name=["张三"]), Check.CLAIMS),
    "bad-id-number": (lambda p: p.token(id_number="410105199003071214"), Check.CLAIMS),
    "no-jti": (lambda p: p.token(jti=None), Check.REPLAY),
    "not-a-jwt": (lambda p: "not.a.token", Check.FORMAT),
    "sm2-tampered": (_sm2_tampered, Check.SIGNATURE),
    "sm2-foreign-key-same-kid": (_sm2_foreign_key_same_kid, Check.SIGNATURE),
    "sm2-signature-cut-short": (_sm2_signature_of_another_length, Check.SIGNATURE),
    "sm2-signature-not-base64url": (_sm2_signature_not_base64url, Check.FORMAT),
    "sm2-on-a-p256-key": (_sm2_header_on_an_ec_key, Check.ALGORITHM),
    "es256-on-the-sm2-key": (_es256_header_on_the_sm2_kid, Check.ALGORITHM),
    "sm2-expired": (lambda p: p.sm2_token(iat=now - 7200, exp=now - 3600), Check.EXPIRY),
    "sm2-wrong-audience": (lambda p: p.sm2_token(aud="another-service"), Check.AUDIENCE),
    "sm2-wrong-issuer": (lambda p: p.sm2_token(iss="https://evil.example"), Check.ISSUER),
    "sm2-not-yet-valid": (lambda p: p.sm2_token(nbf=now + 3600), Check.NOT_YET_VALID),
    "sm2-missing-exp": (lambda p: p.sm2_token(exp=None), Check.CLAIMS),
}


def test_an_sm2_token_in_der_and_one_gmssl_signed_are_accepted(
    context: ServiceContext, provider: TestProvider
) -> None:
    """A JCA provider's DER signature verifies like JOSE's r ‖ s; and a token signed by
    gmssl (pure Python, an implementation nobody here wrote; default signer ID) with the
    provider's SM2 key verifies with ours — and fails once one payload byte changes."""
    der_token = provider.sm2_token("SM3withSM2", der=True)
    assert verify_id_token(context, der_token, actor=ACTOR).name == "张三丰"

    header = {"alg": "SM2", "typ": "JWT", "kid": "sm2-1"}
    signing_input = ".".join(
        b64url(json.dumps(part).encode()) for part in (header, provider.claims())
    )
    secret = keys.PrivateKeyInfo.load(provider.sm2.pkcs8_der())["private_key"].parsed
    point = provider.sm2.public_key_info["public_key"].native
    signer = gmssl_sm2.CryptSM2(private_key=f"{secret['private_key'].native:064x}", public_key="00")
    signer.public_key = point[1:].hex()  # gmssl's constructor mangles a leading "04"
    signature = bytes.fromhex(signer.sign_with_sm3(signing_input.encode(), secrets.token_hex(32)))
    assert len(signature) == 64
    token = f"{signing_input}.{b64url(signature)}"
    assert verify_id_token(context, token, actor=ACTOR).subject == "u-1001"
    other = provider.claims(sub="u-1002")
    header_b64 = token.split(".", 1)[0]
    forged = f"{header_b64}.{b64url(json.dumps(other).encode())}.{b64url(signature)}"
    with pytest.raises(IdentityTokenRefused) as refused:
        verify_id_token(context, forged, actor=ACTOR)
    assert refused.value.check is Check.SIGNATURE


def test_an_sm2_jwks_is_checked_when_it_is_added(
    sqlite_seal_context: ServiceContext, provider: TestProvider, tmp_path: Path
) -> None:
    """An SM2-only key set is usable; a point off the curve, short coordinates or a private
    key are refused when the provider is added, not when a token arrives."""
    jwk = {**sm2_jwk(provider.sm2.public_key_info), "kid": "sm2-1"}
    off_curve = {**jwk, "y": b64url(bytes(31) + b"\x01")}
    short = {**jwk, "x": jwk["x"][:-3]}  # 30 bytes
    private = {**jwk, "d": b64url(bytes(32))}
    for number, (keys_, problem) in enumerate(
        [([off_curve], "not a point"), ([short], "32 bytes"), ([private], "private key")]
    ):
        path = tmp_path / f"bad-{number}.json"
        path.write_text(json.dumps({"keys": keys_}))
        with (
            sqlite_seal_context.database.session() as session,
            pytest.raises(InvalidInput, match=problem),
        ):
            identity.add_provider(
                session, name=f"bad-{number}", issuer=f"https://bad-{number}.example",
                audience=AUDIENCE, jwks=str(path), actor=ACTOR,
            )  # fmt: skip
    only_sm2 = tmp_path / "sm2.json"
    only_sm2.write_text(json.dumps({"keys": [jwk]}))
    with sqlite_seal_context.database.session() as session:
        identity.add_provider(
            session, name="gm", issuer=provider.issuer, audience=AUDIENCE,
            jwks=str(only_sm2), actor=ACTOR,
        )  # fmt: skip
    person = verify_id_token(sqlite_seal_context, provider.sm2_token(), actor=ACTOR)
    assert person.provider == "gm"
    with pytest.raises(IdentityTokenRefused) as refused:  # its JWKS has no RSA key
        verify_id_token(sqlite_seal_context, provider.token("RS256"), actor=ACTOR)
    assert refused.value.check is Check.KEY


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_a_bad_token_is_refused_naming_the_check(
    context: ServiceContext, provider: TestProvider, case: str
) -> None:
    make, check = CORPUS[case]
    with pytest.raises(IdentityTokenRefused) as refused:
        verify_id_token(context, make(provider), actor=ACTOR)
    assert refused.value.check is check, str(refused.value)
    assert refused.value.status == 401 and f"{check.value} check failed" in str(refused.value)
    with context.database.session(read_only=True) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "identity.refused")
        ).one()
        assert json.loads(entry.details)["check"] == check.value
        assert not session.scalars(select(IdentityTokenUse)).all()
    assert ID_NUMBER not in _audit_text(context)


def test_a_token_is_used_once_and_old_uses_are_cleaned_up(
    context: ServiceContext, provider: TestProvider
) -> None:
    token = provider.token("ES256")
    verify_id_token(context, token, actor=ACTOR)
    with pytest.raises(IdentityTokenRefused) as refused:
        verify_id_token(context, token, actor=ACTOR)
    assert refused.value.check is Check.REPLAY
    # Another node on the same database: a second ServiceContext sees the same table.
    other = ServiceContext(context.settings)
    try:
        with pytest.raises(IdentityTokenRefused):
            verify_id_token(other, token, actor=ACTOR)
        with other.database.session() as session:
            (use,) = session.scalars(select(IdentityTokenUse)).all()
            use.expires_at = utcnow() - timedelta(seconds=1)
        verify_id_token(other, provider.token(), actor=ACTOR)
        with other.database.session(read_only=True) as session:
            remaining = [u.token_id for u in session.scalars(select(IdentityTokenUse))]
    finally:
        other.close()
    assert len(remaining) == 1 and remaining[0] != use.token_id


def test_claim_names_are_configurable_per_provider(
    sqlite_seal_context: ServiceContext,
    tmp_path: Path,
) -> None:
    provider = TestProvider(tmp_path, issuer="https://other.example")
    with sqlite_seal_context.database.session() as session:
        identity.add_provider(
            session,
            name="other",
            issuer=provider.issuer,
            audience=AUDIENCE,
            jwks=str(provider.jwks_file),
            claims={"name": "full_name", "id_number": "idcard_no", "role": "post"},
            actor=ACTOR,
        )
    token = provider.token(
        name=None, id_number=None, full_name="王五", idcard_no=ID_NUMBER, post="签发人"
    )
    person = verify_id_token(sqlite_seal_context, token, actor=ACTOR)
    assert (person.name, person.role, person.id_masked) == ("王五", "签发人", "4101**********1213")


def test_provider_configuration_is_checked_and_audited(
    sqlite_seal_context: ServiceContext,
    provider: TestProvider,
    tmp_path: Path,
) -> None:
    context = sqlite_seal_context
    private = tmp_path / "private.json"
    private.write_text(
        json.dumps({"keys": [json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(provider.rsa))]})
    )
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    for jwks, message in (
        (private, "private key"),
        (garbage, "not a usable JSON Web Key Set"),
        (tmp_path / "missing.json", "cannot read"),
    ):
        with pytest.raises(InvalidInput, match=message), context.database.session() as session:
            identity.add_provider(
                session, name="x", issuer="i", audience="a", jwks=str(jwks), actor=ACTOR
            )
    with pytest.raises(InvalidInput, match="unknown claim"), context.database.session() as s:
        identity.add_provider(
            s,
            name="x",
            issuer="i",
            audience="a",
            jwks=str(provider.jwks_file),
            claims={"birthday": "b"},
            actor=ACTOR,
        )
    _register(context, provider)
    with pytest.raises(Conflict), context.database.session() as session:
        identity.add_provider(
            session,
            name="ywtb",
            issuer="j",
            audience="a",
            jwks=str(provider.jwks_file),
            actor=ACTOR,
        )
    with context.database.session() as session:
        identity.remove_provider(session, "ywtb", actor=ACTOR)
    assert [a for a in _audit_text(context).split("\n") if a.startswith("idp.")] and (
        "idp.add" in _audit_text(context) and "idp.remove" in _audit_text(context)
    )
    with pytest.raises(IdentityTokenRefused) as refused:
        verify_id_token(context, provider.token(), actor=ACTOR)
    assert refused.value.check is Check.ISSUER


class _JwksServer:
    """A real HTTP server publishing a provider's JWKS, counting requests."""

    def __init__(self, jwks: dict) -> None:
        self.jwks, self.requests, self.status = jwks, 0, 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                body = json.dumps(outer.jwks).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def jwks_server(provider: TestProvider) -> Iterator[_JwksServer]:
    server = _JwksServer(provider.jwks)
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def test_a_jwks_url_is_fetched_cached_and_refetched_for_a_new_kid(
    sqlite_seal_context: ServiceContext,
    provider: TestProvider,
    jwks_server: _JwksServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    context = sqlite_seal_context
    with context.database.session() as session:
        identity.add_provider(
            session,
            name="url",
            issuer=provider.issuer,
            audience=AUDIENCE,
            jwks=jwks_server.url,
            actor=ACTOR,
        )
    assert jwks_server.requests == 1
    for _ in range(3):
        verify_id_token(context, provider.token(), actor=ACTOR)
    assert jwks_server.requests == 1  # cached
    # The provider rotates: a token with a new kid makes us fetch again (not too often).
    monkeypatch.setattr(identity, "JWKS_REFETCH_SECONDS", 0.0)
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks_server.jwks = {
        "keys": [
            *provider.jwks["keys"],
            {
                **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rotated.public_key())),
                "kid": "rsa-2",
            },
        ]
    }
    token = jwt.encode(provider.claims(), rotated, algorithm="RS256", headers={"kid": "rsa-2"})
    assert verify_id_token(context, token, actor=ACTOR).subject == "u-1001"
    assert jwks_server.requests == 2
    # The provider's server fails: a token naming a kid we do not have is refused (key).
    jwks_server.status = 503
    stranger = jwt.encode(provider.claims(), rotated, algorithm="RS256", headers={"kid": "rsa-3"})
    with pytest.raises(IdentityTokenRefused) as refused:
        verify_id_token(context, stranger, actor=ACTOR)
    assert refused.value.check is Check.KEY and "503" in str(refused.value)
    with (
        pytest.raises(InvalidInput, match="cannot fetch the JWKS"),
        context.database.session() as s,
    ):
        identity.add_provider(
            s, name="down", issuer="https://down.example", audience=AUDIENCE,
            jwks=jwks_server.url, actor=ACTOR,
        )  # fmt: skip


def test_masks() -> None:
    assert identity.mask_name("张三") == "张*"
    assert identity.mask_name("张三丰") == "张*丰"
    assert identity.mask_name("欧阳明日") == "欧**日"
    assert identity.mask_id_number("41010519900307123x") == "4101**********123X"


def test_the_api_answers_a_refused_token_with_a_401_problem_naming_the_check(
    context: ServiceContext, provider: TestProvider
) -> None:
    app = create_app(context.settings)

    @app.post("/test-only/identity")
    def _check(token: str) -> dict:  # what the signing API (#18 §3) will do first
        return {"subject": verify_id_token(context, token, actor=ACTOR).subject}

    expired = provider.token(iat=now - 7200, exp=now - 3600)
    with TestClient(app) as client:
        good = client.post("/test-only/identity", params={"token": provider.token()})
        bad = client.post("/test-only/identity", params={"token": expired})
    assert good.json() == {"subject": "u-1001"}
    assert bad.status_code == 401
    assert bad.headers["content-type"].startswith("application/problem+json")
    body = bad.json()
    assert body["check"] == "expiry" and body["type"].endswith("/identity-token")
    assert "expiry check failed" in body["detail"] and ID_NUMBER not in bad.text


@pytest.mark.postgres
def test_two_nodes_racing_with_one_token_let_exactly_one_through(
    postgres_server, settings, provider: TestProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several nodes on one PostgreSQL (issue #19): the replay table decides, not a node."""
    name = f"sealsvc_race_{os.getpid()}"
    postgres_server.execute(f'CREATE DATABASE "{name}"')
    monkeypatch.setenv("SEALSVC_DATABASE_URL", postgres_server.url(name))
    nodes = [ServiceContext(Settings.load(settings.data_dir)) for _ in range(4)]
    try:
        _register(nodes[0], provider)
        token = provider.token()
        barrier = threading.Barrier(len(nodes))
        outcomes: list[str] = []

        def node(context: ServiceContext) -> None:
            barrier.wait()
            try:
                verify_id_token(context, token, actor=ACTOR)
                outcomes.append("accepted")
            except IdentityTokenRefused as refused:
                outcomes.append(refused.check.value)

        threads = [threading.Thread(target=node, args=(n,)) for n in nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(outcomes) == ["accepted", "replay", "replay", "replay"]
    finally:
        for context in nodes:
            context.close()
        postgres_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _signed(provider: TestProvider, header: object, payload: object) -> str:
    """A token whose header and payload are any JSON, RS256-signed with the provider's key."""
    signing_input = ".".join(b64url(json.dumps(part).encode()) for part in (header, payload))
    signature = provider.rsa.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


ODD_TOKENS: dict[str, Callable[[TestProvider], str]] = {
    "payload-a-list": lambda p: _signed(p, {"alg": "RS256", "kid": "rsa-1"}, [1, 2]),
    "kid-a-number": lambda p: _signed(p, {"alg": "RS256", "kid": 5}, p.claims()),
    "alg-a-list": lambda p: _signed(p, {"alg": ["RS256"], "kid": "rsa-1"}, p.claims()),
    "exp-a-string": lambda p: _signed(p, {"alg": "RS256", "kid": "rsa-1"}, p.claims(exp="soon")),
    "iss-a-number": lambda p: _signed(p, {"alg": "RS256"}, p.claims(iss=7)),
    "jti-a-number": lambda p: _signed(p, {"alg": "RS256", "kid": "rsa-1"}, p.claims(jti=7)),
    "id-number-a-number": lambda p: p.token(id_number=410105199003071213),
    "huge": lambda p: "a" * 20_000,
    "empty": lambda p: "",
}


@pytest.mark.parametrize("case", sorted(ODD_TOKENS))
def test_odd_tokens_are_refused_never_a_crash(
    sqlite_seal_context: ServiceContext, provider: TestProvider, case: str
) -> None:
    _register(sqlite_seal_context, provider)
    with pytest.raises(IdentityTokenRefused):
        verify_id_token(sqlite_seal_context, ODD_TOKENS[case](provider), actor=ACTOR)


@settings_(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_mutated_token_is_refused_or_unchanged_never_a_crash(
    sqlite_seal_context: ServiceContext, provider: TestProvider, data: st.DataObject
) -> None:
    with sqlite_seal_context.database.session() as session:
        if not identity.list_providers(session):
            identity.add_provider(
                session, name="ywtb", issuer=provider.issuer, audience=AUDIENCE,
                jwks=str(provider.jwks_file), actor=ACTOR,
            )  # fmt: skip
    token = provider.token(data.draw(st.sampled_from(["RS256", "ES256", "SM2"])))
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("AZaz09-_.=+/ \x00é"))
    mutated = token[:position] + replacement + token[position + 1 :]
    try:
        verify_id_token(sqlite_seal_context, mutated, actor=ACTOR)
    except IdentityTokenRefused:
        pass  # refused with the service's own error: the outcome a changed token should have
    else:
        # Accepted: only base64url's slack bits can change without changing its meaning.
        assert jwt.decode(mutated, options={"verify_signature": False}) == jwt.decode(
            token, options={"verify_signature": False}
        )
