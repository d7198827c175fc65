"""Errors as ``application/problem+json`` (RFC 9457), never a stack trace.

Domain errors carry their HTTP status and a short ``kind`` that becomes the problem
``type`` URI; anything unexpected is logged server-side with its traceback and answered
with a generic 500 whose body reveals nothing.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from pki.errors import PkiError
from sealsvc.config import ConfigError
from sealsvc.errors import SealsvcError

__all__ = ["PROBLEM_JSON", "Problem", "install_problem_handlers", "problem", "problem_responses"]

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://sealsvc.example/problems/"
logger = logging.getLogger("sealsvc.api")


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of the API is answered."""

    type: str
    title: str
    status: int
    detail: str | None = None


def problem(status: int, title: str, detail: str | None = None, kind: str = "error", **extra):
    body = {"type": TYPE_BASE + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


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
    503: "Service unavailable",
}


def problem_responses(*statuses: int) -> dict[int | str, dict]:
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
    async def _domain(_: Request, exc: SealsvcError):
        return problem(exc.status, _TITLES.get(exc.status, "Error"), str(exc), exc.kind)

    @app.exception_handler(PkiError)
    async def _pki(_: Request, exc: PkiError):
        return problem(400, "PKI error", str(exc), "pki-error")

    @app.exception_handler(ConfigError)
    async def _config(_: Request, exc: ConfigError):
        logger.error("configuration error: %s", exc)
        return problem(503, "Service not configured", "the service is not ready", "not-ready")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        return problem(
            exc.status_code,
            _TITLES.get(exc.status_code, "Error"),
            str(exc.detail) if exc.detail else None,
            "http-" + str(exc.status_code),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        errors = [
            {"loc": [str(part) for part in e.get("loc", ())], "msg": e.get("msg", "")}
            for e in exc.errors()
        ]
        return problem(
            422, "Invalid request", "the request is malformed", "validation", errors=errors
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception):
        logger.exception("unexpected error")
        return problem(500, "Internal error", "an unexpected error occurred", "internal")
