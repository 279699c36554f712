"""Process entry helpers: one process per role (api, relay, worker), as in production."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI
from faststream import FastStream
from faststream.kafka import KafkaBroker

from .kafka import COMPACTED, ensure_topics
from .metrics import serve_metrics
from .settings import HttpSettings, KafkaSettings, TelemetrySettings
from .telemetry import setup_telemetry

log = logging.getLogger(__name__)


def observe_process(service: str, role: str) -> None:
    """Tracing and JSON logs as ``crm-<service>-<role>``, versioned by the service's package;
    a relay or a worker also serves its metrics (an api serves them on its HTTP port)."""
    setup_telemetry(f"crm-{service}-{role}", TelemetrySettings(), package=f"crm-{service}")
    if role != "api":
        serve_metrics()


def serve_api(service: str, app_factory: Callable[[], FastAPI], default_port: int) -> None:
    import os

    import uvicorn

    observe_process(service, "api")
    os.environ.setdefault("CRM_HTTP_PORT", str(default_port))
    http = HttpSettings()
    uvicorn.run(app_factory(), host=http.host, port=http.port, log_config=None, access_log=False)


Background = Callable[[asyncio.Event], Awaitable[None]]


def run_worker(
    service: str,
    broker_factory: Callable[[], Awaitable[KafkaBroker]],
    background: Callable[[], Sequence[Background]] = tuple,
) -> None:
    """Run a FastStream application around the broker the service's subscribers are on, and the
    service's background loops (schedulers, local projections) beside it. Each loop runs until
    the event it is given is set at shutdown; one that fails stops the worker (the orchestrator
    restarts it) rather than leaving it half alive."""
    observe_process(service, "worker")

    async def main() -> None:
        broker = await broker_factory()
        # Subscribers may start before any relay created the compacted topics they read.
        await ensure_topics(KafkaSettings().bootstrap_servers, COMPACTED)
        loops = background()
        if not broker.subscribers and not loops:
            log.info("crm-%s-worker has nothing to do yet", service)
        app = FastStream(broker, logger=logging.getLogger("crm.faststream"))
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []

        @app.after_startup
        async def start_loops() -> None:
            tasks.extend(asyncio.create_task(_fatal_on_error(app, loop(stop))) for loop in loops)

        @app.on_shutdown
        async def stop_loops() -> None:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

        await app.run()

    asyncio.run(main())


async def _fatal_on_error(app: FastStream, loop: Awaitable[None]) -> None:
    try:
        await loop
    except Exception:
        log.exception("a background loop failed; stopping the worker")
        app.exit()


def run_async(service: str, role: str, main: Callable[[], Awaitable[Any]]) -> None:
    observe_process(service, role)
    asyncio.run(main())
