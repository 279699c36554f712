"""One process per role, as deployed: ``crm-contacts-api``, ``-relay`` and ``-worker``."""

from crm_platform import service

from .bootstrap import SPEC


def api() -> None:
    service.api(SPEC)


def relay() -> None:
    service.relay(SPEC)


def worker() -> None:
    service.worker(SPEC)
