"""The automated sends waiting to fall due, as a table the scheduler reads.

Sends are scheduled in the event store (``AutomatedSend.Scheduled``, written with the reaction
to their triggering event) and settled there (fired or dropped). ``DueSends`` is their
``PendingIndex``: the scheduler fires the pending ones due now. Firing is the aggregate's own
state change, so a send found pending again (the index behind the store) is fired no more; each
send's row is locked while it fires (``SKIP LOCKED``), so schedulers running side by side never
wait for or fire the same send at once.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.utils import get_topic

from crm_platform.projection import topics_of

from ..domain import AutomatedSend
from .common import utcnow
from .pending import PendingIndex

if TYPE_CHECKING:  # the application class combines the module that imports this one
    from . import MarketingApplication

DUE_SENDS = "marketing-due-sends"
AUTOMATED_SENDS = "marketing-automated-sends"  # the scheduler's loop firing them
BATCH = 100


class DueSends(PendingIndex):
    application: MarketingApplication
    name = DUE_SENDS
    table = "marketing_pending_sends"
    created = get_topic(AutomatedSend.Scheduled)  # type: ignore[attr-defined]
    topics = topics_of(AutomatedSend)
    due_field = "due_at"

    async def fire_due(self, now: datetime | None = None) -> int:
        """Fire the sends due by ``now`` (a batch at most); how many were fired."""
        now = now or utcnow()
        fired = 0

        async def fire(send_id: UUID) -> None:
            nonlocal fired
            fired += await asyncio.to_thread(self.fire, send_id, now)

        await self.each_due(AUTOMATED_SENDS, fire, limit=BATCH, now=now)
        return fired

    def fire(self, send_id: UUID, now: datetime) -> bool:
        """Fire the send unless another scheduler is firing it right now (then it is skipped,
        not waited for); False when it was not fired."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"SELECT 1 FROM {self.table} WHERE id = %s FOR UPDATE SKIP LOCKED", (send_id,)
            )
            return cursor.fetchone() is not None and self.application.fire_send(send_id, now)
