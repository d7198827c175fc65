"""``sealctl serve``: run the HTTP service (uvicorn) on this data directory.

On first start with an empty data directory it creates the development set-up
(:mod:`sealsvc.bootstrap`): SQLite database, dev CA hierarchies, seed departments, a
demo seal per kind, and an admin API key printed once.  Unless ``SEALSVC_BASE_URL`` says
otherwise, that first start takes the address being served as the public base URL and
records it (:mod:`sealsvc.public_url`); a later start on another address warns.

The app is given to uvicorn as the import string ``api.app:create_app`` so that several
worker processes can each build their own; ``sealsvc`` itself never imports ``api``.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated

import typer
import uvicorn

from sealsvc import bootstrap, licences, public_url
from sealsvc.cli.common import console, err_console, settings, user_errors
from sealsvc.context import ServiceContext


class LogLevel(StrEnum):
    """uvicorn's log levels (``debug`` also logs every connection)."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Processes.")] = 1,
    log_level: Annotated[
        LogLevel, typer.Option("--log-level", help="uvicorn's log level.")
    ] = LogLevel.INFO,
    no_bootstrap: Annotated[
        bool, typer.Option("--no-bootstrap", help="Do not create dev material on first start.")
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            metavar="ADDRESSES",
            help="Comma list of reverse-proxy addresses whose X-Forwarded-For is believed: "
            "the audit log and rate limits then see the client, not the proxy.",
        ),
    ] = None,
) -> None:
    """Start the sealing / licence / verification service.

    The first start on an empty data directory creates a development set-up whose
    certificates, QR codes and links use this --host/--port as the public base URL
    (0.0.0.0 becomes 127.0.0.1), unless SEALSVC_BASE_URL is set; later starts keep it.

    Behind a reverse proxy (docs/deploy.md), name the proxy's address in
    --forwarded-allow-ips; without it X-Forwarded-For is ignored, so no client can put
    another address into the audit log.

    Example: SEALSVC_PASSPHRASE_FILE=pass sealctl --data-dir data serve --port 8000 --workers 2
    """
    with user_errors():
        current = settings(ctx, create=True)
        listening, note = public_url.listening_url(host, port)
        probe = ServiceContext(current)
        first_start = not no_bootstrap and bootstrap.needs_setup(probe)
        probe.close()
        current = public_url.for_serving(current, listening, first_start=first_start)
        context = ServiceContext(current)
        if note and first_start and current.base_url == listening:
            console.print(f"[yellow]note:[/] {note}", highlight=False)
        console.print(
            f"Public base URL: {current.base_url} (from {current.base_url_source})",
            highlight=False,
        )
        warning = None if first_start else public_url.mismatch_warning(current, listening)
        if warning:
            err_console.print(f"[bold yellow]warning:[/] {warning}", highlight=False)
        if context.database.is_shared and current.base_url_source != "SEALSVC_BASE_URL":
            err_console.print(
                "[bold yellow]warning:[/] the database is shared by several nodes but "
                "SEALSVC_BASE_URL is not set: set it to the same public URL on every node, "
                f"or this node writes {current.base_url} into certificates and QR codes",
                highlight=False,
            )
        if not no_bootstrap:
            result = bootstrap.ensure_initialised(context)
            if result.created:
                console.print(
                    "[yellow]First start: created DEVELOPMENT CAs, departments and demo seals "
                    "(not for production).[/]"
                )
                for seal in result.seals:
                    line = f"{seal['code']}  {seal['text']} {seal['kind']} ({seal['algorithm']})"
                    console.print(f"  demo seal {line}")
                console.print("Admin API key (shown once, keep it safe):")
                console.print(result.admin_token, highlight=False, soft_wrap=True)
        # Whatever a crash left behind: unfinished licence renames, stale temporaries.
        licences.reconcile_licence_files(context)
        context.close()
        os.environ["SEALSVC_DATA_DIR"] = str(current.data_dir)
        # The workers build their settings from the environment: give them this one URL.
        os.environ["SEALSVC_BASE_URL"] = current.base_url
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level.value,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
    )
