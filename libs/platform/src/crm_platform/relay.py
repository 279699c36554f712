"""The outbox relay: follows a service's notification log and publishes integration events.

Per batch: read the notifications after the stored position, translate them, send them all to
Kafka (acks from all replicas, idempotent producer, keyed by aggregate id), wait for every
acknowledgement, then store the new position. A crash between publishing and storing republishes
the batch with the same event ids (at-least-once; consumers deduplicate). Tailing by notification
id never skips an event: eventsourcing's PostgreSQL recorder serialises inserts with a table lock,
so ids become visible in commit order.

One relay per name is active at a time: it holds a PostgreSQL session advisory lock on its own
connection, the same connection that reads and stores the position. When that connection dies the
lock is gone, and so is the relay's ability to store positions: it stops, reconnects and queues
for the lock again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import psycopg
from aiokafka import AIOKafkaProducer
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from opentelemetry import propagate, trace

from crm_events import Event, EventData, build_event
from crm_events.personal import PersonalDataKeyIssued, encode_key

from .eventstore import ContextCapturingMapper, EventMetadata
from .kafka import ensure_topics, make_producer
from .liveness import REGISTRY, Report
from .metrics import RELAY_ACTIVE, RELAY_LAG, RELAY_PUBLISHED
from .privacy import KeyStore, sealed_subjects
from .settings import KafkaSettings, PostgresSettings

log = logging.getLogger(__name__)
tracer = trace.get_tracer("crm.relay")

# A domain event becomes no integration event (kept private), one, or several (in order).
Translator = Callable[[Any, EventMetadata | None], Event[Any] | Sequence[Event[Any]] | None]
EVENT_ID_NAMESPACE = uuid.UUID("6f1d3c1e-7a55-4a8e-9a55-1c0e5e1a2c01")
POSITIONS = "crm_relay_position"
STANDBY_POLL = 1.0  # seconds between attempts of a waiting relay to take the lock
MAX_BACKOFF = 5.0
# Dead peers are noticed by TCP keepalive within seconds, not the kernel's two hours.
KEEPALIVE: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


class DuplicateEventId(ValueError):
    """A translator gave two events of one stored event the same id (a bug: no retry cures it)."""


def integration_event(
    data: EventData,
    domain_event: Any,
    metadata: EventMetadata | None,
    *,
    source_service: str,
    part: int = 0,
) -> Event[Any]:
    """Wrap a payload in the envelope; the id is derived so a republished event keeps it.

    ``part`` tells apart the integration events one domain event becomes (0 for the first):
    they share the aggregate version, never the id, on which subscribers deduplicate.
    """
    aggregate_id = str(domain_event.originator_id)
    version = domain_event.originator_version
    name = f"{source_service}:{aggregate_id}:{version}" + (f":{part}" if part else "")
    event_id = uuid.uuid5(EVENT_ID_NAMESPACE, name)
    meta = metadata or EventMetadata(correlation_id=str(event_id))
    return build_event(
        data,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        source_service=source_service,
        time=domain_event.timestamp,
        event_id=event_id,
        correlation_id=meta.correlation_id,
        causation_id=meta.causation_id,
        actor=meta.actor,
        traceparent=meta.traceparent,
        tracestate=meta.tracestate,
    )


def key_issued_event(subject: uuid.UUID, key: bytes, *, source_service: str) -> Event[Any]:
    """The announcement of a data subject's key; its id is derived, so a repeat keeps it."""
    data = PersonalDataKeyIssued(subject_id=subject, key=encode_key(key))
    event_id = uuid.uuid5(EVENT_ID_NAMESPACE, f"{source_service}:key-issued:{subject}")
    return build_event(data, aggregate_id=subject, source_service=source_service, event_id=event_id)


