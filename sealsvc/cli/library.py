"""``sealctl library``: the licence library's trust roots, grants and usage report.

``trust add|list|remove`` — the roots collected licences are verified against;
``grant|revoke|grants`` — which department sees which licence type;
``usage`` — who used which licences, per department and 用证事由.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sealsvc import audit
from sealsvc.cli.audit import iso_instant
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput
from sealsvc.library import changes, grants, trust, usage

__all__ = ["app"]

app = typer.Typer(
    help="The licence library (电子证照库) for other departments.", no_args_is_help=True
)
trust_app = typer.Typer(help="Roots trusted for licences pushed into the library.",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(trust_app, name="trust")

_Dept = Annotated[str, typer.Argument(help="Department code or name.")]
_Type = Annotated[str, typer.Argument(help="证照类型代码 (21 characters).")]


def _table(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    console.print(table)


@trust_app.command("add")
def trust_add(
    ctx: typer.Context,
    pem_file: Annotated[Path, typer.Argument(help="PEM (one or more) or DER CA certificate.")],
    json_output: JsonOption = False,
) -> None:
    """Trust a root for collected licences.

    Example: sealctl library trust add other-city-root.pem
    """
    with user_errors():
        try:
            data = pem_file.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {pem_file}: {exc.strerror}") from None
        context = ServiceContext(settings(ctx))
        with context.database.session() as session:
            rows = [
                {"sha256": r.sha256, "subject": r.subject}
                for r in trust.add_roots(session, data, actor=audit.cli_actor())
            ]
        if json_output:
            emit_json(rows)
            return
        for row in rows:
            console.print(f"trusted for the library: {row['subject']} ({row['sha256']})")


@trust_app.command("list")
def trust_list(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """The roots collected licences are verified against."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session(read_only=True) as session:
            rows = [
                {"sha256": r.sha256, "subject": r.subject, "added_at": r.added_at.isoformat()}
                for r in trust.list_roots(session)
            ]
        if json_output:
            emit_json(rows)
            return
        _table("Library trust anchors", rows, ("sha256", "subject", "added_at"))


@trust_app.command("remove")
def trust_remove(
    ctx: typer.Context, sha256: Annotated[str, typer.Argument(help="SHA-256 of the root.")]
) -> None:
    """Stop trusting a root (licences collected before stay)."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session() as session:
            row = trust.remove_root(session, sha256, actor=audit.cli_actor())
        console.print(f"no longer trusted for the library: {row.subject}")


@app.command("grant")
def grant(ctx: typer.Context, dept: _Dept, type_code: _Type) -> None:
    """Let a department see licences of a type.

    Example: sealctl library grant ZZ-D20 11100000EXAMPLE03W001
    """
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session() as session:
            row = grants.grant(session, dept, type_code, actor=audit.cli_actor())
            code = row.department.code
        console.print(f"{code} may see licence type {type_code}")


@app.command("revoke")
def revoke(ctx: typer.Context, dept: _Dept, type_code: _Type) -> None:
    """Withdraw a grant; the department's next request for the type gets 403."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session() as session:
            grants.revoke(session, dept, type_code, actor=audit.cli_actor())
        console.print(f"{dept} may no longer see licence type {type_code}")


@app.command("grants")
def list_grants(
    ctx: typer.Context,
    dept: Annotated[str | None, typer.Option("--dept", help="Only this department.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Who may see what."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session(read_only=True) as session:
            rows = [
                {
                    "department": g.department.code,
                    "name": g.department.name,
                    "type_code": g.type_code,
                    "granted_at": g.granted_at.isoformat(),
                }
                for g in grants.list_grants(session, dept)
            ]
        if json_output:
            emit_json(rows)
            return
        _table("Library grants", rows, ("department", "name", "type_code", "granted_at"))


@app.command("usage")
def usage_report(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="From this ISO time.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Before this ISO time.")] = None,
    dept: Annotated[str | None, typer.Option("--dept", help="Only this department.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Uses of the library per department and 用证事由 (lookups, files, checks, refusals).

    Example: sealctl library usage --since 2026-01-01 --json
    """
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session(read_only=True) as session:
            rows = usage.usage_report(
                session,
                since=iso_instant(since, "--since"),
                until=iso_instant(until, "--until"),
                department=dept.upper() if dept else None,
            )
        if json_output:
            emit_json(rows)
            return
        _table(
            "Licence library usage",
            rows,
            ("department", "purpose", "item_code", "lookups", "faces", "files", "checks",
             "refused", "total"),
        )  # fmt: skip


@app.command("expire")
def expire(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Record the licences that expired since the last run, for the change feed; run daily
    (cron). Idempotent.

    Example: sealctl library expire --json
    """
    with user_errors():
        context = ServiceContext(settings(ctx))
        recorded = changes.record_expiries(context, actor=audit.cli_actor())
        if json_output:
            emit_json(recorded)
            return
        console.print(f"{len(recorded)} licence(s) newly expired", highlight=False)
        for identifier in recorded:
            console.print(identifier, highlight=False)
