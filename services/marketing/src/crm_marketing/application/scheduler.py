"""The scheduler: launches scheduled campaigns, schedules the day's birthday greetings, fires
automated sends when they fall due, and keeps the audience index current (so a launch finds
little left to catch up).

Both kinds of due work live in PostgreSQL (the launch calendar in the event store, automated
sends in the due table), so a restart loses none; both are guarded by their aggregates' state,
so nothing is launched or fired twice, even by two schedulers racing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

from .common import utcnow
from .due import PostgresDueSends

log = logging.getLogger(__name__)


async def run_scheduler(
    application: Any, due: PostgresDueSends, stop: asyncio.Event, every: float = 2.0
) -> None:
    birthdays_of: date | None = None  # the day whose birthdays were scheduled (once a day)
    while not stop.is_set():
        try:
            now = utcnow()
            if birthdays_of != now.date():
                count = await asyncio.to_thread(application.birthday_sends, now)
                log.info("%d birthday greetings scheduled for %s", count, now.date())
                birthdays_of = now.date()
            await asyncio.to_thread(tick, application, due)
        except Exception:
            log.exception("the scheduler's round failed; retrying")
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass


def tick(application: Any, due: PostgresDueSends) -> None:
    """One round: follow the audience, launch what is due, index new sends, fire those due."""
    application.catch_up_audience_index()
    for campaign_id in application.launch_due_campaigns():
        log.info("launched scheduled campaign %s", campaign_id)
    while due.index(application):
        pass
    if fired := due.fire_due(application, utcnow()):
        log.info("fired %d automated sends", fired)
