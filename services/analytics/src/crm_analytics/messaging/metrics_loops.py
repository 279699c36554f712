"""The worker's metric loops: the periodic customer scoring pass and the outbox relay.

Both are platform ``Loop``s (heartbeat in the health registry, a server away waited out) whose
steps handle one record at a time through ``loops.each``, so a poison customer or outbox document
is quarantined and the loop goes on. The relay publishes every outbox of analytics (the scores',
the erasure confirmations') with its own idempotent producer (``acks=all``), a batch per
document, and empties a document's outbox only once every record of it was acknowledged.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from crm_platform.kafka import ensure_topics, make_producer
from crm_platform.loops import Loop
from crm_platform.settings import KafkaSettings

from ..application.metrics_scores import CustomerScoring
from ..application.metrics_settings import MetricsSettings
from ..application.outbox import RELAY_LOOP, Document, OutboxRelay

RELAY_SECONDS = 1.0
PUBLISH_SECONDS = 30.0


def metric_loops(
    scoring: CustomerScoring, relay: OutboxRelay, metrics: MetricsSettings, kafka: KafkaSettings
) -> list[Loop]:
    """The worker's background loops for the metrics: scoring, then publishing the outboxes."""
    return [scoring.loop(interval=metrics.scoring_seconds), relay_loop(relay, kafka)]


async def kafka_publish(
    producer: AIOKafkaProducer, entries: list[Document], *, within: float = PUBLISH_SECONDS
) -> None:
    """Send every entry, then wait for all acknowledgements (not one round trip each). With the
    broker away aiokafka keeps the records and waits for it without a bound: past ``within``
    seconds this raises TimeoutError, a server's failure, so that the loop reports it, waits and
    tries again (a record delivered meanwhile is then sent twice: consumers know its event id)."""

    async def send_all() -> None:
        sent = [
            await producer.send(
                entry["topic"],
                value=entry["value"].encode(),
                key=entry["key"].encode(),
                headers=[(name, value.encode()) for name, value in entry["headers"]],
            )
            for entry in entries
        ]
        await asyncio.gather(*sent)

    await asyncio.wait_for(send_all(), within)


def relay_loop(
    relay: OutboxRelay, kafka: KafkaSettings, *, interval: float = RELAY_SECONDS
) -> Loop:
    """The relay's loop: its setup creates the topics and starts the producer (retried until
    Kafka answers), its teardown stops the producer."""
    producers: list[AIOKafkaProducer] = []

    async def start() -> None:
        await ensure_topics(kafka, relay.topics)
        await relay.prepare()
        producer = make_producer(kafka)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()  # a failed start keeps connections open otherwise
            raise
        producers.append(producer)

    async def step() -> int:
        return await relay.relay(lambda entries: kafka_publish(producers[0], entries))

    async def stop() -> None:
        for producer in producers:
            await producer.stop()

    return Loop(RELAY_LOOP, step, interval=interval, setup=start, teardown=stop)
