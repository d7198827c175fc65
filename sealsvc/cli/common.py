"""What every ``sealctl`` command shares: settings from the global options, ``--json``
output, and turning a known error into one red line and a non-zero exit code.

Tracebacks are for bugs; an operator who typed a wrong passphrase or seal code gets a
sentence.  Known errors exit with 1, bad usage with typer's 2.

Output that goes to a pipe or a file is never wrapped or cut: rich would otherwise lay it
out for 80 columns, breaking a 64-digit audit hash, a serial or a long department name
over two lines (or ending it with "…"), and a script reading it gets a wrong value.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions

from pki.errors import PkiError
from sealsvc.config import ConfigError, Settings
from sealsvc.errors import SealsvcError

__all__ = [
    "JsonOption",
    "PipeFriendlyConsole",
    "console",
    "emit_json",
    "err_console",
    "settings",
    "user_errors",
]

UNWRAPPED_WIDTH = 100_000
"""Columns assumed when the output is not a terminal: wider than any line we print."""


class PipeFriendlyConsole(Console):
    """A rich console that lays out for the terminal, and for no width at all elsewhere.

    Whether the output is a terminal is asked at each print (``is_terminal`` looks at the
    current stream), so one module-level console serves a shell, a pipe and a test runner.
    Tables do not expand, so their lines are only as wide as their longest cell.
    """

    @property
    def size(self) -> ConsoleDimensions:
        if self.is_terminal:
            return super().size
        return ConsoleDimensions(UNWRAPPED_WIDTH, super().size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self.width, self.height = new_size  # what Console's own size setter does


console = PipeFriendlyConsole()
err_console = PipeFriendlyConsole(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def settings(ctx: typer.Context, *, create: bool = False) -> Settings:
    """The :class:`Settings` resolved by the top-level ``--data-dir`` option.

    Only ``init`` and ``serve`` pass ``create=True``: any other command refuses a data
    directory (or SQLite database) that does not exist (:mod:`sealsvc.datadir`).
    """
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = Settings.load()
    return dataclasses.replace(root.obj, may_create=create)


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
