"""The SLA scheduler: a loop of the worker that records breached SLA targets when they fall due.

Deadlines live in the index (``sd_tickets.next_due``, derived from the tickets), so nothing is
lost when the worker stops: each round catches the index up with the event store, then checks
every ticket due by now, page by page, earliest first. A ticket refuses a second breach of a
target, so restarts and parallel workers never record one twice.

A ticket whose check fails for a reason of its own (it cannot be loaded, a bug meets its data)
is set aside in the quarantine and skipped by later rounds until an operator releases it
(``POST /admin/quarantine/{id}/retry``); the other tickets go on. A ticket whose row the index
could not write keeps its old deadline and is checked again each round, which records nothing.
Pages follow one another by position, so neither kind holds the tickets after them back.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from uuid import UUID

from crm_platform.loops import Loop, each
from crm_platform.quarantine import Quarantine, RecordRef

from ..application import ServiceDeskApplication
from ..application.index import Due, Index
from ..contracts import SOURCE_SERVICE
from ..domain import VersionConflict

log = logging.getLogger(__name__)

LOOP = "service-desk-sla-scheduler"
PAGE = 100  # due tickets read at a time


class SlaScheduler:
    def __init__(self, application: ServiceDeskApplication) -> None:
        self.application = application
        self.quarantine = Quarantine.of(application, service=SOURCE_SERVICE)

    def loop(self, *, poll_seconds: float) -> Loop:
        """The worker's loop: a round every ``poll_seconds`` (a breach is recorded at most
        that late)."""
        return Loop(LOOP, self._step, interval=poll_seconds)

    async def round(self) -> int:
        """Record every breach that fell due; how many were recorded."""
        index = await asyncio.to_thread(self._caught_up_index)
        now = self.application.clock()
        recorded = 0

        async def check(ticket: Due) -> None:
            nonlocal recorded
            recorded += await asyncio.to_thread(self._check, ticket[1], now)

        after = None
        while due := await asyncio.to_thread(index.due_tickets, now, after, PAGE):
            await each(due, check, loop=LOOP, quarantine=self.quarantine, record=_record_of)
            if len(due) < PAGE:
                break
            after = due[-1]
        if recorded:
            log.info("recorded %d SLA breaches", recorded)
        return recorded

    async def _step(self) -> bool:
        await self.round()
        return False  # a round checked every ticket due: the next waits for the poll

    def _caught_up_index(self) -> Index:
        index = self.application.index  # its tables are created on first use
        index.catch_up()  # the deadlines of tickets opened or changed since the last round
        return index

    def _check(self, ticket_id: UUID, now: datetime) -> int:
        try:
            return self.application.record_breaches(ticket_id, now)
        except VersionConflict:
            return 0  # agents kept changing the ticket: still due, it is checked next round


def _record_of(ticket: Due) -> RecordRef:
    return RecordRef(str(ticket[1]), aggregate_id=str(ticket[1]))
