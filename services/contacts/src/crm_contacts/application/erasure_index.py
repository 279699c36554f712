"""Every erasure and whether it is complete, in a table of the contacts database; the gauges.

``ErasureIndex`` is a local projection (``crm_platform.projection``) of the ``ErasureProgress``
records: one row per erased record with its request time and, once every expected service
confirmed, its completion time. The worker's ``contacts-erasure-metrics`` loop counts the
incomplete rows every ``CRM_CONTACTS_ERASURE_REFRESH_SECONDS`` (a partial index over them keeps
that cheap): ``crm_erasures_pending``, and ``crm_erasures_overdue`` for those requested more than
``CRM_CONTACTS_ERASURE_DEADLINE_SECONDS`` ago. An erasure a service could not apply (dead-lettered
by its consumer) is never confirmed by it: it turns overdue, and the alert on that gauge fires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from prometheus_client import Gauge

from crm_platform.loops import Loop
from crm_platform.projection import LocalProjection, topics_of

from ..domain import ErasureProgress

TABLE = "contacts_erasures"
PROJECTION = "contacts-erasures"
METRICS_LOOP = "contacts-erasure-metrics"
SERVICE = "contacts"
# The names are a contract with the alert rules: rename nothing without them. Labelled, so that
# only the worker that refreshes them exports them (an api imports this module too).
ERASURES_PENDING = Gauge(
    "crm_erasures_pending",
    "Erasures of people not yet confirmed by every expected service.",
    ["service"],
)
ERASURES_OVERDUE = Gauge(
    "crm_erasures_overdue",
    "Erasures not confirmed by every expected service within CRM_CONTACTS_ERASURE_DEADLINE_SECONDS"
    " of their request.",
    ["service"],
)
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    " id uuid PRIMARY KEY, customer_id uuid NOT NULL, version integer NOT NULL,"
    " requested_at timestamptz NOT NULL, completed_at timestamptz)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_open ON {TABLE} (requested_at) WHERE completed_at IS NULL",
)
# Version-guarded: an older state (a retried notification) never replaces a newer one.
_UPSERT = (
    f"INSERT INTO {TABLE} (id, customer_id, version, requested_at, completed_at)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE"
    " SET version = EXCLUDED.version, completed_at = EXCLUDED.completed_at"
    f" WHERE {TABLE}.version < EXCLUDED.version"
)
_COUNTS = (
    "SELECT count(*) AS pending,"
    " count(*) FILTER (WHERE requested_at < now() - %s) AS overdue"
    f" FROM {TABLE} WHERE completed_at IS NULL"
)


@dataclass(frozen=True)
class ErasureRow:
    id: UUID
    customer_id: UUID
    version: int
    requested_at: datetime
    completed_at: datetime | None


class ErasureIndex(LocalProjection[list[ErasureRow]]):
    name = PROJECTION
    topics = topics_of(ErasureProgress)

    def __init__(self, application: Any, *, batch_size: int = 500) -> None:
        super().__init__(application, service=SERVICE, batch_size=batch_size)

    def create_schema(self, cursor: Any) -> None:
        for statement in _SCHEMA:
            cursor.execute(statement)

    def compute(self, notifications: Sequence[Notification]) -> list[ErasureRow]:
        """The state of each erasure the notifications touched, as of the last of them."""
        versions: dict[UUID | str, int] = {}
        for notification in notifications:
            versions[notification.originator_id] = notification.originator_version
        return [self._row(progress_id, version) for progress_id, version in versions.items()]

    def write(self, cursor: Any, changes: list[ErasureRow]) -> None:
        if changes:
            cursor.executemany(_UPSERT, [astuple(row) for row in changes])

    def reset(self, cursor: Any) -> None:
        cursor.execute(f"TRUNCATE {TABLE}")

    def counts(self, deadline: timedelta) -> tuple[int, int]:
        """(pending, overdue): the erasures not complete, and those of them past the deadline."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(_COUNTS, (deadline,))
            row = cursor.fetchone()
        assert row is not None  # a count answers one row
        return int(row["pending"]), int(row["overdue"])

    def refresh_gauges(self, deadline: timedelta) -> None:
        pending, overdue = self.counts(deadline)
        ERASURES_PENDING.labels(self.service).set(pending)
        ERASURES_OVERDUE.labels(self.service).set(overdue)

    def _row(self, progress_id: UUID | str, version: int) -> ErasureRow:
        progress: ErasureProgress = self.application.repository.get(progress_id, version=version)
        return ErasureRow(
            id=progress.id,
            customer_id=progress.customer_id,
            version=progress.version,
            requested_at=progress.requested_at,
            completed_at=progress.completed_at,
        )


def erasure_loops(application: Any) -> list[Loop]:
    """The worker's loops: the index follows the store; the gauges are refreshed from it."""
    index = ErasureIndex(application)
    settings = application.erasure_settings
    gauges = Loop(
        METRICS_LOOP,
        lambda: index.refresh_gauges(settings.deadline),
        interval=settings.refresh_seconds,
        setup=index.create_tables,
    )
    return [index.loop(), gauges]
