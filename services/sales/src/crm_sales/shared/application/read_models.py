"""What the sales read models share: rows of aggregates in the sales database, each table kept
by a local projection of the notification log (``crm_platform.projection``).

A read model here is state-based: for every aggregate a batch of notifications touched, it writes
the aggregate's row as of the last of them; a notification applied alone (its batch failed, or an
operator retries it from the quarantine) writes the aggregate's row as it is *now*, so that a
record corrected by a later event is listed at once. Rows are only replaced by a newer version of
their aggregate (``upsert``): a retry, or a batch racing it, never brings an older state back.
A record whose row cannot be written is quarantined by the platform and the read model goes on.

Queries catch up first (``select``): a client reads its own writes, whichever process wrote them,
and a poison record met on the way is quarantined, never the request's failure. The worker keeps
every read model current in the background (``loop()``), so a query rarely has much to apply.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification

from crm_platform.projection import LocalProjection

SERVICE = "sales"
R = TypeVar("R")  # a row
P = TypeVar("P", bound=LocalProjection[Any])


class AggregateRows(LocalProjection[list[R]]):
    """A read model of one row per aggregate (see the module)."""

    def __init__(self, application: Application[Any], *, batch_size: int = 500) -> None:
        super().__init__(application, service=SERVICE, batch_size=batch_size)

    @abstractmethod
    def row(self, aggregate: Any, position: int) -> R:
        """The row of ``aggregate``; ``position`` is the first notification of it that this
        computation read (a row keeps the position it was first written with)."""

    def compute(self, notifications: Sequence[Notification]) -> list[R]:
        """Each aggregate as of its last notification in the batch."""
        # An aggregate id: its first notification here, and its last version.
        seen: dict[UUID | str, tuple[int, int]] = {}
        for notification in notifications:
            first, _ = seen.get(notification.originator_id, (notification.id, 0))
            seen[notification.originator_id] = (first, notification.originator_version)
        return [
            self.row(self.application.repository.get(aggregate_id, version=version), first)
            for aggregate_id, (first, version) in seen.items()
        ]

    def compute_one(self, notification: Notification) -> list[R]:
        """The aggregate as it is now: a record corrected since ``notification`` applies."""
        aggregate: Aggregate = self.application.repository.get(notification.originator_id)
        return [self.row(aggregate, notification.id)]

    def select(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of a query, once the read model reflects every recorded notification."""
        self.catch_up()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return list(cursor.fetchall())


def opened(projection: P) -> P:
    """``projection`` with its tables: a process that queries it may start before the worker
    that normally creates them."""
    projection.create_tables()
    return projection


def upsert(
    cursor: Any,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    keep: Sequence[str] = (),
) -> None:
    """Insert or update rows (their key first, a ``version`` column among ``columns``), never
    replacing a row by an older version of its aggregate. Columns in ``keep`` keep the value
    the row was first written with."""
    if not rows:
        return
    key, *rest = columns
    cursor.executemany(
        f"INSERT INTO {table} AS t ({', '.join(columns)})"
        f" VALUES ({', '.join(['%s'] * len(columns))})"
        f" ON CONFLICT ({key}) DO UPDATE SET"
        f" {', '.join(f'{c} = EXCLUDED.{c}' for c in rest if c not in keep)}"
        " WHERE t.version < EXCLUDED.version",
        rows,
    )


class Where:
    """AND-ed conditions of a query, each added only when its parameter is given."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, value: Any) -> None:
        if value is None:
            return
        self.clauses.append(clause)
        self.params.extend(value if isinstance(value, tuple) else (value,))

    def __str__(self) -> str:
        return f" WHERE {' AND '.join(self.clauses)}" if self.clauses else ""
