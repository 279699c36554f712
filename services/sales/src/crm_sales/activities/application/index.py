"""Where activities are found by owner, record, status and due time: an index of the activities.

A read model of the sales database (``read_models``: a local projection of the notification log,
kept current by the worker, caught up by every query), one row per activity.

It also serves the reminder scheduler: ``due`` lists open activities whose due time passed and
that have not fallen due for it yet. Whether an activity really falls due is the aggregate's
decision, not the index's: a row that lags behind its activity costs a load, never a double
event, and of two workers firing the same activity one saves and the other meets a conflict.

Only ids, kinds, owners, statuses and times are indexed; subjects and notes stay sealed in the
events (listing loads the activities themselves), so erasure has no copy here to chase.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from ...shared.application.read_models import AggregateRows, Where, upsert
from ...stored_topics import stored_topics_of
from ..domain.activities import Activity, ActivityKind, ActivityStatus, RecordRef

PROJECTION = "sales-activities"
TABLE = "activity_index"
After = tuple[datetime, UUID]  # the (due_at, id) of the last item of the previous page


@dataclass(frozen=True)
class IndexRow:
    activity_id: UUID
    kind: ActivityKind
    owner: str
    regarding_type: str
    regarding_id: UUID
    status: ActivityStatus
    due_at: datetime
    fell_due_for: datetime | None
    erased: bool
    version: int

    @classmethod
    def of(cls, activity: Activity) -> IndexRow:
        return cls(
            activity_id=activity.id,
            kind=activity.kind,
            owner=activity.owner,
            regarding_type=activity.regarding.type.value,
            regarding_id=activity.regarding.id,
            status=activity.status,
            due_at=activity.due_at,
            fell_due_for=activity.fell_due_for,
            erased=activity.erased_at is not None,
            version=activity.version,
        )

    def values(self) -> tuple[Any, ...]:
        return (
            self.activity_id,
            self.kind.value,
            self.owner,
            self.regarding_type,
            self.regarding_id,
            self.status.value,
            self.due_at,
            self.fell_due_for,
            self.erased,
            self.version,
        )


@dataclass(frozen=True)
class ActivityFilter:
    owner: str | None = None
    regarding: RecordRef | None = None
    status: ActivityStatus | None = None
    kind: ActivityKind | None = None
    due_from: datetime | None = None  # inclusive
    due_before: datetime | None = None  # exclusive

    def where(self) -> Where:
        where = Where()
        where.add("owner = %s", self.owner)
        if self.regarding is not None:
            where.add("regarding_type = %s", self.regarding.type.value)
            where.add("regarding_id = %s", self.regarding.id)
        where.add("status = %s", self.status and self.status.value)
        where.add("kind = %s", self.kind and self.kind.value)
        where.add("due_at >= %s", self.due_from)
        where.add("due_at < %s", self.due_before)
        return where


_COLUMNS = (
    "activity_id",
    "kind",
    "owner",
    "regarding_type",
    "regarding_id",
    "status",
    "due_at",
    "fell_due_for",
    "erased",
    "version",
)
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    " activity_id uuid PRIMARY KEY, kind text NOT NULL, owner text NOT NULL,"
    " regarding_type text NOT NULL, regarding_id uuid NOT NULL, status text NOT NULL,"
    " due_at timestamptz NOT NULL, fell_due_for timestamptz, erased boolean NOT NULL,"
    " version integer NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_owner ON {TABLE} (owner, due_at, activity_id)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_regarding"
    f" ON {TABLE} (regarding_type, regarding_id, due_at, activity_id)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE} (due_at, activity_id)"
    " WHERE status = 'open' AND NOT erased",
)


class ActivityIndex(AggregateRows[IndexRow]):
    """The read model (see the module): the worker's ``loop()``; queries catch up first."""

    name = PROJECTION
    topics = stored_topics_of(Activity)

    def create_schema(self, cursor: Any) -> None:
        for statement in _SCHEMA:
            cursor.execute(statement)

    def row(self, aggregate: Any, position: int) -> IndexRow:
        return IndexRow.of(aggregate)

    def write(self, cursor: Any, changes: list[IndexRow]) -> None:
        upsert(cursor, TABLE, _COLUMNS, [row.values() for row in changes])

    def reset(self, cursor: Any) -> None:
        cursor.execute(f"TRUNCATE {TABLE}")

    # --- queries (each catches up first) --------------------------------------------------------

    def find(self, where: ActivityFilter, after: After | None, limit: int) -> list[After]:
        """(due_at, id) of the matching activities, by due time then id, after ``after``."""
        conditions = where.where()
        conditions.add("(due_at, activity_id) > (%s, %s)", after)
        found = self.select(
            f"SELECT due_at, activity_id FROM {TABLE}{conditions}"
            " ORDER BY due_at, activity_id LIMIT %s",
            [*conditions.params, limit],
        )
        return [(row["due_at"], row["activity_id"]) for row in found]

    def regarding(self, *records: RecordRef) -> list[UUID]:
        """Every activity about any of ``records`` (erased ones included)."""
        found = self.select(
            f"SELECT activity_id FROM {TABLE} WHERE (regarding_type, regarding_id)"
            " IN (SELECT * FROM unnest(%s::text[], %s::uuid[]))",
            ([r.type.value for r in records], [r.id for r in records]),
        )
        return [row["activity_id"] for row in found]

    def due(self, now: datetime, limit: int, *, skip: Collection[UUID] = ()) -> list[UUID]:
        """Open activities due by ``now`` that have not fallen due for their due time, oldest
        first, but those in ``skip`` (held by the scheduler's quarantine)."""
        found = self.select(
            f"SELECT activity_id FROM {TABLE}"
            " WHERE status = 'open' AND NOT erased AND due_at <= %s"
            " AND fell_due_for IS DISTINCT FROM due_at AND activity_id <> ALL(%s)"
            " ORDER BY due_at, activity_id LIMIT %s",
            (now, list(skip), limit),
        )
        return [row["activity_id"] for row in found]
