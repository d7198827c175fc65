"""The FastAPI application: wiring only.

``create_app(settings)`` builds one :class:`~sealsvc.context.ServiceContext` per worker
process (database engine, key store handle cache, CA, trust services, sealer) and mounts
the routers.  All domain decisions happen in ``sealsvc``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from api import pad_routes, pages, pki_routes, v1
from api.cpu_bound import install_cpu_queue
from api.docs import install_docs
from api.problems import install_problem_handlers, problem, problem_responses
from api.state import install_services
from sealsvc import __version__
from sealsvc.config import Settings
from sealsvc.context import ServiceContext

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.load()
    app = FastAPI(
        title="sealsvc",
        summary="Electronic seal service: seal, issue licences, verify (RSA and SM2).",
        version=__version__,
        docs_url=None,  # api.docs serves /docs without a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    context = ServiceContext(settings)
    install_services(app, context)
    install_problem_handlers(app)
    install_docs(app)
    install_cpu_queue(app)
    app.include_router(pki_routes.router)
    app.include_router(v1.router)
    app.include_router(pad_routes.api_router)
    app.include_router(pad_routes.page_router)
    app.include_router(pages.router)

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="Readiness",
        response_model=None,  # the answer below, or the 503 problem
        responses=problem_responses(503),
    )
    async def readyz() -> dict[str, str] | JSONResponse:
        """Readiness: the database answers and the key store opens."""

        def check() -> None:
            with context.database.session(read_only=True) as session:
                session.execute(text("SELECT 1"))
            context.keystore.list()

        try:
            await run_in_threadpool(check)
        except Exception:
            return problem(503, "Not ready", "database or key store unavailable", "not-ready")
        return {"status": "ready"}

    @app.get(
        "/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse
    )
    async def metrics(_: Request) -> PlainTextResponse:
        """Prometheus metrics."""
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
