"""``sealctl sign``: put a department's seal on a PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sealsvc import audit
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput
from sealsvc.pades import Level, Placement, SealOptions
from sealsvc.sealing import Sealer, write_output


def _position(at: str | None) -> tuple[float | None, float | None]:
    if at is None:
        return None, None
    try:
        x, y = (float(part) for part in at.split(","))
    except ValueError:
        raise InvalidInput(f"--at wants X,Y in millimetres, got {at!r}") from None
    return x, y


def sign(
    ctx: typer.Context,
    input_pdf: Annotated[Path, typer.Argument(help="The PDF to seal.", metavar="IN.pdf")],
    seal: Annotated[str, typer.Option("--seal", help="Seal code (印章编码).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the sealed PDF.")],
    level: Annotated[Level, typer.Option("--level", help="PAdES baseline level.")] = Level.B_T,
    page: Annotated[int, typer.Option("--page", min=1, help="Page for --at (1-based).")] = 1,
    at: Annotated[
        str | None, typer.Option("--at", help="Seal centre X,Y in mm from the lower left.")
    ] = None,
    anchor: Annotated[
        str | None, typer.Option("--anchor", help="Centre the seal on this text, e.g. （盖章）.")
    ] = None,
    field: Annotated[
        str | None, typer.Option("--field", help="Fill this empty signature field.")
    ] = None,
    invisible: Annotated[bool, typer.Option("--invisible", help="No stamp on the page.")] = False,
    certify: Annotated[
        bool, typer.Option("--certify", help="Certify (DocMDP): later only further seals.")
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Reason (e.g. 审批).")] = None,
    location: Annotated[str | None, typer.Option("--location", help="Location.")] = None,
    contact: Annotated[str | None, typer.Option("--contact", help="Contact info.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Seal IN.pdf with the seal CODE and write OUT.pdf (atomically; nothing on failure).

    Examples:

      sealctl sign licence.pdf --seal 41010001000001 --anchor （盖章） -o sealed.pdf

      sealctl sign contract.pdf --seal 41010001000001 --level B-LTA --page 2 --at 150,60 -o out.pdf
    """
    with user_errors():
        x_mm, y_mm = _position(at)
        placement = Placement(
            page=page, x_mm=x_mm, y_mm=y_mm, anchor=anchor, field=field, invisible=invisible
        )
        options = SealOptions(
            level=level,
            placement=placement,
            reason=reason,
            location=location,
            contact=contact,
            certify=certify,
        )
        try:
            data = input_pdf.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {input_pdf}: {exc.strerror}") from None
        context = ServiceContext(settings(ctx))
        result = Sealer(context).seal(data, seal, options, actor=audit.cli_actor())
        write_output(output, result.pdf)
        summary = {
            "output": str(output),
            "seal_code": result.seal_code,
            "level": result.level,
            "input_sha256": result.input_sha256,
            "output_sha256": result.output_sha256,
            "certificate_serial": result.certificate_serial,
            "audit_seq": result.audit_seq,
        }
        if json_output:
            emit_json(summary)
            return
        console.print(
            f"[green]sealed[/] {input_pdf} → {output} with seal {seal} at {level.value} "
            f"(sha256 {result.output_sha256[:16]}…)"
        )
