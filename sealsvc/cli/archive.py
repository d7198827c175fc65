"""``sealctl archive extend|renew|export|import-check``: keep sealed records verifiable.

``extend`` renews one PDF's long-term evidence, ``renew`` does it for every stored licence
that is due, ``export`` writes a record's sealed archive information package and
``import-check`` re-verifies a package alone, offline (:mod:`sealsvc.archive`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from sealsvc import audit
from sealsvc.archive import ArchiveExtender
from sealsvc.archive.import_check import import_check
from sealsvc.archive.package import PackageExporter
from sealsvc.archive.renew import parse_window, renew
from sealsvc.cli import archive_check
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput
from sealsvc.licences.status import check_number
from sealsvc.sealing import write_output
from sealsvc.verification import TrustAnchors

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


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


@app.command("export")
def export(
    ctx: typer.Context,
    record: Annotated[
        str,
        typer.Argument(help="A licence number, or a sealed PDF/OFD file.", metavar="NUMBER|FILE"),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write the package (ZIP).")
    ],
    version: Annotated[
        int | None, typer.Option("--version", help="Licence version (default: the latest).")
    ] = None,
    ofd_a: Annotated[
        bool,
        typer.Option("--ofd-a", help="Add an OFD-A copy (GB/T 42133) of an OFD record."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Write the record's archive information package (归档信息包), sealed by the archive seal.

    The package holds the document, its verification report (JSON and PDF), every piece
    of evidence, the record's audit trail, metadata XML and a manifest with SM3 and
    SHA-256 of every file; see docs/archive-packages.md.  Written atomically.

    Example: sealctl archive export YYZZ2026120400000001 -o YYZZ2026120400000001.zip
    """
    with user_errors():
        context = ServiceContext(settings(ctx))
        exporter = PackageExporter(context)
        path = Path(record)
        if path.is_file():
            exported = exporter.export_file(
                _read(path), path.name, actor=audit.cli_actor(), ofd_a=ofd_a
            )
        else:
            exported = exporter.export_licence(
                check_number(record), version, actor=audit.cli_actor(), ofd_a=ofd_a
            )
        write_output(output, exported.data)
        summary = {"output": str(output), **dataclasses.asdict(exported)}
        del summary["data"]
        if json_output:
            emit_json(summary)
            return
        verdict = "[green]verified[/]" if exported.accepted else "[yellow]NOT accepted[/]"
        console.print(
            f"[green]exported[/] {exported.record} → {output}: {exported.files} files, "
            f"document {verdict} at export, sealed by archive seal {exported.archive_seal}"
        )


@app.command("import-check")
def import_check_command(
    package: Annotated[Path, typer.Argument(help="An archive information package (ZIP).")],
    trust: Annotated[
        list[Path] | None,
        typer.Option("--trust", help="The service's root certificate (PEM/DER), repeatable."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Re-verify a package on its own, offline: archive seal, digests, seals, audit trail.

    Needs no data directory and no network.  Give the service's published roots with
    --trust; without, the roots inside the package are used (their fingerprints are
    printed to compare).  Exit 0 only when every check passes.

    Example: sealctl archive import-check --trust sm2-root.pem --trust rsa-root.pem pkg.zip
    """
    with user_errors():
        anchors = None
        if trust:
            try:
                anchors = TrustAnchors.from_files(trust)
            except (OSError, ValueError) as exc:
                raise InvalidInput(f"cannot read the trust anchors: {exc}") from None
        report = import_check(_read(package), trust=anchors)
    if json_output:
        emit_json(report.to_dict())
    else:
        for check in report.checks:
            mark = "[green]✓[/]" if check.passed else "[red]✗[/]"
            console.print(f"{mark} {check.name}: {check.reason}", highlight=False)
        for anchor in report.trust_anchors:
            console.print(f"  trust anchor {anchor}", highlight=False)
        outcome = "[green]PASSED[/]" if report.passed else "[red]FAILED[/]"
        console.print(f"{outcome} {report.record or package}")
    raise typer.Exit(0 if report.passed else 1)


@app.command("renew")
def renew_command(
    ctx: typer.Context,
    within: Annotated[
        str, typer.Option("--within", help="Renew what stops being provable within: 2y, 18m, 90d.")
    ] = "2y",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what is due.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Extend every stored PDF licence whose newest time-stamp expires within the window.

    Idempotent and safe to re-run after a crash: a licence counts as renewed once its
    audit entry (archive.renew) committed.  Renew the TSA certificate first when it
    expires within the window itself.  OFD licences are listed, not changed.

    Example: sealctl archive renew --within 2y --dry-run
    """
    with user_errors():
        window = parse_window(within)
        context = ServiceContext(settings(ctx))
        report = renew(context, within=window, actor=audit.cli_actor(), dry_run=dry_run)
    if json_output:
        emit_json(report.as_dict())
        return
    for item in report.items:
        until = item.evidence_until or "no time-stamp"
        console.print(f"{item.action:8} {item.number} v{item.version}: {item.reason} ({until})")
    acted = sum(item.action in ("renewed", "due") for item in report.items)
    verb = "due" if dry_run else "renewed"
    console.print(f"{report.checked} licence version(s) checked, {acted} {verb}")
