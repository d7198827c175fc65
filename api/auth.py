"""API-key authentication, scopes, department binding and per-key rate limits.

Keys come as ``Authorization: Bearer sk_…`` or ``X-API-Key: sk_…``.  A key of one
department may only use that department's seals (403 otherwise); an ``admin`` key may
use any.  The rate limit is a token bucket per key (:mod:`sealsvc.rate_limits`): per
worker process on a single node (SQLite; with N workers a client gets at most N times its
rate), in the database when several nodes share PostgreSQL, so spreading requests over
nodes gains nothing.  A 429 says in ``Retry-After`` when the next token is due.

On the routes that seal, a refusal — another department's seal, a seal that may not
seal, a missing scope, the rate limit — is audited as ``seal.refused`` with the key id
and the client's address (:mod:`sealsvc.refusals`).  Of a run of rate-limit refusals
only the first is written, so a client hammering the service cannot turn each refused
request into a write that holds the audit chain's lock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.state import service_context
from sealsvc import apikeys, refusals, seals
from sealsvc.apikeys import Principal
from sealsvc.errors import Forbidden, RateLimited, SealNotUsable, SealsvcError, Unauthorized
from sealsvc.rate_limits import DatabaseBuckets, Empty, MemoryBuckets

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext

__all__ = ["Caller", "require_scope"]


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of one request."""

    principal: Principal

    @property
    def key_id(self) -> str:
        return self.principal.key_id

    @property
    def actor(self) -> str:
        return self.principal.actor

    def audit_details(self, request: Request) -> dict[str, str]:
        """What the audit log records of an API call beside the actor: client and key id."""
        return {"client": request.client.host if request.client else "", "api_key": self.key_id}

    def check_seals(self, context: ServiceContext, seal_codes: Iterable[str]) -> None:
        """Refuse another department's seal (admin keys may use every seal); one
        transaction for all of ``seal_codes``."""
        with context.database.session(read_only=True) as session:
            for seal_code in seal_codes:
                self.check_seal_in(session, seal_code)

    def check_seal_in(self, session: Session, seal_code: str) -> None:
        """Refuse another department's seal, in the caller's transaction."""
        if "admin" in self.principal.scopes:
            return
        if seals.owner_department_code(session, seal_code) != self.principal.department_code:
            raise Forbidden(f"this API key may not use seal {seal_code} of another department")

    def check_seal_use(self, request: Request, seal_codes: Iterable[str]) -> None:
        """Before sealing with ``seal_codes``: each must be the caller's department's and
        able to seal now; the first that is not is refused, and the refusal audited."""
        context = service_context(request)
        with context.database.session(read_only=True) as session:
            for seal_code in seal_codes:
                try:
                    self.check_seal_in(session, seal_code)
                    seals.signing_material(session, seal_code)
                except (Forbidden, SealNotUsable) as exc:
                    refused = (seal_code, exc)
                    break
            else:
                return
        self.audit_refusal(request, *refused)
        raise refused[1]

    def audit_refusal(self, request: Request, seal_code: str | None, refusal: SealsvcError) -> None:
        """Write ``seal.refused`` for ``refusal`` of ``seal_code`` by this caller."""
        refusals.record(
            service_context(request),
            actor=self.actor,
            seal_code=seal_code,
            refusal=refusal,
            details=self.audit_details(request),
        )


_memory_buckets = MemoryBuckets()


def _buckets(context: ServiceContext) -> MemoryBuckets | DatabaseBuckets:
    """The shared buckets when several nodes share the database, else this process's."""
    if context.database.is_shared:
        return DatabaseBuckets(context.database)
    return _memory_buckets


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    raise Unauthorized("an API key is required (Authorization: Bearer sk_…)")


def require_scope(
    scope: str, *, seal_in_path: str | None = None, seals_documents: bool = False
) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency: the caller's key, which must have ``scope`` (or ``admin``).

    With ``seal_in_path`` the seal named by that path parameter must belong to the key's
    department too, looked up in the key's own transaction: one database round trip and
    one thread hop per request instead of two, and a foreign seal is refused before the
    upload is read.  On a route that seals (``seal_in_path``, or ``seals_documents`` when
    the seals come in the body) a refusal of a known key is audited as ``seal.refused``.
    """
    audited = seals_documents or seal_in_path is not None

    async def dependency(request: Request) -> Caller:
        token = _token(request)
        context = service_context(request)
        seal_code = request.path_params[seal_in_path] if seal_in_path else None

        def authorise() -> Caller:
            with context.database.session(read_only=True) as session:
                caller = Caller(apikeys.authenticate(session, token))
                principal = caller.principal
                empty: Empty | None = None
                try:
                    # The rate limit first: it also bounds the refusals that get audited.
                    empty = _buckets(context).take(principal.key_id, principal.rate_per_minute)
                    if empty is not None:
                        raise RateLimited(
                            f"more than {principal.rate_per_minute} requests a minute with "
                            "this API key",
                            retry_after=empty.retry_after,
                        )
                    if scope not in principal.scopes and "admin" not in principal.scopes:
                        raise Forbidden(f"this API key lacks the {scope!r} scope")
                    if seal_code is not None:
                        caller.check_seal_in(session, seal_code)
                except (Forbidden, RateLimited) as exc:
                    refusal, worth_audit = exc, empty is None or empty.first
                else:
                    return caller
            if audited and worth_audit:
                caller.audit_refusal(request, seal_code, refusal)
            raise refusal

        return await run_in_threadpool(authorise)

    return dependency
