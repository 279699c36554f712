"""One process each: ``crm-analytics-api`` and ``crm-analytics-worker``."""

from crm_platform.runtime import run_async, serve_api

from .bootstrap import SERVICE, build_api, build_worker

HTTP_PORT = 8005


def api() -> None:
    serve_api(SERVICE, build_api, HTTP_PORT)


def worker() -> None:
    run_async(SERVICE, "worker", lambda: build_worker().run())
