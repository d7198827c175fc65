"""Errors as ``application/problem+json`` (RFC 9457), never a stack trace.

Domain errors carry their HTTP status and a short ``kind`` that becomes the problem
``type`` URI.  A fault of the server — a key store that is missing, unreadable or corrupt
(:class:`~pki.errors.PkiError`: clients never hand the API raw PKI material, so these are
ours), a domain error with a 5xx status (a missing font), anything unexpected — is
logged with its traceback under a fresh ``id`` and answered 500 (503 for a configuration
fault) with that id and nothing else: no file path, no exception text.  The client
quotes the id; the operator greps the log for it.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from pki.errors import PkiError
from sealsvc.config import ConfigError
from sealsvc.errors import SealsvcError

__all__ = [
    "PROBLEM_JSON",
    "Problem",
    "install_problem_handlers",
    "log_fault",
    "problem",
    "problem_responses",
    "server_fault",
]

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://sealsvc.example/problems/"
logger = logging.getLogger("sealsvc.api")


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of the API is answered."""

    type: str
    title: str
    status: int
    detail: str | None = None
    id: str | None = Field(
        None, description="Server faults (5xx) only: the id under which the fault was logged."
    )


def problem(
    status: int, title: str, detail: str | None = None, kind: str = "error", **extra: object
) -> JSONResponse:
    body: dict[str, object] = {"type": TYPE_BASE + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def log_fault(request: Request, exc: BaseException) -> str:
    """Log ``exc`` with its traceback under a new id, returned for the answer to name
    (a problem document, or a page for people)."""
    fault_id = secrets.token_hex(8)
    logger.error(
        "server fault id=%s on %s %s: %s: %s",
        fault_id,
        request.method,
        request.url.path,
        type(exc).__name__,
        exc,
        exc_info=exc,
    )
    return fault_id


def server_fault(
    request: Request,
    exc: BaseException,
    *,
    status: int = 500,
    title: str = "Internal error",
    kind: str = "internal",
) -> JSONResponse:
    """Log ``exc`` with its traceback under a new id; answer ``status`` naming only the id."""
    fault_id = log_fault(request, exc)
    return problem(
        status,
        title,
        f"the server failed to handle this request; quote id {fault_id} when reporting it",
        kind,
        id=fault_id,
    )


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    414: "URI too long",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses (problem+json bodies)."""
    schema = Problem.model_json_schema()
    return {
        status: {
            "description": _TITLES.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for status in statuses
    }


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(SealsvcError)
    async def _domain(request: Request, exc: SealsvcError) -> JSONResponse:
        if exc.status >= 500:
            return server_fault(request, exc)
        # A domain error may add RFC 9457 extension members (an identity token's failed check).
        extra = getattr(exc, "problem_extensions", {})
        response = problem(
            exc.status, _TITLES.get(exc.status, "Error"), str(exc), exc.kind, **extra
        )
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(PkiError)
    async def _pki(request: Request, exc: PkiError) -> JSONResponse:
        return server_fault(request, exc)

    @app.exception_handler(ConfigError)
    async def _config(request: Request, exc: ConfigError) -> JSONResponse:
        return server_fault(
            request, exc, status=503, title="Service not configured", kind="not-ready"
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            exc.status_code,
            _TITLES.get(exc.status_code, "Error"),
            str(exc.detail) if exc.detail else None,
            "http-" + str(exc.status_code),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(part) for part in e.get("loc", ())], "msg": e.get("msg", "")}
            for e in exc.errors()
        ]
        return problem(
            422, "Invalid request", "the request is malformed", "validation", errors=errors
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return server_fault(request, exc)
