"""``sealctl audit``: read and verify the hash-chained audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from sealsvc import audit
from sealsvc.cli.common import JsonOption, console, emit_json, err_console, settings, user_errors
from sealsvc.db import open_database
from sealsvc.errors import InvalidInput

__all__ = ["app", "iso_instant"]

app = typer.Typer(help="Show and verify the tamper-evident audit log.", no_args_is_help=True)


def iso_instant(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or time; without a zone it is the machine's local time."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).astimezone()
    except ValueError:
        raise InvalidInput(f"{option} {value!r} is not an ISO 8601 date or time") from None


@app.command("show")
def show_command(
    ctx: typer.Context,
    seal: Annotated[str | None, typer.Option("--seal", help="Only this seal code.")] = None,
    dept: Annotated[str | None, typer.Option("--dept", help="Only this department code.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="From this ISO time (inclusive; local if no zone)."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Before this ISO time (exclusive).")
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action, or a prefix like 'seal.*'.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the newest N entries.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Show audit entries, oldest first.

    Example: [bold]sealctl audit show --dept ZZ-FTZ --since 2026-01-01 --json[/]
    """
    with user_errors():
        filters = {"since": iso_instant(since, "--since"), "until": iso_instant(until, "--until")}
        with open_database(settings(ctx)) as db, db.session(read_only=True) as session:
            entries = audit.query(
                session,
                seal_code=seal,
                department_code=dept.upper() if dept else None,
                action=action,
                limit=limit,
                **filters,
            )
            rows = [audit.entry_to_dict(entry) for entry in entries]
    if json_output:
        emit_json(rows)
        return
    table = Table("seq", "at (UTC)", "actor", "action", "seal", "dept", "details")
    for row in rows:
        details = ", ".join(f"{key}={value}" for key, value in row["details"].items())
        table.add_row(
            str(row["seq"]),
            row["at"],
            row["actor"],
            row["action"],
            row["seal_code"] or "",
            row["department_code"] or "",
            details,
        )
    console.print(table)


@app.command("verify")
def verify_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Recompute the hash chain; exit 1 and name every modified, missing or inserted entry.

    Keep the printed head hash somewhere else: a later head must extend it.

    Example: [bold]sealctl audit verify --json[/]
    """
    with user_errors(), open_database(settings(ctx)) as db, db.session(read_only=True) as session:
        report = audit.verify(session)
    if json_output:
        emit_json(report.as_dict())
    elif report.intact:
        console.print(
            f"[green]audit log intact[/]: {report.entries} entries, "
            f"head seq {report.head_seq} hash {report.head_hash}",
            highlight=False,
        )
    else:
        for problem in report.problems:
            err_console.print(f"[bold red]seq {problem.seq}[/]: {problem.message}", highlight=False)
        err_console.print(f"[bold red]audit log NOT intact[/]: {len(report.problems)} problem(s)")
    if not report.intact:
        raise typer.Exit(1)
