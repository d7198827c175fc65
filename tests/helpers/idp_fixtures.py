"""A real identity provider for tests: its own RSA, EC and SM2 keys, a JWKS file, signed ID tokens.

Use from a test module (pytest puts ``tests/`` on ``sys.path``)::

    from helpers.idp_fixtures import TestProvider
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from asn1crypto import algos
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pki import algorithms

__all__ = ["AUDIENCE", "ID_NUMBER", "ISSUER", "TestProvider", "b64url", "sm2_jwk"]

ISSUER = "https://id.test.zhengzhou.example"
AUDIENCE = "sealsvc-test"
ID_NUMBER = "410105199003071213"
"""A 居民身份证 number with a valid GB 11643 check character (made up: no such person)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestProvider:
    """Signs ID tokens as an OIDC provider does; ``jwks_file`` holds its public keys."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, directory: Path, issuer: str = ISSUER) -> None:
        self.issuer = issuer
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.keys = {"RS256": ("rsa-1", self.rsa), "ES256": ("ec-1", self.ec)}
        self.sm2 = algorithms.generate("sm2")
        jwks = {
            "keys": [
                {
                    **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key())),
                    "kid": "rsa-1",
                    "use": "sig",
                    "alg": "RS256",
                },
                {
                    **json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key())),
                    "kid": "ec-1",
                    "use": "sig",
                    "alg": "ES256",
                },
                {**sm2_jwk(self.sm2.public_key_info), "kid": "sm2-1", "use": "sig", "alg": "SM2"},
            ]
        }
        self.jwks = jwks
        self.jwks_file = directory / "jwks.json"
        self.jwks_file.write_text(json.dumps(jwks))

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "u-1001",
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
            "name": "张三丰",
            "id_number": ID_NUMBER,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, alg: str = "RS256", *, kid: str | None = None, **overrides: Any) -> str:
        """A token signed with the provider's key for ``alg`` (``None`` overrides drop a claim);
        ``SM2``, ``SM3withSM2`` or ``GmSM2`` sign with the SM2 key (:meth:`sm2_token`)."""
        if alg in ("SM2", "SM3withSM2", "GmSM2"):
            return self.sm2_token(alg, kid=kid, **overrides)
        default_kid, key = self.keys[alg]
        return jwt.encode(
            self.claims(**overrides), key, algorithm=alg, headers={"kid": kid or default_kid}
        )

    def sm2_token(
        self,
        alg: str = "SM2",
        *,
        kid: str | None = None,
        der: bool = False,
        key: algorithms.SoftwareKey | None = None,
        **overrides: Any,
    ) -> str:
        """A token SM2-signed (SM3, default signer ID) by Tongsuo over the JWS signing input,
        the signature as JOSE's ``r ‖ s`` or, with ``der``, as a JCA provider's DER."""
        header = {"alg": alg, "typ": "JWT", "kid": kid or "sm2-1"}
        signing_input = ".".join(
            b64url(json.dumps(part, ensure_ascii=False).encode())
            for part in (header, self.claims(**overrides))
        )
        signature = (key or self.sm2).sign(signing_input.encode())
        if not der:
            rs = algos.DSASignature.load(signature).native
            signature = rs["r"].to_bytes(32, "big") + rs["s"].to_bytes(32, "big")
        return f"{signing_input}.{b64url(signature)}"


def sm2_jwk(public_key_info: Any) -> dict[str, str]:
    """``{"kty": "EC", "crv": "SM2", "x", "y"}`` of an SM2 SubjectPublicKeyInfo."""
    point = public_key_info["public_key"].native
    return {"kty": "EC", "crv": "SM2", "x": b64url(point[1:33]), "y": b64url(point[33:65])}
