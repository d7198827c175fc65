"""API-key authentication, scopes, department binding and per-key rate limits.

Keys come as ``Authorization: Bearer sk_…`` or ``X-API-Key: sk_…``.  A key of one
department may only use that department's seals (403 otherwise); an ``admin`` key may
use any.  The rate limit is a token bucket per key and worker process: with N workers a
client gets at most N times its rate, which bounds abuse without shared state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from sealsvc import apikeys, seals
from sealsvc.apikeys import Principal
from sealsvc.errors import Forbidden, RateLimited, Unauthorized

__all__ = ["Caller", "require_scope"]


class _Buckets:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, key_id: str, per_minute: int) -> bool:
        now = time.monotonic()
        rate = per_minute / 60.0
        with self._lock:
            tokens, last = self._state.get(key_id, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - last) * rate)
            if tokens < 1:
                self._state[key_id] = (tokens, now)
                return False
            self._state[key_id] = (tokens - 1, now)
            return True


_buckets = _Buckets()


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

    def check_seals(self, context, seal_codes: Iterable[str]) -> None:
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


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    raise Unauthorized("an API key is required (Authorization: Bearer sk_…)")


def require_scope(scope: str, *, seal_in_path: str | None = None) -> Callable:
    """A dependency: the caller's key, which must have ``scope`` (or ``admin``).

    With ``seal_in_path`` the seal named by that path parameter must belong to the key's
    department too, looked up in the key's own transaction: one database round trip and
    one thread hop per request instead of two, and a foreign seal is refused before the
    upload is read.
    """

    async def dependency(request: Request) -> Caller:
        token = _token(request)
        context = request.app.state.context
        seal_code = request.path_params[seal_in_path] if seal_in_path else None

        def authorise() -> Caller:
            with context.database.session(read_only=True) as session:
                caller = Caller(apikeys.authenticate(session, token))
                principal = caller.principal
                if scope not in principal.scopes and "admin" not in principal.scopes:
                    raise Forbidden(f"this API key lacks the {scope!r} scope")
                if not _buckets.take(principal.key_id, principal.rate_per_minute):
                    raise RateLimited("rate limit exceeded for this API key")
                if seal_code is not None:
                    caller.check_seal_in(session, seal_code)
            return caller

        return await run_in_threadpool(authorise)

    return dependency
