"""``sealctl seal``: issue seals and manage their lifecycle and image."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from pki.fsutil import atomic_write
from sealsvc import audit, seals, ses_seals
from sealsvc.cli.common import (
    JsonOption,
    console,
    emit_json,
    err_console,
    settings,
    user_errors,
)
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput
from sealsvc.models import SealAlgorithm, SealStatus

__all__ = ["app", "parse_duration"]

app = typer.Typer(
    help="Electronic seals: issue, list, show, image, export, suspend, resume, revoke, rotate, "
    "renew, set-limit.",
    no_args_is_help=True,
)

CodeArgument = Annotated[str, typer.Argument(help="The seal's 14-digit code.")]
DaysOption = Annotated[
    int | None,
    typer.Option("--days", min=1, max=3650, help="Certificate validity in days (default 3 years)."),
]
_DURATION = re.compile(r"(\d+)\s*([wdhm])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}
_LIST_COLUMNS = ("code", "kind", "text", "department", "algorithm", "status", "valid_until")
"""``valid_until`` reads ``revoked YYYY-MM-DD`` for a revoked seal (see :func:`_until`)."""


def parse_duration(text: str) -> timedelta:
    """``30d``, ``2w``, ``12h`` or ``10m`` as a :class:`timedelta`."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise InvalidInput(f"duration {text!r} must look like 30d, 2w, 12h or 10m")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _days(days: int | None) -> timedelta | None:
    return timedelta(days=days) if days else None


def _context(ctx: typer.Context) -> ServiceContext:
    return ServiceContext(settings(ctx))


def _hex(serial: str) -> str:
    return format(int(serial), "x")


def _revocation(revoked_at: datetime | None, reason: str | None) -> str:
    """``revoked 2026-12-03 20:30:01Z (key_compromise)``."""
    when = f" {revoked_at:%Y-%m-%d %H:%M:%S}Z" if revoked_at is not None else ""
    return f"revoked{when} ({reason or 'unspecified'})"


def _validity(view: seals.SealView) -> str:
    """What the seal is good for: never "valid until …" once it is revoked."""
    if view.status is SealStatus.REVOKED:
        return _revocation(view.revoked_at, view.revocation_reason)
    return f"valid until {view.valid_until:%Y-%m-%d}"


def _until(view: seals.SealView) -> str:
    """The ``valid_until`` cell of ``seal list``: the end date, or when it was revoked."""
    if view.status is SealStatus.REVOKED and view.revoked_at is not None:
        return f"revoked {view.revoked_at:%Y-%m-%d}"
    return f"{view.valid_until:%Y-%m-%d}"


def _report(view: seals.SealView, json_output: bool, what: str, *, revoked: bool = False) -> None:
    """One seal after a change: JSON, or a line naming the seal and its state; after a
    change that ``revoked`` certificates, one more line per certificate it revoked."""
    if json_output:
        emit_json(view.as_dict())
        return
    if view.status is SealStatus.REVOKED:
        console.print(f"seal [bold]{view.code}[/] {_validity(view)}", highlight=False)
    else:
        console.print(
            f"seal [bold]{view.code}[/] {what}: {view.status.value}, "
            f"certificate {_hex(view.current_certificate.serial)} {_validity(view)}",
            highlight=False,
        )
    if not revoked:
        return
    revocations = [c.revoked_at for c in view.certificates if c.status == "revoked"]
    latest = max((t for t in revocations if t is not None), default=None)
    for certificate in view.certificates:
        if certificate.status == "revoked" and certificate.revoked_at == latest:
            console.print(
                f"  certificate {_hex(certificate.serial)} (key {certificate.key_id}) "
                f"{_revocation(certificate.revoked_at, certificate.revocation_reason)}",
                highlight=False,
            )


@app.command("issue")
def issue_command(
    ctx: typer.Context,
    department: Annotated[str, typer.Option("--dept", help="Owning department: code or name.")],
    kind: Annotated[str, typer.Option("--kind", help=f"One of: {', '.join(seals.KIND_CODES)}.")],
    algorithm: Annotated[
        str, typer.Option("--alg", help="rsa (= rsa2048), rsa3072, p256 or sm2.")
    ] = "rsa",
    text: Annotated[
        str | None, typer.Option("--text", help="Text on the seal (default: department name).")
    ] = None,
    days: DaysOption = None,
    json_output: JsonOption = False,
) -> None:
    """Issue a seal: a new key in the key store and a certificate from the matching CA.

    Prints the new seal's code (use --json in scripts).

    Example: [bold]sealctl seal issue --dept ZZ-FTZ --kind 行政审批专用章 --alg sm2[/]
    """
    with user_errors():
        view = seals.issue(
            _context(ctx),
            department=department,
            kind=kind,
            algorithm=algorithm,
            text=text,
            validity=_days(days),
            actor=audit.cli_actor(),
        )
    if json_output:
        emit_json(view.as_dict())
        return
    console.print(view.code, highlight=False)


