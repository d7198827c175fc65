"""Where the service keeps its state and how it gets its secrets.

The conventions are the ones operators and scripts rely on (see ``README.md``):
``--data-dir`` or ``SEALSVC_DATA_DIR``; the master passphrase from ``SEALSVC_PASSPHRASE``
or ``SEALSVC_PASSPHRASE_FILE`` and never from argv (argv is visible in ``ps`` and shell
history); the database is a SQLite file in the data directory unless
``SEALSVC_DATABASE_URL`` names another (PostgreSQL for several service nodes).

The public base URL, from which every URL the service writes or returns is built (CRL,
OCSP and CA-issuers URLs in certificates, QR codes, ``verify_url``, ``download_url``), is
``SEALSVC_BASE_URL``, else the one recorded in ``<data dir>/base-url`` when the CAs were
created (see :mod:`sealsvc.public_url`), else ``http://127.0.0.1:8000``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pki.pkcs11_keystore import Pkcs11Config

__all__ = [
    "BASE_URL_FILE",
    "DEFAULT_BASE_URL",
    "ConfigError",
    "Settings",
    "normalise_base_url",
    "read_passphrase",
    "recorded_base_url",
]

DEFAULT_DATA_DIR = Path("data")
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
BASE_URL_FILE = "base-url"
"""Name, in the data directory, of the file recording the base URL the CAs were created with."""


class ConfigError(Exception):
    """The configuration is incomplete or unusable; the message says what to set."""


def read_passphrase(environ: Mapping[str, str] | None = None) -> str:
    """The master passphrase from ``SEALSVC_PASSPHRASE`` or the file ``SEALSVC_PASSPHRASE_FILE``.

    A trailing newline in the file is dropped (``echo secret > file`` is the common way
    to write one); nothing else is stripped, so a passphrase may contain spaces.
    """
    return _read_secret(
        os.environ if environ is None else environ,
        "SEALSVC_PASSPHRASE",
        "master passphrase",
    )


def _read_secret(environ: Mapping[str, str], variable: str, what: str) -> str:
    """A secret from ``variable`` or from the file named by ``<variable>_FILE`` (one
    trailing newline dropped), never from argv; the error names the variables only."""
    value = environ.get(variable)
    if value:
        return value
    path = environ.get(f"{variable}_FILE")
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read {variable}_FILE {path}: {exc.strerror}") from None
        text = text.removesuffix("\n").removesuffix("\r")
        if text:
            return text
        raise ConfigError(f"{variable}_FILE {path} is empty")
    raise ConfigError(f"no {what}: set {variable} or {variable}_FILE")


def normalise_base_url(url: str, origin: str) -> str:
    """``url`` without a trailing slash, or :class:`ConfigError` naming ``origin``.

    The value ends up in every certificate, so a typo must stop the start, not be signed.
    """
    value = url.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{origin}: {url!r} is not an http(s) URL such as https://seal.example.gov.cn"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{origin}: {url!r} must not have a query or a fragment")
    return value


def recorded_base_url(data_dir: Path) -> str | None:
    """The base URL recorded in ``<data dir>/base-url`` at the CAs' creation, if any."""
    path = data_dir / BASE_URL_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    return normalise_base_url(text, str(path))


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one service instance or CLI invocation."""

    data_dir: Path
    database_url: str
    base_url: str = DEFAULT_BASE_URL
    max_pdf_bytes: int = 50 * 1024 * 1024
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)
    base_url_source: str = "default"
    """Where ``base_url`` came from: ``SEALSVC_BASE_URL``, the recorded file's path, or
    ``default`` — what a start-up message names when the URL looks wrong."""
    min_cert_days_left: int = 0
    """``SEALSVC_MIN_CERT_DAYS_LEFT``: refuse to seal with a certificate that ends within
    this many days (0: up to its last second); ``seal list --expiring`` flags such seals."""
    seal_usage_limit: int = 0
    """``SEALSVC_SEAL_USAGE_LIMIT``: signatures a seal's key may make before sealing is
    refused until the seal is rotated (0: no limit)."""
    pkcs11_module: str | None = None
    """``SEALSVC_PKCS11_MODULE``: the PKCS#11 library of the key token; unset, all keys
    stay in the software key store."""
    pkcs11_token: str | None = None
    """``SEALSVC_PKCS11_TOKEN``: the label of the token in that library."""
    pkcs11_sm2_mechanism: int | None = None
    """``SEALSVC_PKCS11_SM2_MECHANISM``: the token's vendor SM2 mechanism number, if any."""
    may_create: bool = True
    """Whether opening the database or key store may create the data directory.

    ``sealctl`` allows it only for ``init`` and ``serve`` (a typo in ``--data-dir`` must
    not leave an empty database behind); the service and library callers keep ``True``.
    """

    @classmethod
    def load(
        cls, data_dir: Path | str | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        environ = os.environ if environ is None else environ
        resolved = Path(data_dir or environ.get("SEALSVC_DATA_DIR") or DEFAULT_DATA_DIR)
        resolved = resolved.expanduser().absolute()
        url = environ.get("SEALSVC_DATABASE_URL") or f"sqlite:///{resolved / 'sealsvc.db'}"
        base_url, base_url_source = _base_url(resolved, environ)
        module, token, sm2_mechanism = _pkcs11_settings(environ)
        return cls(
            data_dir=resolved,
            database_url=url,
            base_url=base_url,
            base_url_source=base_url_source,
            max_pdf_bytes=int(environ.get("SEALSVC_MAX_PDF_BYTES", 50 * 1024 * 1024)),
            environ=environ,
            min_cert_days_left=_non_negative_int(environ, "SEALSVC_MIN_CERT_DAYS_LEFT", "days"),
            seal_usage_limit=_non_negative_int(environ, "SEALSVC_SEAL_USAGE_LIMIT", "signatures"),
            pkcs11_module=module,
            pkcs11_token=token,
            pkcs11_sm2_mechanism=sm2_mechanism,
        )

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def ca_dir(self) -> Path:
        """CA certificates (and CRLs) as PEM files that operators publish."""
        return self.data_dir / "ca"

    def passphrase(self) -> str:
        return read_passphrase(self.environ)

    def pkcs11(self) -> Pkcs11Config | None:
        """How to reach the key token, PIN included; ``None`` when no token is configured.

        The PIN is read here, when the token is opened, from ``SEALSVC_PKCS11_PIN`` or the
        file ``SEALSVC_PKCS11_PIN_FILE`` — never from argv."""
        if self.pkcs11_module is None or self.pkcs11_token is None:
            return None
        return Pkcs11Config(
            module=self.pkcs11_module,
            token_label=self.pkcs11_token,
            pin=_read_secret(self.environ, "SEALSVC_PKCS11_PIN", "PIN for the PKCS#11 token"),
            sm2_mechanism=self.pkcs11_sm2_mechanism,
        )


def _non_negative_int(environ: Mapping[str, str], variable: str, unit: str) -> int:
    text = environ.get(variable) or "0"
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(f"{variable} {text!r} must be a whole number of {unit}, 0 or more")
    return value


def _pkcs11_settings(environ: Mapping[str, str]) -> tuple[str | None, str | None, int | None]:
    """Module, token label and SM2 mechanism of the key token, checked for consistency."""
    module = environ.get("SEALSVC_PKCS11_MODULE") or None
    token = environ.get("SEALSVC_PKCS11_TOKEN") or None
    mechanism_text = environ.get("SEALSVC_PKCS11_SM2_MECHANISM") or None
    if (module is None) != (token is None):
        raise ConfigError("a key token needs both SEALSVC_PKCS11_MODULE and SEALSVC_PKCS11_TOKEN")
    if mechanism_text is None:
        return module, token, None
    if module is None:
        raise ConfigError("SEALSVC_PKCS11_SM2_MECHANISM needs SEALSVC_PKCS11_MODULE")
    try:
        mechanism = int(mechanism_text, 0)
    except ValueError:
        raise ConfigError(
            f"SEALSVC_PKCS11_SM2_MECHANISM {mechanism_text!r} is not a number such as 0x80000101"
        ) from None
    if not 0 <= mechanism < 2**32:
        raise ConfigError("SEALSVC_PKCS11_SM2_MECHANISM is out of range (32-bit)")
    return module, token, mechanism


def _base_url(data_dir: Path, environ: Mapping[str, str]) -> tuple[str, str]:
    """The base URL and where it came from (see the module docstring for the order)."""
    if environ.get("SEALSVC_BASE_URL"):
        return normalise_base_url(environ["SEALSVC_BASE_URL"], "SEALSVC_BASE_URL"), (
            "SEALSVC_BASE_URL"
        )
    recorded = recorded_base_url(data_dir)
    if recorded is not None:
        return recorded, str(data_dir / BASE_URL_FILE)
    return DEFAULT_BASE_URL, "default"
