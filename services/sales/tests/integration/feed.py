"""What the worker tests share: a sales worker subscribed on real Kafka, and other services'
events produced to it in their envelopes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from faststream.kafka import KafkaBroker

from crm_events import Event, EventData, build_event
from crm_platform.kafka import ensure_topics, make_broker, make_producer
from crm_platform.settings import KafkaSettings
from crm_sales.application import SalesApplication


@asynccontextmanager
async def worker(
    kafka: KafkaSettings,
    app: SalesApplication,
    subscribe: Callable[[KafkaBroker, Any], None],
    topics: Sequence[str],
) -> AsyncIterator[None]:
    """A broker running an area's subscribers (``subscribe``) on ``topics``."""
    await ensure_topics(kafka.bootstrap_servers, list(topics))
    broker = make_broker(kafka)
    subscribe(broker, app)
    async with broker:
        await broker.start()
        yield


async def produce(kafka: KafkaSettings, *events: Event[Any]) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                event.data.topic(),
                event.to_json(),
                key=event.kafka_key(),
                headers=event.kafka_headers(),
            )
    finally:
        await producer.stop()


def published(data: EventData, origin: UUID, version: int, source: str) -> Event[Any]:
    """``data`` as ``source`` publishes it about its record ``origin`` at ``version``."""
    return build_event(data, aggregate_id=origin, aggregate_version=version, source_service=source)
