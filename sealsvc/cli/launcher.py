"""The ``sealctl`` executable: the top-level help at once, everything else through typer.

``sealctl --help`` (and ``sealctl`` alone) is what an officer types most when unsure, and
typer, click and rich take longer to import than that answer may take (issue 22: 150 ms
for the whole process). The help only lists :data:`~sealsvc.cli.commands.COMMANDS`, so
it is drawn here from that table in the same panels (plain text, no colours), without
importing them; ``tests/test_cli_startup.py`` checks it says what typer's says. Any other
argument list goes to the typer app in :mod:`sealsvc.cli.main`.
"""

from __future__ import annotations

import os
import shutil
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from sealsvc.cli.commands import APP_HELP, COMMANDS, DATA_DIR_ENV, DATA_DIR_HELP

__all__ = ["NARROWEST", "OPTIONS", "main", "top_level_help"]

OPTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("--data-dir", "<path>", (DATA_DIR_HELP, f"[env var: {DATA_DIR_ENV}]")),
    ("--install-completion", "<bool>", ("Install completion for the current shell.",)),
    (
        "--show-completion",
        "<bool>",
        ("Show completion for the current shell, to copy it or customize the installation.",),
    ),
    ("--help", "<bool>", ("Show this message and exit.",)),
)
"""The top-level options as typer lists them (name, metavar, help items): ours and typer's
own. An option's help items are side by side when they fit on one line, else one below
the other (rich's ``Columns``, which typer uses for the help and the environment variable)."""

_HELP_ARGUMENTS = {(): (2, "\n"), ("--help",): (0, "\n\n")}
"""Argument lists answered with the top-level help: the exit code and the help's last
characters, as typer has them (no arguments at all is a usage error that shows the help,
and without the blank line ``--help`` prints after it)."""


NARROWEST = 60
"""Below this many columns rich narrows the name columns too; typer draws that help."""


def main() -> None:
    """Entry point of the ``sealctl`` script (pyproject.toml)."""
    arguments = tuple(sys.argv[1:])
    width = int(os.environ.get("TERMINAL_WIDTH") or shutil.get_terminal_size().columns)
    if arguments in _HELP_ARGUMENTS and width >= NARROWEST:
        code, ending = _HELP_ARGUMENTS[arguments]
        sys.stdout.write(top_level_help(width) + ending)
        raise SystemExit(code)
    from sealsvc.cli.main import app

    app(prog_name="sealctl")


def top_level_help(width: int) -> str:
    """The top-level help for a terminal ``width`` (at least :data:`NARROWEST`) columns wide.

    Where a line of wide (CJK) characters exactly fills its cell, rich cuts its last
    character for an ellipsis; this help wraps the word instead and loses nothing.
    """
    description = [f" {line}" for line in _wrap(APP_HELP, width - 2)]
    header = ["", " Usage: sealctl [OPTIONS] COMMAND [ARGS]...", "", *description, ""]
    # typer's option table has columns for short and secondary names too, empty here
    options = [(name, "", "", "", metavar, items) for name, metavar, items in OPTIONS]
    commands = [(name, (entry.summary,)) for name, entry in COMMANDS.items()]
    lines = [line.ljust(width) for line in header]
    lines += _panel("Options", options, width)
    lines += _panel("Commands", commands, width)
    return "\n".join(lines)


def _panel(title: str, rows: Sequence[tuple[Any, ...]], width: int) -> list[str]:
    """``rows`` in a rounded box as rich draws a table: columns two apart, each as wide as
    its widest cell, the last one (help items) wrapped in the width left."""
    inner = width - 4
    indent = sum(max(len(row[column]) for row in rows) + 2 for column in range(len(rows[0]) - 1))
    lines = [f"╭─ {title} {'─' * (width - len(title) - 5)}╮"]
    for *cells, text in rows:
        first = "".join(
            cell.ljust(max(len(row[column]) for row in rows) + 2)
            for column, cell in enumerate(cells)
        )
        for index, piece in enumerate(_side_by_side(text, max(inner - indent, 10))):
            cell = (first if index == 0 else " " * indent) + piece
            lines.append(f"│ {cell}{' ' * max(inner - _display_width(cell), 0)} │")
    lines.append(f"╰{'─' * (width - 2)}╯")
    return lines


def _side_by_side(items: Sequence[str], width: int) -> list[str]:
    """``items`` on one line, a space apart, if they fit; else each wrapped below the last."""
    line = " ".join(items)
    if _display_width(line) <= width:
        return [line]
    return [piece for item in items for piece in _wrap(item, width)]


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` terminal columns (CJK characters take two)."""
    lines: list[str] = []
    line = ""
    for word in _fold(text.split(), width):
        candidate = f"{line} {word}" if line else word
        if line and _display_width(candidate) > width:
            lines.append(line)
            candidate = word
        line = candidate
    return [*lines, line]


def _fold(words: Iterable[str], width: int) -> Iterable[str]:
    """The words, each one wider than ``width`` cut into pieces that fit."""
    for word in words:
        piece = ""
        for character in word:
            if piece and _display_width(piece + character) > width:
                yield piece
                piece = ""
            piece += character
        yield piece


def _display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: East Asian wide and full-width characters two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
