"""Enterprise seal sets (issue #21 §2): issue one for a 营业执照 already issued, and show it.

The registering authority's key (scope ``licence``, holding a seal that sealed the
enterprise's 营业执照; or an admin key) issues and reads sets. The set's own API key,
returned once when the set is first issued, may only seal (``POST /v1/seals/{code}/sign``)
with the enterprise's own seals; they are listed, with their status, in the public seal
directory (``GET /v1/seals?department=<credit code>``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, require_scope
from api.cpu_bound import run_cpu_bound
from api.licence_routes import check_access
from api.problems import problem_responses
from api.seal_sets import seal_set_body
from api.state import service_context
from sealsvc import licences
from sealsvc.enterprise import issuance, registry

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["SEALS_DESCRIPTION", "SealSetRequest", "router"]

router = APIRouter(prefix="/enterprises", tags=["enterprises"])

SEALS_DESCRIPTION = (
    "Seals of the enterprise set to issue, by kind (公章, 财务专用章, 发票专用章, 合同专用章, "
    "法定代表人名章) or alias (official, finance, invoice, contract, legal_representative)."
)


class SealSetRequest(BaseModel):
    """Which seals of the set to issue."""

    model_config = ConfigDict(extra="forbid")

    seals: list[str] | None = Field(
        None, max_length=5, description=SEALS_DESCRIPTION + " Default: every kind it lacks."
    )


def _check_registrar(caller: Caller, context: ServiceContext, number: str) -> None:
    """The caller's department must have sealed the enterprise's 营业执照 ``number``."""
    check_access(caller, context, licences.get_licence(context, number))


@router.post(
    "/{credit_code}/seals",
    status_code=201,
    summary="Issue the seal set of an enterprise whose 营业执照 exists",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def issue_seal_set(
    request: Request,
    credit_code: str,
    body: SealSetRequest,
    caller: Annotated[Caller, Depends(require_scope("licence"))],
) -> dict[str, Any]:
    """SM2 seals under the enterprise profile, with images and GB/T 38540 seal objects, and
    (the first time) the enterprise's API key, shown once. One transaction: all or none."""
    context = service_context(request)
    number = await run_in_threadpool(issuance.business_licence_number, context, credit_code)
    await run_in_threadpool(_check_registrar, caller, context, number)
    seal_set = await run_cpu_bound(
        request,
        issuance.issue_for_licence,
        context,
        credit_code,
        body.seals,
        actor=caller.actor,
    )
    return await run_in_threadpool(seal_set_body, request, seal_set)


@router.get(
    "/{credit_code}",
    summary="An enterprise and its seal set",
    responses=problem_responses(401, 403, 404, 422),
)
async def show_enterprise(
    request: Request,
    credit_code: str,
    caller: Annotated[Caller, Depends(require_scope("licence"))],
) -> dict[str, Any]:
    """The enterprise, the licence its seals follow and each seal's status."""
    context = service_context(request)

    def read() -> dict[str, Any]:
        with context.database.session(read_only=True) as session:
            view = registry.show(session, credit_code)
        # the licence it was issued with, valid or annulled: the set stays readable
        _check_registrar(caller, context, view.licence_number)
        return seal_set_body(request, issuance.SealSet(view, ()))

    return await run_in_threadpool(read)
