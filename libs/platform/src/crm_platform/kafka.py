"""Kafka clients configured the one safe way: acks from all in-sync replicas, idempotent producer."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from .settings import KafkaSettings

log = logging.getLogger(__name__)

# aiokafka defaults to acks=1 without idempotence (and FastStream passes that through).
PRODUCER_SAFETY: dict[str, Any] = {"acks": "all", "enable_idempotence": True}


def make_broker(settings: KafkaSettings, **kwargs: Any) -> KafkaBroker:
    # FastStream's own handlers would print plain text; this logger propagates to the JSON one.
    kwargs.setdefault("logger", logging.getLogger("crm.faststream"))
    return KafkaBroker(settings.bootstrap_servers, **PRODUCER_SAFETY, **kwargs)


def make_producer(settings: KafkaSettings, **kwargs: Any) -> AIOKafkaProducer:
    options = {"linger_ms": 5, "max_batch_size": 256 * 1024, **PRODUCER_SAFETY, **kwargs}
    return AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, **options)


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[str], partitions: int = 3, replication: int = 1
) -> None:
    """Create the topics that do not exist yet (idempotent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name=t, num_partitions=partitions, replication_factor=replication)
            for t in sorted(set(topics) - existing)
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
            log.info("created topics %s", [t.name for t in missing])
    finally:
        await admin.close()
