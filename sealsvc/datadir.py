"""The data directory: created only on purpose, and readable by the service's user alone.

It holds the SQLite database (licence holders, the audit log), the encrypted key store and
the issued licences.  Two rules:

* Only ``sealctl init`` and ``sealctl serve`` create it (:attr:`Settings.may_create`).  Any
  other command pointed at a directory that does not exist — a typo in ``--data-dir``, a
  shell in the wrong working directory — is refused with a sentence naming the directory,
  instead of silently creating an empty database there and reporting "no seals".
* The directory is 0700 and the SQLite file (with its ``-wal`` and ``-shm`` companions)
  0600, whatever the umask.  A directory made by an older release (0755 / 0644 under the
  usual umask 022) is tightened whenever it is opened: the database is not secret-free
  (holders' names and credit codes, API key hashes) and nothing but the service needs it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sealsvc.config import ConfigError, Settings

__all__ = ["DIRECTORY_MODE", "FILE_MODE", "prepare"]

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
_SQLITE_COMPANIONS = ("", "-wal", "-shm")


def prepare(settings: Settings, sqlite_file: Path | None = None) -> None:
    """Make sure the data directory (and ``sqlite_file``, if given) may be used.

    Creates them when ``settings.may_create``, or when the database is a shared server
    (PostgreSQL): a node's data directory then holds nothing that must be found again
    (issue #19), so ``sealctl`` on a third machine needs none, and a mistyped
    ``--data-dir`` cannot hide the registry.  Otherwise raises :class:`ConfigError` if
    either is missing.  Either way tightens the modes of what exists.
    """
    missing = [p for p in (settings.data_dir, sqlite_file) if p is not None and not p.exists()]
    shared = not settings.database_url.startswith("sqlite")
    if missing and not (settings.may_create or shared):
        raise ConfigError(_missing_message(settings.data_dir, missing[0]))
    settings.data_dir.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    _tighten(settings.data_dir, DIRECTORY_MODE)
    if sqlite_file is not None:
        sqlite_file.parent.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        # Created here with 0600 before SQLite opens it: SQLite gives the -wal and -shm
        # files the database file's mode, so they are born private too.  Only when it is
        # missing (O_EXCL): closing ANY descriptor of the file drops every POSIX lock this
        # process holds on it, so opening an existing database here while another
        # connection of the process has it open let a second process think it was alone,
        # delete the WAL under that connection and corrupt the database.
        if not sqlite_file.exists():
            with contextlib.suppress(FileExistsError):
                os.close(os.open(sqlite_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
        for suffix in _SQLITE_COMPANIONS:
            _tighten(sqlite_file.with_name(sqlite_file.name + suffix), FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    """Drop permission bits beyond ``mode``; a file of another user is left alone."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if path.stat().st_mode & 0o777 & ~mode:
            os.chmod(path, mode)


def _missing_message(data_dir: Path, missing: Path) -> str:
    where = (
        f"no sealsvc data directory at {data_dir}"
        if missing == data_dir
        else f"no sealsvc database in {data_dir} ({missing.name} does not exist)"
    )
    return (
        f"{where}: name the existing one with --data-dir or SEALSVC_DATA_DIR, "
        "or create a new one with `sealctl init` or `sealctl serve`"
    )
