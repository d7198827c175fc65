"""Entry point of ``sealctl``: the top-level app and the table of its commands.

Each command's module is imported only when that command runs or shows its own help:
``sealctl --help`` lists the table below without importing any of them, and
``sealctl seal list`` imports the seal commands but not pyHanko, FastAPI or reportlab.
An officer's shell round trip should not pay for the HTTP service and the PDF stack
(``tests/test_cli_startup.py`` guards which modules each command loads).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Final

import typer
from typer import _click as click  # typer vendors click and names its types nowhere else
from typer.core import TyperCommand, TyperGroup

from sealsvc.cli.commands import APP_HELP, COMMANDS, DATA_DIR_ENV, DATA_DIR_HELP, LazyCommand

__all__ = ["COMMANDS", "LazyCommand", "app", "load_command"]


MARKUP: Final = "rich"
_LISTING = "sealctl.listing"
"""``ctx.meta`` flag: the group is drawing its help screen, not running a command."""


def load_command(name: str) -> click.Command:
    """Import the command ``name`` and build its click command, as ``add_typer`` would."""
    entry = COMMANDS[name]
    target = getattr(importlib.import_module(f"sealsvc.cli.{entry.module}"), entry.attribute)
    if isinstance(target, typer.Typer):
        command: click.Command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False, rich_markup_mode=MARKUP)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    command.short_help = entry.summary
    return command


class LazyGroup(TyperGroup):
    """The top-level group: knows its commands by the table, imports one when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        if ctx.meta.get(_LISTING):
            return TyperCommand(cmd_name, short_help=COMMANDS[cmd_name].summary)
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands from the table: a help screen imports none of them."""
        ctx.meta[_LISTING] = True
        try:
            super().format_help(ctx, formatter)
        finally:
            ctx.meta[_LISTING] = False


app = typer.Typer(
    name="sealctl",
    cls=LazyGroup,
    help=APP_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=MARKUP,
)


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar=DATA_DIR_ENV,
            help=DATA_DIR_HELP,
        ),
    ] = None,
) -> None:
    """sealsvc operator CLI. The master passphrase is read from SEALSVC_PASSPHRASE or
    SEALSVC_PASSPHRASE_FILE, never from the command line."""
    from sealsvc.cli.common import user_errors
    from sealsvc.config import Settings

    with user_errors():  # e.g. a SEALSVC_BASE_URL that is not a URL
        ctx.obj = Settings.load(data_dir)
