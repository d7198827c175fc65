"""``sealctl licence``: issue, list, show, annul, re-issue and download licences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sealsvc import audit
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput
from sealsvc.licences import pipeline
from sealsvc.licences.pipeline import LicenceRecord
from sealsvc.licences.status import licence_status
from sealsvc.models import AnnulKind, LicenceFormat
from sealsvc.pades import Level
from sealsvc.sealing import write_output

app = typer.Typer(help="Electronic licences (电子证照).", no_args_is_help=True)

LevelOption = Annotated[
    Level | None,
    typer.Option(
        "--level",
        help="Baseline level; default B-LTA for a PDF, B-T for an OFD (which takes B-B or B-T).",
        show_default=False,
    ),
]
OutputOption = Annotated[
    Path | None, typer.Option("-o", "--output", help="Also write the sealed PDF or OFD here.")
]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path} is not valid JSON: {exc}") from None


def _report(record: LicenceRecord, json_output: bool, verb: str, output: Path | None) -> None:
    if json_output:
        emit_json({**record.as_dict(), "output": str(output) if output else None})
        return
    console.print(
        f"[green]{verb}[/] licence {record.number} v{record.version} ({record.template}, "
        f"{record.format.upper()}), status {_status(record)}; verify at {record.verify_url}"
        + (f"; written to {output}" if output else "")
    )


def _status(record: LicenceRecord) -> str:
    """``annulled (cancelled, 注销)``: the status with the annulment kind, when there is one."""
    if record.annul_kind is None:
        return record.status
    return f"{record.status} ({record.annul_kind}, {AnnulKind(record.annul_kind).chinese})"


def _write_and_report(
    context: ServiceContext,
    record: LicenceRecord,
    json_output: bool,
    verb: str,
    output: Path | None,
) -> None:
    """After issuing or re-issuing: write the stored file if asked to, then report."""
    if output:
        write_output(output, pipeline.get_licence_file(context, record.number, record.version))
    _report(record, json_output, verb, output)


def _context(ctx: typer.Context) -> ServiceContext:
    return ServiceContext(settings(ctx))


@app.command("issue")
def issue(
    ctx: typer.Context,
    template: Annotated[str, typer.Option("--template", help="Template name.")],
    data: Annotated[Path, typer.Option("--data", help="JSON file with the field values.")],
    seal: Annotated[
        list[str],
        typer.Option("--seal", help="Seal code; repeat for joint seals (first certifies)."),
    ],
    level: LevelOption = None,
    file_format: Annotated[
        LicenceFormat,
        typer.Option(
            "--format",
            help="pdf (PAdES) or ofd (GB/T 33190 with GB/T 38540 seals: SM2 seals only).",
        ),
    ] = LicenceFormat.PDF,
    number: Annotated[
        str | None, typer.Option("--number", help="Use this licence number instead of a new one.")
    ] = None,
    output: OutputOption = None,
    json_output: JsonOption = False,
) -> None:
    """Render, seal and store a licence.

    The issuer field (登记机关, 发证机关 …) names the seals' departments:
    left out, it is filled in (joint seals: joined with 、 in seal order);
    another value, or a seal of a kind the template does not allow
    (see sealctl template show), is refused.

    Example: sealctl licence issue --template business_licence --data data.json
    --seal 41010001000002 --level B-LTA -o licence.pdf

    An OFD licence (SM2 seals): ... --seal 41010001000003 --format ofd -o licence.ofd
    """
    with user_errors():
        context = _context(ctx)
        record = pipeline.issue_licence(
            context, template, _read_json(data), seal,
            actor=audit.cli_actor(), level=level, file_format=file_format, number=number,
        )  # fmt: skip
        _write_and_report(context, record, json_output, "issued", output)


@app.command("list")
def list_command(
    ctx: typer.Context,
    template: Annotated[str | None, typer.Option("--template", help="Only this template.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="valid, annulled or superseded.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 200,
    json_output: JsonOption = False,
) -> None:
    """List licences (latest version of each), newest first."""
    with user_errors():
        records = pipeline.list_licences(_context(ctx), template=template, status=status,
                                         limit=limit)  # fmt: skip
        if json_output:
            emit_json([r.as_dict() for r in records])
            return
        table = Table("number", "version", "template", "format", "status", "issued at", "seals")
        for r in records:
            issued = r.issued_at.isoformat(timespec="seconds")
            table.add_row(r.number, str(r.version), r.template, r.format, _status(r), issued,
                          ", ".join(r.seal_codes))  # fmt: skip
        console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="Licence number.")],
    version: Annotated[int | None, typer.Option("--version", min=1)] = None,
    json_output: JsonOption = False,
) -> None:
    """Show a licence's record, its data and its verification status."""
    with user_errors():
        context = _context(ctx)
        record = pipeline.get_licence(context, number, version)
        with context.database.session(read_only=True) as session:
            status = licence_status(session, number, record.data_hash,
                                    settings=context.settings)  # fmt: skip
        metadata = pipeline.record_metadata(context, record)
        if json_output:
            emit_json(
                {
                    **record.as_dict(),
                    "metadata": metadata.as_dict() if metadata else None,
                    "verification": status.as_dict(),
                }
            )
            return
        console.print(
            f"[bold]{status.title}[/] {record.number} v{record.version} "
            f"({record.format.upper()}): {_status(record)}"
        )
        console.print(status.message)
        if record.identifier:
            console.print(f"identifier (GB/T 36904): {record.identifier}", highlight=False)
        table = Table("field", "value")
        for key, value in record.data.items():
            table.add_row(key, value)
        console.print(table)
        if metadata is not None:
            described = Table("GB/T 36903 metadata", "value")
            for name, value in metadata.pairs():
                described.add_row(name, value)
            console.print(described)
        console.print(f"verify: {record.verify_url}\nsha256: {record.document_sha256}")


