"""The eventsourcing store of a service: PostgreSQL, with each event's command context kept.

The notification log written in the same transaction as the events is the transactional outbox;
the relay reads it. The command context (correlation, causation, actor, trace) is stored inside each
event's state under a reserved key, so the relay can restore it when it publishes. Each append (a
command's events and their notifications, one transaction) is a span of the command's trace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresProcessRecorder
from eventsourcing.utils import get_topic
from opentelemetry import trace

from .context import CommandContext, current_context
from .settings import PostgresSettings

_META = "__crm_meta__"
tracer = trace.get_tracer("crm.eventstore")


@dataclass(frozen=True)
class EventMetadata(CommandContext):
    recorded_at: datetime | None = None


class ContextCapturingMapper(Mapper):  # type: ignore[type-arg]
    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        # A shadow of the event carries the stored state: the event itself stays as it was.
        shadow = object.__new__(type(domain_event))
        object.__setattr__(shadow, "__dict__", self.stored_state(domain_event))
        return super().to_stored_event(shadow)

    def stored_state(self, domain_event: Any) -> dict[str, Any]:
        """The attributes to store: the event's own, plus the command context under _META."""
        ctx = current_context()
        meta = asdict(ctx) if ctx else {}
        meta["recorded_at"] = datetime.now(UTC).isoformat()
        return {**vars(domain_event), _META: meta}

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        domain_event = super().to_domain_event(stored_event)
        vars(domain_event).pop(_META, None)
        return domain_event

    def decode_with_metadata(self, stored_event: StoredEvent) -> tuple[Any, EventMetadata | None]:
        """The domain event and the context it was recorded in (None for events stored before)."""
        domain_event = super().to_domain_event(stored_event)
        meta = vars(domain_event).pop(_META, None)
        return domain_event, _metadata(meta)


def read_metadata(stored_event: StoredEvent, mapper: Mapper[Any]) -> EventMetadata | None:
    """The command context a stored event (or notification) was recorded in."""
    if not isinstance(mapper, ContextCapturingMapper):
        return None
    return mapper.decode_with_metadata(stored_event)[1]


def _metadata(meta: dict[str, Any] | None) -> EventMetadata | None:
    if not meta or "correlation_id" not in meta:
        return None
    recorded = meta.get("recorded_at")
    return EventMetadata(
        correlation_id=meta["correlation_id"],
        causation_id=meta.get("causation_id"),
        actor=meta.get("actor"),
        traceparent=meta.get("traceparent"),
        tracestate=meta.get("tracestate"),
        recorded_at=datetime.fromisoformat(recorded) if recorded else None,
    )


def append_attributes(stored_events: Sequence[StoredEvent]) -> dict[str, Any]:
    """What an append span says: which aggregates, of which types, how many events.

    A stored event's topic is ``module:Aggregate.Event``: the aggregate type is the class the
    event is nested in.
    """
    qualnames = {event.topic.partition(":")[2] for event in stored_events}
    types = {name.rpartition(".")[0] or name for name in qualnames}
    return {
        "db.system.name": "postgresql",
        "db.operation.name": "append",
        "crm.event.count": len(stored_events),
        "crm.aggregate.ids": sorted({str(event.originator_id) for event in stored_events}),
        "crm.aggregate.types": sorted(types),
    }


class _TracedAppends:
    """A span around the recorder's insert: the events, their notifications (and a tracking
    record) in one transaction, including the wait for the table lock that orders them."""

    events_table_name: str

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        if not stored_events:
            return super().insert_events(stored_events, **kwargs)  # type: ignore[misc]
        with tracer.start_as_current_span(
            f"append {self.events_table_name}",
            kind=trace.SpanKind.CLIENT,
            attributes=append_attributes(stored_events),
        ):
            return super().insert_events(stored_events, **kwargs)  # type: ignore[misc]


class TracedApplicationRecorder(_TracedAppends, PostgresApplicationRecorder):
    pass


class TracedProcessRecorder(_TracedAppends, PostgresProcessRecorder):
    """The recorder of applications that track what they consumed (crm_platform.tracking)."""


def eventsourcing_env(settings: PostgresSettings, database: str) -> dict[str, str]:
    """Environment for an ``eventsourcing.Application`` on the service's own database.

    The relay tails the notification log, which is safe because the recorder takes an EXCLUSIVE
    table lock per insert, so ids become visible in commit order and a reader never passes a gap
    that fills later. eventsourcing's optional insert *function* takes no such lock: keep it off.
    """
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": settings.database or database,
        "POSTGRES_HOST": settings.host,
        "POSTGRES_PORT": str(settings.port),
        "POSTGRES_USER": settings.user,
        "POSTGRES_PASSWORD": settings.password,
        "POSTGRES_POOL_SIZE": str(settings.pool_size),
        "POSTGRES_MAX_OVERFLOW": "10",
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "CREATE_TABLE": "y",
        "MAPPER_TOPIC": get_topic(ContextCapturingMapper),
        "APPLICATION_RECORDER_TOPIC": get_topic(TracedApplicationRecorder),
        "PROCESS_RECORDER_TOPIC": get_topic(TracedProcessRecorder),
    }


A = TypeVar("A", bound=Application[UUID])
_SCHEMA_LOCK = 0x43524D5F534348  # "CRM_SCH": serialises table creation


def open_application(
    factory: Callable[[dict[str, str]], A], settings: PostgresSettings, database: str
) -> A:
    """Construct an application on its database.

    A service's api, relay and worker start together and each creates the tables if missing;
    eventsourcing's CREATE statements race on PostgreSQL's catalogue, so construction is
    serialised by an advisory lock on the database.
    """
    dsn = settings.dsn(settings.database or database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            return factory(eventsourcing_env(settings, database))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))
