"""One process each: ``crm-analytics-api`` and ``crm-analytics-worker``."""

from crm_platform.runtime import run_async, serve_api
from crm_platform.settings import KafkaSettings

from .bootstrap import SERVICE, AnalyticsMongoSettings, build_api, build_worker, readiness

HTTP_PORT = 8005


def api() -> None:
    serve_api(SERVICE, build_api, HTTP_PORT)


def worker() -> None:
    """Its loops and consumers report to ``/healthz`` and ``/readyz`` on ``CRM_METRICS_PORT``; a
    part that stays dead ends the process (status 1) for its supervisor to restart it."""
    mongo, kafka = AnalyticsMongoSettings(), KafkaSettings()
    run_async(
        SERVICE,
        "worker",
        lambda: build_worker(mongo, kafka).run(),
        readiness=readiness(mongo.uri, kafka),
    )
