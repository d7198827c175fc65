"""First start on an empty data directory: a complete development set-up in one step.

``sealctl serve`` calls :func:`ensure_initialised` so that a new user's first command gives
a working service: SQLite database, development CA hierarchies (their names carry
"（开发测试用）"), the installation's ID-number salt, the seed departments, a demo seal per
kind, and an admin API key printed once.  A data directory that already has CAs is left untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sealsvc import apikeys, departments, identity, locks, public_url, seals
from sealsvc.context import ServiceContext

__all__ = ["DEMO_SEALS", "BootstrapResult", "ensure_initialised", "needs_setup"]

ACTOR = "bootstrap"

DEMO_SEALS = (
    ("ZZ-GOV", "公章", "rsa"),
    ("ZZ-D26", "公章", "rsa"),
    ("ZZ-D26", "公章", "sm2"),
    ("ZZ-FTZ", "行政审批专用章", "rsa"),
    ("ZZ-FTZ", "行政审批专用章", "sm2"),
    ("ZZ-D14", "合同专用章", "rsa"),
)
"""(department code, kind, algorithm) of the demo seals: 郑州市人民政府, 郑州市市场监督管理局
(D26) in both algorithms (a 营业执照 may be sealed with its 公章), the free-trade-zone
committee's 行政审批专用章 in both algorithms, 郑州市城乡建设局 (D14)'s 合同专用章 (which may seal
no licence: see ``docs/licence-issuers.md``)."""


@dataclass(frozen=True)
class BootstrapResult:
    created: bool
    seals: list[dict[str, Any]] = field(default_factory=list)
    admin_token: str | None = None


def needs_setup(context: ServiceContext) -> bool:
    """Whether the data directory has no CA yet (so a start would create the dev set-up)."""
    with context.database.session(read_only=True) as session:
        return not context.ca.is_initialised(session)


def ensure_initialised(context: ServiceContext) -> BootstrapResult:
    """Create the development set-up if the data directory has no CA yet.

    The base URL the new CAs write into certificates is recorded in the data directory
    (:func:`sealsvc.public_url.record`) so later starts and commands keep using it.
    """
    with context.database.session() as session:
        # Nodes started together on one empty PostgreSQL: one sets up, the others wait
        # here and then find it done (the lock is re-entrant for initialise()).
        locks.hold(session, locks.Resource.CA)
        if context.ca.is_initialised(session):
            return BootstrapResult(created=False)
        context.ca.initialise(session, actor=ACTOR, dev=True)
        identity.ensure_id_salt(session)
        departments.import_seed(session, actor=ACTOR)
    public_url.record(context.settings)
    with context.database.session(read_only=True) as session:
        context.ca.export_files(session)
    issued = []
    for department, kind, algorithm in DEMO_SEALS:
        view = seals.issue(
            context, department=department, kind=kind, algorithm=algorithm, actor=ACTOR
        )
        issued.append(
            {"code": view.code, "text": view.text, "kind": view.kind, "algorithm": view.algorithm}
        )
    with context.database.session() as session:
        _, token = apikeys.create_api_key(
            session, name="bootstrap admin", scopes={"admin"}, department=None, actor=ACTOR
        )
    return BootstrapResult(created=True, seals=issued, admin_token=token)
