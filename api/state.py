"""The worker's services on ``app.state``, written and read back with their types.

Starlette's ``app.state`` is a bag of attributes typed ``Any``: a route that reads
``request.app.state.context`` gets no type checking of anything it does with it.
:func:`install_services` is the one place that puts the services there, and the readers
below give them back as what they are, so every use of the
:class:`~sealsvc.context.ServiceContext` in a route is checked.  The attribute names are
those tests reach for (``app.state.context``).
"""

from __future__ import annotations

from fastapi import FastAPI, Request

from sealsvc.archive import ArchiveExtender
from sealsvc.context import ServiceContext
from sealsvc.sealing import Sealer
from sealsvc.trust_services import TrustServices
from sealsvc.verification.service import DocumentVerifier

__all__ = [
    "archive_extender",
    "document_verifier",
    "install_services",
    "sealer",
    "service_context",
    "trust_services",
]


def install_services(app: FastAPI, context: ServiceContext) -> None:
    """One set per worker process: the context, its trust services (CA, OCSP, TSA) and
    the sealer, verifier and archive extender that share them and their caches."""
    trust = TrustServices(context)
    app.state.context = context
    app.state.trust = trust
    app.state.sealer = Sealer(context, trust)
    app.state.verifier = DocumentVerifier(context, trust)
    app.state.archive = ArchiveExtender(context, trust)


def service_context(request: Request) -> ServiceContext:
    """The worker's service context (settings, database, key store, CA)."""
    context: ServiceContext = request.app.state.context
    return context


def trust_services(request: Request) -> TrustServices:
    """The worker's CA, OCSP responders and time-stamp authority."""
    trust: TrustServices = request.app.state.trust
    return trust


def sealer(request: Request) -> Sealer:
    """The worker's sealer (its signers and stamps are cached across requests)."""
    worker_sealer: Sealer = request.app.state.sealer
    return worker_sealer


def document_verifier(request: Request) -> DocumentVerifier:
    """The worker's verifier (its validation caches are shared across requests)."""
    verifier: DocumentVerifier = request.app.state.verifier
    return verifier


def archive_extender(request: Request) -> ArchiveExtender:
    """The worker's archive extender (adds validation data and archive time-stamps)."""
    extender: ArchiveExtender = request.app.state.archive
    return extender
