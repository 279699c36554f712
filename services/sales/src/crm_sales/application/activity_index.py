"""Where activities are found by owner, record, status and due time: an index of the activities.

The index is a projection of the stored activity events. It follows the application's
notification log and writes how far it got in the same transaction as the rows it changed, so
each event is applied exactly once, whoever runs it and however often it is interrupted; any
number of processes may call ``catch_up``, one at a time does the work (an advisory lock).

It also serves the reminder scheduler: ``due`` hands out open activities whose due time passed and
has not fallen due yet, locked (``FOR UPDATE SKIP LOCKED``) until the caller is done with them, so
that two workers never pick the same ones. Whether an activity really falls due is the aggregate's
decision, not the index's: a row that lags behind its activity costs a load, never a double event.

Only ids, kinds, owners, statuses and times are indexed; subjects and notes stay sealed in the
events (listing loads the activities themselves), so erasure has no copy here to chase.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.utils import get_topic

from ..domain.activities import Activity, ActivityKind, ActivityStatus, RecordRef

BATCH = 500
TABLE = "activity_index"
POSITION_TABLE = "activity_index_position"
_LOCK = 0x5341_4C41_4354  # "SALACT": one catching-up worker at a time
_TOPICS = {
    get_topic(cls)
    for cls in (
        Activity.Scheduled,
        Activity.Rescheduled,
        Activity.Completed,
        Activity.Cancelled,
        Activity.FellDue,
        Activity.Erased,
    )
}

# Decodes a notification without opening personal fields (the relay's view of the store).
Decode = Callable[[Notification], Any]
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

    @property
    def awaits_falling_due(self) -> bool:
        return (
            self.status is ActivityStatus.OPEN
            and not self.erased
            and (self.fell_due_for != self.due_at)
        )


@dataclass(frozen=True)
class ActivityFilter:
    owner: str | None = None
    regarding: RecordRef | None = None
    status: ActivityStatus | None = None
    kind: ActivityKind | None = None
    due_from: datetime | None = None  # inclusive
    due_before: datetime | None = None  # exclusive

    def matches(self, row: IndexRow) -> bool:
        return (
            (self.owner is None or row.owner == self.owner)
            and (
                self.regarding is None
                or (row.regarding_type, row.regarding_id)
                == (self.regarding.type.value, self.regarding.id)
            )
            and (self.status is None or row.status is self.status)
            and (self.kind is None or row.kind is self.kind)
            and (self.due_from is None or row.due_at >= self.due_from)
            and (self.due_before is None or row.due_at < self.due_before)
        )


def fold(row: IndexRow | None, domain_event: Any) -> IndexRow | None:
    """The row after ``domain_event``; events at or below the row's version change nothing."""
    version = domain_event.originator_version
    if isinstance(domain_event, Activity.Scheduled):
        if row is not None:
            return row
        return IndexRow(
            activity_id=domain_event.originator_id,
            kind=ActivityKind(domain_event.kind),
            owner=domain_event.owner,
            regarding_type=domain_event.regarding_type,
            regarding_id=domain_event.regarding_id,
            status=ActivityStatus.OPEN,
            due_at=domain_event.due_at,
            fell_due_for=None,
            erased=False,
            version=version,
        )
    if row is None or version <= row.version:
        return row
    changes: dict[str, Any] = {}
    if isinstance(domain_event, Activity.Rescheduled):
        changes["due_at"] = domain_event.due_at
    elif isinstance(domain_event, Activity.Completed):
        changes["status"] = ActivityStatus.COMPLETED
    elif isinstance(domain_event, Activity.Cancelled):
        changes["status"] = ActivityStatus.CANCELLED
    elif isinstance(domain_event, Activity.FellDue):
        changes["fell_due_for"] = domain_event.due_at
    elif isinstance(domain_event, Activity.Erased):
        changes["erased"] = True
    return replace(row, version=version, **changes)


