"""Entry point of ``sealctl``: the top-level app and the table of its commands.

Each command's module is imported only when that command runs or shows its own help:
``sealctl --help`` lists the table below without importing any of them, and
``sealctl seal list`` imports the seal commands but not pyHanko, FastAPI or reportlab.
An officer's shell round trip should not pay for the HTTP service and the PDF stack
(``tests/test_cli_startup.py`` guards which modules each command loads).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

import typer
from typer import _click as click  # typer vendors click and names its types nowhere else
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where a ``sealctl`` command lives, and the line ``sealctl --help`` shows for it."""

    module: str
    """Module under ``sealsvc.cli`` that defines it."""
    attribute: str
    """A ``typer.Typer`` (a noun with verbs) or a function (a command of its own)."""
    summary: str
    """The line in the list of commands; the command's own ``--help`` says the rest."""


# One line per command, in the order ``sealctl --help`` lists them.
COMMANDS: dict[str, LazyCommand] = {
    "init": LazyCommand(
        "ca",
        "init",
        "Create the RSA and SM2 CA hierarchies and the SM2 seal maker (制章者).",
    ),
    "sign": LazyCommand(
        "sign",
        "sign",
        "Seal IN.pdf or IN.ofd with the seal CODE and write OUT (atomically; nothing on failure).",
    ),
    "serve": LazyCommand("serve", "serve", "Start the sealing / licence / verification service."),
    "verify": LazyCommand(
        "verify",
        "verify",
        "Verify every seal and time-stamp in FILE and print an ETSI-style report.",
    ),
    "ca": LazyCommand("ca", "app", "Certificate authorities: show them, issue certificates."),
    "crl": LazyCommand("ca", "crl_app", "Certificate revocation lists."),
    "dept": LazyCommand(
        "dept",
        "app",
        "Departments that own seals: list, import the seed list, add, rename, deactivate.",
    ),
    "audit": LazyCommand("audit", "app", "Show and verify the tamper-evident audit log."),
    "apikey": LazyCommand("apikey", "app", "API keys of approval systems."),
    "seal": LazyCommand(
        "seal",
        "app",
        "Electronic seals: issue, list, show, image, export, suspend, resume, revoke, "
        "rotate, renew.",
    ),
    "licence": LazyCommand("licence", "app", "Electronic licences (电子证照)."),
    "template": LazyCommand("template", "app", "Licence templates (营业执照, 行政许可决定书, …)."),
    "archive": LazyCommand(
        "archive",
        "app",
        "Archive care: keep sealed documents verifiable after certificates expire.",
    ),
    "idp": LazyCommand("idp", "app", "Identity providers (OIDC) whose ID tokens name signers."),
    "person": LazyCommand("person", "app", "Officials' personal certificates (电子签名)."),
    "token": LazyCommand("token", "app", "Keys in the PKCS#11 token: list, init-key, show."),
    "library": LazyCommand(
        "library",
        "app",
        "The licence library (电子证照库): trusted roots, grants, usage, expiries.",
    ),
    "enterprise": LazyCommand(
        "enterprise", "app", "Enterprises' seal sets (公章, 财务, 发票, 合同, 法定代表人名章)."
    ),
    "migrate-storage": LazyCommand(
        "storage",
        "migrate",
        "Move this data directory into the database named by SEALSVC_DATABASE_URL, verifiably.",
    ),
}

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
    help="Operate the sealsvc electronic seal service: CAs, seals, CRLs, audit.",
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
            envvar="SEALSVC_DATA_DIR",
            help=(
                "Data directory (key store, database, CA PEM files); only init and serve "
                "create it. Default: ./data"
            ),
        ),
    ] = None,
) -> None:
    """sealsvc operator CLI. The master passphrase is read from SEALSVC_PASSPHRASE or
    SEALSVC_PASSPHRASE_FILE, never from the command line."""
    from sealsvc.cli.common import user_errors
    from sealsvc.config import Settings

    with user_errors():  # e.g. a SEALSVC_BASE_URL that is not a URL
        ctx.obj = Settings.load(data_dir)
