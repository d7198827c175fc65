"""``sealctl dept``: the departments that own seals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sealsvc import departments
from sealsvc.audit import cli_actor
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.db import open_database
from sealsvc.models import DepartmentKind

__all__ = ["app"]

app = typer.Typer(
    help="Departments that own seals: list, import the seed list, add, rename, deactivate.",
    no_args_is_help=True,
)

KINDS = ", ".join(kind.value for kind in DepartmentKind)


@app.command("list")
def list_command(
    ctx: typer.Context,
    include_inactive: Annotated[
        bool, typer.Option("--all", help="Include deactivated departments.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """List departments by code.

    Example: [bold]sealctl dept list --json[/]
    """
    with user_errors(), open_database(settings(ctx)) as db, db.session(read_only=True) as session:
        rows = [
            departments.department_to_dict(department)
            for department in departments.list_departments(
                session, include_inactive=include_inactive
            )
        ]
    if json_output:
        emit_json(rows)
        return
    table = Table(
        "code", "name", "credit code", "kind", "parent", "active", title=f"{len(rows)} departments"
    )
    for row in rows:
        table.add_row(
            row["code"],
            row["name"],
            row["credit_code"] or "",
            row["kind"],
            row["parent"] or "",
            "yes" if row["active"] else "no",
        )
    console.print(table)


@app.command("import")
def import_command(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(help="Seed file (JSON). Default: the bundled Zhengzhou list."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Import departments from a seed file; codes already present are left unchanged.

    Example: [bold]sealctl dept import[/]
    """
    with user_errors():
        seed = departments.load_seed(file)
        with open_database(settings(ctx)) as db, db.session() as session:
            result = departments.import_seed(session, seed, actor=cli_actor())
    if json_output:
        emit_json(result.as_dict())
    else:
        console.print(
            f"imported {len(result.created)} departments, {len(result.existing)} already present"
        )


@app.command("add")
def add_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Full official name.")],
    code: Annotated[str, typer.Option("--code", help="Stable code, e.g. ZZ-D49.")],
    kind: Annotated[
        str, typer.Option("--kind", help=f"One of: {KINDS}.")
    ] = DepartmentKind.DEPARTMENT.value,
    parent: Annotated[
        str | None, typer.Option("--parent", help="Code or name of the parent department.")
    ] = None,
    credit_code: Annotated[
        str | None,
        typer.Option("--credit-code", help="统一社会信用代码 (needed to issue licences)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Add a department.

    Example: [bold]sealctl dept add 郑州市数据局 --code ZZ-D49 --parent ZZ-GOV[/]
    """
    with user_errors(), open_database(settings(ctx)) as db, db.session() as session:
        department = departments.add(
            session, code=code, name=name, kind=kind, parent=parent, credit_code=credit_code,
            actor=cli_actor(),
        )  # fmt: skip
        row = departments.department_to_dict(department)
    _report(row, json_output, "added")


@app.command("rename")
def rename_command(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Department code (or current name).")],
    new_name: Annotated[str, typer.Argument(help="The new full official name.")],
    json_output: JsonOption = False,
) -> None:
    """Rename a department; the old name is kept in its history.

    Example: [bold]sealctl dept rename ZZ-D21 郑州市地方金融监督管理局[/]
    """
    with user_errors(), open_database(settings(ctx)) as db, db.session() as session:
        department = departments.rename(session, code, new_name, actor=cli_actor())
        row = departments.department_to_dict(department)
    _report(row, json_output, "renamed")


@app.command("set-credit-code")
def set_credit_code_command(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Department code (or current name).")],
    credit_code: Annotated[str, typer.Argument(help="Its 统一社会信用代码 (18 characters).")],
    json_output: JsonOption = False,
) -> None:
    """Record a department's 统一社会信用代码, the issuer code of its licences' identifiers.

    The bundled seed carries example codes (11410100EXAMPL…): replace each with the real one.

    Example: [bold]sealctl dept set-credit-code ZZ-D21 <the 18-character code>[/]
    """
    with user_errors(), open_database(settings(ctx)) as db, db.session() as session:
        department = departments.set_credit_code(session, code, credit_code, actor=cli_actor())
        row = departments.department_to_dict(department)
    _report(row, json_output, "recorded the credit code of")


@app.command("deactivate")
def deactivate_command(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Department code (or name).")],
    json_output: JsonOption = False,
) -> None:
    """Deactivate a department (its seals must be revoked first).

    Example: [bold]sealctl dept deactivate ZZ-D46[/]
    """
    with user_errors(), open_database(settings(ctx)) as db, db.session() as session:
        department = departments.deactivate(session, code, actor=cli_actor())
        row = departments.department_to_dict(department)
    _report(row, json_output, "deactivated")


def _report(row: dict[str, object], json_output: bool, verb: str) -> None:
    if json_output:
        emit_json(row)
    else:
        console.print(f"{verb} {row['code']} {row['name']}", highlight=False)
