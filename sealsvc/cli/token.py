"""``sealctl token list|init-key|show``: the keys in the PKCS#11 token (issue 19 §3).

For the key officer: what the token holds, which certificates name each key, and the
protection the token reports for it (sensitive, never extractable — the proof that a
key cannot leave).  Every command is audited as a key operation (``token.list``,
``token.show``, ``key.generate``), so who looked into or added to the token is on record.
Seals move to the token by rotation (``sealctl seal rotate CODE`` on a service configured
with a token makes the new key there); see ``docs/tokens.md``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from asn1crypto import pem
from rich.table import Table
from sqlalchemy import select

from pki import algorithms
from pki.algorithms import KeyAlgorithm
from pki.keystore import KeyInfo
from pki.pkcs11_keystore import Pkcs11KeyStore
from sealsvc import audit
from sealsvc.cli.common import JsonOption, console, emit_json, settings, user_errors
from sealsvc.config import ConfigError
from sealsvc.context import ServiceContext
from sealsvc.models import Certificate

__all__ = ["app"]

app = typer.Typer(help="Keys in the PKCS#11 token: list, init-key, show.", no_args_is_help=True)

_COLUMNS = ("key_id", "algorithm", "label", "created_at", "certificates")
_TOKEN_ALGORITHMS = ("rsa2048", "rsa3072", "p256")


def _token(context: ServiceContext) -> Pkcs11KeyStore:
    token = context.token
    if token is None:
        raise ConfigError(
            "no PKCS#11 token configured: set SEALSVC_PKCS11_MODULE, SEALSVC_PKCS11_TOKEN "
            "and SEALSVC_PKCS11_PIN_FILE (see docs/tokens.md)"
        )
    return token


def _describe(info: KeyInfo, serials: list[str]) -> dict[str, Any]:
    return {
        "key_id": info.key_id,
        "algorithm": info.algorithm.value,
        "label": info.label,
        "created_at": info.created_at.isoformat(),
        "certificates": serials,
    }


def _serials(context: ServiceContext, key_ids: list[str]) -> dict[str, list[str]]:
    """The certificate serials (hex) naming each key, read from the registry."""
    found: dict[str, list[str]] = {key_id: [] for key_id in key_ids}
    with context.database.session(read_only=True) as session:
        rows = session.execute(
            select(Certificate.key_id, Certificate.serial).where(Certificate.key_id.in_(key_ids))
        )
        for key_id, serial in rows:
            found[key_id].append(format(int(serial), "x"))
    return found


def _audit(context: ServiceContext, action: str, details: dict[str, Any]) -> None:
    with context.database.session() as session:
        audit.append(session, action=action, actor=audit.cli_actor(), details=details)


@app.command("list")
def list_keys(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the service's keys in the token and the certificates that name them."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        token = _token(context)
        infos = token.list()
        serials = _serials(context, [i.key_id for i in infos])
        rows = [_describe(info, serials[info.key_id]) for info in infos]
        _audit(context, "token.list", {"token": token.token_label, "keys": len(rows)})
        if json_output:
            emit_json({"token": token.token_label, "keys": rows})
            return
        table = Table(title=f"Keys in token {token.token_label}")
        for column in _COLUMNS:
            table.add_column(column)
        for row in rows:
            table.add_row(*(", ".join(v) if isinstance(v, list) else str(v) for v in row.values()))
        console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="Key id (40 hex digits).")],
    json_output: JsonOption = False,
) -> None:
    """One key: its description, the token's protection attributes and its public key."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        token = _token(context)
        info = token.info(key_id)
        data = {
            **_describe(info, _serials(context, [key_id])[key_id]),
            "token": token.token_label,
            "protection": token.protection(key_id),
            "public_key_pem": pem.armor("PUBLIC KEY", info.public_key_info.dump()).decode(),
        }
        _audit(context, "token.show", {"token": token.token_label, "key_id": key_id})
        if json_output:
            emit_json(data)
            return
        for name in ("key_id", "algorithm", "label", "created_at", "token"):
            console.print(f"{name}: {data[name]}", highlight=False)
        console.print(f"certificates: {', '.join(data['certificates']) or '-'}", highlight=False)
        protection = data["protection"]
        console.print(
            "protection: " + ", ".join(k for k, v in protection.items() if v), highlight=False
        )
        console.print(data["public_key_pem"], highlight=False, end="")


@app.command("init-key")
def init_key(
    ctx: typer.Context,
    algorithm: Annotated[
        str, typer.Option("--alg", help=f"One of: {', '.join(_TOKEN_ALGORITHMS)}.")
    ] = "rsa2048",
    label: Annotated[str, typer.Option("--label", help="What the key is for.")] = "",
    json_output: JsonOption = False,
) -> None:
    """Generate a key inside the token and prove it signs (a signature verified with its
    public key).  Keys for seals and CAs are made by `seal issue`/`seal rotate`/`init`
    themselves; a key no certificate names is an orphan that `seal reconcile-keys` removes."""
    with user_errors():
        context = ServiceContext(settings(ctx))
        token = _token(context)
        chosen = KeyAlgorithm(algorithm) if algorithm in _TOKEN_ALGORITHMS else None
        if chosen is None:
            raise ConfigError(
                f"--alg {algorithm!r}: a token key is one of {', '.join(_TOKEN_ALGORITHMS)}"
            )
        info = token.generate(chosen, label=label)
        try:
            probe = f"sealsvc token self-test {info.key_id}".encode()
            algorithms.verify(
                info.public_key_info,
                probe,
                token.signer(info.key_id).sign(probe),
                chosen.default_scheme,
            )
            _audit(
                context,
                "key.generate",
                {
                    "key_id": info.key_id,
                    "algorithm": chosen.value,
                    "label": label,
                    "store": "token",
                    "token": token.token_label,
                },
            )
        except BaseException:
            token.delete(info.key_id)
            raise
        data = {**_describe(info, []), "token": token.token_label, "self_test": "ok"}
        if json_output:
            emit_json(data)
            return
        console.print(
            f"key {info.key_id} ({chosen.value}) generated in token {token.token_label}; "
            "it signs and its signature verifies",
            highlight=False,
        )
