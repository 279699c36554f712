"""Exactly-once reactions: tracking records saved with the events, on the in-memory store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, ProcessRecorder, Tracking
from faststream.kafka import KafkaBroker, TestKafkaBroker

from crm_events import Event
from crm_events.contacts import CustomerRegistered
from crm_platform.consumer import EventConsumer
from crm_platform.context import current_context
from crm_platform.privacy import ShreddingApplication, ShreddingMapper
from crm_platform.relay import integration_event
from crm_platform.tracking import (
    TrackingApplication,
    kafka_position,
    reaction_context,
    subscribe_reactions,
)

pytestmark = pytest.mark.unit

GROUP, TOPIC = "unit-reactions", "test.tracking"


class Counter(Aggregate):
    id: uuid.UUID

    @event("Created")
    def __init__(self) -> None:
        self.hits: list[str] = []

    @event("Hit")
    def hit(self, by: str) -> None:
        self.hits.append(by)


class Reactor(TrackingApplication):
    name = "reactor"


class ShreddingReactor(TrackingApplication, ShreddingApplication):
    name = "shredding_reactor"


@pytest.fixture
def app() -> Reactor:
    return Reactor({"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_a_kafka_position_is_the_group_topic_partition_and_the_offset_after() -> None:
    assert kafka_position("sales", "crm.contacts.customer.v2", 2, 0) == Tracking(
        "sales|crm.contacts.customer.v2|2", 1
    )
    with pytest.raises(ValueError, match="negative"):
        kafka_position("sales", "t", 0, -1)


def test_events_and_their_position_are_recorded_together_once(app: Reactor) -> None:
    counter = Counter(id=uuid.uuid4())
    position = kafka_position(GROUP, TOPIC, 0, 7)
    assert app.record_reaction(position, counter)
    assert app.processed(position)
    assert app.recorder.max_tracking_id(position.application_name) == 8

    again = app.repository.get(counter.id)
    again.hit("redelivery")
    assert not app.record_reaction(position, again)  # the same offset: nothing more
    assert not app.record_reaction(kafka_position(GROUP, TOPIC, 0, 3), again)  # an older one
    assert app.repository.get(counter.id).hits == []


def test_positions_are_tracked_per_group_topic_and_partition(app: Reactor) -> None:
    assert app.record_reaction(kafka_position(GROUP, TOPIC, 0, 5))
    assert app.record_reaction(kafka_position(GROUP, TOPIC, 1, 0))
    assert app.record_reaction(kafka_position(GROUP, "other", 0, 0))
    assert app.record_reaction(kafka_position("another-group", TOPIC, 0, 0))
    assert not app.processed(kafka_position(GROUP, TOPIC, 0, 6))


def test_a_decision_without_events_is_recorded_too(app: Reactor) -> None:
    position = kafka_position(GROUP, TOPIC, 0, 0)
    assert app.record_reaction(position)
    assert app.processed(position)
    assert app.recorder.max_tracking_id(position.application_name) == 1


def test_a_lost_race_for_an_aggregate_version_records_neither_events_nor_position(
    app: Reactor,
) -> None:
    counter = Counter(id=uuid.uuid4())
    app.save(counter)
    first, second = app.repository.get(counter.id), app.repository.get(counter.id)
    first.hit("a")
    second.hit("b")
    app.save(first)
    position = kafka_position(GROUP, TOPIC, 0, 0)
    with pytest.raises(IntegrityError):
        app.record_reaction(position, second)
    assert not app.processed(position)  # redelivery (or a retry) decides again
    assert app.repository.get(counter.id).hits == ["a"]


def test_combines_with_the_shredding_application() -> None:
    app = ShreddingReactor({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    assert isinstance(app.recorder, ProcessRecorder)
    assert isinstance(app.mapper, ShreddingMapper)
    assert app.record_reaction(kafka_position(GROUP, TOPIC, 0, 0), Counter(id=uuid.uuid4()))


# --- the subscriber --------------------------------------------------------------------------


def customer_registered(customer: uuid.UUID) -> Event[Any]:
    now = datetime.now(UTC)
    data = CustomerRegistered(
        customer_id=customer, given_name="Ada", family_name="L", registered_at=now
    )
    origin = SimpleNamespace(originator_id=customer, originator_version=1, timestamp=now)
    return integration_event(data, origin, None, source_service="unit")


@dataclass
class FakeMessage:
    """A delivered Kafka message as the consumer base sees it."""

    raw_message: ConsumerRecord[bytes, bytes]
    outcome: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.outcome.append("ack")

    async def nack(self) -> None:
        self.outcome.append("nack")


def delivered(event: Event[Any], *, partition: int, offset: int) -> FakeMessage:
    record = ConsumerRecord(
        topic=TOPIC,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=event.kafka_key(),
        value=event.to_json(),
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=event.kafka_headers(),
    )
    return FakeMessage(record)


def counting(calls: list[Tracking]) -> Any:
    """A reaction that creates one counter per customer event and records it."""

    def react(application: Reactor, event: Event[Any], position: Tracking) -> None:
        calls.append(position)
        ctx = current_context()
        assert ctx is not None and ctx.causation_id == str(event.id)
        application.record_reaction(position, Counter(id=uuid.uuid4()))

    return react


async def test_the_handler_decides_once_per_position_and_the_offset_is_committed(
    app: Reactor,
) -> None:
    calls: list[Tracking] = []
    consumer = subscribe_reactions(
        KafkaBroker(), app, topics=[TOPIC], group_id=GROUP, handler=counting(calls)
    )
    event = customer_registered(uuid.uuid4())
    first, redelivered = (
        delivered(event, partition=2, offset=9),
        delivered(event, partition=2, offset=9),
    )
    await consumer.consume(first)  # type: ignore[arg-type]
    await consumer.consume(redelivered)  # type: ignore[arg-type]

    assert calls == [kafka_position(GROUP, TOPIC, 2, 9)]  # the redelivery skipped the handler
    assert (first.outcome, redelivered.outcome) == (["ack"], ["ack"])
    assert len(app.notification_log.select(start=1, limit=10)) == 1


async def test_a_failing_reaction_records_nothing_and_is_retried(app: Reactor) -> None:
    attempts: list[Tracking] = []

    def flaky(application: Reactor, event: Event[Any], position: Tracking) -> None:
        attempts.append(position)
        if len(attempts) == 1:
            raise RuntimeError("decided on a stale read")
        application.record_reaction(position, Counter(id=uuid.uuid4()))

    consumer = subscribe_reactions(
        KafkaBroker(), app, topics=[TOPIC], group_id=GROUP, handler=flaky, backoff=0
    )
    message = delivered(customer_registered(uuid.uuid4()), partition=0, offset=0)
    await consumer.consume(message)  # type: ignore[arg-type]
    assert len(attempts) == 2
    assert message.outcome == ["ack"]
    assert len(app.notification_log.select(start=1, limit=10)) == 1


async def test_reactions_run_on_the_broker_with_the_record_position(app: Reactor) -> None:
    calls: list[Tracking] = []
    broker = KafkaBroker("in-memory:9092")
    subscribe_reactions(broker, app, topics=[TOPIC], group_id=GROUP, handler=counting(calls))
    event = customer_registered(uuid.uuid4())
    async with TestKafkaBroker(broker) as connected:
        await connected.publish(event.to_json(), TOPIC, key=event.kafka_key())
    [position] = calls
    assert position.application_name.startswith(f"{GROUP}|{TOPIC}|")
    assert app.processed(position)


def test_a_reaction_continues_the_incoming_events_correlation() -> None:
    event = customer_registered(uuid.uuid4())
    ctx = reaction_context(event, actor=GROUP)
    assert (ctx.correlation_id, ctx.causation_id, ctx.actor) == (
        event.correlationid,
        str(event.id),
        GROUP,
    )


def test_a_consumer_takes_either_a_handler_or_a_record_handler() -> None:
    async def handler(event: Event[Any]) -> None: ...

    async def record_handler(event: Event[Any], record: Any) -> None: ...

    with pytest.raises(TypeError):
        EventConsumer(KafkaBroker(), group_id=GROUP)
    with pytest.raises(TypeError):
        EventConsumer(KafkaBroker(), group_id=GROUP, handler=handler, record_handler=record_handler)
