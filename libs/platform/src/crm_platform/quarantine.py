"""Records a loop could not handle, set aside so that the loop goes on: the quarantine.

One mechanism, two stores: ``Quarantine`` keeps the entries in a table of the service's
PostgreSQL database (``platform_quarantine``), beside its events; ``MongoQuarantine``
(``quarantine_mongo``) in a collection of a service that keeps its state in MongoDB (analytics),
beside its read models. Both are a ``QuarantineStore``, which the loops (``loops.each``) and the
admin routes (``web.admin``) use. A loop (a projection, a scheduler, a
mailer) that fails on one record for a reason other than a server being down (``failures``)
``put``s it here and carries on with the next; the entry says which loop, which record (its key,
and where known its position, event id, aggregate id and trace id), what went wrong, how often
and when. At most one entry per loop and record is *open* (not resolved): a record failing again
counts another attempt on it.

An open entry *holds* its record (``is_held``): a loop that meets the record again skips it.
``release`` lets the loop try it again (after a fix was deployed, say); the loop resolves the
entry when it succeeds, and a new failure holds it again. ``resolve`` closes an entry by hand.
A projection instead retries a record itself, at once (``LocalProjection.retry``).

    quarantine = Quarantine.of(application, service="sales")
    quarantine.put("sales-reminders", RecordRef(str(activity_id)), error)

In PostgreSQL, ``put`` also works inside the caller's transaction (``cursor=``), so that setting a
record aside and moving past it commit together. Every put is logged at ERROR and counted
(``crm_quarantined_total``); ``crm_quarantine_open`` shows the open entries per loop.
"""

from __future__ import annotations

import builtins
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from opentelemetry import trace

from .metrics import QUARANTINE_OPEN, QUARANTINED
from .text import strip_unsafe

log = logging.getLogger(__name__)

TABLE = "platform_quarantine"
MAX_ERROR_CHARS = 4000
MAX_KEY_CHARS = 500

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigserial PRIMARY KEY,
    loop text NOT NULL,
    record_key text NOT NULL,
    position bigint,
    event_id text,
    aggregate_id text,
    error_type text NOT NULL,
    error text NOT NULL,
    trace_id text,
    attempts integer NOT NULL DEFAULT 1,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz,
    resolved_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS {TABLE}_open ON {TABLE} (loop, record_key)
    WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS {TABLE}_by_loop ON {TABLE} (loop, id);
"""
_COLUMNS = (
    "id, loop, record_key, position, event_id, aggregate_id, error_type, error, trace_id,"
    " attempts, first_failed_at, last_failed_at, released_at, resolved_at"
)
# A failure again of an open entry: one more attempt, the newest error, held again.
_PUT = f"""
INSERT INTO {TABLE} AS q (loop, record_key, position, event_id, aggregate_id, error_type, error,
    trace_id)
VALUES (%(loop)s, %(key)s, %(position)s, %(event_id)s, %(aggregate_id)s, %(error_type)s,
    %(error)s, %(trace_id)s)
ON CONFLICT (loop, record_key) WHERE resolved_at IS NULL DO UPDATE SET
    attempts = q.attempts + 1, error_type = EXCLUDED.error_type, error = EXCLUDED.error,
    trace_id = COALESCE(EXCLUDED.trace_id, q.trace_id), last_failed_at = now(),
    released_at = NULL
RETURNING id
"""


class State(StrEnum):
    """Which entries a list shows: open ones (held or released), resolved ones, or all."""

    OPEN = "open"
    RESOLVED = "resolved"
    ALL = "all"


@dataclass(frozen=True)
class RecordRef:
    """What identifies a record in its loop (``key``: unique per loop), and what helps find it."""

    key: str
    position: int | None = None
    event_id: str | None = None
    aggregate_id: str | None = None
    trace_id: str | None = None


@dataclass(frozen=True)
class Entry:
    id: int
    loop: str
    record_key: str
    position: int | None
    event_id: str | None
    aggregate_id: str | None
    error_type: str
    error: str
    trace_id: str | None
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    released_at: datetime | None
    resolved_at: datetime | None

    @property
    def state(self) -> str:
        """``held`` (the loop skips the record), ``released`` (it tries again) or ``resolved``."""
        if self.resolved_at is not None:
            return "resolved"
        return "held" if self.released_at is None else "released"


@dataclass(frozen=True)
class EntryPage:
    items: builtins.list[Entry]
    next_after: int | None  # pass as ``after`` for the next page; None on the last one


def safe_text(text: str, limit: int) -> str:
    """``text`` without what PostgreSQL text or a log line cannot hold (NUL, controls, lone
    surrogates), cut to ``limit`` characters: an error's own text may quote the poison."""
    kept = strip_unsafe(text, multiline=True)
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


