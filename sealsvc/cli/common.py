"""What every ``sealctl`` command shares: settings from the global options, ``--json``
output, and turning a known error into one red line and a non-zero exit code.

Tracebacks are for bugs; an operator who typed a wrong passphrase or seal code gets a
sentence.  Known errors exit with 1, bad usage with typer's 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console

from pki.errors import PkiError
from sealsvc.config import ConfigError, Settings
from sealsvc.errors import SealsvcError

__all__ = ["JsonOption", "console", "emit_json", "err_console", "settings", "user_errors"]

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def settings(ctx: typer.Context) -> Settings:
    """The :class:`Settings` resolved by the top-level ``--data-dir`` option."""
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = Settings.load()
    return root.obj


def emit_json(data: Any) -> None:
    """Write JSON to stdout without rich markup, so scripts can parse it."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@contextmanager
def user_errors() -> Iterator[None]:
    """Report expected failures as one line on stderr and exit 1."""
    try:
        yield
    except (PkiError, SealsvcError, ConfigError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
