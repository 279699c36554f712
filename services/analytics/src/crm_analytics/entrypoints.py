"""One process each: ``crm-analytics-api`` and ``crm-analytics-worker``."""

from __future__ import annotations

import asyncio

import uvicorn

from crm_platform.telemetry import setup_telemetry

from .bootstrap import AnalyticsHttpSettings, build_api, build_worker


def api() -> None:
    setup_telemetry("crm-analytics-api")
    http = AnalyticsHttpSettings()
    uvicorn.run(build_api(), host=http.host, port=http.port, log_config=None)


def worker() -> None:
    setup_telemetry("crm-analytics-worker")
    asyncio.run(build_worker().run())