def _warn_expiring(views: list[seals.SealView], min_days_left: int) -> None:
    """One stderr line per seal about to end: days left, and whether sealing is refused."""
    now = datetime.now(UTC)
    for view in views:
        left = (view.valid_until - now).days
        refused = view.valid_until - now < timedelta(days=min_days_left)
        state = (
            f"sealing is refused (SEALSVC_MIN_CERT_DAYS_LEFT={min_days_left})"
            if refused
            else "it still seals"
        )
        err_console.print(
            f"warning: seal {view.code}: certificate ends {view.valid_until:%F} "
            f"({left} days left), {state}; renew (same key) or rotate (new key)",
            highlight=False,
            soft_wrap=True,
        )


@app.command("list")
def list_command(
    ctx: typer.Context,
    department: Annotated[
        str | None, typer.Option("--dept", help="Only this department (code or name).")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help=", ".join(s.value for s in SealStatus) + "."),
    ] = None,
    expiring: Annotated[
        str | None,
        typer.Option("--expiring", help="Only seals whose certificate ends within, e.g. 30d."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List seals by code; the status shown is computed now (an ended certificate = expired).

    With --expiring, a warning on stderr per listed seal says when its certificate ends and
    whether it already may not seal (SEALSVC_MIN_CERT_DAYS_LEFT): renew or rotate it.

    Example: [bold]sealctl seal list --expiring 30d[/]
    """
    with user_errors():
        window = parse_duration(expiring) if expiring else None
        context = _context(ctx)
        with context.database.session(read_only=True) as session:
            views = seals.list_seals(
                session, department=department, status=status, expiring_within=window
            )
    if window is not None:
        _warn_expiring(views, context.settings.min_cert_days_left)
    if json_output:
        emit_json([view.as_dict() for view in views])
        return
    table = Table(*_LIST_COLUMNS, title=f"{len(views)} seals")
    for view in views:
        table.add_row(
            view.code,
            view.kind,
            view.text,
            view.department_code,
            view.algorithm,
            view.status.value,
            _until(view),
        )
    console.print(table)


@app.command("show")
def show_command(ctx: typer.Context, code: CodeArgument, json_output: JsonOption = False) -> None:
    """Show a seal with every certificate it has had.

    Example: [bold]sealctl seal show 41010005000001 --json[/]
    """
    with user_errors():
        context = _context(ctx)
        with context.database.session(read_only=True) as session:
            view = seals.show(session, code)
            ses = _ses_view(session, view)
    if json_output:
        emit_json({**view.as_dict(), "ses": ses.as_dict() if ses is not None else None})
        return
    console.print(
        f"[bold]{view.code}[/] {view.text} {view.kind} — {view.department_name} "
        f"({view.department_code}), {view.algorithm}, [bold]{view.status.value}[/], "
        f"{_validity(view)}, image {view.image_source}",
        highlight=False,
    )
    if ses is None and view.algorithm == SealAlgorithm.SM2 and view.status != SealStatus.REVOKED:
        console.print("no SESeal yet: run `sealctl seal ses-backfill`", highlight=False)
    elif ses is not None:
        console.print(
            f"SESeal v{ses.version}: esID {ses.es_id}, name {ses.name}, type {ses.type}, "
            f"valid {ses.valid_start:%Y-%m-%d %H:%M:%S}Z to {ses.valid_end:%Y-%m-%d %H:%M:%S}Z, "
            f"picture {ses.picture_type} {ses.picture_width_mm}x{ses.picture_height_mm} mm; "
            f"maker {ses.maker_subject} serial {_hex(ses.maker_serial)}",
            highlight=False,
        )
    table = Table(
        "serial", "status", "not_before", "not_after", "revoked", "key_id", title="certificates"
    )
    for certificate in view.certificates:
        revoked = certificate.status == "revoked"
        table.add_row(
            _hex(certificate.serial) + (" (current)" if certificate.current else ""),
            certificate.status,
            f"{certificate.not_before:%Y-%m-%d}",
            f"{certificate.not_after:%Y-%m-%d}",
            _revocation(certificate.revoked_at, certificate.revocation_reason) if revoked else "",
            certificate.key_id,
        )
    console.print(table)


def _ses_view(session: Session, view: seals.SealView) -> ses_seals.SesSealView | None:
    """The current SESeal of an SM2 seal (``None`` for other algorithms, and for an SM2
    seal that has none yet: ``seal export`` says how to make it)."""
    if view.algorithm != SealAlgorithm.SM2:
        return None
    try:
        return ses_seals.describe(ses_seals.current(session, view.code))
    except ses_seals.NoSesSeal:
        return None


@app.command("export")
def export_command(
    ctx: typer.Context,
    code: CodeArgument,
    output: Annotated[Path, typer.Option("--output", "-o", help="Write the seal object here.")],
    format_: Annotated[
        str, typer.Option("--format", help="esl: the GB/T 38540 SESeal, DER.")
    ] = "esl",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Export an SM2 seal's current electronic seal object (GB/T 38540 SESeal, DER).

    RSA seals have none (the standard is SM2 only).

    Example: [bold]sealctl seal export 41010005000002 --format esl -o seal.esl[/]
    """
    with user_errors():
        if format_ != "esl":
            raise InvalidInput(f"unknown export format {format_!r}: use esl")
        if output.exists() and not force:
            raise InvalidInput(f"{output} exists; give --force to overwrite it")
        context = _context(ctx)
        with context.database.session(read_only=True) as session:
            row = ses_seals.current(session, code)
            der, sha256 = row.der, row.sha256
        _write(output, der)
    if json_output:
        emit_json({"code": code.strip(), "format": "esl", "file": str(output), "sha256": sha256})
        return
    console.print(f"wrote {output} ({len(der)} bytes, SHA-256 {sha256})", highlight=False)


@app.command("ses-backfill")
def ses_backfill_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Make the GB/T 38540 SESeal of every SM2 seal issued before seals had one.

    Seals issued, rotated, renewed or given a new image get theirs at once; this is for
    those that predate it (revoked seals excepted). Running it again does nothing.

    Example: [bold]sealctl seal ses-backfill[/]
    """
    with user_errors():
        codes = seals.backfill_ses_seals(_context(ctx), actor=audit.cli_actor())
    if json_output:
        emit_json({"made": codes})
        return
    console.print(f"made {len(codes)} SESeal(s)", highlight=False)
    for code in codes:
        console.print(f"  {code}", highlight=False)


def _write(path: Path, data: bytes) -> None:
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None


def _read_upload(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


@app.command("image")
def image_command(
    ctx: typer.Context,
    code: CodeArgument,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the seal image as PNG here.")
    ] = None,
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="Write the stamp as a one-page PDF here.")
    ] = None,
    upload: Annotated[
        Path | None, typer.Option("--upload", help="Use this scan (PNG) as the seal's image.")
    ] = None,
    generated: Annotated[
        bool, typer.Option("--generated", help="Draw the image from the seal's data again.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Export a seal's image, or replace it with an uploaded scan.

    Examples: [bold]sealctl seal image 41010005000001 -o seal.png --pdf seal.pdf[/],
    [bold]sealctl seal image 41010005000001 --upload scan.png[/]
    """
    with user_errors():
        if upload is not None and generated:
            raise InvalidInput("give --upload or --generated, not both")
        if upload is None and not generated and output is None and pdf is None:
            raise InvalidInput("nothing to do: give -o FILE.png, --pdf FILE.pdf or --upload")
        context = _context(ctx)
        actor = audit.cli_actor()
        if upload is not None:
            seals.set_uploaded_image(context, code, _read_upload(upload), actor=actor)
        elif generated:
            seals.use_generated_image(context, code, actor=actor)
        with context.database.session(read_only=True) as session:
            seal = seals.get(session, code)
            source = seal.image_source
            png = seals.seal_png(seal) if output is not None else None
            stamp = seals.seal_stamp_pdf(seal) if pdf is not None else None
        written = []
        for path, data in ((output, png), (pdf, stamp)):
            if path is not None and data is not None:
                _write(path, data)
                written.append(str(path))
    if json_output:
        emit_json({"code": code.strip(), "image_source": source, "files": written})
        return
    console.print(f"seal {code.strip()}: image {source}", highlight=False)
    for name in written:
        console.print(f"wrote {name}", highlight=False)


@app.command("suspend")
def suspend_command(
    ctx: typer.Context, code: CodeArgument, json_output: JsonOption = False
) -> None:
    """Suspend a seal: its certificate is put on hold on the CRL at once.

    Example: [bold]sealctl seal suspend 41010005000001[/]
    """
    with user_errors():
        view = seals.suspend(_context(ctx), code, actor=audit.cli_actor())
    _report(view, json_output, "suspended")


@app.command("resume")
def resume_command(ctx: typer.Context, code: CodeArgument, json_output: JsonOption = False) -> None:
    """Resume a suspended seal: the hold is lifted from the next CRL.

    Example: [bold]sealctl seal resume 41010005000001[/]
    """
    with user_errors():
        view = seals.resume(_context(ctx), code, actor=audit.cli_actor())
    _report(view, json_output, "resumed")


@app.command("revoke")
def revoke_command(
    ctx: typer.Context,
    code: CodeArgument,
    reason: Annotated[
        str,
        typer.Option("--reason", help="RFC 5280 reason: " + ", ".join(seals.REVOCATION_REASONS)),
    ],
    json_output: JsonOption = False,
) -> None:
    """Revoke a seal for good: every certificate it ever had (current, and those superseded
    by rotate and renew) that has not expired is on the CRL at once, with the reason.

    Documents sealed before stay valid only if time-stamped before the revocation (B-T and
    up); a B-B document no longer verifies.

    Example: [bold]sealctl seal revoke 41010005000001 --reason key_compromise[/]
    """
    with user_errors():
        view = seals.revoke(_context(ctx), code, reason=reason, actor=audit.cli_actor())
    _report(view, json_output, "revoked", revoked=True)


@app.command("rotate")
def rotate_command(
    ctx: typer.Context,
    code: CodeArgument,
    days: DaysOption = None,
    revoke_old: Annotated[
        str | None,
        typer.Option(
            "--revoke-old",
            metavar="REASON",
            help="Also revoke the old key's certificates, with this RFC 5280 reason "
            "(key_compromise when the old key may be known to others).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Give a seal a new key and certificate.

    Plain rotate is the routine key change: the old certificate stays valid (superseded),
    so everything sealed with the old key keeps verifying. When the old key may be
    compromised, use [bold]--revoke-old key_compromise[/]: the old key's certificates go on
    the CRL in the same step (a suspended seal may be rotated this way, and is active
    again); only documents time-stamped before then stay valid.

    Examples: [bold]sealctl seal rotate 41010005000001[/],
    [bold]sealctl seal rotate 41010005000001 --revoke-old key_compromise[/]
    """
    with user_errors():
        view = seals.rotate(
            _context(ctx),
            code,
            validity=_days(days),
            revoke_old=revoke_old,
            actor=audit.cli_actor(),
        )
    _report(view, json_output, "rotated", revoked=revoke_old is not None)


@app.command("renew")
def renew_command(
    ctx: typer.Context, code: CodeArgument, days: DaysOption = None, json_output: JsonOption = False
) -> None:
    """Issue a new certificate for the seal's key before the current one expires.

    Example: [bold]sealctl seal renew 41010005000001 --days 730[/]
    """
    with user_errors():
        view = seals.renew(_context(ctx), code, validity=_days(days), actor=audit.cli_actor())
    _report(view, json_output, "renewed")


@app.command("set-limit")
def set_limit_command(
    ctx: typer.Context,
    code: CodeArgument,
    limit: Annotated[
        int | None,
        typer.Argument(min=1, help="Signatures the current key may make; omit with --none."),
    ] = None,
    no_limit: Annotated[bool, typer.Option("--none", help="Remove the seal's own limit.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Limit the signatures a seal's current key may make (SignServer's key usage limit).

    Past the limit sealing is refused (409, audited seal.refused) on every node until the
    seal is rotated: [bold]rotate[/] gives a new key and starts the count afresh,
    [bold]renew[/] keeps the key and its count. SEALSVC_SEAL_USAGE_LIMIT, if set and
    stricter, applies as well.

    Examples: [bold]sealctl seal set-limit 41010005000001 100000[/],
    [bold]sealctl seal set-limit 41010005000001 --none[/]
    """
    with user_errors():
        if (limit is None) == (not no_limit):
            raise InvalidInput("give either a limit or --none")
        view = seals.set_usage_limit(_context(ctx), code, limit, actor=audit.cli_actor())
    if json_output:
        emit_json(view.as_dict())
        return
    shown = "none of its own" if view.usage_limit is None else f"{view.usage_limit} signatures"
    console.print(f"seal [bold]{view.code}[/] usage limit: {shown}", highlight=False)


@app.command("reconcile-keys")
def reconcile_command(
    ctx: typer.Context,
    older_than: Annotated[
        str, typer.Option("--older-than", help="Only keys at least this old, e.g. 10m or 1d.")
    ] = "10m",
    json_output: JsonOption = False,
) -> None:
    """Delete key files no certificate refers to (left by an interrupted issuance).

    Example: [bold]sealctl seal reconcile-keys --older-than 1h[/]
    """
    with user_errors():
        deleted = seals.reconcile_orphan_keys(
            _context(ctx), parse_duration(older_than), actor=audit.cli_actor()
        )
    if json_output:
        emit_json({"deleted": deleted})
        return
    console.print(f"deleted {len(deleted)} orphan key(s)", highlight=False)
    for key_id in deleted:
        console.print(f"  {key_id}", highlight=False)
