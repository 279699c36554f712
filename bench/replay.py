"""Replay throughput: rebuilding the customer 360 read model from a topic of 1,000,000 events, vs
a raw aiokafka consume of the same topic with a PyMongo ``insert_many`` of the raw records.

The events (10,000 customers: a registration and 99 interactions each, personal data sealed) are
produced once into a bench topic, kept between runs: a later run finds them there.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from crm_analytics.application.rebuild import rebuild, topic_partitions
from crm_analytics.read_models.customer_360 import Customer360Model
from crm_platform.kafka import ensure_topics, make_producer
from crm_platform.read_models import Catalog
from crm_platform.settings import KafkaSettings, MongoSettings

from .common import Result, Timer
from .projection import stream

TOPIC = "bench.analytics.replay.v1"
EVENTS = int(os.environ.get("BENCH_REPLAY_EVENTS", "1000000"))
PER_CUSTOMER = 100


async def _partitions(kafka: KafkaSettings) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        return await topic_partitions(admin, [TOPIC])
    finally:
        await admin.close()


async def _records(kafka: KafkaSettings) -> int:
    partitions = await _partitions(kafka)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values()) if partitions else 0
    finally:
        await consumer.stop()


async def _produce(kafka: KafkaSettings, events: int) -> None:
    """Produce the bench topic once; a run that finds it full reuses it."""
    await ensure_topics(kafka.bootstrap_servers, [TOPIC])
    if await _records(kafka) >= events:
        return
    producer = make_producer(kafka, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        customers = max(1, events // PER_CUSTOMER)
        for _ in range(0, customers, 100):
            pending = [
                await producer.send(
                    TOPIC, e.to_json(), key=e.kafka_key(), headers=e.kafka_headers()
                )
                for e in stream(100, PER_CUSTOMER - 1)
            ]
            await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()


async def _ours(kafka: KafkaSettings, client: AsyncMongoClient[Any], database: str) -> float:
    model = Customer360Model()
    model.topics = (TOPIC,)
    catalog = Catalog(client[database], [model], write_concern=1)
    report = await rebuild(
        model,
        catalog,
        kafka.bootstrap_servers,
        live_group_id=f"bench.replay.{uuid.uuid4().hex[:8]}",  # no live group: up to the end
        settle_seconds=0,
    )
    return report.events / report.seconds


async def _raw(kafka: KafkaSettings, client: AsyncMongoClient[Any], database: str) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    collection = client[database]["raw_replay"]
    await consumer.start()
    timer, read = Timer(), 0
    try:
        partitions = await _partitions(kafka)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        expected = sum((await consumer.end_offsets(partitions)).values())
        with timer.measure():
            while read < expected:
                batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
                documents = [
                    {"topic": r.topic, "partition": r.partition, "offset": r.offset, "v": r.value}
                    for records in batches.values()
                    for r in records
                ]
                if documents:
                    await collection.insert_many(documents, ordered=False)
                read += len(documents)
    finally:
        await consumer.stop()
    return read / timer.seconds


async def _run(events: int) -> tuple[float, float]:
    kafka, mongo = KafkaSettings(), MongoSettings()
    await _produce(kafka, events)
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo.uri, tz_aware=True)
    database = f"bench_replay_{uuid.uuid4().hex[:8]}"
    try:
        return await _ours(kafka, client, database), await _raw(kafka, client, database)
    finally:
        await client.drop_database(database)
        await client.close()


def run(events: int = EVENTS) -> list[Result]:
    ours, raw = asyncio.run(_run(events))
    return [
        Result(f"replay customer_360, {events:,} events vs raw insert_many", ours, raw, "events/s")
    ]
