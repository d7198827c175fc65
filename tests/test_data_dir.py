"""The data directory (issue 14 §6): only ``init`` and ``serve`` create it, and it is private.

* Any other ``sealctl`` command given a directory that does not exist, or one without the
  SQLite database, exits 1 with one line naming the directory, ``--data-dir`` and
  ``SEALSVC_DATA_DIR`` — and leaves nothing behind.
* ``init`` makes the directory 0700 and the database (with ``-wal``/``-shm``) 0600 even
  under ``umask 000``; a directory an older release left at 0755/0644 is tightened.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from helpers.local import TEST_PASSPHRASE
from helpers.server import SEALCTL
from typer.testing import CliRunner

from sealsvc import datadir
from sealsvc.cli.main import app
from sealsvc.config import Settings
from sealsvc.db import open_database

COMMANDS = [
    ("dept", "list"),
    ("seal", "list"),
    ("seal", "show", "41010001000001"),
    ("audit", "verify"),
    ("apikey", "list"),
    ("licence", "list"),
    ("ca", "show"),
    ("crl", "publish"),
]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """``sealctl --data-dir DIR …`` in-process, with the test passphrase and no other config."""
    for name in ("SEALSVC_DATA_DIR", "SEALSVC_DATABASE_URL", "SEALSVC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEALSVC_PASSPHRASE", TEST_PASSPHRASE)

    def invoke(data_dir: Path, *args: str) -> Result:
        return CliRunner().invoke(app, ["--data-dir", str(data_dir), *args])

    return invoke


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_command_refuses_a_missing_data_dir_and_creates_nothing(
    run: Callable[..., Result], tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "typo" / "data"
    result = run(missing, *command)
    assert result.exit_code == 1, result.output
    message = " ".join(result.stderr.split())
    assert message.startswith(f"error: no sealsvc data directory at {missing}:")
    assert "--data-dir" in message and "SEALSVC_DATA_DIR" in message
    assert "sealctl init" in message and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_directory_without_a_database_is_refused_too(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    result = run(tmp_path, "seal", "list")
    assert result.exit_code == 1
    assert f"no sealsvc database in {tmp_path} (sealsvc.db does not exist)" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_refusal_in_a_real_process_from_the_environment(tmp_path: Path) -> None:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("SEALSVC_") and k != "COLUMNS"
    }
    environ.update(SEALSVC_DATA_DIR=str(tmp_path / "data"), SEALSVC_PASSPHRASE=TEST_PASSPHRASE)
    result = subprocess.run(
        [str(SEALCTL), "dept", "list"], env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert f"no sealsvc data directory at {tmp_path / 'data'}" in result.stderr
    assert result.stdout == "" and not (tmp_path / "data").exists()


def test_init_creates_a_private_data_dir_whatever_the_umask(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    data_dir = tmp_path / "new" / "data"
    previous = os.umask(0)
    try:
        result = run(data_dir, "init", "--dev", "--json")
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert _mode(data_dir) == 0o700
    database = data_dir / "sealsvc.db"
    files = [database.with_name(database.name + s) for s in ("", "-wal", "-shm")]
    modes = {p.name: _mode(p) for p in files if p.exists()}
    assert modes.get("sealsvc.db") == 0o600 and set(modes.values()) == {0o600}, modes
    # and now the other commands work on it
    assert run(data_dir, "ca", "show", "--json").exit_code == 0


def test_a_data_dir_left_readable_by_others_is_tightened(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    open_database(Settings.load(data_dir, {})).dispose()
    database = data_dir / "sealsvc.db"
    os.chmod(data_dir, 0o755)
    os.chmod(database, 0o644)
    assert run(data_dir, "dept", "list").exit_code == 0
    assert (_mode(data_dir), _mode(database)) == (0o700, 0o600)


def test_preparing_an_open_database_keeps_its_locks(tmp_path: Path) -> None:
    """A second ServiceContext in a process must not drop the first one's SQLite locks.

    Closing any descriptor of a file drops all POSIX locks the process holds on it; when
    ``prepare`` opened the existing database file, another process writing next believed
    itself alone, deleted the WAL under the first connection, and the file was corrupt.
    """
    settings = Settings.load(tmp_path / "data", {"SEALSVC_PASSPHRASE": TEST_PASSPHRASE})
    database = settings.data_dir / "sealsvc.db"
    datadir.prepare(settings, database)
    first = sqlite3.connect(database, isolation_level=None)
    first.execute("PRAGMA journal_mode=WAL")
    first.execute("CREATE TABLE t (x)")
    first.execute("INSERT INTO t VALUES (1)")
    datadir.prepare(settings, database)  # as a second ServiceContext in this process does
    writer = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('INSERT INTO t VALUES (2)'); c.close()"
    )
    subprocess.run([sys.executable, "-c", writer, str(database)], check=True)
    first.execute("INSERT INTO t VALUES (3)")
    subprocess.run([sys.executable, "-c", writer, str(database)], check=True)
    first.close()
    check = sqlite3.connect(database)
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert sorted(x for (x,) in check.execute("SELECT x FROM t")) == [1, 2, 2, 3]
    check.close()
