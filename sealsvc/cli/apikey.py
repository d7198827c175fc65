"""``sealctl apikey create|list|revoke``: credentials of approval systems."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from sealsvc import apikeys, audit
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.context import ServiceContext

app = typer.Typer(help="API keys of approval systems.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Which system uses the key.")],
    scopes: Annotated[
        str,
        typer.Option(
            "--scopes",
            help="Comma list of sign, licence, archive, admin (verifying needs no key).",
        ),
    ] = "sign,licence",
    dept: Annotated[
        str | None, typer.Option("--dept", help="Department code or name the key acts for.")
    ] = None,
    rate: Annotated[int, typer.Option("--rate", min=1, help="Requests per minute.")] = 600,
    json_output: JsonOption = False,
) -> None:
    """Create a key and print its token ONCE (only a hash is stored).

    Example: sealctl apikey create --name 企业开办系统 --dept ZZ-SCJGJ --scopes sign,licence
    """
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session() as session:
            row, token = apikeys.create_api_key(
                session,
                name=name,
                scopes={s.strip() for s in scopes.split(",") if s.strip()},
                department=dept,
                actor=audit.cli_actor(),
                rate_per_minute=rate,
            )
            data = {"key_id": row.key_id, "name": row.name, "scopes": row.scopes, "token": token}
        if json_output:
            emit_json(data)
            return
        console.print(f"API key [bold]{row.key_id}[/] created. Token (shown once, keep it safe):")
        console.print(token, highlight=False, soft_wrap=True)


@app.command("list")
def list_keys(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List API keys (never their secrets)."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session(read_only=True) as session:
            rows: list[dict[str, Any]] = [
                {
                    "key_id": row.key_id,
                    "name": row.name,
                    "department": row.department.code if row.department else None,
                    "scopes": row.scopes,
                    "ignored_scopes": sorted(
                        set(row.scopes.split(",")) & apikeys.REMOVED_SCOPES.keys()
                    ),
                    "rate_per_minute": row.rate_per_minute,
                    "created_at": row.created_at.isoformat(),
                    "revoked": row.revoked_at is not None,
                }
                for row in apikeys.list_api_keys(session)
            ]
        if json_output:
            emit_json(rows)
            return
        table = Table(title="API keys")
        for column in ("key_id", "name", "department", "scopes", "revoked"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                *(str(row[c]) for c in ("key_id", "name", "department", "scopes", "revoked"))
            )
        console.print(table)
        for scope, why in apikeys.REMOVED_SCOPES.items():
            holders = [row["key_id"] for row in rows if scope in row["ignored_scopes"]]
            if holders:
                console.print(
                    f"note: the {scope!r} scope of {', '.join(holders)} is ignored: {why}",
                    soft_wrap=True,
                )


@app.command("revoke")
def revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="Key id.")]) -> None:
    """Revoke a key at once; requests with it get 401."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session() as session:
            apikeys.revoke_api_key(session, key_id, actor=audit.cli_actor())
        console.print(f"API key {key_id} revoked")
