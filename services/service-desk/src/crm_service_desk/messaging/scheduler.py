"""The SLA scheduler: a loop of the worker that records breached SLA targets when they fall due.

Deadlines live in the index table (derived from the tickets), so nothing is lost when the worker
stops: on start it catches the index up with the event store and records every breach that fell
due meanwhile. Tickets refuse a second breach of a target, so restarts and parallel workers never
record one twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..application import ServiceDeskApplication

log = logging.getLogger(__name__)


async def run_sla_scheduler(
    application: ServiceDeskApplication, stop: asyncio.Event, *, poll_seconds: float
) -> None:
    while not stop.is_set():
        await asyncio.to_thread(application.catch_up_index)
        breaches = await asyncio.to_thread(application.record_due_breaches)
        if breaches:
            log.info("recorded %d SLA breaches", breaches)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll_seconds)
