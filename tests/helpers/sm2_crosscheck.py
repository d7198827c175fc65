"""Independent SM2 signature checks for tests: OpenSSL 3 (with ``distid``) and gmssl.

OpenSSL 3.0's ``ts -verify``, ``cms -verify`` and ``ocsp`` cannot check SM2 signatures
(they never set the SM2 signer ID), so tests of SM2 tokens and responses check the exact
signed bytes with tools nobody here wrote: ``openssl pkeyutl -verify -rawin -digest sm3
-pkeyopt distid:1234567812345678`` (C) and gmssl's ``verify_with_sm3`` (pure Python).
Import as ``from helpers.sm2_crosscheck import openssl_sm2_verifies, gmssl_sm2_verifies``.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from asn1crypto import algos, keys, pem
from gmssl import sm2 as gmssl_sm2

__all__ = ["gmssl_sm2_verifies", "openssl_sm2_verifies"]


def openssl_sm2_verifies(public_key: keys.PublicKeyInfo, message: bytes, signature: bytes) -> bool:
    """True iff ``openssl pkeyutl`` accepts the DER SM2 ``signature`` over ``message``."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "pub.pem").write_bytes(pem.armor("PUBLIC KEY", public_key.dump()))
        (directory / "msg").write_bytes(message)
        (directory / "sig").write_bytes(signature)
        result = subprocess.run(
            [
                *("openssl", "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin"),
                *("-inkey", "pub.pem", "-in", "msg", "-sigfile", "sig"),
                *("-pkeyopt", "distid:1234567812345678"),
            ],
            cwd=directory,
            capture_output=True,
            text=True,
            check=False,
        )
    return result.returncode == 0 and "Signature Verified Successfully" in result.stdout


def gmssl_sm2_verifies(public_key: keys.PublicKeyInfo, message: bytes, signature: bytes) -> bool:
    """True iff gmssl (default signer ID) accepts the DER SM2 ``signature`` over ``message``."""
    rs = algos.DSASignature.load(signature).native
    checker = gmssl_sm2.CryptSM2(private_key="", public_key="00")
    # gmssl's constructor strips "04" with str.lstrip, which can eat digits of x: set it here.
    checker.public_key = public_key["public_key"].native[1:].hex()
    return bool(checker.verify_with_sm3(f"{rs['r']:064x}{rs['s']:064x}", message))
