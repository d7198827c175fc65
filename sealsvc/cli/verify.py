"""``sealctl verify FILE``: the validation report of every seal in a PDF or an OFD.

The format is told by the content (an OFD is a ZIP naming ``OFD.xml``), not the file name.

Exit code 0 only when the document verdict is TOTAL_PASSED and, if the file is one of the
registry's licences, that licence is still valid (not annulled, not superseded by a
re-issue); 1 otherwise, so scripts can gate on it.  Trust anchors are the service's roots
(``<data dir>/ca/*-root.pem``) plus any ``--trust`` file; when the data directory has a
database, seals and licences are looked up in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ofd.package import is_ofd
from pki.certificates import POLICY_SEAL_MAKER
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput
from sealsvc.licences.wording import status_label
from sealsvc.trust_services import TrustServices
from sealsvc.verification import TrustAnchors, ValidationReport, http_fetcher
from sealsvc.verification import verify as verify_pdf
from sealsvc.verification.anchors import registry_anchors, service_issuing_cas
from sealsvc.verification.registry import database_lookup
from sealsvc.verification.report import indication_name
from sealsvc.verification.sentence import beijing_time
from sealsvc.verification.service import DocumentCheck, match_licence, service_anchors

if TYPE_CHECKING:
    from sealsvc.verification.revocation import RevocationFetcher

__all__ = ["verify"]

_COLOURS = {"TOTAL_PASSED": "green", "INDETERMINATE": "yellow", "TOTAL_FAILED": "red"}


def verify(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The PDF or OFD to verify.")],
    trust: Annotated[
        list[Path] | None,
        typer.Option("--trust", help="Extra trust anchor (PEM/DER), repeatable."),
    ] = None,
    online: Annotated[
        bool, typer.Option("--online", help="Fetch CRL/OCSP from the certificates' URLs.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Verify every seal and time-stamp in FILE and print an ETSI-style report.

    Examples: [cyan]sealctl verify licence.pdf[/] · [cyan]sealctl verify licence.ofd[/] ·
    [cyan]sealctl verify --json --trust partner-root.pem contract.pdf[/]
    """
    config = settings(ctx)
    with user_errors():
        try:
            pdf = file.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
        lookup = None
        context = None
        fetcher: RevocationFetcher | None = http_fetcher if online else None
        database_file = config.data_dir / "sealsvc.db"
        if not config.database_url.startswith("sqlite") or database_file.exists():
            context = ServiceContext(config)
        anchors = _anchors(context, config.ca_dir, trust or [])
        if context is not None:
            lookup = database_lookup(context.database)
            # our own CRL/OCSP answered in-process; other URLs only with --online
            fetcher = TrustServices(context).local_fetcher(fallback=fetcher)
        if is_ofd(pdf):
            from sealsvc.verification.ofd import verify_ofd
            from sealsvc.verification.ses import SesVerifier, database_ses_lookup

            report = verify_ofd(
                pdf,
                trust=anchors,
                intermediates=(
                    SesVerifier(context).intermediates()
                    if context
                    else service_issuing_cas(config.ca_dir)
                ),
                registry_lookup=lookup,
                ses_lookup=database_ses_lookup(context.database) if context else None,
                fetcher=fetcher,
                maker_policy=POLICY_SEAL_MAKER,
            )
        else:
            report = verify_pdf(
                pdf,
                trust=anchors,
                registry_lookup=lookup,
                allow_fetching=fetcher is not None,
                fetcher=fetcher,
            )
        check = match_licence(context, report, pdf) if context else DocumentCheck(report, None)
    if json_output:
        emit_json(check.to_dict())
    else:
        _print(report)
        _print_licence(check)
    raise typer.Exit(0 if check.accepted else 1)


def _anchors(context: ServiceContext | None, ca_dir: Path, extra: list[Path]) -> TrustAnchors:
    """The service's roots — from the registry when there is one (a node of a cluster
    has no ``ca/`` export), else from ``ca/`` — plus the ``--trust`` files."""
    try:
        if context is None:
            return service_anchors(ca_dir) + TrustAnchors.from_files(extra)
        with context.database.session(read_only=True) as session:
            return registry_anchors(session) + TrustAnchors.from_files(extra)
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read the trust anchors: {exc}") from None


def _print_licence(check: DocumentCheck) -> None:
    """The registry's word on the licence the file is, after the seals' report."""
    licence = check.licence
    if licence is None:
        return
    label = status_label(licence.status, licence.annul_kind)
    colour = "green" if licence.sentence is None else "red"
    console.print(
        f"\n[bold]licence[/] {licence.registry.number} ({licence.registry.title}): "
        f"[{colour}]{licence.status} {label}[/]"
        + ("" if licence.document_matches else " — not the registered file")
    )
    if licence.sentence is not None:
        console.print(f"[bold red]NOT ACCEPTED[/]  {check.conclusion}")


def _print(report: ValidationReport) -> None:
    colour = _COLOURS.get(report.verdict.value, "white")
    sub = f" / {report.sub_indication.standard_name}" if report.sub_indication else ""
    console.print(f"[bold {colour}]{report.verdict.value}{sub}[/]  {report.sentence}")
    for s in report.signatures:
        table = Table(show_header=False, box=None, padding=(0, 1))
        name = indication_name(s.indication)
        sub = f" / {s.sub_indication.standard_name}" if s.sub_indication else ""
        table.add_row("indication", f"[{_COLOURS[name]}]{name}{sub}[/] — {s.message}")
        if s.person:
            kind = "event" if s.person.certificate == "event" else "long-lived"
            role = f", {s.person.role}" if s.person.role else ""
            table.add_row("person", f"{s.person.name}{role} ({kind} certificate)")
        elif s.signer:
            table.add_row("seal", f"{s.signer.common_name} ({s.signer.algorithm})")
        if s.signer:
            table.add_row(
                "organisation",
                f"{s.signer.organization or '-'} / {s.signer.organizational_unit or '-'}",
            )
            table.add_row("certificate", f"serial {s.signer.serial_hex}, issuer {s.signer.issuer}")
        if s.registry:
            table.add_row(
                "registry",
                f"{s.registry.seal_code}: seal {s.registry.seal_status}, "
                f"certificate {s.registry.certificate_status}",
            )
        if s.best_signature_time:
            table.add_row("proven time", beijing_time(s.best_signature_time) + " (UTC+8)")
        elif s.claimed_signing_time:
            table.add_row("claimed time", beijing_time(s.claimed_signing_time) + " (UTC+8)")
        if s.modifications:
            m = s.modifications
            table.add_row("later changes", f"{m.later_revisions} revision(s), {m.level}")
        if s.revocation:
            table.add_row(
                "revocation", f"{s.revocation.status} ({s.revocation.source or 'no data'})"
            )
        for warning in s.warnings:
            table.add_row("warning", warning)
        console.print(f"\n[bold]{s.field_name}[/] ({s.kind}) {s.sentence}")
        console.print(table)
