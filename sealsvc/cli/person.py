"""``sealctl person enroll|list|show|revoke``: officials' long-lived personal certificates.

An officer enrolls an official with what the identity provider will assert of them; the ID
number is hashed at once (prompted for without echo when ``--id-number`` is left out, which
keeps it out of ``ps`` and shell history) and shown only masked afterwards.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sealsvc import audit, persons
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.context import ServiceContext

app = typer.Typer(help="Officials' personal certificates (电子签名).", no_args_is_help=True)

_COLUMNS = ("id", "provider", "subject", "name_masked", "id_masked", "department", "role", "status")


def _show(context: ServiceContext, person_id: int, json_output: bool, title: str) -> None:
    with context.database.session(read_only=True) as session:
        data = persons.person_dict(persons.get_person(session, person_id))
    if json_output:
        emit_json(data)
        return
    table = Table(title=title, show_header=False)
    for key, value in data.items():
        shown = (
            value
            if not isinstance(value, dict)
            else ", ".join(f"{k}={v}" for k, v in value.items())
        )
        table.add_row(key, str(shown))
    console.print(table)


@app.command("enroll")
def enroll(
    ctx: typer.Context,
    idp: Annotated[str, typer.Option("--idp", help="Identity provider (sealctl idp list).")],
    subject: Annotated[str, typer.Option("--subject", help="The provider's sub for the official.")],
    name: Annotated[str, typer.Option("--name", help="Name, as the provider asserts it.")],
    id_number: Annotated[
        str | None,
        typer.Option(
            "--id-number",
            help="ID number (hashed at once). Leave out to be prompted without echo.",
        ),
    ] = None,
    id_type: Annotated[str, typer.Option("--id-type", help="ID document kind.")] = "id_card",
    department: Annotated[str | None, typer.Option("--department", help="Department.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="Role, e.g. 审核人.")] = None,
    hierarchy: Annotated[str, typer.Option("--hierarchy", "-H", help="rsa or sm2.")] = "rsa",
    json_output: JsonOption = False,
) -> None:
    """Enroll an official: a key in the key store and a certificate from the personal CA.

    The key signs only together with a fresh ID token of this same official.

    Example: sealctl person enroll --idp ywtb --subject u-1001 --name 张三 --department
    郑州市市场监督管理局 --role 审核人 -H sm2
    """
    with user_errors():
        if id_number is None:
            id_number = typer.prompt("ID number", hide_input=True)
        context = ServiceContext(settings(ctx))
        person_id = persons.enroll(
            context,
            provider=idp,
            subject=subject,
            name=name,
            id_number=id_number,
            id_type=id_type,
            department=department,
            role=role,
            hierarchy=hierarchy,
            actor=audit.cli_actor(),
        )
        _show(context, person_id, json_output, "Official enrolled")


@app.command("list")
def list_persons(
    ctx: typer.Context,
    idp: Annotated[str | None, typer.Option("--idp", help="Only this provider's.")] = None,
    json_output: JsonOption = False,
) -> None:
    """List enrolled officials (ID numbers masked)."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session(read_only=True) as session:
            rows = [persons.person_dict(p) for p in persons.list_persons(session, provider=idp)]
        if json_output:
            emit_json(rows)
            return
        table = Table(title="Enrolled officials")
        for column in _COLUMNS:
            table.add_column(column)
        for row in rows:
            table.add_row(*(str(row[c] or "") for c in _COLUMNS))
        console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    person_id: Annotated[int, typer.Argument(help="The id sealctl person list shows.")],
    json_output: JsonOption = False,
) -> None:
    """Show one enrolled official and their certificate."""
    with user_errors():
        _show(ServiceContext(settings(ctx)), person_id, json_output, "Official")


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    person_id: Annotated[int, typer.Argument(help="The id sealctl person list shows.")],
    reason: Annotated[
        str, typer.Option("--reason", help=", ".join(persons.REVOCATION_REASONS))
    ] = "unspecified",
    json_output: JsonOption = False,
) -> None:
    """Revoke an official's certificate; the personal CA's CRL is re-issued at once."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        persons.revoke(context, person_id, reason=reason, actor=audit.cli_actor())
        _show(context, person_id, json_output, "Official revoked")
