"""Where the service keeps its state and how it gets its secrets.

The conventions are the ones operators and scripts rely on (see ``README.md``):
``--data-dir`` or ``SEALSVC_DATA_DIR``; the master passphrase from ``SEALSVC_PASSPHRASE``
or ``SEALSVC_PASSPHRASE_FILE`` and never from argv (argv is visible in ``ps`` and shell
history); the database is a SQLite file in the data directory unless
``SEALSVC_DATABASE_URL`` names another (PostgreSQL for several service nodes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ConfigError", "Settings", "read_passphrase"]

DEFAULT_DATA_DIR = Path("data")
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class ConfigError(Exception):
    """The configuration is incomplete or unusable; the message says what to set."""


def read_passphrase(environ: Mapping[str, str] | None = None) -> str:
    """The master passphrase from ``SEALSVC_PASSPHRASE`` or the file ``SEALSVC_PASSPHRASE_FILE``.

    A trailing newline in the file is dropped (``echo secret > file`` is the common way
    to write one); nothing else is stripped, so a passphrase may contain spaces.
    """
    environ = os.environ if environ is None else environ
    value = environ.get("SEALSVC_PASSPHRASE")
    if value:
        return value
    path = environ.get("SEALSVC_PASSPHRASE_FILE")
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read SEALSVC_PASSPHRASE_FILE {path}: {exc.strerror}"
            ) from None
        text = text.removesuffix("\n").removesuffix("\r")
        if text:
            return text
        raise ConfigError(f"SEALSVC_PASSPHRASE_FILE {path} is empty")
    raise ConfigError("no master passphrase: set SEALSVC_PASSPHRASE or SEALSVC_PASSPHRASE_FILE")


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one service instance or CLI invocation."""

    data_dir: Path
    database_url: str
    base_url: str = DEFAULT_BASE_URL
    max_pdf_bytes: int = 50 * 1024 * 1024
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)

    @classmethod
    def load(
        cls, data_dir: Path | str | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        environ = os.environ if environ is None else environ
        resolved = Path(data_dir or environ.get("SEALSVC_DATA_DIR") or DEFAULT_DATA_DIR)
        resolved = resolved.expanduser().absolute()
        url = environ.get("SEALSVC_DATABASE_URL") or f"sqlite:///{resolved / 'sealsvc.db'}"
        return cls(
            data_dir=resolved,
            database_url=url,
            base_url=environ.get("SEALSVC_BASE_URL", DEFAULT_BASE_URL).rstrip("/"),
            max_pdf_bytes=int(environ.get("SEALSVC_MAX_PDF_BYTES", 50 * 1024 * 1024)),
            environ=environ,
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
