"""Domain errors of sealsvc.

Each error has a one-line, operator-readable message (no key material, no stack trace) and
a ``status`` that the API maps to an HTTP status and a problem+json ``type``.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "InvalidTransition",
    "NotFound",
    "RateLimited",
    "SealNotUsable",
    "SealsvcError",
    "ServerFault",
    "Unauthorized",
]


class SealsvcError(Exception):
    """Base class of every error the service reports to a user."""

    status: int = 400
    kind: str = "error"
    retry_after: int | None = None
    """Whole seconds after which the same request may succeed (the API's ``Retry-After``)."""


class InvalidInput(SealsvcError):
    """The request or file is malformed, too large or otherwise unacceptable."""

    kind = "invalid-input"


class NotFound(SealsvcError):
    """A department, seal, licence or template does not exist."""

    status = 404
    kind = "not-found"


class Conflict(SealsvcError):
    """The object already exists or was changed concurrently."""

    status = 409
    kind = "conflict"


class InvalidTransition(Conflict):
    """A lifecycle transition that the current state does not allow."""

    kind = "invalid-transition"


class SealNotUsable(SealsvcError):
    """The seal is suspended, revoked or expired and cannot seal a document."""

    status = 409
    kind = "seal-not-usable"


class Unauthorized(SealsvcError):
    """No credential, or one that is unknown or revoked."""

    status = 401
    kind = "unauthorized"


class Forbidden(SealsvcError):
    """The credential is valid but may not do this (scope, or another department's seal)."""

    status = 403
    kind = "forbidden"


class RateLimited(SealsvcError):
    """Too many requests for this credential; retry after ``retry_after`` seconds."""

    status = 429
    kind = "rate-limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerFault(SealsvcError):
    """The service failed, not the request (a library raised where no input explains it).

    The API logs it with its traceback and answers 500 with an id, never this message.
    """

    status = 500
    kind = "internal"
