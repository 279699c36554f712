"""The scheduler's loops: scheduled campaigns launched, birthday greetings scheduled, automated
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
from datetime import date
from typing import Any
from uuid import UUID

from crm_platform.loops import Loop, each
from crm_platform.quarantine import Quarantine, RecordRef

from ..domain import AudienceProfile
from .common import SERVICE, utcnow
from .due import AUTOMATED_SENDS, DueSends

log = logging.getLogger(__name__)

LAUNCHES = "marketing-launches"
BIRTHDAYS = "marketing-birthdays"
EVERY = 2.0  # seconds between rounds when there was nothing to do
BIRTHDAYS_EVERY = 60.0


def scheduler_loops(application: Any) -> list[Loop]:
    quarantine = Quarantine.of(application, service=SERVICE)
    sends = DueSends(application)
    greetings = BirthdayGreetings(application, quarantine)
    return [
        Loop(
            LAUNCHES,
            lambda: launch_due(application, quarantine),
            interval=EVERY,
            setup=quarantine.create_table,
        ),
        Loop(AUTOMATED_SENDS, sends.fire_due, interval=EVERY, setup=sends.create_tables),
        Loop(BIRTHDAYS, greetings.step, interval=BIRTHDAYS_EVERY, setup=quarantine.create_table),
    ]


async def launch_due(application: Any, quarantine: Quarantine) -> int:
    """Launch the scheduled campaigns whose time has come; how many were launched."""
    due = await asyncio.to_thread(application.due_campaigns, utcnow())

    async def launch(campaign_id: UUID) -> None:
        if await asyncio.to_thread(application.launch_scheduled, campaign_id):
            log.info("launched scheduled campaign %s", campaign_id)

    return await each(due, launch, loop=LAUNCHES, quarantine=quarantine, record=_record)


class BirthdayGreetings:
    """Once a day (the first round that day a birthday campaign runs, or the worker's start)
    every known person is greeted whose birthday it is; a person released from the quarantine
    is greeted on the next round."""

    def __init__(self, application: Any, quarantine: Quarantine) -> None:
        self.application = application
        self.quarantine = quarantine
        self.greeted: date | None = None  # the day whose birthdays were all tried

    async def step(self) -> int:
        now = utcnow()
        released = await asyncio.to_thread(self.quarantine.keys, BIRTHDAYS, released=True)
        people = dict.fromkeys(UUID(key) for key in released)
        campaigns = await asyncio.to_thread(self.application.birthday_campaigns)
        if campaigns and self.greeted != now.date():
            known = await asyncio.to_thread(self._known_people)
            people.update(dict.fromkeys(known))

        async def greet(customer_id: UUID) -> None:
            await asyncio.to_thread(self.application.greet_on_birthday, customer_id, now, campaigns)

        applied = await each(
            people, greet, loop=BIRTHDAYS, quarantine=self.quarantine, record=_record
        )
        if campaigns:
            self.greeted = now.date()
        return applied

    def _known_people(self) -> list[UUID]:
        return list(self.application.aggregate_ids(AudienceProfile.Started))  # type: ignore[attr-defined]


def _record(record_id: UUID) -> RecordRef:
    return RecordRef(str(record_id), aggregate_id=str(record_id))
