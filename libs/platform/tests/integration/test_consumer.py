"""The idempotent consumer on real Kafka and a MongoDB-wire server: retries, dead letters,
duplicates and a crash between the effect and the offset commit."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from consumer_worker import apply_effect
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from samples import customer_event as sample_event

from crm_events import Event
from crm_platform.consumer import (
    Handler,
    dead_letter_topic,
    subscribe_event_batches,
    subscribe_events,
)
from crm_platform.kafka import ensure_topics, make_broker, make_producer
from crm_platform.settings import KafkaSettings
from crm_platform.testing import eventually_async

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent


def customer_event(customer: uuid.UUID, version: int) -> Event[Any]:
    return sample_event(customer, version, source="platform-test")


@pytest.fixture
def kafka(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap)


@pytest.fixture
async def names(kafka: KafkaSettings, unique_name: Callable[[str], str]) -> tuple[str, str]:
    """A topic and a consumer group of the test's own, the topic and its dead letters created."""
    topic, group = unique_name("test.platform.consumer"), unique_name("test-platform-consumer")
    await ensure_topics(kafka.bootstrap_servers, [topic, dead_letter_topic(group)])
    return topic, group


@pytest.fixture(scope="module")
async def mongo(mongo_uri: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    name = f"platform_consumer_test_{uuid.uuid4().hex[:10]}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


@asynccontextmanager
async def consuming(
    kafka: KafkaSettings, topic: str, group: str, handler: Handler
) -> AsyncIterator[None]:
    broker = make_broker(kafka)
    subscribe_events(broker, topic, group_id=group, handler=handler, max_attempts=3, backoff=0.01)
    async with broker:
        await broker.start()
        yield


async def produce(kafka: KafkaSettings, topic: str, *messages: Event[Any] | bytes) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        acks = [
            await producer.send(topic, message, key=b"raw")
            if isinstance(message, bytes)
            else await producer.send(
                topic, message.to_json(), key=message.kafka_key(), headers=message.kafka_headers()
            )
            for message in messages
        ]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def dead_letters(kafka: KafkaSettings, group: str, count: int = 1) -> list[ConsumerRecord]:
    consumer = AIOKafkaConsumer(
        dead_letter_topic(group),
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < count:
                batches = await consumer.getmany(timeout_ms=200)
                found += [r for records in batches.values() for r in records]
    finally:
        await consumer.stop()
    return found


async def test_a_failing_handler_is_retried_then_its_message_dead_lettered(
    kafka: KafkaSettings, names: tuple[str, str]
) -> None:
    topic, group = names
    attempts: list[uuid.UUID] = []

    async def always_fails(event: Event[Any]) -> None:
        attempts.append(event.id)
        raise RuntimeError("the read model is down")

    event = customer_event(uuid.uuid4(), 1)
    async with consuming(kafka, topic, group, always_fails):
        await produce(kafka, topic, event)
        [letter] = await dead_letters(kafka, group)

    assert attempts == [event.id] * 3
    assert letter.value == event.to_json()
    assert letter.key == event.kafka_key()
    headers = {name: value.decode() for name, value in letter.headers}
    assert headers["dlq_attempts"] == "3"
    assert headers["dlq_error_type"] == "RuntimeError"
    assert "the read model is down" in headers["dlq_error"]
    assert headers["dlq_topic"] == topic
    assert headers["dlq_group"] == group
    assert {"dlq_partition", "dlq_offset", "dlq_failed_at"} <= headers.keys()
    assert headers["content-type"] == "application/cloudevents+json"  # the original headers


async def test_poison_goes_to_the_dead_letters_without_reaching_the_handler(
    kafka: KafkaSettings, names: tuple[str, str]
) -> None:
    topic, group = names
    handled: list[Event[Any]] = []

    async def handler(event: Event[Any]) -> None:
        handled.append(event)

    after = customer_event(uuid.uuid4(), 1)
    async with consuming(kafka, topic, group, handler):
        await produce(kafka, topic, b"\x00not json{", b'{"type": "Nope"}')
        letters = await dead_letters(kafka, group, count=2)
        await produce(kafka, topic, after)
        await eventually_async(lambda: len(handled) == 1, what="the event after the poison")

    assert sorted(letter.value for letter in letters) == [b"\x00not json{", b'{"type": "Nope"}']
    for letter in letters:
        headers = {name: value.decode() for name, value in letter.headers}
        assert headers["dlq_attempts"] == "0"
        assert headers["dlq_error_type"] in {"ValidationError", "UnknownEventType"}
    assert [e.id for e in handled] == [after.id]


def start_worker(
    kafka: KafkaSettings, mongo_uri: str, database: str, names: tuple[str, str], flag: Path
) -> subprocess.Popen[bytes]:
    script = str(HERE / "consumer_worker.py")
    arguments = [kafka.bootstrap_servers, mongo_uri, database, *names]
    return subprocess.Popen(
        [sys.executable, script, *arguments],
        env={**os.environ, "CRASH_FLAG": str(flag)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def test_a_crash_between_effect_and_commit_redelivers_and_the_effect_stays_single(
    kafka: KafkaSettings,
    names: tuple[str, str],
    mongo_uri: str,
    tmp_path: Path,
) -> None:
    topic, group = names
    database = f"platform_crash_{uuid.uuid4().hex[:10]}"
    flag = tmp_path / "crashed"
    event = customer_event(uuid.uuid4(), 1)
    await produce(kafka, topic, event)

    worker = start_worker(kafka, mongo_uri, database, names, flag)
    try:
        output, _ = await asyncio.wait_for(asyncio.to_thread(worker.communicate), 60)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 1, output.decode(errors="replace")
    assert flag.read_text() == str(event.id)

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        effects = client[database]["effects"]
        assert await effects.find_one({"_id": event.aggregateid}) == {
            "_id": event.aggregateid,
            "applied": 1,
            "version": 1,
        }
        redelivered: list[tuple[uuid.UUID, bool]] = []

        async def handler(delivered: Event[Any]) -> None:
            redelivered.append((delivered.id, await apply_effect(effects, delivered)))

        async with consuming(kafka, topic, group, handler):
            await eventually_async(lambda: bool(redelivered), what="a redelivery", within=60)

        assert redelivered == [(event.id, False)]  # delivered again, applied no second time
        document = await effects.find_one({"_id": event.aggregateid})
        assert document is not None and document["applied"] == 1
    finally:
        await client.drop_database(database)
        await client.close()


async def test_a_server_outage_is_waited_out_rather_than_dead_lettered(
    kafka: KafkaSettings, names: tuple[str, str]
) -> None:
    topic, group = names
    calls: list[uuid.UUID] = []

    async def handler(event: Event[Any]) -> None:
        calls.append(event.id)
        if len(calls) <= 5:  # more failures than max_attempts allows for faulty messages
            raise ConnectionError("database restarting")

    event = customer_event(uuid.uuid4(), 1)
    async with consuming(kafka, topic, group, handler):
        await produce(kafka, topic, event)
        await eventually_async(lambda: len(calls) == 6, what="six calls")
    assert calls == [event.id] * 6


async def test_an_event_of_a_newer_contract_reaches_the_handler_untyped(
    kafka: KafkaSettings, names: tuple[str, str]
) -> None:
    topic, group = names
    handled: list[Event[Any]] = []

    async def handler(event: Event[Any]) -> None:
        handled.append(event)

    newer = json.loads(customer_event(uuid.uuid4(), 2).to_json())
    newer |= {"type": "CustomerMerged", "data": {"into": "someone"}}
    async with consuming(kafka, topic, group, handler):
        await produce(kafka, topic, json.dumps(newer).encode())
        await eventually_async(lambda: bool(handled), what="the newer payload handled")
    assert handled[0].type == "CustomerMerged"
    assert handled[0].data == {"into": "someone"}
    assert handled[0].aggregateversion == 2


async def test_poison_with_undecodable_headers_is_dead_lettered_too(
    kafka: KafkaSettings, names: tuple[str, str]
) -> None:
    topic, group = names
    handled: list[Event[Any]] = []

    async def handler(event: Event[Any]) -> None:
        handled.append(event)

    after = customer_event(uuid.uuid4(), 1)
    producer = make_producer(kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, b"{}", key=b"raw", headers=[("ce_id", b"\xff\xfe"), ("empty", None)]
        )
    finally:
        await producer.stop()
    async with consuming(kafka, topic, group, handler):
        [letter] = await dead_letters(kafka, group)
        await produce(kafka, topic, after)
        await eventually_async(lambda: len(handled) == 1, what="one event handled")
    headers = {name: value.decode() for name, value in letter.headers}
    assert letter.value == b"{}"
    assert headers["ce_id"] == "\ufffd\ufffd" and headers["dlq_attempts"] == "0"


async def test_a_restarted_consumer_resumes_after_its_last_commit(
    kafka: KafkaSettings, names: tuple[str, str]
) -> None:
    topic, group = names
    handled: list[uuid.UUID] = []

    async def handler(event: Event[Any]) -> None:
        handled.append(event.id)

    before = [customer_event(uuid.uuid4(), 1) for _ in range(3)]
    after = [customer_event(uuid.uuid4(), 1) for _ in range(2)]
    await produce(kafka, topic, *before)  # a new group starts at the earliest offset
    async with consuming(kafka, topic, group, handler):
        await eventually_async(lambda: len(handled) == 3, what="three events handled")
    await produce(kafka, topic, *after)
    async with consuming(kafka, topic, group, handler):
        await eventually_async(lambda: len(handled) == 5, what="five events handled")
        await asyncio.sleep(0.5)  # nothing is delivered a second time
    assert sorted(handled[:3]) == sorted(e.id for e in before)
    assert sorted(handled[3:]) == sorted(e.id for e in after)


async def test_batches_are_applied_once_committed_together_and_resumed_after(
    kafka: KafkaSettings,
    unique_name: Callable[[str], str],
    mongo: AsyncDatabase[dict[str, Any]],
) -> None:
    topic, group = unique_name("test.platform.batch"), unique_name("test-platform-batch")
    batches: list[list[Event[Any]]] = []
    faulty = customer_event(uuid.uuid4(), 1)

    async def handler(events: list[Event[Any]]) -> None:
        if faulty.id in {e.id for e in events}:
            raise ValueError("cannot project")
        batches.append(events)

    def handled() -> list[uuid.UUID]:
        return [e.id for batch in batches for e in batch]

    @asynccontextmanager
    async def projecting() -> AsyncIterator[None]:
        broker = make_broker(kafka)
        subscribe_event_batches(
            broker,
            topic,
            group_id=group,
            handler=handler,
            max_records=100,
            max_attempts=2,
            backoff=0.01,
        )
        async with broker:
            await broker.start()
            yield

    customers = [uuid.uuid4() for _ in range(10)]
    first = [customer_event(c, v) for c in customers for v in (1, 2)]
    async with projecting():  # creates the topic
        await produce(kafka, topic, *first, first[0], faulty)  # a duplicate and a faulty event
        # The duplicate reaches the handler too: effects are idempotent (version guards).
        await eventually_async(lambda: len(handled()) == 21, what="twenty-one events handled")
        [letter] = await dead_letters(kafka, group)
    assert sorted(handled()) == sorted(e.id for e in [*first, first[0]])
    assert letter.value == faulty.to_json()

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:  # FastStream creates a missing topic with 1 partition unless told otherwise
        [description] = await admin.describe_topics([topic])
        assert len(description["partitions"]) == 3
    finally:
        await admin.close()

    del batches[:]
    later = [customer_event(c, 3) for c in customers]
    await produce(kafka, topic, *later, first[1])  # produced while stopped, and a duplicate
    async with projecting():
        await eventually_async(lambda: len(handled()) == 11, what="eleven events handled")
        await asyncio.sleep(0.5)  # nothing committed is delivered a second time
    assert sorted(handled()) == sorted(e.id for e in [*later, first[1]])
    assert len(batches) < 10  # they come in batches, not one by one
