"""The commands of ``sealctl`` and its top-level texts, as data.

Kept apart from :mod:`sealsvc.cli.main` (which builds the typer app) so that
``sealctl --help`` can print them without importing typer and rich
(:mod:`sealsvc.cli.launcher`): both read this one table.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["APP_HELP", "COMMANDS", "DATA_DIR_ENV", "DATA_DIR_HELP", "LazyCommand"]

APP_HELP = "Operate the sealsvc electronic seal service: CAs, seals, CRLs, audit."
"""The sentence under ``sealctl``'s usage line."""

DATA_DIR_ENV = "SEALSVC_DATA_DIR"
DATA_DIR_HELP = (
    "Data directory (key store, database, CA PEM files); only init and serve create it. "
    "Default: ./data"
)


class LazyCommand(NamedTuple):
    """Where a ``sealctl`` command lives, and the line ``sealctl --help`` shows for it.

    A ``NamedTuple`` rather than a dataclass: ``dataclasses`` imports ``inspect``, which
    alone is a tenth of the top-level help's time budget.
    """

    module: str
    """Module under ``sealsvc.cli`` that defines it."""
    attribute: str
    """A ``typer.Typer`` (a noun with verbs) or a function (a command of its own)."""
    summary: str
    """The line in the list of commands; the command's own ``--help`` says the rest."""


# One line per command, in the order ``sealctl --help`` lists them.
COMMANDS: dict[str, LazyCommand] = {
    "init": LazyCommand(
        "ca",
        "init",
        "Create the RSA and SM2 CA hierarchies and the SM2 seal maker (制章者).",
    ),
    "sign": LazyCommand(
        "sign",
        "sign",
        "Seal IN.pdf or IN.ofd with the seal CODE and write OUT (atomically; nothing on failure).",
    ),
    "serve": LazyCommand("serve", "serve", "Start the sealing / licence / verification service."),
    "verify": LazyCommand(
        "verify",
        "verify",
        "Verify every seal and time-stamp in FILE and print an ETSI-style report.",
    ),
    "ca": LazyCommand("ca", "app", "Certificate authorities: show them, issue certificates."),
    "crl": LazyCommand("ca", "crl_app", "Certificate revocation lists."),
    "dept": LazyCommand(
        "dept",
        "app",
        "Departments that own seals: list, import the seed list, add, rename, deactivate.",
    ),
    "audit": LazyCommand("audit", "app", "Show and verify the tamper-evident audit log."),
    "apikey": LazyCommand("apikey", "app", "API keys of approval systems."),
    "seal": LazyCommand(
        "seal",
        "app",
        "Electronic seals: issue, list, show, image, export, suspend, resume, revoke, "
        "rotate, renew.",
    ),
    "licence": LazyCommand("licence", "app", "Electronic licences (电子证照)."),
    "template": LazyCommand("template", "app", "Licence templates (营业执照, 行政许可决定书, …)."),
    "archive": LazyCommand(
        "archive",
        "app",
        "Archive care: keep sealed documents verifiable after certificates expire.",
    ),
    "idp": LazyCommand("idp", "app", "Identity providers (OIDC) whose ID tokens name signers."),
    "person": LazyCommand("person", "app", "Officials' personal certificates (电子签名)."),
    "token": LazyCommand("token", "app", "Keys in the PKCS#11 token: list, init-key, show."),
    "library": LazyCommand(
        "library",
        "app",
        "The licence library (电子证照库): trusted roots, grants, usage, expiries.",
    ),
    "enterprise": LazyCommand(
        "enterprise", "app", "Enterprises' seal sets (公章, 财务, 发票, 合同, 法定代表人名章)."
    ),
    "migrate-storage": LazyCommand(
        "storage",
        "migrate",
        "Move this data directory into the database named by SEALSVC_DATABASE_URL, verifiably.",
    ),
}
