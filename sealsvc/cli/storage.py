"""``sealctl migrate-storage``: a single-node data directory into a shared PostgreSQL."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sealsvc import audit
from sealsvc.cli.common import JsonOption, console, emit_json, err_console, settings, user_errors
from sealsvc.config import ConfigError
from sealsvc.db import Database
from sealsvc.storage_migration import MigrationReport, migrate_storage

__all__ = ["migrate"]


def migrate(
    ctx: typer.Context,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="URL",
            help="The PostgreSQL database to fill (default: SEALSVC_DATABASE_URL).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the contents of a non-empty target.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Move this data directory (SQLite database, key store, licence files) into a
    PostgreSQL database that several nodes then share, and prove nothing was lost.

    Every table is copied, and the key store's envelopes and the licence files byte for
    byte (keys stay encrypted: no passphrase needed). Then rows and SHA-256 are compared
    per table, per key envelope, per licence file, and each CA certificate and CRL under
    ca/ against the target's registry; the result is printed and audited
    (storage.migrate). Run again, it only verifies. Exit 1 if anything differs.

    Example: [bold]sealctl --data-dir /srv/sealsvc migrate-storage --to
    postgresql://sealsvc@db/sealsvc[/]
    """
    config = settings(ctx)
    with user_errors():
        url = to or config.environ.get("SEALSVC_DATABASE_URL")
        if not url:
            raise ConfigError("name the target database with --to or SEALSVC_DATABASE_URL")
        with Database(url) as target:
            report = migrate_storage(config.data_dir, target, actor=audit.cli_actor(), force=force)
    if json_output:
        emit_json(report.as_dict())
    else:
        _print(report)
    if not report.matches:
        raise typer.Exit(1)


def _print(report: MigrationReport) -> None:
    tables = Table("table", "rows (source)", "rows (target)", "SHA-256 equal")
    for name, sides in report.tables.items():
        same = sides["source"]["sha256"] == sides["target"]["sha256"]
        tables.add_row(name, str(sides["source"]["rows"]), str(sides["target"]["rows"]), _yes(same))
    console.print(tables)
    files = Table("kind", "name", "SHA-256 (data directory)", "equal in target")
    for entry in report.files:
        same = entry["source_sha256"] == entry["target_sha256"]
        files.add_row(entry["kind"], entry["name"], entry["source_sha256"], _yes(same))
    console.print(files)
    console.print(f"audit chain in the target: {'intact' if report.audit_intact else 'BROKEN'}")
    verdict = "copied and verified" if report.copied else "already there, verified"
    if report.matches:
        console.print(f"{report.source} → {report.target}: {verdict}", highlight=False)
    else:
        err_console.print(
            f"[bold red]error:[/] {report.target} differs from {report.source}", highlight=False
        )


def _yes(same: bool) -> str:
    return "yes" if same else "NO"
