"""The worker's metric loops: the periodic customer scoring pass and the outbox relay.

Both are ``crm_platform.runtime.Background`` loops (``loop(stop)``), started after the broker.
The relay publishes every outbox of analytics (the scores', the erasure confirmations') with its
own idempotent producer (``acks=all``), a batch per document, and empties a document's outbox only
once every record of it was acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer

from crm_platform.kafka import ensure_topics, make_producer
from crm_platform.runtime import Background
from crm_platform.settings import KafkaSettings

from ..application.metrics_facts import MetricsFacts
from ..application.metrics_scores import (
    CustomerScores,
    ScoringSettings,
    every,
    now,
    score_customers,
)
from ..application.metrics_settings import MetricsSettings
from ..application.outbox import Document, MongoOutbox, relay_outbox

log = logging.getLogger(__name__)

RELAY_SECONDS = 1.0


def metric_loops(
    facts: MetricsFacts,
    scores: CustomerScores,
    metrics: MetricsSettings,
    kafka: KafkaSettings,
    *outboxes: MongoOutbox,
) -> list[Background]:
    """The worker's background loops for the metrics: scoring, then publishing the outbox of the
    scores and the other ``outboxes``."""
    scoring = partial(
        run_scoring, facts, scores, metrics.scoring(), seconds=metrics.scoring_seconds
    )
    return [scoring, partial(run_outbox_relay, [scores, *outboxes], kafka)]


async def kafka_publish(producer: AIOKafkaProducer, entries: list[Document]) -> None:
    """Send every entry, then wait for all acknowledgements (not one round trip each)."""
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


async def run_outbox_relay(
    outboxes: list[MongoOutbox],
    kafka: KafkaSettings,
    stop: asyncio.Event,
    *,
    seconds: float = RELAY_SECONDS,
) -> None:
    await ensure_topics(kafka.bootstrap_servers, {t for o in outboxes for t in o.topics})
    for outbox in outboxes:
        await outbox.prepare()
    producer = make_producer(kafka)
    await producer.start()
    publish = partial(kafka_publish, producer)

    async def step() -> None:
        # Side by side: an outbox that fails (Kafka refusing one of its records) holds back
        # none of the others; its error is logged and the next tick tries again.
        relayed = [relay_outbox(outbox, publish) for outbox in outboxes]
        for result in await asyncio.gather(*relayed, return_exceptions=True):
            if isinstance(result, Exception):
                raise result

    try:
        await every(seconds, stop, step, "outbox relay")
    finally:
        await producer.stop()


async def run_scoring(
    facts: MetricsFacts,
    scores: CustomerScores,
    settings: ScoringSettings,
    stop: asyncio.Event,
    *,
    seconds: float,
) -> None:
    async def step() -> Any:
        written = await score_customers(facts, scores, settings, now())
        log.info("scored %d customers", written)

    await every(seconds, stop, step, "customer scoring")