class QuarantineStore(ABC):
    """What every store of the quarantine does (see the module), and what they share: the entry
    made safe to keep, the log line and counter of each put, the gauge of open entries."""

    def __init__(self, *, service: str) -> None:
        self.service = service
        self._gauged: set[str] = set()

    @abstractmethod
    def create_table(self) -> None:
        """Create what the store keeps its entries in (idempotent)."""

    @abstractmethod
    def put(self, loop: str, record: RecordRef, error: BaseException) -> int:
        """Set ``record`` aside for ``loop`` because of ``error``; the entry's id."""

    @abstractmethod
    def open_entries(self, loop: str, keys: Sequence[str]) -> dict[str, Entry]:
        """The open entries of ``loop`` among ``keys`` (held and released), by key."""

    @abstractmethod
    def keys(self, loop: str, *, released: bool = False) -> builtins.list[str]:
        """The keys of the records ``loop`` holds (or has released), oldest first."""

    @abstractmethod
    def list(
        self,
        *,
        loop: str | None = None,
        state: State = State.OPEN,
        after: int | None = None,
        limit: int = 50,
    ) -> EntryPage:
        """Entries oldest first, ``limit`` at a time after the entry id ``after``."""

    @abstractmethod
    def get(self, entry_id: int) -> Entry | None: ...

    @abstractmethod
    def release(self, entry_id: int) -> Entry | None:
        """Let the loop try the record again; the entry (a resolved one stays as it is)."""

    @abstractmethod
    def resolve(self, entry_id: int) -> Entry | None:
        """Close the entry (the record succeeded, or needs nothing more); the entry."""

    @abstractmethod
    def refresh_gauge(self) -> None:
        """Set ``crm_quarantine_open`` from the store."""

    def is_held(self, loop: str, key: str) -> bool:
        """True while an open entry that was not released holds this record."""
        entry = self.open_entries(loop, [key]).get(key)
        return entry is not None and entry.released_at is None

    def _failure(self, loop: str, record: RecordRef, error: BaseException) -> dict[str, Any]:
        """What an entry keeps of a failure, made safe to store and to show."""
        return {
            "loop": loop,
            "key": safe_text(record.key, MAX_KEY_CHARS),
            "position": record.position,
            "event_id": record.event_id and safe_text(record.event_id, MAX_KEY_CHARS),
            "aggregate_id": record.aggregate_id and safe_text(record.aggregate_id, MAX_KEY_CHARS),
            "error_type": f"{type(error).__module__}.{type(error).__qualname__}",
            "error": safe_text(repr(error), MAX_ERROR_CHARS),
            "trace_id": record.trace_id or current_trace_id(),
        }

    def _counted(self, failure: dict[str, Any], entry_id: int) -> None:
        QUARANTINED.labels(self.service, failure["loop"]).inc()
        log.error(
            "quarantined record %s of %s (entry %s, trace %s): %s",
            failure["key"],
            failure["loop"],
            entry_id,
            failure["trace_id"],
            failure["error"],
        )

    def _gauge(self, counts: dict[str, int]) -> None:
        """Open entries per loop; a loop whose entries all closed goes back to 0."""
        for loop in self._gauged | counts.keys():
            QUARANTINE_OPEN.labels(self.service, loop).set(counts.get(loop, 0))
        self._gauged |= counts.keys()


