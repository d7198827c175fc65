"""``sealctl init``, ``sealctl ca show|issue-cert`` and ``sealctl crl publish``."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from pki.algorithms import KeyAlgorithm
from pki.certificates import (
    Profile,
    build_name,
    certificate_pem,
    common_name,
    load_certificate,
    name_text,
)
from sealsvc import audit, identity, public_url
from sealsvc.ca import HIERARCHIES, MAKER_HIERARCHY, CaSet
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.context import ServiceContext
from sealsvc.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from sealsvc.models import Certificate

app = typer.Typer(
    help="Certificate authorities: show them, issue certificates.", no_args_is_help=True
)
crl_app = typer.Typer(help="Certificate revocation lists.", no_args_is_help=True)

HierarchyOption = Annotated[
    str, typer.Option("--hierarchy", "-H", help="CA hierarchy: rsa or sm2.")
]


def _certificate_dict(row: Certificate) -> dict[str, Any]:
    certificate = load_certificate(row.der)
    return {
        "profile": row.profile,
        "hierarchy": row.hierarchy,
        "subject": row.subject,
        "issuer": name_text(certificate.issuer),
        "common_name": common_name(certificate.subject),
        "serial": row.serial,
        "serial_hex": format(int(row.serial), "x"),
        "not_before": row.not_before.isoformat(),
        "not_after": row.not_after.isoformat(),
        "status": row.status,
        "signature_algorithm": certificate["signature_algorithm"]["algorithm"].native,
        "sha256": row.sha256,
    }


def _describe(sets: list[CaSet], session: Session, context: ServiceContext) -> list[dict[str, Any]]:
    """Each hierarchy's CA, TSA and OCSP certificates, then the seal maker (if there is one:
    a data directory made before the seal maker existed gets it with its first SESeal),
    then the personal-signing CAs (likewise)."""
    rows = [
        _certificate_dict(getattr(ca_set, name))
        for ca_set in sets
        for name in ("root", "issuing", "tsa", "ocsp")
    ]
    with contextlib.suppress(NotFound):
        rows.append(_certificate_dict(context.ca.seal_maker(session)))
    for ca_set in sets:
        with contextlib.suppress(NotFound):  # made with the first person of an older data dir
            rows.append(
                _certificate_dict(context.ca.current(session, ca_set.hierarchy, Profile.PERSON_CA))
            )
    return rows


_ORG = "郑州市人民政府"
_CRL_COLUMNS = ("hierarchy", "issuer", "crl_number", "next_update")
_TABLE_COLUMNS = ("hierarchy", "profile", "common_name", "serial_hex", "not_after", "status")


def _print_table(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for column in _TABLE_COLUMNS:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c]) for c in _TABLE_COLUMNS))
    console.print(table)


def init(
    ctx: typer.Context,
    dev: Annotated[
        bool, typer.Option("--dev", help="Mark the CA names as development material.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Create the RSA and SM2 CA hierarchies (root, issuing CA, TSA, OCSP signer) and the
    SM2 seal maker (制章者) that signs the seals' GB/T 38540 SESeal objects.

    Refuses to touch a data directory that already has them.  Creates the data directory
    if needed.  Certificates carry CRL/OCSP URLs under SEALSVC_BASE_URL (default
    http://127.0.0.1:8000), recorded in <data dir>/base-url for later commands.

    Example: SEALSVC_PASSPHRASE_FILE=/etc/sealsvc/pass sealctl --data-dir /var/lib/sealsvc init
    """
    with user_errors():
        context = ServiceContext(settings(ctx, create=True))
        with console.status("Generating CA keys and certificates (RSA-3072 and SM2)…"):
            with context.database.session() as session:
                sets = context.ca.initialise(session, actor=audit.cli_actor(), dev=dev)
                identity.ensure_id_salt(session)
                rows = _describe(sets, session, context)
            public_url.record(context.settings)
            with context.database.session(read_only=True) as session:
                files = context.ca.export_files(session)
        if json_output:
            emit_json({"certificates": rows, "files": files})
            return
        _print_table(rows, "Certificate authorities created")
        console.print(f"PEM files written to [bold]{context.settings.ca_dir}[/]")


