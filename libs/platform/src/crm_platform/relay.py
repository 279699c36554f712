"""The outbox relay: follows a service's notification log and publishes integration events.

Per batch: read notifications after the stored position, translate them, send them all to Kafka
(acks from all replicas, idempotent producer, keyed by aggregate id), wait for every
acknowledgement, then store the new position. A crash between publishing and storing republishes
the batch with the same event ids (at-least-once; consumers deduplicate). One relay per service is
active at a time, by a PostgreSQL advisory lock held on its own connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

import psycopg
from aiokafka import AIOKafkaProducer
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from crm_events import Event, EventData

from .eventstore import ContextCapturingMapper, EventMetadata
from .kafka import ensure_topics, make_producer
from .settings import KafkaSettings, PostgresSettings

log = logging.getLogger(__name__)
tracer = trace.get_tracer("crm.relay")

Translator = Callable[[Any, EventMetadata | None], Event[Any] | None]
EVENT_ID_NAMESPACE = uuid.UUID("6f1d3c1e-7a55-4a8e-9a55-1c0e5e1a2c01")


def integration_event(
    data: EventData, domain_event: Any, metadata: EventMetadata | None, *, source_service: str
) -> Event[Any]:
    """Wrap a payload in the envelope; the id is derived so a republished event keeps it."""
    aggregate_id = str(domain_event.originator_id)
    version = domain_event.originator_version
    event_id = uuid.uuid5(EVENT_ID_NAMESPACE, f"{source_service}:{aggregate_id}:{version}")
    meta = metadata or EventMetadata(correlation_id=str(event_id))
    return Event[type(data)](  # type: ignore[misc]
        id=event_id,
        type=data.event_type,
        source=f"/crm/{source_service}",
        subject=aggregate_id,
        time=domain_event.timestamp.astimezone(UTC),
        dataschema=data.dataschema(),
        schemaversion=data.schema_version,
        aggregatetype=data.aggregate_type,
        aggregateid=aggregate_id,
        aggregateversion=version,
        correlationid=meta.correlation_id,
        causationid=meta.causation_id,
        actor=meta.actor,
        traceparent=meta.traceparent,
        tracestate=meta.tracestate,
        data=data,
    )


def _lock_key(name: str) -> int:
    return int.from_bytes(
        hashlib.sha256(f"crm-relay:{name}".encode()).digest()[:8], "big", signed=True
    )


class OutboxRelay:
    def __init__(
        self,
        *,
        name: str,
        application: Application,
        translate: Translator,
        topics: Sequence[str],
        kafka: KafkaSettings,
        postgres: PostgresSettings,
        database: str,
        batch_size: int = 500,
        idle_sleep: float = 0.05,
    ) -> None:
        self.name = name
        self.application = application
        self.translate = translate
        self.topics = list(topics)
        self.kafka = kafka
        self.dsn = postgres.dsn(postgres.database or database)
        self.batch_size = batch_size
        self.idle_sleep = idle_sleep
        self.published = 0
        mapper = application.mapper
        if not isinstance(mapper, ContextCapturingMapper):
            raise TypeError("the application must use ContextCapturingMapper (eventsourcing_env)")
        self.mapper = mapper
        self._producer: AIOKafkaProducer | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def __aenter__(self) -> OutboxRelay:
        if self.topics:
            await ensure_topics(self.kafka.bootstrap_servers, self.topics)
        self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        await self._conn.execute(
            "CREATE TABLE IF NOT EXISTS crm_relay_position ("
            " name text PRIMARY KEY, position bigint NOT NULL,"
            " updated_at timestamptz NOT NULL DEFAULT now())"
        )
        self._producer = make_producer(self.kafka)
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._producer:
            await self._producer.stop()
        if self._conn:
            await self._conn.close()

    async def acquire_leadership(self, stop: asyncio.Event) -> bool:
        """Wait until this relay holds the advisory lock (one active relay per name)."""
        assert self._conn
        while not stop.is_set():
            cursor = await self._conn.execute(
                "SELECT pg_try_advisory_lock(%s)", (_lock_key(self.name),)
            )
            row = await cursor.fetchone()
            if row and row[0]:
                log.info("relay %s is active", self.name)
                return True
            await _sleep_or_stop(stop, 1.0)
        return False

    async def position(self) -> int:
        assert self._conn
        cursor = await self._conn.execute(
            "SELECT position FROM crm_relay_position WHERE name = %s", (self.name,)
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _store_position(self, position: int) -> None:
        assert self._conn
        await self._conn.execute(
            "INSERT INTO crm_relay_position (name, position) VALUES (%s, %s) ON CONFLICT (name)"
            " DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
            (self.name, position),
        )

    async def lag(self) -> int:
        """Events recorded but not yet published."""
        newest = await asyncio.to_thread(self.application.recorder.max_notification_id)
        return max(0, (newest or 0) - await self.position())

    async def run_once(self) -> int:
        """Publish the next batch; returns how many notifications it consumed."""
        start = await self.position()
        notifications: Sequence[Notification] = await asyncio.to_thread(
            self.application.recorder.select_notifications,
            start,
            self.batch_size,
            inclusive_of_start=False,
        )
        if not notifications:
            return 0
        futures = [await self._send(n) for n in notifications]
        await asyncio.gather(*(f for f in futures if f is not None))
        await self._store_position(notifications[-1].id)
        self.published += sum(f is not None for f in futures)
        return len(notifications)

    async def _send(self, notification: Notification) -> asyncio.Future[Any] | None:
        domain_event, metadata = self.mapper.decode_with_metadata(notification)
        event = self.translate(domain_event, metadata)
        if event is None:
            return None
        assert self._producer, "use the relay as an async context manager"
        topic = event.data.topic()
        parent = propagate.extract({"traceparent": event.traceparent} if event.traceparent else {})
        token = otel_context.attach(parent)
        try:
            with tracer.start_as_current_span(
                f"{topic} publish",
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": topic,
                    "messaging.message.id": str(event.id),
                    "crm.event.type": event.type,
                    "crm.aggregate.id": event.aggregateid,
                },
            ):
                return await self._producer.send(
                    topic,
                    value=event.to_json(),
                    key=event.kafka_key(),
                    headers=event.kafka_headers(),
                )
        finally:
            otel_context.detach(token)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        if not await self.acquire_leadership(stop):
            return
        while not stop.is_set():
            if await self.run_once() < self.batch_size:
                await _sleep_or_stop(stop, self.idle_sleep)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT, for graceful shutdown of a long-running loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_relay(relay: OutboxRelay) -> None:
    stop = stop_on_signals()
    async with relay:
        await relay.run(stop)
    log.info("relay %s stopped after publishing %d events", relay.name, relay.published)
