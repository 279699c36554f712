"""Process entry helpers: one process per role (api, relay, worker), as in production."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from faststream import FastStream
from faststream.kafka import KafkaBroker

from .settings import HttpSettings, TelemetrySettings
from .telemetry import setup_telemetry

log = logging.getLogger(__name__)


def serve_api(service: str, app_factory: Callable[[], FastAPI], default_port: int) -> None:
    import os

    import uvicorn

    setup_telemetry(f"crm-{service}-api", TelemetrySettings())
    os.environ.setdefault("CRM_HTTP_PORT", str(default_port))
    http = HttpSettings()
    uvicorn.run(app_factory(), host=http.host, port=http.port, log_config=None, access_log=False)


def run_worker(service: str, broker_factory: Callable[[], Awaitable[KafkaBroker]]) -> None:
    """Run a FastStream application around the broker the service's subscribers are on."""
    setup_telemetry(f"crm-{service}-worker", TelemetrySettings())

    async def main() -> None:
        broker = await broker_factory()
        if not broker.subscribers:
            log.info("crm-%s-worker has no subscriptions yet", service)
        await FastStream(broker, logger=logging.getLogger("crm.faststream")).run()

    asyncio.run(main())


def run_async(service: str, role: str, main: Callable[[], Awaitable[Any]]) -> None:
    setup_telemetry(f"crm-{service}-{role}", TelemetrySettings())
    asyncio.run(main())
