"""The reminder scheduler: ``ActivityFellDue`` once an open activity's due time passes.

A loop of the sales worker (``crm_platform.loops.Loop``). Nothing it needs lives in memory: due
times are in the event store, the activity index finds the due activities, and an activity
refuses a second ``FellDue`` for the same due time (of two workers firing it, one saves and the
other meets the conflict). So a worker that restarts, or a second worker, takes over where the
other stopped, and nothing falls due twice.

Each activity is fired on its own (``crm_platform.loops.each``): one that fails for a reason of
its own is set aside in the quarantine and the round goes on with the others. Later rounds leave
it out until an operator releases it (``POST /admin/quarantine/{id}/retry``); the next round then
fires it if it is still due, and resolves the entry once that succeeds or is no longer needed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import UUID

from crm_platform.context import CommandContext, command_context
from crm_platform.loops import Loop, each
from crm_platform.quarantine import Quarantine, RecordRef

from ..shared.application.read_models import SERVICE

log = logging.getLogger(__name__)

LOOP = "sales-reminders"
POLL_SECONDS = 1.0  # how late an ActivityFellDue may be, at most (plus one round's work)
ACTOR = "sales.reminders"


def reminders(application: Any, *, poll_seconds: float = POLL_SECONDS) -> Loop:
    """The worker's loop: a round every ``poll_seconds``, at once again after a busy one."""
    quarantine = Quarantine.of(application, service=SERVICE)
    return Loop(
        LOOP,
        partial(fire_due, application, quarantine),
        interval=poll_seconds,
        setup=quarantine.create_table,
    )


async def fire_due(
    application: Any, quarantine: Quarantine, *, now: datetime | None = None
) -> list[UUID]:
    """One round: fire the activities due by ``now`` (and those an operator released), but
    those the quarantine holds; the ids of those that fell due now."""
    moment = now or datetime.now(UTC)
    fell_due: list[UUID] = []

    async def fire(activity_id: UUID) -> None:
        if await asyncio.to_thread(application.fire_activity, activity_id, moment):
            fell_due.append(activity_id)

    # One correlation per round: every ActivityFellDue of the round shares it.
    with command_context(CommandContext(correlation_id=str(uuid.uuid4()), actor=ACTOR)):
        held, released = await asyncio.to_thread(_quarantined, quarantine)
        due = await asyncio.to_thread(application.due_activities, moment, skip=held)
        retried = [activity_id for activity_id in released if activity_id not in due]
        await each([*due, *retried], fire, loop=LOOP, quarantine=quarantine, record=_record)
    if fell_due:
        log.info("%d activities fell due", len(fell_due))
    return fell_due


def _quarantined(quarantine: Quarantine) -> tuple[set[UUID], set[UUID]]:
    """The activities the quarantine holds for the scheduler, and those released from it."""
    held: set[UUID] = set()
    released: set[UUID] = set()
    after = None
    while True:
        page = quarantine.list(loop=LOOP, after=after, limit=500)
        for entry in page.items:
            (held if entry.state == "held" else released).add(UUID(entry.record_key))
        if (after := page.next_after) is None:
            return held, released


def _record(activity_id: UUID) -> RecordRef:
    return RecordRef(str(activity_id), aggregate_id=str(activity_id))
