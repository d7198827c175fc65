"""Entry point of ``sealctl``: the top-level app and the registration of each noun."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sealsvc.cli import (
    apikey,
    archive,
    audit,
    ca,
    dept,
    enterprise,
    idp,
    library,
    licence,
    person,
    seal,
    serve,
    sign,
    storage,
    template,
    token,
    verify,
)
from sealsvc.cli.common import user_errors
from sealsvc.config import Settings

app = typer.Typer(
    name="sealctl",
    help="Operate the sealsvc electronic seal service: CAs, seals, CRLs, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
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
    with user_errors():  # e.g. a SEALSVC_BASE_URL that is not a URL
        ctx.obj = Settings.load(data_dir)


# Nouns register here, one line each: app.add_typer(<noun>.app, name="<noun>").
app.command("init")(ca.init)
app.add_typer(ca.app, name="ca")
app.add_typer(ca.crl_app, name="crl")
app.add_typer(dept.app, name="dept")
app.add_typer(audit.app, name="audit")
app.command("sign")(sign.sign)
app.command("serve")(serve.serve)
app.add_typer(apikey.app, name="apikey")
app.add_typer(seal.app, name="seal")
app.add_typer(licence.app, name="licence")
app.add_typer(library.app, name="library")
app.add_typer(enterprise.app, name="enterprise")
app.add_typer(template.app, name="template")
app.command("verify")(verify.verify)
app.add_typer(archive.app, name="archive")
app.add_typer(idp.app, name="idp")
app.add_typer(person.app, name="person")
app.add_typer(token.app, name="token")
app.command("migrate-storage")(storage.migrate)