def lock_key(name: str) -> int:
    """The advisory lock id of the relays named ``name`` (a signed 64-bit int)."""
    digest = hashlib.sha256(f"crm-relay:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class OutboxRelay:
    """``run`` is the relay process (it connects itself; ``close`` after it). For single batches,
    ``run_once`` inside ``async with relay``."""

    def __init__(
        self,
        *,
        name: str,
        application: Application[UUID],
        translate: Translator,
        kafka: KafkaSettings,
        postgres: PostgresSettings,
        database: str,
        batch_size: int = 500,
        topics: Sequence[str] = (),
        idle_sleep: float = 0.05,
    ) -> None:
        mapper = application.mapper
        if not isinstance(mapper, ContextCapturingMapper):
            raise TypeError("the application must use ContextCapturingMapper (eventsourcing_env)")
        self.name = name
        self.application = application
        self.mapper = mapper
        self.translate = translate
        self.topics = list(topics)  # created up front; others when their first event comes
        self.kafka = kafka
        self.dsn = postgres.dsn(postgres.database or database)
        self.batch_size = batch_size
        self.idle_sleep = idle_sleep
        self.published = 0
        # The personal-data keys of the service's data subjects, when it records personal data.
        self.keys: KeyStore | None = getattr(application, "personal_data_keys", None)
        self._announced: set[uuid.UUID] = set()
        self._ensured: set[str] = set()
        self._producer: AIOKafkaProducer | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None
        # What the health probe reports (``report``): from memory, as the relay last saw it.
        self._state, self._error, self._lag = "starting", "", 0
        RELAY_ACTIVE.labels(name).set(0)

    async def __aenter__(self) -> OutboxRelay:
        try:
            await self._connect()
        except BaseException:
            await self._disconnect()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._disconnect()

    async def _connect(self) -> None:
        await self._ensure_topics(self.topics)
        self._conn = conn = await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, **KEEPALIVE
        )
        async with conn.transaction():  # concurrent CREATEs race on the catalogue: serialise
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(POSITIONS),))
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {POSITIONS} ("
                " name text PRIMARY KEY, position bigint NOT NULL,"
                " updated_at timestamptz NOT NULL DEFAULT now())"
            )
        self._producer = make_producer(self.kafka)
        await self._producer.start()

    async def _disconnect(self) -> None:
        """Closing the connection releases the advisory lock; stopping the producer flushes it."""
        RELAY_ACTIVE.labels(self.name).set(0)
        producer, conn, self._producer, self._conn = self._producer, self._conn, None, None
        try:
            if producer:
                await producer.stop()
        finally:
            if conn:
                await conn.close()

    async def acquire_leadership(self, stop: asyncio.Event) -> bool:
        """Wait until this relay holds the advisory lock; False when stopped first. A standby
        keeps measuring the lag, so that every replica shows it."""
        while not stop.is_set():
            cursor = await self._connection.execute(
                "SELECT pg_try_advisory_lock(%s)", (lock_key(self.name),)
            )
            self._error = ""  # the database answers again
            if (await cursor.fetchone() or (False,))[0]:
                log.info("relay %s is active", self.name)
                RELAY_ACTIVE.labels(self.name).set(1)
                self._state = "active"
                return True
            self._state = "standby"
            self._lag_is(await self.lag())
            await _sleep_or_stop(stop, STANDBY_POLL)
        return False

    async def position(self) -> int:
        """The id of the last notification published (0 before the first)."""
        cursor = await self._connection.execute(
            f"SELECT position FROM {POSITIONS} WHERE name = %s", (self.name,)
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _store_position(self, position: int) -> None:
        await self._connection.execute(
            f"INSERT INTO {POSITIONS} (name, position) VALUES (%s, %s) ON CONFLICT (name)"
            " DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
            (self.name, position),
        )

    async def lag(self) -> int:
        """Notifications recorded but not yet published."""
        newest = await asyncio.to_thread(self.application.recorder.max_notification_id)
        return max(0, (newest or 0) - await self.position())

    async def run_once(self) -> int:
        """Publish the next batch; returns how many notifications it consumed (0: none new).

        Outside ``run`` the caller must make sure no other relay of this name is running.
        """
        start = await self.position()  # also proves the lock's connection is still alive
        notifications: Sequence[Notification] = await asyncio.to_thread(
            self.application.recorder.select_notifications,
            start,
            self.batch_size,
            inclusive_of_start=False,
        )
        if not notifications:
            self._lag_is(0)
            return 0
        public, announcing = self._with_keys(
            [event for notification in notifications for event in self._translated(notification)]
        )
        await self._ensure_topics(e.data.topic() for e in public)
        # One by one into the producer's buffer (order kept), then wait for all acks together.
        acks = [await self._send(event) for event in public]
        await asyncio.gather(*acks)
        await self._store_position(notifications[-1].id)
        # Only now: a batch that failed before its acks is read again, its keys with it.
        self._announced |= announcing
        self.published += len(public)
        for topic, count in Counter(event.data.topic() for event in public).items():
            RELAY_PUBLISHED.labels(self.name, topic).inc(count)
        # A short batch read everything recorded: nothing was left behind at that moment.
        self._lag_is(await self.lag() if len(notifications) == self.batch_size else 0)
        return len(notifications)

    def _translated(self, notification: Notification) -> Sequence[Event[Any]]:
        """The events a stored event becomes, each under an id of its own: subscribers
        deduplicate on ids, so two events sharing one would lose the second everywhere."""
        events = _as_list(self.translate(*self.mapper.decode_with_metadata(notification)))
        if len({event.id for event in events}) < len(events):
            raise DuplicateEventId(
                f"notification {notification.id} became events sharing an id"
                f" ({', '.join(e.type for e in events)}): number them with ``part``"
            )
        return events

    def _lag_is(self, lag: int) -> None:
        self._lag = lag
        RELAY_LAG.labels(self.name).set(lag)

    def report(self) -> Report:
        """The relay's health: not ready while it cannot reach its servers."""
        if self._error:
            return Report(ready=False, state="reconnecting", detail=self._error, lag=self._lag)
        return Report(ready=self._state != "starting", state=self._state, lag=self._lag)

    def _with_keys(self, events: list[Event[Any]]) -> tuple[list[Event[Any]], set[uuid.UUID]]:
        """``events``, each preceded by the key announcements its sealed data needs, and the
        subjects announced (remembered by the caller once the batch is acknowledged).

        A key is announced once per relay process (again after a restart: consumers take a repeat
        as a no-op). A key destroyed meanwhile is not announced: its data can no longer be opened.
        """
        announcing: set[uuid.UUID] = set()
        if self.keys is None:
            return events, announcing
        out: list[Event[Any]] = []
        for event in events:
            for subject in sorted(sealed_subjects(event.data) - self._announced - announcing):
                announcing.add(subject)
                if (key := self.keys.key(subject)) is not None:
                    out.append(key_issued_event(subject, key, source_service=self.name))
            out.append(event)
        return out, announcing

    async def _send(self, event: Event[Any]) -> Any:
        """Hand the event to the producer at once; the returned future resolves on its ack."""
        topic = event.data.topic()
        carrier = {"traceparent": event.traceparent} if event.traceparent else {}
        with tracer.start_as_current_span(
            f"{topic} publish",
            context=propagate.extract(carrier),  # a child of the command that recorded it
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": topic,
                "messaging.message.id": str(event.id),
                "crm.event.type": event.type,
                "crm.aggregate.id": event.aggregateid,
            },
        ):
            return await self._sender.send(
                topic, value=event.to_json(), key=event.kafka_key(), headers=event.kafka_headers()
            )

    async def _ensure_topics(self, topics: Any) -> None:
        if missing := set(topics) - self._ensured:
            await ensure_topics(self.kafka, missing)
            self._ensured |= missing

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Publish as the active relay until ``stop`` is set, then close the connections (which
        hands the lock over). Failures disconnect, and reconnect with backoff."""
        stop = stop or asyncio.Event()
        failures = 0
        probe = REGISTRY.register(f"relay:{self.name}", self.report)
        try:
            while not stop.is_set():
                try:
                    if self._conn is None:
                        await self._connect()
                    if await self.acquire_leadership(stop):
                        while not stop.is_set():
                            consumed = await self.run_once()
                            failures, self._error = 0, ""
                            if consumed < self.batch_size:
                                await _sleep_or_stop(stop, self.idle_sleep)
                except Exception as error:
                    failures += 1
                    self._error = repr(error)[:500]
                    log.exception(
                        "relay %s failed (%d in a row), reconnecting", self.name, failures
                    )
                    await self._disconnect()  # gives up the lock: another relay may take over
                    await _sleep_or_stop(stop, min(self.idle_sleep * 2**failures, MAX_BACKOFF))
        finally:
            REGISTRY.unregister(probe)
            await self._disconnect()

    @property
    def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None:
            raise RuntimeError("use the relay as an async context manager")
        return self._conn

    @property
    def _sender(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("use the relay as an async context manager")
        return self._producer


def _as_list(translated: Event[Any] | Sequence[Event[Any]] | None) -> Sequence[Event[Any]]:
    if translated is None:  # a private event, not published
        return ()
    return [translated] if isinstance(translated, Event) else translated


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
    """The relay process: publish until SIGTERM/SIGINT, finishing the batch in flight.

    Servers not reachable yet at start are waited for, as are later outages.
    """
    stop = stop_on_signals()
    try:
        await relay.run(stop)
    finally:
        await relay.close()
    log.info("relay %s stopped after publishing %d events", relay.name, relay.published)
