"""Work the store holds for a worker loop, as a table: queued messages, automated sends.

A ``PendingIndex`` is a local projection (``crm_platform.projection``) of one aggregate's events:
the event that creates the work (``created``) makes its row pending, due at a time it names; the
events that settle it (a message sent, bounced or skipped; a send fired or dropped) clear it.
Each row keeps the version of the event it reflects and only a newer one replaces it, so that a
retried quarantine entry never makes settled work pending again.

The loop doing the work takes the pending rows due (``each_due``), oldest first, and applies
them one by one with the platform's ``each``: one that fails is quarantined and the others go
on; those its quarantine holds are left out of the query, so they never fill a page. The index
may lag behind the store, so the work checks each record's aggregate before acting on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from crm_platform.loops import each
from crm_platform.projection import LocalProjection
from crm_platform.quarantine import RecordRef

from .common import SERVICE, originator, utcnow


@dataclass(frozen=True)
class PendingRow:
    id: UUID
    due_at: datetime | None  # named by the creating event only
    position: int | None  # of the creating event: the order of work due at the same time
    pending: bool
    version: int


class PendingIndex(LocalProjection[list[PendingRow]]):
    """The pending work of one aggregate (see the module)."""

    table: ClassVar[str]
    created: ClassVar[str]  # the topic of the event that creates the work
    due_field: ClassVar[str] = "timestamp"  # its attribute saying when the work falls due

    def __init__(self, application: Application[Any], *, batch_size: int = 500) -> None:
        super().__init__(application, service=SERVICE, batch_size=batch_size)

    def create_schema(self, cursor: Any) -> None:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} (id uuid PRIMARY KEY, due_at timestamptz,"
            " position bigint, pending boolean NOT NULL, version bigint NOT NULL)"
        )
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {self.table}_due ON {self.table} (due_at, position)"
            " WHERE pending"
        )

    def compute(self, notifications: Sequence[Notification]) -> list[PendingRow]:
        rows: dict[UUID, PendingRow] = {}
        for n in notifications:
            if n.topic == self.created:
                event = self.application.mapper.to_domain_event(n)
                due_at: datetime = getattr(event, self.due_field)
                row = PendingRow(originator(n), due_at, n.id, True, n.originator_version)
            else:
                row = PendingRow(originator(n), None, None, False, n.originator_version)
            rows[row.id] = row  # in order: the last event of each record is the one in force
        return list(rows.values())

    def write(self, cursor: Any, changes: list[PendingRow]) -> None:
        if changes:
            cursor.executemany(
                f"INSERT INTO {self.table} AS p (id, due_at, position, pending, version)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE"
                " SET due_at = coalesce(EXCLUDED.due_at, p.due_at),"
                " position = coalesce(EXCLUDED.position, p.position),"
                " pending = EXCLUDED.pending, version = EXCLUDED.version"
                " WHERE p.version < EXCLUDED.version",
                [astuple(row) for row in changes],
            )

    def reset(self, cursor: Any) -> None:
        cursor.execute(f"TRUNCATE {self.table}")

    def due(self, now: datetime, limit: int, held: Sequence[str] = ()) -> list[UUID]:
        """The pending records due by ``now``, oldest first, except those keyed in ``held``."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT id FROM {self.table} WHERE pending AND due_at <= %s"
                " AND NOT (id::text = ANY(%s)) ORDER BY due_at, position LIMIT %s",
                (now, list(held), limit),
            )
            return [row["id"] for row in cursor.fetchall()]

    async def each_due(
        self,
        loop: str,
        apply: Callable[[UUID], Awaitable[Any]],
        *,
        limit: int,
        now: datetime | None = None,
    ) -> int:
        """Catch up, then ``apply`` each record due (``limit`` at most) that ``loop`` does not
        hold, quarantining under ``loop`` the one that fails; how many were applied."""
        await asyncio.to_thread(self.catch_up)
        held = await asyncio.to_thread(self.quarantine.keys, loop)
        due = await asyncio.to_thread(self.due, now or utcnow(), limit, held)
        return await each(
            due,
            apply,
            loop=loop,
            quarantine=self.quarantine,
            record=lambda record_id: RecordRef(str(record_id), aggregate_id=str(record_id)),
        )
