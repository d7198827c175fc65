"""``sealctl`` loads only what the command being run needs (sealsvc/cli/main.py).

Guarded by which modules a fresh interpreter holds afterwards, not by a stopwatch: the
whole-process timings are in docs/benchmarks.md. Each case runs in its own interpreter,
since this test process has long imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers.local import TEST_PASSPHRASE
from helpers.pdf_fixtures import chinese_pdf
from typer.testing import CliRunner

from sealsvc.cli.launcher import NARROWEST
from sealsvc.cli.main import COMMANDS, app, load_command

HEAVY = ("pyhanko", "fastapi", "uvicorn", "reportlab", "PIL", "starlette")


def _loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules, and their top-level packages, a fresh interpreter holds after ``code``."""
    probe = textwrap.dedent(code) + textwrap.dedent(
        """
        import json, sys
        print(json.dumps(sorted({*sys.modules, *(name.split(".")[0] for name in sys.modules)})))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_help_imports_no_command_module() -> None:
    loaded = _loaded_after(
        """
        import contextlib, io, sys
        from sealsvc.cli.main import app
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            app(["--help"])
        """
    )
    assert "sealsvc.cli.main" in loaded
    assert not {f"sealsvc.cli.{entry.module}" for entry in COMMANDS.values()} & loaded
    assert not loaded & {*HEAVY, "sqlalchemy", "cryptography", "alembic", "pki"}


def _sealctl(entry: str, arguments: list[str], columns: int) -> tuple[int, str]:
    """Exit code and output of ``sealctl ARGUMENTS`` started through ``entry``, in a
    terminal ``columns`` wide."""
    result = subprocess.run(
        [sys.executable, "-c", entry, *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": str(columns), "TERMINAL_WIDTH": ""},
    )
    return result.returncode, result.stdout


LAUNCHER = "from sealsvc.cli.launcher import main; main()"
TYPER = "from sealsvc.cli.main import app; app(prog_name='sealctl')"


@pytest.mark.parametrize("columns", [NARROWEST, 80, 100, 120, 200])
@pytest.mark.parametrize("arguments", [["--help"], []])
def test_the_launchers_help_is_typers(arguments: list[str], columns: int) -> None:
    """``sealctl --help`` drawn from the table says, line for line, what typer draws."""
    ours = _sealctl(LAUNCHER, arguments, columns)
    assert ours == _sealctl(TYPER, arguments, columns)
    assert ours[0] == (0 if arguments else 2)
    for name in COMMANDS:
        assert f"│ {name} " in ours[1]


def test_the_launchers_help_imports_no_cli_framework() -> None:
    loaded = _loaded_after(
        """
        import contextlib, io, sys
        sys.argv = ["sealctl", "--help"]
        from sealsvc.cli.launcher import main
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main()
        """
    )
    assert "sealsvc.cli.commands" in loaded
    assert not loaded & {"typer", "click", "rich", "pydantic", "dataclasses", "sealsvc.cli.main"}


def test_the_launcher_hands_everything_else_to_typer() -> None:
    assert _sealctl(LAUNCHER, ["seal", "--help"], 80) == _sealctl(TYPER, ["seal", "--help"], 80)
    code, output = _sealctl(LAUNCHER, ["--help"], NARROWEST - 1)  # typer's narrow layout
    assert (code, output) == _sealctl(TYPER, ["--help"], NARROWEST - 1)


@pytest.mark.parametrize("noun", ["seal", "dept", "audit", "apikey", "ca", "template", "token"])
def test_registry_commands_load_no_pdf_or_http_stack(noun: str) -> None:
    loaded = _loaded_after(f"from sealsvc.cli.main import load_command\nload_command({noun!r})")
    assert f"sealsvc.cli.{COMMANDS[noun].module}" in loaded
    assert not loaded & set(HEAVY)


def test_the_probe_sees_a_heavy_import() -> None:
    """The check above can fail: ``sign`` needs pyHanko, and the probe says so."""
    assert "pyhanko" in _loaded_after(
        "from sealsvc.cli.main import load_command\nload_command('sign')"
    )


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_listed_command_loads_under_its_name(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    assert command.short_help == COMMANDS[name].summary
    assert command.help  # its own --help has the full text


def test_help_lists_every_command_with_its_summary() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name, entry in COMMANDS.items():
        assert f" {name} " in result.output
        assert entry.summary[:40] in result.output


def test_a_command_runs_through_the_lazy_group(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "template", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["sael", "list"])
    assert result.exit_code == 2
    assert "No such command" in result.output


@pytest.fixture(scope="module")
def officer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of an officer's shell: a data directory with the CAs, one RSA seal,
    ``in.pdf`` and ``out.pdf`` (sealed) in the working directory ``CWD``."""
    work = tmp_path_factory.mktemp("officer")
    env = {
        **os.environ,
        "SEALSVC_DATA_DIR": str(work / "data"),
        "SEALSVC_PASSPHRASE": TEST_PASSPHRASE,
        "CWD": str(work),
    }
    for name in ("SEALSVC_PASSPHRASE_FILE", "SEALSVC_DATABASE_URL", "SEALSVC_BASE_URL"):
        env.pop(name, None)
    sealctl = str(Path(sys.executable).with_name("sealctl"))

    def run(*arguments: str) -> str:
        return subprocess.run(
            [sealctl, *arguments], cwd=work, env=env, check=True, capture_output=True, text=True
        ).stdout

    run("init", "--dev")
    run("dept", "import")
    code = json.loads(run("seal", "issue", "--dept", "ZZ-D01", "--kind", "公章", "--json"))
    (work / "in.pdf").write_bytes(chinese_pdf())
    run("sign", "in.pdf", "--seal", code["code"], "--level", "B-B", "-o", "out.pdf")
    return {**env, "SEAL": code["code"]}


COMMAND_IMPORTS = {
    # command: (modules it must load — it really ran —, modules it must not load)
    "seal list": (
        {"sealsvc.cli.seal", "sqlalchemy"},
        {"alembic", "mako", "pyhanko", "reportlab", "PIL", "fastapi"},
    ),
    "verify out.pdf": (
        {"pyhanko.sign.validation", "sealsvc.verification.service"},
        {
            "alembic",
            "sealsvc.ofd_sealing",
            "sealsvc.sealing",
            "sealsvc.licences.pipeline",
            "sealsvc.licences.render",
            "sealsvc.licences.render_ofd",
            "reportlab",
            "fontTools",
            "ofd.writer",
            "fastapi",
        },
    ),
    "sign in.pdf --seal {SEAL} --level B-B -o again.pdf": (
        {"pyhanko.sign.signers", "sealsvc.sealing"},
        {
            "alembic",
            "sealsvc.ofd_sealing",
            "sealsvc.ses_signing",
            "sealsvc.licences.pipeline",
            "ofd.writer",
            "fastapi",
        },
    ),
}


@pytest.mark.parametrize("command", list(COMMAND_IMPORTS))
def test_a_command_loads_what_its_document_needs(command: str, officer: dict[str, str]) -> None:
    """``sealctl verify``/``sign`` of a PDF load neither the OFD nor the licence stack, and
    no command loads Alembic on a database already at the newest schema."""
    arguments = command.format(SEAL=officer["SEAL"]).split()
    loaded = _loaded_after(
        f"""
        import contextlib, io, os, sys
        os.chdir(os.environ["CWD"])
        sys.argv = ["sealctl", *{arguments!r}]
        from sealsvc.cli.launcher import main
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main()
            except SystemExit as exit:
                assert exit.code in (0, None), exit.code
        """,
        env=officer,
    )
    needed, unwanted = COMMAND_IMPORTS[command]
    assert needed <= loaded
    assert not loaded & unwanted
