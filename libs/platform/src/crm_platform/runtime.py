"""Process entry helpers: one process per role (api, relay, worker), as in production.

A relay or a worker serves ``/metrics``, ``/healthz`` and ``/readyz`` on ``CRM_METRICS_PORT``
(``liveness.HealthServer``; an api serves them on its HTTP port). A worker whose part died (a
loop task that ended, a subscriber that stopped consuming) answers 503 on ``/healthz`` for
``CRM_HEALTH_EXIT_GRACE_SECONDS``, then exits with status 1 for its supervisor to restart it: it
is never left half alive.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from faststream import FastStream
from faststream.kafka import KafkaBroker

from .kafka import CONFIGURED, ensure_topics
from .liveness import REGISTRY, Check, HealthServer, Registry, Report
from .loops import Loop, sleep_or_stop
from .settings import HealthSettings, HttpSettings, KafkaSettings, TelemetrySettings
from .telemetry import setup_telemetry

log = logging.getLogger(__name__)

# A background loop of the older shape: a coroutine function of the shutdown event. Prefer
# ``loops.Loop``, which survives failures and reports its heartbeat.
Background = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def observe_process(service: str, role: str) -> None:
    """Tracing and JSON logs as ``crm-<service>-<role>``, versioned by the service's package."""
    setup_telemetry(f"crm-{service}-{role}", TelemetrySettings(), package=f"crm-{service}")


def serve_api(service: str, app_factory: Callable[[], FastAPI], default_port: int) -> None:
    import os

    import uvicorn

    observe_process(service, "api")
    os.environ.setdefault("CRM_HTTP_PORT", str(default_port))
    http = HttpSettings()
    # proxy_headers off: the front door (crm_platform.web.front_door) trusts only the proxies
    # configured, where uvicorn would trust any local peer's X-Forwarded-For by default.
    uvicorn.run(
        app_factory(),
        host=http.host,
        port=http.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )


def run_worker(
    service: str,
    broker_factory: Callable[[], Awaitable[KafkaBroker]],
    background: Callable[[], Sequence[Loop | Background]] = tuple,
    *,
    readiness: Mapping[str, Check] | None = None,
    shutdown: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Run a FastStream application around the broker the service's subscribers are on, and the
    service's background loops (schedulers, local projections) beside it, until SIGTERM. Each
    loop runs until the event it is given is set at shutdown. ``readiness``: the servers the
    worker needs, checked by ``/readyz``; ``shutdown``: called once the subscribers and loops
    stopped (closing what they used)."""
    observe_process(service, "worker")

    async def main() -> bool:
        health = HealthServer(readiness)
        await health.start()
        try:
            broker = await broker_factory()
            # Subscribers may start before any relay created the configured topics they read.
            await ensure_topics(KafkaSettings(), CONFIGURED)
            loops = background()
            if not broker.subscribers and not loops:
                log.info("crm-%s-worker has nothing to do yet", service)
            app = FastStream(broker, logger=logging.getLogger("crm.faststream"))
            watchdog = Watchdog(app.exit)
            stop = asyncio.Event()
            tasks: list[asyncio.Task[None]] = []

            @app.after_startup
            async def start_loops() -> None:
                tasks.extend(start_background(work, stop, service=service) for work in loops)
                tasks.append(asyncio.create_task(watchdog.run(stop)))

            @app.on_shutdown
            async def stop_loops() -> None:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)

            @app.after_shutdown
            async def release() -> None:
                if shutdown is not None:
                    await shutdown()

            await app.run()
            return watchdog.fired
        finally:
            await health.close()

    if asyncio.run(main()):
        sys.exit(1)


def run_async(
    service: str,
    role: str,
    main: Callable[[], Awaitable[Any]],
    *,
    readiness: Mapping[str, Check] | None = None,
) -> None:
    """Run ``main`` (a relay, a worker of its own making) with the health server beside it;
    exit with status 1 when a registered part stays dead (``main`` is cancelled then)."""
    observe_process(service, role)

    async def supervised() -> bool:
        health = HealthServer(readiness)
        await health.start()
        task = asyncio.ensure_future(main())
        watchdog, stop = Watchdog(task.cancel), asyncio.Event()
        watching = asyncio.create_task(watchdog.run(stop))
        try:
            await task
        except asyncio.CancelledError:
            if not watchdog.fired:
                raise
        finally:
            stop.set()
            await watching
            await health.close()
        return watchdog.fired

    if asyncio.run(supervised()):
        sys.exit(1)


def start_background(
    work: Loop | Background, stop: asyncio.Event, *, service: str, registry: Registry = REGISTRY
) -> asyncio.Task[None]:
    """Start a background loop as a task. A ``Loop`` reports its own heartbeat; an older-shape
    coroutine is registered as ``task:<name>``, dead once it raised or ended before ``stop``."""
    if isinstance(work, Loop):
        return asyncio.create_task(work.run(stop, service=service, registry=registry))
    function = getattr(work, "func", work)  # a functools.partial names its function
    name = getattr(function, "__qualname__", None) or type(work).__name__
    task = asyncio.create_task(work(stop), name=name)
    task.add_done_callback(_log_death)
    registry.register(f"task:{name}", lambda: _task_report(task, stop))
    return task


def _task_report(task: asyncio.Task[None], stop: asyncio.Event) -> Report:
    if not task.done() or stop.is_set():
        return Report()
    error = None if task.cancelled() else task.exception()
    detail = f"it ended: {error!r}" if error else "it ended"
    return Report(alive=False, ready=False, state="died", detail=detail)


def _log_death(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("background loop %s died", task.get_name(), exc_info=error)


class Watchdog:
    """Stops the process (``stop_process``) once a registered part stayed dead for the grace
    period; ``fired`` tells the caller to exit with a failure status."""

    def __init__(
        self,
        stop_process: Callable[[], object],
        *,
        grace: float | None = None,
        registry: Registry = REGISTRY,
        poll: float = 1.0,
    ) -> None:
        self.stop_process = stop_process
        self.grace = HealthSettings().exit_grace_seconds if grace is None else grace
        self.registry = registry
        self.poll = poll
        self.fired = False

    async def run(self, stop: asyncio.Event) -> None:
        dead_since: float | None = None
        while not stop.is_set():
            dead = self.registry.dead()
            if not dead:
                dead_since = None
            elif dead_since is None:
                dead_since = time.monotonic()
                log.error("dead: %s; exiting in %gs unless it recovers", _names(dead), self.grace)
            if dead_since is not None and time.monotonic() - dead_since >= self.grace:
                log.error("exiting with status 1, for a restart: %s", _names(dead))
                self.fired = True
                self.stop_process()
                return
            await sleep_or_stop(stop, self.poll)


def _names(dead: Mapping[str, Report]) -> str:
    return ", ".join(f"{name} ({report.detail or report.state})" for name, report in dead.items())
