"""``sealctl template``: the licence templates on the search path."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.licences.templates import list_templates, load_template

app = typer.Typer(help="Licence templates (营业执照, 行政许可决定书, …).", no_args_is_help=True)


@app.command("list")
def list_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the templates (name, title, number of fields).

    Example: sealctl template list --json
    """
    with user_errors():
        templates = list_templates(settings(ctx))
        if json_output:
            emit_json([{"name": t.name, "title": t.title, "directory": str(t.directory),
                        "fields": len(t.spec.fields)} for t in templates])  # fmt: skip
            return
        table = Table("name", "title", "fields", "seal spots", "directory")
        for t in templates:
            table.add_row(t.name, t.title, str(len(t.spec.fields)), str(len(t.spec.seals)),
                          str(t.directory))  # fmt: skip
        console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Template name, e.g. business_licence.")],
    json_output: JsonOption = False,
) -> None:
    """Show a template's field schema.

    Example: sealctl template show business_licence
    """
    with user_errors():
        template = load_template(name, settings(ctx))
        summary = template.summary()
        if json_output:
            emit_json(summary)
            return
        console.print(f"[bold]{template.title}[/] ({template.name}) — {template.spec.description}")
        issuer = template.fields[template.spec.issuer_field]
        console.print(
            f"issuer: {issuer.label} ({issuer.name}), filled from the sealing departments; "
            f"may be sealed with: {'、'.join(template.spec.seal_kinds)}"
        )
        licence_type = template.spec.licence_type
        if licence_type is not None:
            console.print(
                f"licence type code (GB/T 36904): {licence_type.code}"
                + (
                    " — an EXAMPLE, to replace with the assigned code"
                    if licence_type.example
                    else ""
                ),
                highlight=False,
            )
        table = Table("field", "label", "type", "required", "max", "pattern")
        for f in template.spec.fields:
            table.add_row(
                f.name,
                f.label,
                f.type + (f" ({f.unit})" if f.unit else ""),
                "yes" if f.required else "no",
                str(f.max_length) if f.type == "string" else "",
                f.pattern_hint or f.pattern or "",
            )
        console.print(table)
