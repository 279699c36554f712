"""The scheduler's loops: scheduled campaigns launched, annual date sends scheduled, automated
sends fired when due. Each is a platform ``Loop`` that applies its records one by one with
``each``: a campaign, person or send that fails is quarantined under the loop's name and skipped
until an operator releases it (it is then tried on the loop's next round), and the others go on.

The due work lives in PostgreSQL (the launch calendar and the sends in the event store, the
sends due in their index), so a restart loses none; all of it is guarded by the aggregates'
state, so nothing is launched, greeted or fired twice, even by two schedulers racing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from crm_platform.loops import Loop, each
from crm_platform.quarantine import Quarantine, RecordRef

from ..domain import Automation
from .automation import comes_today
from .common import SERVICE, utcnow
from .due import AUTOMATED_SENDS, DueSends

log = logging.getLogger(__name__)

LAUNCHES = "marketing-launches"
ANNUAL_DATES = "marketing-birthdays"  # its quarantine name since birthdays came first
EVERY = 2.0  # seconds between rounds when there was nothing to do
ANNUAL_DATES_EVERY = 60.0


def scheduler_loops(application: Any) -> list[Loop]:
    quarantine = Quarantine.of(application, service=SERVICE)
    sends = DueSends(application)
    dates = AnnualDates(application, quarantine)
    return [
        Loop(
            LAUNCHES,
            lambda: launch_due(application, quarantine),
            interval=EVERY,
            setup=quarantine.create_table,
        ),
        Loop(AUTOMATED_SENDS, sends.fire_due, interval=EVERY, setup=sends.create_tables),
        Loop(ANNUAL_DATES, dates.step, interval=ANNUAL_DATES_EVERY, setup=quarantine.create_table),
    ]


async def launch_due(application: Any, quarantine: Quarantine) -> int:
    """Launch the scheduled campaigns whose time has come; how many were launched."""
    due = await asyncio.to_thread(application.due_campaigns, utcnow())

    async def launch(campaign_id: UUID) -> None:
        if await asyncio.to_thread(application.launch_scheduled, campaign_id):
            log.info("launched scheduled campaign %s", campaign_id)

    return await each(due, launch, loop=LAUNCHES, quarantine=quarantine, record=_record)


class AnnualDates:
    """Every round, while an annual date campaign runs, the people whose date comes today (by
    the audience index, caught up first) are celebrated: a campaign launched in the afternoon
    still greets the day's birthdays, and a date learned today counts today. Each send is
    scheduled once per campaign, person and day (``celebrate``), whatever the rounds, restarts
    and workers. A person released from the quarantine is tried on the next round."""

    def __init__(self, application: Any, quarantine: Quarantine) -> None:
        self.application = application
        self.quarantine = quarantine

    async def step(self) -> int:
        now = utcnow()
        released = await asyncio.to_thread(self.quarantine.keys, ANNUAL_DATES, released=True)
        people = dict.fromkeys(UUID(key) for key in released)
        campaigns = await asyncio.to_thread(self.application.annual_date_campaigns)
        if campaigns:
            people.update(dict.fromkeys(await asyncio.to_thread(self._due, campaigns, now)))

        scheduled = 0

        async def celebrate(customer_id: UUID) -> None:
            nonlocal scheduled
            app = self.application
            scheduled += await asyncio.to_thread(app.celebrate, customer_id, now, campaigns)

        await each(people, celebrate, loop=ANNUAL_DATES, quarantine=self.quarantine, record=_record)
        return scheduled

    def _due(self, campaigns: list[Any], now: datetime) -> list[UUID]:
        """The people one of ``campaigns`` celebrates today, by the index's facts."""
        self.application.catch_up_audience_index()
        automations = [Automation.of(c.automation) for c in campaigns]
        return [
            customer_id
            for customer_id, facts in self.application.audience_index.facts()
            if any(comes_today(facts, a, now.date()) for a in automations)
        ]


def _record(record_id: UUID) -> RecordRef:
    return RecordRef(str(record_id), aggregate_id=str(record_id))
