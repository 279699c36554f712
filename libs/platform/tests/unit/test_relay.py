"""The relay's publishing logic over an in-memory event store and a fake Kafka producer.

PostgreSQL (position, advisory lock) and Kafka are replaced here; the integration tests run the
same relay against the real servers.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from samples import person_translator

from crm_events import Event, registry
from crm_events.contacts import CustomerRegistered
from crm_events.personal import new_key
from crm_platform import relay as relay_module
from crm_platform.context import CommandContext, command_context
from crm_platform.eventstore import ContextCapturingMapper, EventMetadata
from crm_platform.liveness import REGISTRY
from crm_platform.relay import OutboxRelay, lock_key
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_platform.testing import eventually_async

pytestmark = pytest.mark.unit

CONTEXT = CommandContext(
    correlation_id="corr-1",
    causation_id="request:1",
    actor="alice",
    traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
)
TOPIC = CustomerRegistered.topic()


class Person(Aggregate):
    @event("Registered")
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Contacted")
    def contact(self, summary: str) -> None:
        pass

    @event("Noted")
    def note(self, text: str) -> None:
        """A private event: never published."""


translate = person_translator(Person.Registered, Person.Contacted, source="unit")


class FakeProducer:
    """aiokafka's send(): the record is buffered at once, the returned future resolves on ack."""

    def __init__(self, auto_ack: bool = True) -> None:
        self.auto_ack = auto_ack
        self.sent: list[dict[str, Any]] = []
        self.acks: list[asyncio.Future[None]] = []

    async def send(self, topic: str, **record: Any) -> asyncio.Future[None]:
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.auto_ack:
            ack.set_result(None)
        self.sent.append({"topic": topic, **record})
        self.acks.append(ack)
        return ack


class MemoryRelay(OutboxRelay):
    """The relay with its position in memory, instead of its PostgreSQL connection."""

    def __init__(self, application: Application, **options: Any) -> None:
        super().__init__(
            name="unit",
            application=application,
            translate=translate,
            kafka=KafkaSettings(),
            postgres=PostgresSettings(),
            database="unit",
            **options,
        )
        self.stored: list[int] = []
        self.ensured: set[str] = set()
        self.producers: list[FakeProducer] = []
        self.connections = 0

    async def _connect(self) -> None:
        self.connections += 1
        self._conn = object()  # type: ignore[assignment]
        self._producer = FakeProducer()  # type: ignore[assignment]
        self.producers.append(self._producer)  # type: ignore[arg-type]

    async def _disconnect(self) -> None:
        self._conn = self._producer = None

    async def acquire_leadership(self, stop: asyncio.Event) -> bool:
        return True

    async def position(self) -> int:
        return self.stored[-1] if self.stored else 0

    async def _store_position(self, position: int) -> None:
        self.stored.append(position)

    async def _ensure_topics(self, topics: Any) -> None:
        self.ensured |= set(topics)


@pytest.fixture
def people() -> Application:
    return Application(env={"MAPPER_TOPIC": get_topic(ContextCapturingMapper)})


@pytest.fixture
async def relay(people: Application) -> MemoryRelay:
    relay = MemoryRelay(people, batch_size=4)
    await relay._connect()
    return relay


def record_people(people: Application, count: int, contacts: int = 2) -> list[UUID]:
    """``count`` people, each registered, noted privately, then contacted ``contacts`` times."""
    ids = []
    for n in range(count):
        person = Person(f"person {n}")
        person.note("private")
        for _ in range(contacts):
            person.contact("hello")
        people.save(person)
        ids.append(person.id)
    return ids


def sent_events(relay: MemoryRelay) -> list[Event[Any]]:
    return [registry.parse(record["value"]) for p in relay.producers for record in p.sent]


