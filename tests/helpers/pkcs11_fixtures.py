"""A fresh SoftHSM2 token per test run, for the PKCS#11 key store tests (issue 19 §3).

SoftHSM2 reads ``SOFTHSM2_CONF`` once, when the module is initialised, and python-pkcs11
initialises a module once per process: so the configuration (a token directory under the
session's tmp dir) is set for the whole session, before the first test loads the module.
The token's PINs appear in ``softhsm2-util``'s argv here only: this is test set-up of a
throw-away token, not the service, which reads its PIN from a file or the environment.

Use from a test module::

    pytest_plugins = ("helpers.pkcs11_fixtures",)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["SOFTHSM_MODULE", "SoftHsm", "softhsm"]

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_LABEL = "sealsvc-test"
USER_PIN = "735190"
SO_PIN = "24681357"


@dataclass(frozen=True)
class SoftHsm:
    """The token of this test run and how to reach it."""

    module: str
    token_label: str
    pin: str
    pin_file: Path
    conf: Path

    def environ(self) -> dict[str, str]:
        """What a service process needs to use the token (the PIN as a file)."""
        return {
            "SOFTHSM2_CONF": str(self.conf),
            "SEALSVC_PKCS11_MODULE": self.module,
            "SEALSVC_PKCS11_TOKEN": self.token_label,
            "SEALSVC_PKCS11_PIN_FILE": str(self.pin_file),
        }


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """A SoftHSM2 token initialised for this run; skipped where SoftHSM2 is missing."""
    if shutil.which("softhsm2-util") is None or not Path(SOFTHSM_MODULE).is_file():
        pytest.skip("SoftHSM2 is not installed (Debian: apt-get install softhsm2 opensc)")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    pin_file = root / "pin"
    pin_file.write_text(USER_PIN + "\n")
    pin_file.chmod(0o600)
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", TOKEN_LABEL,
         "--so-pin", SO_PIN, "--pin", USER_PIN],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield SoftHsm(SOFTHSM_MODULE, TOKEN_LABEL, USER_PIN, pin_file, conf)
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous
