"""The worker's metric loops: the periodic customer scoring pass and the outbox relay.

Both are ``crm_platform.runtime.Background`` loops (``loop(stop)``), started after the broker.
The relay publishes with its own idempotent producer (``acks=all``), a batch per document, and
empties the outbox only once every record of it was acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer

from crm_events.analytics import CustomerRfmScored
from crm_platform.kafka import ensure_topics, make_producer
from crm_platform.runtime import Background
from crm_platform.settings import KafkaSettings

from ..application.metrics_facts import MetricsFacts
from ..application.metrics_scores import (
    CustomerScores,
    Document,
    ScoringSettings,
    every,
    now,
    relay_outbox,
    score_customers,
)
from ..application.metrics_settings import MetricsSettings

log = logging.getLogger(__name__)

RELAY_SECONDS = 1.0


def metric_loops(
    facts: MetricsFacts, scores: CustomerScores, metrics: MetricsSettings, kafka: KafkaSettings
) -> list[Background]:
    """The worker's background loops for the metrics: scoring, then publishing its outbox."""
    scoring = partial(
        run_scoring, facts, scores, metrics.scoring(), seconds=metrics.scoring_seconds
    )
    return [scoring, partial(run_outbox_relay, scores, kafka)]


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
    scores: CustomerScores,
    kafka: KafkaSettings,
    stop: asyncio.Event,
    *,
    seconds: float = RELAY_SECONDS,
) -> None:
    await ensure_topics(kafka.bootstrap_servers, [CustomerRfmScored.topic()])
    await scores.prepare()
    producer = make_producer(kafka)
    await producer.start()
    try:
        await every(
            seconds,
            stop,
            partial(relay_outbox, scores, partial(kafka_publish, producer)),
            "outbox relay",
        )
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