@app.command("annul")
def annul(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="Licence number.")],
    kind: Annotated[
        AnnulKind,
        typer.Option(
            "--kind",
            help="revoked (吊销: withdrawn by the authority as a sanction) or cancelled "
            "(注销: ended without one, e.g. at the holder's request). Required.",
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (the grounds).")],
    json_output: JsonOption = False,
) -> None:
    """Annul a licence: revoke (吊销) or cancel (注销) it; verification shows it from now on.

    Example: sealctl licence annul YYZZ2026120312345678 --kind cancelled --reason 申请人申请注销
    """
    with user_errors():
        record = pipeline.annul_licence(
            _context(ctx), number, reason, kind=kind, actor=audit.cli_actor()
        )
        _report(record, json_output, AnnulKind(kind).value, None)


@app.command("reissue")
def reissue(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="Licence number.")],
    data: Annotated[Path, typer.Option("--data", help="JSON with the changed fields.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (变更事项).")] = None,
    seal: Annotated[
        list[str] | None, typer.Option("--seal", help="Seal codes (default: the same as before).")
    ] = None,
    level: LevelOption = None,
    output: OutputOption = None,
    json_output: JsonOption = False,
) -> None:
    """Re-issue (变更) a licence: a new version with the changes; the old one is superseded.

    The new version keeps the licence's format (PDF or OFD).

    The issuer field is filled in again from the seals (a renamed department
    prints its new name) unless the changes give it; the rules of issue apply.
    """
    with user_errors():
        context = _context(ctx)
        record = pipeline.reissue_licence(
            context, number, _read_json(data),
            actor=audit.cli_actor(), reason=reason, seal_codes=seal or None, level=level,
        )  # fmt: skip
        _write_and_report(context, record, json_output, "re-issued", output)


@app.command("download")
def download(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="Licence number.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the PDF or OFD.")],
    version: Annotated[int | None, typer.Option("--version", min=1)] = None,
    json_output: JsonOption = False,
) -> None:
    """Write the stored sealed file, PDF or OFD as issued (identical bytes every time)."""
    with user_errors():
        context = _context(ctx)
        record = pipeline.get_licence(context, number, version)
        write_output(output, pipeline.get_licence_file(context, number, record.version))
        _report(record, json_output, "downloaded", output)
