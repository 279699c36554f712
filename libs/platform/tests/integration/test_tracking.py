"""Exactly-once reactions on real PostgreSQL and Kafka: a redelivered message, a republished event,
and a worker killed between its saved reaction and the offset commit.

Run as a script, this module is the worker process the crash test kills.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking

from crm_events import Event
from crm_events.contacts import CustomerRegistered
from crm_platform.eventstore import eventsourcing_env
from crm_platform.kafka import PARTITIONS, ensure_topics, make_broker, make_producer
from crm_platform.relay import integration_event
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_platform.testing import eventually_async
from crm_platform.tracking import TrackingApplication, subscribe_reactions

pytestmark = pytest.mark.integration

GREETINGS = uuid.UUID("8c0b8a4e-2f0d-4d7e-9f59-0b1f6f9d2a11")


class Greeting(Aggregate):
    """The effect: one greeting per customer event, its id derived from the event's."""

    id: uuid.UUID

    @event("Sent")
    def __init__(self, customer_id: uuid.UUID) -> None:
        self.customer_id = customer_id


class Greeter(TrackingApplication):
    name = "greeter"


def greet(app: Greeter, incoming: Event[Any], position: Tracking) -> None:
    """Decide and record. A republished event (a new offset) finds its greeting sent already."""
    greeting_id = uuid.uuid5(GREETINGS, str(incoming.id))
    try:
        app.repository.get(greeting_id)
        new: tuple[Greeting, ...] = ()
    except AggregateNotFoundError:
        new = (Greeting(id=greeting_id, customer_id=incoming.data.customer_id),)
    app.record_reaction(position, *new)


def open_greeter(database: str) -> Greeter:
    return Greeter(eventsourcing_env(PostgresSettings(), database))


def greetings(app: Greeter) -> list[Any]:
    return list(app.recorder.select_notifications(start=1, limit=100))


def registered(customer: uuid.UUID, version: int) -> Event[Any]:
    """Events of one customer share a key, so a partition: their order is the delivery order."""
    now = datetime.now(UTC)
    data = CustomerRegistered(
        customer_id=customer, given_name="Ada", family_name="L", registered_at=now
    )
    origin = SimpleNamespace(originator_id=customer, originator_version=version, timestamp=now)
    return integration_event(data, origin, None, source_service="platform-test")


async def produce(kafka: KafkaSettings, topic: str, *events: Event[Any]) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        for item in events:  # one by one: each its own offset, in order
            await producer.send_and_wait(
                topic, item.to_json(), key=item.kafka_key(), headers=item.kafka_headers()
            )
    finally:
        await producer.stop()


async def rewind(kafka: KafkaSettings, topic: str, group: str) -> None:
    """Commit offset 0 on every partition for ``group``: as if its commits had been lost."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.commit(dict.fromkeys(partitions, 0))
    finally:
        await consumer.stop()


@pytest.fixture
def kafka(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap)


@pytest.fixture
def database(
    postgres_server: Any, fresh_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> str:
    for name, value in postgres_server.env().items():
        monkeypatch.setenv(name, value)
    return fresh_database("tracking")


@pytest.fixture
async def topic_and_group(
    kafka: KafkaSettings, unique_name: Callable[[str], str]
) -> tuple[str, str]:
    topic, group = unique_name("test.platform.tracking"), unique_name("test-tracking")
    await ensure_topics(kafka.bootstrap_servers, [topic])
    return topic, group


@asynccontextmanager
async def reacting(
    kafka: KafkaSettings, app: Greeter, topic: str, group: str, calls: list[Tracking]
) -> AsyncIterator[None]:
    def counted(application: Greeter, incoming: Event[Any], position: Tracking) -> None:
        calls.append(position)
        greet(application, incoming, position)

    broker = make_broker(kafka)
    subscribe_reactions(broker, app, topics=[topic], group_id=group, handler=counted, backoff=0.01)
    async with broker:
        await broker.start()
        yield


async def test_redelivered_messages_and_republished_events_have_one_effect(
    kafka: KafkaSettings, database: str, topic_and_group: tuple[str, str]
) -> None:
    topic, group = topic_and_group
    app = open_greeter(database)
    customer = uuid.uuid4()
    first, second = registered(customer, 1), registered(customer, 2)
    # The relay republished ``first`` (same id, new offset) after ``second``.
    await produce(kafka, topic, first, second, first)
    calls: list[Tracking] = []
    async with reacting(kafka, app, topic, group, calls):
        await eventually_async(lambda: len(calls) == 3, what="three deliveries", within=60)
    assert len(greetings(app)) == 2  # the republished event decided "already greeted"

    await rewind(kafka, topic, group)  # every message is delivered again, at its old offset
    redelivered: list[Tracking] = []
    async with reacting(kafka, app, topic, group, redelivered):
        await produce(kafka, topic, registered(customer, 3))  # a marker after the redeliveries
        await eventually_async(
            lambda: len(greetings(app)) == 3, what="the marker's greeting", within=60
        )
    assert len(redelivered) == 1  # only the marker reached the handler
    assert len(greetings(app)) == 3
    app.close()


async def test_a_crash_between_the_saved_reaction_and_the_offset_commit_does_not_duplicate(
    kafka: KafkaSettings,
    database: str,
    topic_and_group: tuple[str, str],
    tmp_path: Path,
) -> None:
    topic, group = topic_and_group
    flag = tmp_path / "crashed"
    worker = [sys.executable, __file__, kafka.bootstrap_servers, database, topic, group]
    env = {**os.environ, "CRASH_FLAG": str(flag)}
    app = open_greeter(database)
    customer = uuid.uuid4()
    await produce(kafka, topic, registered(customer, 1))

    crashing = await asyncio.create_subprocess_exec(*worker, env=env)
    assert await asyncio.wait_for(crashing.wait(), 60) == 1  # died after saving, before commit
    assert len(greetings(app)) == 1

    restarted = await asyncio.create_subprocess_exec(*worker, env=env)
    try:
        await produce(kafka, topic, registered(customer, 2))  # after the redelivered first
        await eventually_async(
            lambda: len(greetings(app)) == 2, what="the next event's greeting", within=60
        )
    finally:
        restarted.terminate()
        await asyncio.wait_for(restarted.wait(), 15)
    assert len(greetings(app)) == 2  # the redelivered first event changed nothing
    app.close()


async def worker_main(bootstrap: str, database: str, topic: str, group: str) -> None:
    """Greet; the first time (no flag file yet), die after the save and before the commit."""
    flag = Path(os.environ["CRASH_FLAG"])
    app = open_greeter(database)

    def crashing(application: Greeter, incoming: Event[Any], position: Tracking) -> None:
        greet(application, incoming, position)
        if not flag.exists():
            flag.write_text(str(incoming.id))
            os._exit(1)

    broker = make_broker(KafkaSettings(bootstrap_servers=bootstrap))
    subscribe_reactions(broker, app, topics=[topic], group_id=group, handler=crashing)
    async with broker:
        await broker.start()
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(worker_main(*sys.argv[1:5]))
