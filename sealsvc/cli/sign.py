"""``sealctl sign``: put a department's seal on a PDF or an OFD."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ofd.package import is_ofd
from sealsvc import audit
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput
from sealsvc.pades import Level, Placement, SealOptions
from sealsvc.sealing import Sealer, SealResult, write_output

if TYPE_CHECKING:
    from sealsvc.ofd_sealing import OfdSealResult


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
    input_pdf: Annotated[
        Path, typer.Argument(help="The PDF or OFD to seal.", metavar="IN.pdf|IN.ofd")
    ],
    seal: Annotated[str, typer.Option("--seal", help="Seal code (印章编码).")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write the sealed PDF or OFD.")
    ],
    level: Annotated[
        Level,
        typer.Option(
            "--level", help="PAdES baseline level; OFD: B-B (no time-stamp) or B-T (time-stamped)."
        ),
    ] = Level.B_T,
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
    """Seal IN.pdf or IN.ofd with the seal CODE and write OUT (atomically; nothing on failure).

    An OFD (told by its content, or by the .ofd suffix) gets a GB/T 38540 SES_Signature
    (SM2 seals only); --certify, --field, --reason, --location, --contact and the levels
    B-LT/B-LTA do not apply to it.

    Examples:

      sealctl sign licence.pdf --seal 41010001000001 --anchor （盖章） -o sealed.pdf

      sealctl sign contract.pdf --seal 41010001000001 --level B-LTA --page 2 --at 150,60 -o out.pdf

      sealctl sign licence.ofd --seal 41010001000003 --anchor 登记机关 -o sealed.ofd
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
        result: OfdSealResult | SealResult
        if input_pdf.suffix.lower() == ".ofd" or is_ofd(data):
            from sealsvc import ofd_sealing  # the OFD writer and SES signing: OFD only

            result = ofd_sealing.seal_ofd(
                context,
                data,
                seal,
                placement,
                timestamp=ofd_sealing.timestamp_for(options),
                actor=audit.cli_actor(),
                details={"level": level.value},
            )
            document, kind = result.ofd, "ofd"
        else:
            result = Sealer(context).seal(data, seal, options, actor=audit.cli_actor())
            document, kind = result.pdf, "pdf"
        write_output(output, document)
        summary = {
            "output": str(output),
            "format": kind,
            "seal_code": result.seal_code,
            "level": level.value,
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
