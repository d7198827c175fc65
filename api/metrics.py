"""Prometheus metrics of the API (exposed at ``/metrics``)."""

from prometheus_client import Counter

__all__ = ["SEALS_APPLIED", "VERIFICATIONS"]

SEALS_APPLIED = Counter("sealsvc_seals_applied_total", "Seals applied to PDFs", ["level"])
VERIFICATIONS = Counter("sealsvc_verifications_total", "PDF verifications", ["indication"])
