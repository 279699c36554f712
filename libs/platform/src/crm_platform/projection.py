"""The one mechanism for a read model kept in a service's own PostgreSQL database: LocalProjection.

A local projection follows the application's notification log (the recorder's
``select_notifications``) and keeps tables beside the events. A subclass says what it is:

    class TicketIndex(LocalProjection[list[Row]]):
        name = "service-desk-index"                  # its position, its quarantine loop
        topics = topics_of(Ticket)                   # stored-event topic prefixes it reads

        def create_schema(self, cursor): ...         # CREATE TABLE IF NOT EXISTS ...
        def compute(self, notifications): ...        # rows from notifications, no transaction
        def compute_one(self, notification): ...     # optional: one alone (retries)
        def write(self, cursor, rows): ...           # upserts, inside the transaction
        def reset(self, cursor): ...                 # TRUNCATE, for a rebuild

    index = TicketIndex(application, service="service-desk")
    background = [index.loop()]                      # the worker keeps it current

The platform keeps the position (one row per projection in ``platform_projection_positions``),
reads batches after it, lets ``compute`` work outside any transaction (a transaction left idle
while Python works would be ended by the server's idle timeout), then writes the changes and the
new position in one transaction, holding the position row's lock: of several workers only one
applies a batch, the others read on after it. So each notification takes effect once.

A batch that fails for a reason other than a server being down (``failures``) is applied again
one notification at a time; the one that still fails goes to the quarantine (``quarantine``)
in the same transaction that moves the position past it, and the projection goes on. A server
being down is raised to the loop, which waits and retries the same batch.

``retry(entry)`` applies a quarantined notification again at once (after a fix): resolved when it
succeeds, still open with the new error when not. A retry, like a rebuild racing the loop,
applies an OLD notification after newer ones: ``write`` must be idempotent and version-guarded
(an upsert only replaces a row of an older aggregate version; a removal leaves a tombstone with
its version, so that an older state does not bring the row back). Prefer computing a record's
state from the aggregate rather than from the notification's own payload.

A record in quarantine has no row, or a stale one: whoever must find *every* record of someone
in the tables (an erasure, before it is confirmed) also looks at ``quarantined_aggregates``.

Why not eventsourcing's ``ProjectionRunner``: it constructs its own application, follows it with
threads of its own, applies one event per transaction and stops at the first error; its tracking
recorder only moves forward, so a rebuild cannot reset it. The idea is the same (the view and its
position change in one transaction); this adds batches, the quarantine and the worker's loop.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import get_topic

from .eventstore import read_metadata
from .failures import is_transient
from .loops import Loop
from .metrics import PROJECTION_LAG
from .quarantine import Entry, Quarantine, RecordRef

log = logging.getLogger(__name__)

POSITIONS = "platform_projection_positions"
_POSITIONS_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {POSITIONS} (
    name text PRIMARY KEY,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""
C = TypeVar("C")  # what ``compute`` returns and ``write`` writes
A = TypeVar("A")  # the aggregates asked for (``quarantined_aggregates``)


def datastore_of(application: Application[Any]) -> PostgresDatastore:
    """The application's PostgreSQL datastore: local read models live beside its events."""
    datastore = getattr(application.recorder, "datastore", None)
    if not isinstance(datastore, PostgresDatastore):
        raise TypeError("a local projection needs the application on PostgreSQL")
    return datastore


def topics_of(*aggregates: type) -> tuple[str, ...]:
    """Topic prefixes of every event of these aggregate classes (``module:Class.``)."""
    return tuple(f"{get_topic(aggregate)}." for aggregate in aggregates)