@app.command("show")
def show(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the current CA, TSA and OCSP certificates of both hierarchies and the seal maker."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        with context.database.session(read_only=True) as session:
            rows = _describe([context.ca.ca_set(session, h) for h in HIERARCHIES], session, context)
        if json_output:
            emit_json({"certificates": rows})
            return
        _print_table(rows, "Certificate authorities")


@app.command("issue-cert")
def issue_cert(
    ctx: typer.Context,
    profile: Annotated[
        str,
        typer.Option("--profile", help="seal, tsa, ocsp or seal_maker (a leaf of the issuing CA)."),
    ],
    common_name: Annotated[str, typer.Option("--cn", help="Subject common name.")],
    hierarchy: HierarchyOption = "rsa",
    organisation: Annotated[
        str, typer.Option("--org", help="Subject organisation.")
    ] = "郑州市人民政府",
    unit: Annotated[str | None, typer.Option("--ou", help="Subject organisational unit.")] = None,
    days: Annotated[
        int | None, typer.Option("--days", min=1, max=3650, help="Validity in days.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Generate a key in the key store and issue a leaf certificate for it.

    A new TSA or seal-maker certificate becomes the current one (the newest wins): this is
    how their keys are rotated. Seals made by an earlier seal-maker key keep verifying.

    Examples: sealctl ca issue-cert --profile tsa --hierarchy sm2 --cn "备用时间戳服务",
    sealctl ca issue-cert --profile seal_maker -H sm2 --cn 郑州市电子印章制章系统
    """
    with user_errors():
        try:
            chosen = Profile(profile)
        except ValueError:
            raise InvalidInput(
                f"unknown profile {profile!r}: use seal, tsa, ocsp or seal_maker"
            ) from None
        if chosen in (Profile.ROOT_CA, Profile.ISSUING_CA, Profile.PERSON_CA):
            raise InvalidInput("CA certificates are created by `sealctl init`, not issue-cert")
        if chosen in (Profile.PERSON, Profile.PERSON_EVENT):
            raise InvalidInput("persons' certificates come from `sealctl person enroll`")
        if hierarchy not in HIERARCHIES:
            raise InvalidInput(f"unknown hierarchy {hierarchy!r}: use rsa or sm2")
        if chosen is Profile.SEAL_MAKER and hierarchy != MAKER_HIERARCHY:
            raise InvalidInput(
                "the seal maker signs GB/T 38540 seals, which are SM2 only: "
                f"use -H {MAKER_HIERARCHY}"
            )
        context = ServiceContext(settings(ctx))
        actor = audit.cli_actor()
        algorithm: KeyAlgorithm = HIERARCHIES[hierarchy]["leaf"]
        subject = build_name(
            country_name="CN",
            organization_name=organisation,
            organizational_unit_name=unit or "",
            common_name=common_name,
        )
        info = context.keystore.generate(
            algorithm, label=f"{hierarchy} {chosen.value} {common_name}"
        )
        try:
            with context.database.session() as session:
                _audit_key(session, info.key_id, algorithm, actor)
                row = context.ca.issue(
                    session,
                    hierarchy=hierarchy,
                    profile=chosen,
                    subject=subject,
                    key_id=info.key_id,
                    actor=actor,
                    validity=timedelta(days=days) if days else None,
                )
                data = _certificate_dict(row)
                pem = load_certificate(row.der)
        except BaseException:
            context.keystore.delete(info.key_id)
            raise
        if json_output:
            emit_json({**data, "key_id": info.key_id, "pem": certificate_pem(pem).decode()})
            return
        _print_table([data], "Certificate issued")


def _audit_key(session: Session, key_id: str, algorithm: KeyAlgorithm, actor: str) -> None:
    audit.append(
        session,
        action="key.generate",
        actor=actor,
        details={"key_id": key_id, "algorithm": algorithm.value},
    )


@crl_app.command("publish")
def publish(
    ctx: typer.Context,
    hierarchy: Annotated[
        str | None, typer.Option("--hierarchy", "-H", help="rsa or sm2 (default: both).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Issue fresh CRLs (root, issuing and personal-signing CA) and write them under
    <data dir>/ca/."""
    with user_errors():
        if hierarchy is not None and hierarchy not in HIERARCHIES:
            raise InvalidInput(f"unknown hierarchy {hierarchy!r}: use rsa or sm2")
        context = ServiceContext(settings(ctx))
        published = []
        with context.database.session() as session:
            for h in [hierarchy] if hierarchy else list(HIERARCHIES):
                for issuer in (Profile.ROOT_CA, Profile.ISSUING_CA, Profile.PERSON_CA):
                    if issuer is Profile.PERSON_CA:
                        context.ca.person_ca(session, h, actor=audit.cli_actor())
                    row = context.ca.publish_crl(session, h, issuer, actor=audit.cli_actor())
                    published.append(
                        {
                            "hierarchy": h,
                            "issuer": issuer.value,
                            "crl_number": row.crl_number,
                            "this_update": row.this_update.isoformat(),
                            "next_update": row.next_update.isoformat(),
                        }
                    )
        with context.database.session(read_only=True) as session:
            files = context.ca.export_files(session)
        if json_output:
            emit_json({"crls": published, "files": files})
            return
        table = Table(title="CRLs published")
        for column in _CRL_COLUMNS:
            table.add_column(column)
        for item in published:
            table.add_row(*(str(item[c]) for c in _CRL_COLUMNS))
        console.print(table)
