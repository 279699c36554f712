"""The worker's subscriber on real Kafka and a real MongoDB-wire server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from crm_analytics.application.repository import Customer360Repository
from crm_analytics.domain.customer_360 import apply_update, update_for
from crm_analytics.messaging.customer_360 import subscribe_customer_360
from crm_platform.consumer import dead_letter_topic
from crm_platform.kafka import ensure_topics, make_broker, make_producer
from crm_platform.settings import KafkaSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def repository(mongo_uri: str) -> AsyncIterator[Customer360Repository]:
    database = f"analytics_worker_test_{uuid.uuid4().hex[:10]}"
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        yield Customer360Repository.from_client(client, database, write_concern=1)
    finally:
        await client.drop_database(database)
        await client.close()


@pytest.fixture
async def pipeline(kafka_bootstrap, repository, unique_name):
    """A unique topic and group with the analytics subscriber running on them."""
    topic, group = unique_name("test.analytics"), unique_name("test.analytics")
    await ensure_topics(kafka_bootstrap, [topic, dead_letter_topic(group)])
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    broker = make_broker(kafka)
    subscribe_customer_360(broker, repository, group_id=group, topic=topic, backoff=0.01)
    async with broker:
        await broker.start()
        yield kafka, topic, group


async def produce(kafka: KafkaSettings, topic: str, events) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        for event in events:
            await producer.send(
                topic, event.to_json(), key=event.kafka_key(), headers=event.kafka_headers()
            )
        await producer.flush()
    finally:
        await producer.stop()


async def eventually(check, within: float = 30.0):
    deadline = asyncio.get_running_loop().time() + within
    while not (result := await check()):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)
    return result


def projected(events):
    document = None
    for event in events:
        document = apply_update(document, update_for(event))
    return document


async def test_documents_appear_once_when_every_message_is_produced_twice(
    pipeline, repository, stream
):
    kafka, topic, _ = pipeline
    customers = [stream() for _ in range(3)]
    histories = [[c.registered(), c.contacted(), c.contacted(), c.contacted()] for c in customers]
    twice = [event for history in histories for event in history for _ in range(2)]

    await produce(kafka, topic, [*twice, histories[0][0]])  # and a late redelivery of a first event

    for customer, history in zip(customers, histories, strict=True):
        last = history[-1].aggregateversion

        async def caught_up(customer=customer, last=last):
            document = await repository.get(str(customer.customer_id))
            return document if document and document["version"] == last else None

        assert await eventually(caught_up) == projected(history)


async def test_a_gap_goes_to_the_dead_letters_and_the_document_stays(
    pipeline, repository, stream, kafka_bootstrap
):
    kafka, topic, group = pipeline
    customers = stream()
    registered = customers.registered()
    customers.contacted()  # lost upstream
    orphan = customers.contacted()

    await produce(kafka, topic, [registered, orphan])

    dead = AIOKafkaConsumer(
        dead_letter_topic(group), bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await dead.start()
    try:
        record = await asyncio.wait_for(dead.getone(), timeout=30)
    finally:
        await dead.stop()
    assert dict(record.headers)["dlq_error_type"] == b"VersionGap"
    assert record.value == orphan.to_json()
    assert await repository.get(str(customers.customer_id)) == projected([registered])