class Quarantine(QuarantineStore):
    """The quarantine in a service's PostgreSQL database (see the module)."""

    def __init__(self, datastore: PostgresDatastore, *, service: str) -> None:
        super().__init__(service=service)
        self.datastore = datastore

    @classmethod
    def of(cls, application: Any, *, service: str) -> Quarantine:
        """The quarantine in the database of an eventsourcing application on PostgreSQL."""
        datastore = getattr(application.recorder, "datastore", None)
        if not isinstance(datastore, PostgresDatastore):
            raise TypeError("the quarantine needs the application on PostgreSQL")
        return cls(datastore, service=service)

    def create_table(self, cursor: Any = None) -> None:
        """Idempotent; serialised, since concurrent CREATE ... IF NOT EXISTS race."""
        with self._cursor(cursor, commit=True) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
            cur.execute(SCHEMA)

    def put(self, loop: str, record: RecordRef, error: BaseException, *, cursor: Any = None) -> int:
        """Set ``record`` aside for ``loop`` because of ``error``; the entry's id. With ``cursor``
        it is written in the caller's transaction (and counted even if that rolls back)."""
        values = self._failure(loop, record, error)
        with self._cursor(cursor, commit=True) as cur:
            cur.execute(_PUT, values)
            row = cur.fetchone()
        self._counted(values, row["id"])
        if cursor is None:
            self.refresh_gauge()
        return int(row["id"])

    def open_entries(self, loop: str, keys: Sequence[str]) -> dict[str, Entry]:
        """The open entries of ``loop`` among ``keys`` (held and released), by key: one query."""
        if not keys:
            return {}
        rows = self._fetch(
            f"SELECT {_COLUMNS} FROM {TABLE}"
            " WHERE loop = %s AND record_key = ANY(%s) AND resolved_at IS NULL",
            (loop, builtins.list(keys)),
        )
        entries = (Entry(**row) for row in rows)
        return {entry.record_key: entry for entry in entries}

    def keys(self, loop: str, *, released: bool = False) -> builtins.list[str]:
        """The keys of the records ``loop`` holds (or, ``released``, has let go to be tried
        again), oldest first: few, each one an alert. A loop that reads its work with a LIMIT
        leaves the held ones out in its query, else they could fill every page."""
        state = "NOT NULL" if released else "NULL"
        rows = self._fetch(
            f"SELECT record_key FROM {TABLE} WHERE loop = %s AND resolved_at IS NULL"
            f" AND released_at IS {state} ORDER BY id",
            (loop,),
        )
        return [row["record_key"] for row in rows]

    def aggregate_ids(self, loop: str) -> builtins.list[str]:
        """The aggregates of the records ``loop`` has open entries for (held or released), each
        once, oldest first: few, each one an alert."""
        rows = self._fetch(
            f"SELECT aggregate_id FROM {TABLE} WHERE loop = %s AND resolved_at IS NULL"
            " AND aggregate_id IS NOT NULL GROUP BY aggregate_id ORDER BY min(id)",
            (loop,),
        )
        return [row["aggregate_id"] for row in rows]

    def list(
        self,
        *,
        loop: str | None = None,
        state: State = State.OPEN,
        after: int | None = None,
        limit: int = 50,
    ) -> EntryPage:
        """Entries oldest first, ``limit`` at a time after the entry id ``after``."""
        clauses, params = ["id > %s"], list[int | str]([after or 0])
        if loop is not None:
            clauses.append("loop = %s")
            params.append(loop)
        if state is State.OPEN:
            clauses.append("resolved_at IS NULL")
        elif state is State.RESOLVED:
            clauses.append("resolved_at IS NOT NULL")
        rows = self._fetch(
            f"SELECT {_COLUMNS} FROM {TABLE} WHERE {' AND '.join(clauses)} ORDER BY id LIMIT %s",
            (*params, limit + 1),
        )
        items = [Entry(**row) for row in rows[:limit]]
        return EntryPage(items, items[-1].id if len(rows) > limit else None)

    def get(self, entry_id: int) -> Entry | None:
        rows = self._fetch(f"SELECT {_COLUMNS} FROM {TABLE} WHERE id = %s", (entry_id,))
        return Entry(**rows[0]) if rows else None

    def release(self, entry_id: int) -> Entry | None:
        """Let the loop try the record again; the entry, None if there is none. A resolved
        entry stays as it is."""
        return self._change(entry_id, "released_at = COALESCE(released_at, now())")

    def resolve(self, entry_id: int, *, cursor: Any = None) -> Entry | None:
        """Close the entry (the record succeeded, or needs nothing more); the entry."""
        return self._change(entry_id, "resolved_at = now()", cursor=cursor)

    def resolve_all(self, loop: str, *, cursor: Any = None) -> None:
        """Close every open entry of ``loop`` (a rebuild meets their records again)."""
        with self._cursor(cursor, commit=True) as cur:
            cur.execute(
                f"UPDATE {TABLE} SET resolved_at = now() WHERE loop = %s AND resolved_at IS NULL",
                (loop,),
            )

    def refresh_gauge(self) -> None:
        """Set ``crm_quarantine_open`` from the table: one small query on the open entries."""
        rows = self._fetch(
            f"SELECT loop, count(*) AS open FROM {TABLE} WHERE resolved_at IS NULL GROUP BY loop",
            (),
        )
        self._gauge({row["loop"]: row["open"] for row in rows})

    def _change(self, entry_id: int, assignment: str, *, cursor: Any = None) -> Entry | None:
        with self._cursor(cursor, commit=True) as cur:
            cur.execute(
                f"UPDATE {TABLE} SET {assignment} WHERE id = %s AND resolved_at IS NULL",
                (entry_id,),
            )
            cur.execute(f"SELECT {_COLUMNS} FROM {TABLE} WHERE id = %s", (entry_id,))
            row = cur.fetchone()
        if cursor is None:
            self.refresh_gauge()
        return Entry(**row) if row else None

    def _fetch(self, statement: str, params: Sequence[Any]) -> builtins.list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()

    @contextmanager
    def _cursor(self, cursor: Any, *, commit: bool) -> Iterator[Any]:
        if cursor is not None:
            yield cursor
            return
        with self.datastore.transaction(commit=commit) as own:
            yield own
