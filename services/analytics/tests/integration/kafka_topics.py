"""The tests' own topics on the real Kafka: what was published there, and publishing an outbox to
one of them instead of the topic its entries name."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from crm_analytics.application.outbox import Publish
from crm_analytics.messaging.metrics_loops import kafka_publish
from crm_events import Event, registry
from crm_platform.testing import eventually_async


async def read_values(bootstrap: str, topic: str, *, expected: int) -> list[bytes]:
    """Every record's value on ``topic``, once ``expected`` arrived (and a second more for
    extras, which a test may be counting)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[bytes] = []

    async def read_through() -> bool:
        records = await consumer.getmany(timeout_ms=1000)
        batch = [r.value for rs in records.values() for r in rs]
        found.extend(batch)
        return not batch and len(found) >= expected

    try:
        await eventually_async(read_through, what=f"{expected} records on {topic}")
    finally:
        await consumer.stop()
    return found


async def read_events(bootstrap: str, topic: str, *, expected: int) -> list[Event[Any]]:
    return [
        registry.parse(value) for value in await read_values(bootstrap, topic, expected=expected)
    ]


def publish_to(producer: AIOKafkaProducer, topic: str) -> Publish:
    """The relay's publishing, onto ``topic`` whatever topic the entries name."""

    async def publish(entries: list[dict[str, Any]]) -> None:
        await kafka_publish(producer, [entry | {"topic": topic} for entry in entries])

    return publish
