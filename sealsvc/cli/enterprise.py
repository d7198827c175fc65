"""``sealctl enterprise``: the seal sets issued with 营业执照 ("1+X")."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sealsvc import audit
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.context import ServiceContext
from sealsvc.enterprise import issuance, registry
from sealsvc.enterprise.catalogue import CATALOGUE
from sealsvc.enterprise.registry import EnterpriseView

app = typer.Typer(help="Enterprise seal sets issued with the 营业执照.", no_args_is_help=True)
seals_app = typer.Typer(help="An enterprise's seal set.", no_args_is_help=True)
app.add_typer(seals_app, name="seals")

_KINDS = ", ".join(f"{spec.kind} ({spec.alias})" for spec in CATALOGUE)


def _table(view: EnterpriseView) -> None:
    console.print(
        f"[bold]{view.name}[/] {view.credit_code}, 法定代表人 {view.legal_representative}; "
        f"licence {view.licence_number}"
        + (f", closed {view.closed_at:%Y-%m-%d %H:%M:%S}Z" if view.closed_at else ""),
        highlight=False,
    )
    table = Table("code", "kind", "text", "status", "revoked at", "reason")
    for seal in view.seals:
        revoked = seal.revoked_at.isoformat(timespec="seconds") if seal.revoked_at else ""
        table.add_row(seal.code, seal.kind, seal.text, seal.status.value, revoked,
                      seal.revocation_reason or "")  # fmt: skip
    console.print(table)


@seals_app.command("issue")
def issue(
    ctx: typer.Context,
    credit_code: Annotated[str, typer.Argument(help="统一社会信用代码 of a valid 营业执照.")],
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            help=f"A seal of the set; repeat. Default: every kind it lacks. Kinds: {_KINDS}.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Issue an enterprise's seal set for its valid 营业执照 (SM2 keys and certificates under
    the enterprise profile, GB/T 38540 seal objects, customary images) and, the first time,
    its API key (shown once, scope sign, bound to its own seals). All or nothing.

    Example: sealctl enterprise seals issue 91410100MA9GH7K2XR --kind 公章 --kind invoice
    """
    with user_errors():
        context = ServiceContext(settings(ctx))
        made = issuance.issue_for_licence(context, credit_code, kind, actor=audit.cli_actor())
        if json_output:
            emit_json(made.as_dict())
            return
        _table(made.enterprise)
        console.print(f"issued: {', '.join(made.issued)}")
        if made.api_key:
            console.print(f"API key (shown once): {made.api_key}", highlight=False)


@seals_app.command("show")
def show(
    ctx: typer.Context,
    credit_code: Annotated[str, typer.Argument(help="统一社会信用代码.")],
    json_output: JsonOption = False,
) -> None:
    """Show an enterprise, the licence its seals follow and each seal's status."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session(read_only=True) as session:
            view = registry.show(session, credit_code)
        if json_output:
            emit_json(view.as_dict())
            return
        _table(view)