async def test_public_events_are_published_in_order_and_private_ones_skipped(
    people: Application, relay: MemoryRelay
) -> None:
    with command_context(CONTEXT):
        ids = record_people(people, 3)  # 12 notifications, 9 of them public

    consumed = [await relay.run_once() for _ in range(4)]

    assert consumed == [4, 4, 4, 0]
    assert relay.stored == [4, 8, 12]  # the last batch ends on a private event: still advanced
    assert relay.published == 9
    assert relay.ensured == {TOPIC}
    [producer] = relay.producers
    events = sent_events(relay)
    assert [(e.aggregateid, e.aggregateversion) for e in events] == [
        (str(person), version) for person in ids for version in (1, 3, 4)
    ]
    for record, published in zip(producer.sent, events, strict=True):
        assert record["topic"] == TOPIC
        assert record["key"] == published.kafka_key() == published.aggregateid.encode()
        assert record["headers"] == published.kafka_headers()
        assert (published.correlationid, published.actor, published.traceparent) == (
            "corr-1",
            "alice",
            CONTEXT.traceparent,
        )


async def test_the_position_is_stored_only_once_every_event_is_acknowledged(
    people: Application, relay: MemoryRelay
) -> None:
    record_people(people, 1)
    producer = relay.producers[0]
    producer.auto_ack = False

    batch = asyncio.create_task(relay.run_once())
    await asyncio.sleep(0.01)
    assert len(producer.sent) == 3  # all sent before any acknowledgement is awaited
    for ack in producer.acks[:-1]:
        ack.set_result(None)
    await asyncio.sleep(0.01)
    assert relay.stored == [] and not batch.done()

    producer.acks[-1].set_result(None)
    assert await batch == 4
    assert relay.stored == [4]


async def test_a_failed_acknowledgement_republishes_the_batch_with_the_same_ids(
    people: Application, relay: MemoryRelay
) -> None:
    record_people(people, 1)
    producer = relay.producers[0]
    producer.auto_ack = False
    batch = asyncio.create_task(relay.run_once())
    await asyncio.sleep(0.01)
    producer.acks[0].set_result(None)
    producer.acks[1].set_exception(TimeoutError("no ack from the replicas"))
    producer.acks[2].set_result(None)
    with pytest.raises(TimeoutError):
        await batch
    assert relay.stored == []

    producer.auto_ack = True
    assert await relay.run_once() == 4
    first, second = sent_events(relay)[:3], sent_events(relay)[3:]
    assert [e.id for e in first] == [e.id for e in second]
    assert relay.stored == [4]


async def test_a_translation_error_stops_the_relay_at_that_batch(people: Application) -> None:
    def broken(domain_event: Any, metadata: EventMetadata | None) -> Event[Any] | None:
        raise ValueError("cannot translate")

    relay = MemoryRelay(people)
    relay.translate = broken
    await relay._connect()
    record_people(people, 1)
    with pytest.raises(ValueError, match="cannot translate"):
        await relay.run_once()
    assert relay.stored == [] and relay.producers[0].sent == []


async def test_events_of_one_stored_event_get_ids_of_their_own_or_nothing_is_published(
    people: Application,
) -> None:
    """Parts share the aggregate version, never the id subscribers deduplicate on."""

    def in_parts(*parts: int) -> Any:
        def translate_in_parts(domain_event: Any, metadata: EventMetadata | None) -> Any:
            published = translate(domain_event, metadata)
            if published is None:
                return None
            data = published.data
            return [
                relay_module.integration_event(
                    data, domain_event, metadata, source_service="unit", part=part
                )
                for part in parts
            ]

        return translate_in_parts

    numbered, forgotten = MemoryRelay(people), MemoryRelay(people)
    numbered.translate, forgotten.translate = in_parts(0, 1), in_parts(0, 0)
    await numbered._connect()
    await forgotten._connect()
    [person] = record_people(people, 1, contacts=0)

    await numbered.run_once()
    pair = sent_events(numbered)
    assert [(e.aggregateid, e.aggregateversion) for e in pair] == [(str(person), 1)] * 2
    assert len({e.id for e in pair}) == 2
    with pytest.raises(relay_module.DuplicateEventId, match="sharing an id"):
        await forgotten.run_once()
    assert forgotten.stored == [] and forgotten.producers[0].sent == []


