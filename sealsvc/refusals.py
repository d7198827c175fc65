"""The audit trail of refused seal uses (``seal.refused``).

A refused attempt to seal — another department's seal, a suspended, revoked or expired
seal, a client over its rate limit — says as much about a key's holder as a seal applied:
someone tried to seal with a seal they may not use.  So each refusal gets its own audit
entry, written in a transaction of its own because the attempt itself changed nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sealsvc import audit, seals
from sealsvc.errors import NotFound, SealsvcError

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["ACTION", "record"]

ACTION = "seal.refused"


def record(
    context: ServiceContext,
    *,
    actor: str,
    seal_code: str | None,
    refusal: SealsvcError,
    details: Mapping[str, object] | None = None,
) -> None:
    """Append ``seal.refused`` for ``refusal`` of ``seal_code`` (``None``: not yet known,
    as for a rate limit hit before the request named its seals).

    The entry names the seal's department, the refusal's kind and message, and ``details``
    (the API's client address and key id).  A code that names no seal is not recorded:
    no seal was used, and the log should not store whatever a client typed.
    """
    with context.database.session() as session:
        department_code = None
        if seal_code is not None:
            try:
                department_code = seals.owner_department_code(session, seal_code)
            except NotFound:
                return
        audit.append(
            session,
            action=ACTION,
            actor=actor,
            seal_code=seal_code,
            department_code=department_code,
            details={"refusal": refusal.kind, "reason": str(refusal), **(details or {})},
        )
