"""``sealctl idp add|list|set-jwks|remove``: the identity providers trusted to say who a
signer is."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sealsvc import audit, identity
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput

app = typer.Typer(
    help="Identity providers (OIDC) whose ID tokens name signers.", no_args_is_help=True
)

_COLUMNS = ("name", "issuer", "audience", "jwks")


def _claims(pairs: list[str]) -> dict[str, str]:
    claims = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        if not sep:
            raise InvalidInput(f"--claim {pair!r}: write OURS=THEIRS, e.g. id_number=idcard")
        claims[ours.strip()] = theirs.strip()
    return claims


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short name, e.g. ywtb (a-z, 0-9, _ and -).")],
    issuer: Annotated[str, typer.Option("--issuer", help="The tokens' iss, exactly.")],
    jwks: Annotated[
        str, typer.Option("--jwks", help="JWKS file (its keys are stored) or http(s) URL.")
    ],
    audience: Annotated[str, typer.Option("--audience", help="Our client id at the provider.")],
    claim: Annotated[
        list[str] | None,
        typer.Option(
            "--claim",
            help="OURS=THEIRS for a claim named differently; ours: " + ", ".join(identity.CLAIMS),
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Trust a provider's RS256/ES256/SM2 ID tokens (audited as idp.add).

    Example: sealctl idp add ywtb --issuer https://id.zhengzhou.gov.cn --jwks ywtb-jwks.json
    --audience sealsvc --claim id_number=idcard_no
    """
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session() as session:
            row = identity.add_provider(
                session,
                name=name,
                issuer=issuer,
                audience=audience,
                jwks=jwks,
                claims=_claims(claim or []),
                actor=audit.cli_actor(),
            )
            data = identity.provider_dict(row)
        if json_output:
            emit_json(data)
            return
        console.print(f"identity provider [bold]{name}[/] added", highlight=False)


@app.command("list")
def list_providers(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the trusted identity providers."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session(read_only=True) as session:
            rows = [identity.provider_dict(r) for r in identity.list_providers(session)]
        if json_output:
            emit_json(rows)
            return
        table = Table(title="Identity providers")
        for column in _COLUMNS:
            table.add_column(column)
        for row in rows:
            jwks = row["jwks_url"] or "stored: " + ", ".join(str(k) for k in row["jwks_kids"])
            table.add_row(row["name"], row["issuer"], row["audience"], jwks)
        console.print(table)


@app.command("set-jwks")
def set_jwks(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The provider's name.")],
    jwks: Annotated[str, typer.Option("--jwks", help="The new JWKS file (stored) or http(s) URL.")],
    json_output: JsonOption = False,
) -> None:
    """Replace a provider's key set when it rotates its keys (audited as idp.set_jwks).

    Example: sealctl idp set-jwks ywtb --jwks ywtb-jwks-2027.json
    """
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session() as session:
            data = identity.provider_dict(
                identity.set_jwks(session, name, jwks, actor=audit.cli_actor())
            )
        if json_output:
            emit_json(data)
            return
        console.print(f"identity provider [bold]{name}[/] has a new key set", highlight=False)


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The provider's name.")],
    json_output: JsonOption = False,
) -> None:
    """Stop trusting a provider (refused while officials are enrolled through it)."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session() as session:
            identity.remove_provider(session, name, actor=audit.cli_actor())
        if json_output:
            emit_json({"removed": name})
            return
        console.print(f"identity provider [bold]{name}[/] removed", highlight=False)