def activity_events(notifications: Sequence[Notification], decode: Decode) -> Iterator[Any]:
    """The activity events among ``notifications``, decoded; the others are not even decoded."""
    return (decode(n) for n in notifications if n.topic in _TOPICS)


class ActivityIndex(ABC):
    @abstractmethod
    def catch_up(self, recorder: ApplicationRecorder, decode: Decode) -> int:
        """Apply the notifications recorded since the last call; returns how many were read."""

    @abstractmethod
    def find(self, where: ActivityFilter, after: After | None, limit: int) -> list[After]:
        """(due_at, id) of the matching activities, by due time then id, after ``after``."""

    @abstractmethod
    def regarding(self, record: RecordRef) -> list[UUID]:
        """Every activity about ``record`` (erased ones included)."""

    @abstractmethod
    def due(self, now: datetime, limit: int) -> Any:
        """A context manager: ids of open activities due by ``now`` that have not fallen due for
        their due time, reserved for the caller until it exits."""


class MemoryActivityIndex(ActivityIndex):
    """For the in-memory (POPO) event store of unit tests: the same folding and filtering."""

    def __init__(self) -> None:
        self.rows: dict[UUID, IndexRow] = {}
        self.position = 0
        self._lock = threading.Lock()

    def catch_up(self, recorder: ApplicationRecorder, decode: Decode) -> int:
        read = 0
        with self._lock:
            while notifications := recorder.select_notifications(
                start=self.position + 1, limit=BATCH
            ):
                for domain_event in activity_events(notifications, decode):
                    row = fold(self.rows.get(domain_event.originator_id), domain_event)
                    if row is not None:
                        self.rows[row.activity_id] = row
                self.position = notifications[-1].id
                read += len(notifications)
        return read

    def find(self, where: ActivityFilter, after: After | None, limit: int) -> list[After]:
        keys = sorted((r.due_at, r.activity_id) for r in self.rows.values() if where.matches(r))
        return [key for key in keys if after is None or key > after][:limit]

    def regarding(self, record: RecordRef) -> list[UUID]:
        return [
            r.activity_id for r in self.rows.values() if ActivityFilter(regarding=record).matches(r)
        ]

    @contextmanager
    def due(self, now: datetime, limit: int) -> Iterator[list[UUID]]:
        with self._lock:
            rows = sorted(
                (r for r in self.rows.values() if r.awaits_falling_due and r.due_at <= now),
                key=lambda r: (r.due_at, r.activity_id),
            )
            yield [r.activity_id for r in rows[:limit]]


