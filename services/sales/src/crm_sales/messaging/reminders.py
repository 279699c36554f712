"""The reminder scheduler: ``ActivityFellDue`` once an open activity's due time passes.

It runs in the sales worker next to the subscribers, as a background loop. Nothing it
needs lives in memory. Due times are in the event store; the index that finds the due activities
is rebuilt from the store and hands each one to a single worker at a time; and an activity refuses
a second ``FellDue`` for the same due time. So a worker that restarts, or a second worker, takes
over where the other stopped, and nothing falls due twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from crm_platform.context import CommandContext, command_context

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how late an ActivityFellDue may be, at most (plus one round's work)
ACTOR = "sales.reminders"


async def run_reminders(
    application: Any, stop: asyncio.Event, *, poll_seconds: float = POLL_SECONDS
) -> None:
    """Fire due activities every ``poll_seconds`` until ``stop`` is set: a worker background
    loop (``ServiceSpec.background``: ``partial(run_reminders, application)``).

    A failed round (the database restarting, say) is logged and the next one tries again: what
    a round does is durable only once committed, and the next round redoes the rest.
    """
    while not stop.is_set():
        # One correlation per round: every ActivityFellDue of the round shares it.
        context = CommandContext(correlation_id=str(uuid.uuid4()), actor=ACTOR)
        try:
            with command_context(context):
                fell_due = await asyncio.to_thread(application.fire_due_activities)
        except Exception:
            log.exception("a reminder round failed; retrying in %.1f s", poll_seconds)
        else:
            if fell_due:
                log.info("%d activities fell due", len(fell_due))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
