"""One process each, as deployed: ``crm-analytics-api`` and ``crm-analytics-worker``."""

from crm_platform import service

from .bootstrap import SPEC


def api() -> None:
    service.api(SPEC)


def worker() -> None:
    """Its loops and consumers report to ``/healthz`` and ``/readyz`` on ``CRM_METRICS_PORT``; a
    part that stays dead ends the process (status 1) for its supervisor to restart it."""
    service.worker(SPEC)