async def test_each_publish_is_a_producer_span_in_the_trace_of_the_command(
    people: Application, relay: MemoryRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(relay_module, "tracer", provider.get_tracer("test"))
    with command_context(CONTEXT):
        record_people(people, 1, contacts=0)
    record_people(people, 1, contacts=0)  # recorded outside any request

    while await relay.run_once():
        pass

    traced, untraced = exporter.get_finished_spans()
    assert traced.name == f"{TOPIC} publish"
    assert traced.kind is SpanKind.PRODUCER
    assert traced.context.trace_id == int("0af7651916cd43dd8448eb211c80319c", 16)
    assert traced.parent is not None and traced.parent.span_id == int("b7ad6b7169203331", 16)
    assert traced.attributes is not None
    assert traced.attributes["messaging.destination.name"] == TOPIC
    assert untraced.parent is None  # a new trace


async def test_run_publishes_until_stopped_and_recovers_from_failures(
    people: Application,
) -> None:
    relay = MemoryRelay(people, idle_sleep=0.01)
    record_people(people, 2)
    original = relay.run_once
    failures = [RuntimeError("kafka unreachable")]

    async def flaky() -> int:
        if failures:
            raise failures.pop()
        return await original()

    relay.run_once = flaky  # type: ignore[method-assign]
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    await eventually_async(lambda: relay.stored[-1:] == [8], what="position 8 stored")
    record_people(people, 1)
    await eventually_async(lambda: relay.stored[-1:] == [12], what="position 12 stored")
    stop.set()
    await asyncio.wait_for(running, 1)

    assert relay.connections == 2  # reconnected (and re-queued for the lock) after the failure
    assert relay.published == 9


async def test_a_relay_that_cannot_reach_its_servers_is_reported_not_ready(
    people: Application,
) -> None:
    relay = MemoryRelay(people, idle_sleep=0.01)

    async def unreachable() -> int:
        raise ConnectionRefusedError("kafka unreachable")

    relay.run_once = unreachable  # type: ignore[method-assign]
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    await eventually_async(lambda: relay.connections >= 2, what="a reconnection")
    report = REGISTRY.reports()["relay:unit"]
    stop.set()
    await asyncio.wait_for(running, 5)

    assert (report.alive, report.ready, report.state) == (True, False, "reconnecting")
    assert "kafka unreachable" in (report.detail or "")
    assert "relay:unit" not in REGISTRY.reports()


def test_the_lock_key_is_a_stable_signed_64_bit_id_per_name() -> None:
    assert lock_key("contacts") == lock_key("contacts") != lock_key("sales")
    assert -(2**63) <= lock_key("contacts") < 2**63


def test_the_application_must_record_the_command_context() -> None:
    with pytest.raises(TypeError, match="ContextCapturingMapper"):
        MemoryRelay(Application())


async def test_a_key_announcement_of_a_failed_batch_is_sent_again_with_it(
    people: Application, relay: MemoryRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subject counts as announced only once its batch is acknowledged: a batch retried after
    a failure (Kafka away, the key store restarting) still carries the key its data needs."""
    subject, key = uuid4(), new_key()
    monkeypatch.setattr(relay_module, "sealed_subjects", lambda data: {subject})
    monkeypatch.setattr(relay, "keys", SimpleNamespace(key=lambda wanted: key))
    record_people(people, 1)
    producer = relay.producers[0]
    producer.auto_ack = False
    batch = asyncio.create_task(relay.run_once())
    await asyncio.sleep(0.01)
    for ack in producer.acks:
        ack.set_exception(TimeoutError("no ack from the replicas"))
    with pytest.raises(TimeoutError):
        await batch

    producer.auto_ack = True
    assert await relay.run_once() == 4
    retried = sent_events(relay)[4:]  # the first attempt sent the announcement and 3 events
    assert [e.type for e in retried][:1] == ["PersonalDataKeyIssued"]
    assert retried[0].data.subject_id == subject
    assert await relay.run_once() == 0
    record_people(people, 1)
    assert await relay.run_once() == 4
    assert "PersonalDataKeyIssued" not in [e.type for e in sent_events(relay)[8:]]