class PostgresActivityIndex(ActivityIndex):
    """The index as a table of the sales database, its position in another, reached through the
    application's connection pool (``datastore``: eventsourcing's PostgresDatastore)."""

    def __init__(self, datastore: Any, *, create_tables: bool) -> None:
        self._datastore = datastore
        if create_tables:
            with datastore.transaction(commit=True) as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))  # CREATEs race
                for statement in _SCHEMA:
                    cursor.execute(statement)

    def catch_up(self, recorder: ApplicationRecorder, decode: Decode) -> int:
        read = 0
        while True:
            batch = self._apply_batch(recorder, decode)
            read += batch
            if batch < BATCH:
                return read

    def _apply_batch(self, recorder: ApplicationRecorder, decode: Decode) -> int:
        with self._datastore.transaction(commit=True) as cursor:
            # Waiting for a concurrent catch-up (rather than skipping it) means that afterwards
            # the index holds everything committed before the call: a client reads its writes.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            cursor.execute(
                f"SELECT notification_id FROM {POSITION_TABLE} WHERE name = %s", (TABLE,)
            )
            found = cursor.fetchone()
            position = found["notification_id"] if found else 0
            notifications = recorder.select_notifications(start=position + 1, limit=BATCH)
            if not notifications:
                return 0
            events = list(activity_events(notifications, decode))
            rows = self._rows(cursor, {e.originator_id for e in events})
            for domain_event in events:
                row = fold(rows.get(domain_event.originator_id), domain_event)
                if row is not None:
                    rows[row.activity_id] = row
            if rows:
                cursor.executemany(_UPSERT, [_values(row) for row in rows.values()])
            cursor.execute(
                f"INSERT INTO {POSITION_TABLE} (name, notification_id) VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET notification_id = EXCLUDED.notification_id",
                (TABLE, notifications[-1].id),
            )
            return len(notifications)

    def _rows(self, cursor: Any, ids: set[UUID]) -> dict[UUID, IndexRow]:
        if not ids:
            return {}
        cursor.execute(f"SELECT {_COLUMNS} FROM {TABLE} WHERE activity_id = ANY(%s)", (list(ids),))
        return {found["activity_id"]: _row(found) for found in cursor.fetchall()}

    def find(self, where: ActivityFilter, after: After | None, limit: int) -> list[After]:
        clauses, params = _where(where)
        if after is not None:
            clauses.append("(due_at, activity_id) > (%s, %s)")
            params += list(after)
        sql = f"SELECT due_at, activity_id FROM {TABLE}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY due_at, activity_id LIMIT %s"
        return [(r["due_at"], r["activity_id"]) for r in self._select(sql, [*params, limit])]

    def regarding(self, record: RecordRef) -> list[UUID]:
        found = self._select(
            f"SELECT activity_id FROM {TABLE} WHERE regarding_type = %s AND regarding_id = %s",
            [record.type.value, record.id],
        )
        return [r["activity_id"] for r in found]

    @contextmanager
    def due(self, now: datetime, limit: int) -> Iterator[list[UUID]]:
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"SELECT activity_id FROM {TABLE}"
                " WHERE status = 'open' AND NOT erased AND due_at <= %s"
                " AND fell_due_for IS DISTINCT FROM due_at"
                " ORDER BY due_at, activity_id LIMIT %s FOR UPDATE SKIP LOCKED",
                (now, limit),
            )
            yield [r["activity_id"] for r in cursor.fetchall()]

    def _select(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        with self._datastore.transaction() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())


_COLUMNS = (
    "activity_id, kind, owner, regarding_type, regarding_id, status, due_at, fell_due_for,"
    " erased, version"
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
    f"CREATE TABLE IF NOT EXISTS {POSITION_TABLE} ("
    " name text PRIMARY KEY, notification_id bigint NOT NULL)",
)
# Rows only move forward: a row of an older version never overwrites a newer one.
_UPSERT = (
    f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (activity_id) DO UPDATE SET status = EXCLUDED.status,"
    " due_at = EXCLUDED.due_at, fell_due_for = EXCLUDED.fell_due_for,"
    f" erased = EXCLUDED.erased, version = EXCLUDED.version WHERE {TABLE}.version < EXCLUDED.version"
)


def _values(row: IndexRow) -> tuple[Any, ...]:
    return (
        row.activity_id,
        row.kind.value,
        row.owner,
        row.regarding_type,
        row.regarding_id,
        row.status.value,
        row.due_at,
        row.fell_due_for,
        row.erased,
        row.version,
    )


def _where(where: ActivityFilter) -> tuple[list[str], list[Any]]:
    conditions: list[tuple[str, Any]] = []
    if where.owner is not None:
        conditions.append(("owner = %s", where.owner))
    if where.regarding is not None:
        conditions += [
            ("regarding_type = %s", where.regarding.type.value),
            ("regarding_id = %s", where.regarding.id),
        ]
    if where.status is not None:
        conditions.append(("status = %s", where.status.value))
    if where.kind is not None:
        conditions.append(("kind = %s", where.kind.value))
    if where.due_from is not None:
        conditions.append(("due_at >= %s", where.due_from))
    if where.due_before is not None:
        conditions.append(("due_at < %s", where.due_before))
    return [c for c, _ in conditions], [p for _, p in conditions]


def _row(found: dict[str, Any]) -> IndexRow:
    return IndexRow(
        **{
            **found,
            "kind": ActivityKind(found["kind"]),
            "status": ActivityStatus(found["status"]),
        }
    )
