"""``sealctl archive extend``: renew a sealed PDF's long-term evidence before it runs out."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from sealsvc import audit
from sealsvc.archive import ArchiveExtender
from sealsvc.cli import archive_check
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput
from sealsvc.sealing import write_output

app = typer.Typer(
    help="Archive care: keep sealed documents verifiable after certificates expire.",
    no_args_is_help=True,
)

app.command("check")(archive_check.check)


@app.command("extend")
def extend(
    ctx: typer.Context,
    input_pdf: Annotated[Path, typer.Argument(help="A PDF this service sealed.", metavar="IN.pdf")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result.")],
    json_output: JsonOption = False,
) -> None:
    """Add fresh validation data and a document time-stamp (PAdES B-LTA renewal).

    Run it for archived documents well before the newest time-stamp's TSA certificate
    expires (10 years), after renewing the TSA certificate; it also lifts B-B/B-T files to
    B-LTA.  Written atomically; nothing on failure.

    Example: sealctl archive extend licence.pdf -o archive/licence.pdf
    """
    with user_errors():
        try:
            data = input_pdf.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {input_pdf}: {exc.strerror}") from None
        context = ServiceContext(settings(ctx))
        extension = ArchiveExtender(context).extend(data, actor=audit.cli_actor())
        write_output(output, extension.pdf)
        summary = {"output": str(output), **dataclasses.asdict(extension)}
        del summary["pdf"]
        if json_output:
            emit_json(summary)
            return
        console.print(
            f"[green]extended[/] {input_pdf} → {output}: validation data for "
            f"{extension.certificates} certificate(s), document time-stamp from the "
            f"{extension.hierarchy.upper()} TSA (sha256 {extension.output_sha256[:16]}…)"
        )
