"""Console scripts: crm-sales-api, crm-sales-relay, crm-sales-worker (one process each)."""

from crm_platform import service

from .bootstrap import SPEC


def api() -> None:
    service.api(SPEC)


def relay() -> None:
    service.relay(SPEC)


def worker() -> None:
    service.worker(SPEC)