class LocalProjection(ABC, Generic[C]):
    """A read model in the service's database, kept from its notification log (see the module)."""

    name: ClassVar[str]
    # Prefixes of the stored events' topics the projection reads (``topics_of``); empty: all.
    # Others are skipped without a call, and the position moves past them all the same.
    topics: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, application: Application[Any], *, service: str, batch_size: int = 500
    ) -> None:
        self.application = application
        self.datastore = datastore_of(application)
        self.quarantine = Quarantine(self.datastore, service=service)
        self.service = service
        self.batch_size = batch_size
        self.last_lag: int | None = None  # as of the last step; None before the first

    # --- what a subclass gives ------------------------------------------------------------

    @abstractmethod
    def create_schema(self, cursor: Any) -> None:
        """Create the projection's tables if missing (serialised with every other creation)."""

    @abstractmethod
    def compute(self, notifications: Sequence[Notification]) -> C:
        """The changes these notifications (of the ``topics``, in order) make; no transaction
        is open. It may read the application (load aggregates) and the projection's tables."""

    def compute_one(self, notification: Notification) -> C:
        """The changes of one notification alone: when its batch failed, and for a retry. A
        state-based projection may give the record's *current* state here, so that a record
        corrected by later events applies (and its quarantine entry resolves) at once."""
        return self.compute([notification])

    @abstractmethod
    def write(self, cursor: Any, changes: C) -> None:
        """Write ``changes`` in the transaction of ``cursor``: idempotent and version-guarded."""

    @abstractmethod
    def reset(self, cursor: Any) -> None:
        """Empty the projection's tables, for a rebuild from the first notification."""

    # --- the platform ---------------------------------------------------------------------

    def create_tables(self) -> None:
        """The positions, the quarantine and the projection's tables; idempotent."""
        with self.datastore.transaction(commit=True) as cursor:
            # Concurrent CREATE ... IF NOT EXISTS race on the catalogue: serialise them.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (POSITIONS,))
            cursor.execute(_POSITIONS_SCHEMA)
            self.quarantine.create_table(cursor)
            self.create_schema(cursor)
            cursor.execute(
                f"INSERT INTO {POSITIONS} (name, position) VALUES (%s, 0) ON CONFLICT DO NOTHING",
                (self.name,),
            )
        self.quarantine.refresh_gauge()

    def position(self) -> int:
        """The id of the last notification the projection reflects (0 before the first)."""
        with self.datastore.transaction(commit=False) as cursor:
            return self._position(cursor, lock=False)

    def lag(self) -> int:
        """Notifications recorded and not applied yet."""
        newest = self.application.recorder.max_notification_id() or 0
        return max(0, newest - self.position())

    def step(self) -> int:
        """Apply the next batch; how many notifications it read (0: the projection is current)."""
        while True:
            start = self.position()
            notifications = self.application.recorder.select_notifications(
                start, self.batch_size, inclusive_of_start=False
            )
            if not notifications:
                self._lag_is(0)
                return 0
            applied = self._apply_batch(start, notifications)
            if applied is None:
                applied = self._apply_one_by_one(start, notifications)
            if applied:
                full = len(notifications) == self.batch_size
                self._lag_is(self.lag() if full else 0)  # a short batch read everything there was
                return len(notifications)
            # Another worker applied these first: read on after it.

    def catch_up(self) -> int:
        """Step until the projection reflects every notification; how many it read."""
        total = 0
        while read := self.step():
            total += read
        return total

    def rebuild(self) -> None:
        """Empty the projection; the loop then applies every notification again. Its open
        quarantine entries are resolved: their records meet the projection again."""
        with self.datastore.transaction(commit=True) as cursor:
            self._position(cursor, lock=True)
            self.reset(cursor)
            self.quarantine.resolve_all(self.name, cursor=cursor)
            self._store_position(cursor, 0)
        self.quarantine.refresh_gauge()

    def retry(self, entry: Entry) -> bool:
        """Apply the quarantined notification of ``entry`` again now. True: it succeeded and
        the entry is resolved; False: it failed again and the entry stays open with the new
        error. A server being down is raised."""
        if entry.loop != self.name or entry.position is None:
            raise ValueError(f"entry {entry.id} is not a notification of {self.name}")
        found = self.application.recorder.select_notifications(
            entry.position, 1, inclusive_of_start=True
        )
        if not found or found[0].id != entry.position:
            raise LookupError(f"notification {entry.position} is not in the store")
        try:
            changes = self.compute_one(found[0])
            with self.datastore.transaction(commit=True) as cursor:
                self.write(cursor, changes)
                self.quarantine.resolve(entry.id, cursor=cursor)
        except Exception as error:
            if is_transient(error):
                raise
            self.quarantine.put(self.name, self.record_of(found[0]), error)
            return False
        self.quarantine.refresh_gauge()
        log.info("%s applied quarantined notification %s", self.name, entry.position)
        return True

    def quarantined_aggregates(self, kind: type[A]) -> list[A]:
        """The aggregates of ``kind`` whose notifications the projection holds in quarantine,
        as they are now (caught up first). Their rows are missing or stale, so whoever looks
        for "every record of X" in the tables (an erasure) must look at these too. They are
        few (each an alert), and loading works: only the projection's write failed. One that
        cannot be loaded raises, whatever its kind: the caller cannot decide about it."""
        self.catch_up()
        loaded: list[Aggregate] = [
            self.application.repository.get(UUID(aggregate_id))
            for aggregate_id in self.quarantine.aggregate_ids(self.name)
        ]
        return [aggregate for aggregate in loaded if isinstance(aggregate, kind)]

    def loop(self, *, interval: float = 0.1, stall_after: float | None = 300.0) -> Loop:
        """The worker's loop keeping the projection current (tables created on its start)."""
        return Loop(
            self.name,
            self._step_for_loop,
            interval=interval,
            max_backoff=5.0,
            setup=self.create_tables,
            lag=lambda: self.last_lag,
            stall_after=stall_after,
        )

    def record_of(self, notification: Notification) -> RecordRef:
        """How the quarantine names a notification: its id, aggregate and trace."""
        return RecordRef(
            key=str(notification.id),
            position=notification.id,
            aggregate_id=str(notification.originator_id),
            trace_id=self._trace_id(notification),
        )

    # --- inside -----------------------------------------------------------------------------

    def _step_for_loop(self) -> bool:
        """A step for the loop: True (go on at once) while batches come full."""
        return self.step() >= self.batch_size

    def _relevant(self, notifications: Sequence[Notification]) -> list[Notification]:
        if not self.topics:
            return list(notifications)
        return [n for n in notifications if n.topic.startswith(self.topics)]

    def _apply_batch(self, start: int, notifications: Sequence[Notification]) -> bool | None:
        """True: applied; False: another worker moved the position first; None: it failed for
        a reason of its records (a server's failure is raised)."""
        try:
            relevant = self._relevant(notifications)
            changes = self.compute(relevant) if relevant else None
            return self._commit(start, notifications[-1].id, changes, relevant=bool(relevant))
        except Exception as error:
            if is_transient(error):
                raise
            log.warning(
                "%s: a batch after %s failed (%r); applying it one notification at a time",
                self.name,
                start,
                error,
            )
            return None

    def _apply_one_by_one(self, start: int, notifications: Sequence[Notification]) -> bool:
        """Apply each notification in its own transaction, quarantining those that fail."""
        position, quarantined, moved = start, False, True
        for notification in self._relevant(notifications):
            try:
                changes = self.compute_one(notification)
                moved = self._commit(position, notification.id, changes, relevant=True)
            except Exception as error:
                if is_transient(error):
                    raise
                moved = self._set_aside(position, notification, error)
                quarantined = quarantined or moved
            if not moved:
                break
            position = notification.id
        if quarantined:  # also when another worker went on after the entry was put
            self.quarantine.refresh_gauge()
        if not moved:
            return False
        last = notifications[-1].id
        return position == last or self._commit(position, last, None, relevant=False)

    def _commit(self, expected: int, position: int, changes: Any, *, relevant: bool) -> bool:
        with self.datastore.transaction(commit=True) as cursor:
            if self._position(cursor, lock=True) != expected:
                return False
            if relevant:
                self.write(cursor, changes)
            self._store_position(cursor, position)
        return True

    def _set_aside(self, expected: int, notification: Notification, error: Exception) -> bool:
        with self.datastore.transaction(commit=True) as cursor:
            if self._position(cursor, lock=True) != expected:
                return False
            self.quarantine.put(self.name, self.record_of(notification), error, cursor=cursor)
            self._store_position(cursor, notification.id)
        return True

    def _position(self, cursor: Any, *, lock: bool) -> int:
        suffix = " FOR UPDATE" if lock else ""
        cursor.execute(f"SELECT position FROM {POSITIONS} WHERE name = %s{suffix}", (self.name,))
        row = cursor.fetchone()
        if row is None:
            raise LookupError(f"{self.name} has no position: call create_tables() first")
        return int(row["position"])

    def _store_position(self, cursor: Any, position: int) -> None:
        cursor.execute(
            f"UPDATE {POSITIONS} SET position = %s, updated_at = now() WHERE name = %s",
            (position, self.name),
        )

    def _lag_is(self, lag: int) -> None:
        self.last_lag = lag
        PROJECTION_LAG.labels(self.service, self.name).set(lag)

    def _trace_id(self, notification: Notification) -> str | None:
        """The trace of the command that recorded the notification, when it can be read."""
        try:
            metadata = read_metadata(notification, self.application.mapper)
        except Exception:  # the poison may be undecodable: the entry goes without a trace id
            return None
        parts = (metadata.traceparent or "").split("-") if metadata else []
        return parts[1] if len(parts) == 4 else None
