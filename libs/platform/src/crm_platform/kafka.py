"""Kafka clients configured the one safe way: acks from all in-sync replicas, idempotent producer,
and every client (producers, consumers, admins, FastStream brokers) connected with the security of
``KafkaSettings`` (TLS, SASL/SCRAM) built here and nowhere else."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code
from faststream.kafka import KafkaBroker, Topic
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from crm_events.personal import PersonalDataKeyIssued
from crm_events.subject_access import ANSWER_RETENTION_MS, ANSWER_TOPICS

from .settings import KafkaSettings

log = logging.getLogger(__name__)

# aiokafka defaults to acks=1 without idempotence (and FastStream passes that through).
PRODUCER_SAFETY: dict[str, Any] = {"acks": "all", "enable_idempotence": True}
PARTITIONS = 3
# Topics read as a table (the latest record per key wins) are compacted; the cleaner may act on a
# record soon after a newer one with its key arrives, which is how an erased key leaves the log.
COMPACTED: dict[str, dict[str, str]] = {
    PersonalDataKeyIssued.topic(): {
        "cleanup.policy": "compact",
        "min.cleanable.dirty.ratio": "0.01",
        "segment.ms": "600000",
        "delete.retention.ms": "86400000",
    }
}
# Topics that carry personal data in clear keep it briefly (subject-access answers).
SHORT_LIVED: dict[str, dict[str, str]] = {
    topic: {"retention.ms": str(ANSWER_RETENTION_MS)} for topic in ANSWER_TOPICS
}
# Topics created configured by ``ensure_topics``, never by FastStream.
CONFIGURED = COMPACTED | SHORT_LIVED
SASL = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}


def security(settings: KafkaSettings) -> BaseSecurity | None:
    """How to connect, as FastStream takes it; aiokafka clients get the same via ``connection``."""
    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol.endswith("SSL"):
        # Certificates and host names checked, against the given CA or the system's.
        context = ssl.create_default_context(cafile=settings.ssl_ca_file)
    if protocol.startswith("SASL_"):
        login = SASL[settings.sasl_mechanism]
        # KafkaSettings refuses SASL without a user name at start-up.
        user = settings.sasl_username or ""
        return login(user, settings.password(), context, use_ssl=context is not None)
    return BaseSecurity(context, use_ssl=True)


def connection(kafka: KafkaSettings | str) -> dict[str, Any]:
    """The arguments every aiokafka client is built with: bootstrap servers and security. A bare
    address takes its security from the environment (``CRM_KAFKA_*``)."""
    settings = KafkaSettings(bootstrap_servers=kafka) if isinstance(kafka, str) else kafka
    return {"bootstrap_servers": settings.bootstrap_servers, **parse_security(security(settings))}


def make_broker(settings: KafkaSettings, **kwargs: Any) -> KafkaBroker:
    """A FastStream broker whose publishes wait for every in-sync replica.

    Subscribe with ``declared(topic)`` rather than a bare name: FastStream creates a missing topic
    when a subscriber starts, and with one partition unless told otherwise.
    """
    # FastStream's own handlers would print plain text; this logger propagates to the JSON one.
    kwargs.setdefault("logger", logging.getLogger("crm.faststream"))
    return KafkaBroker(
        settings.bootstrap_servers, security=security(settings), **PRODUCER_SAFETY, **kwargs
    )


def make_producer(settings: KafkaSettings, **kwargs: Any) -> AIOKafkaProducer:
    options = {"linger_ms": 5, "max_batch_size": 256 * 1024, **PRODUCER_SAFETY, **kwargs}
    return AIOKafkaProducer(**connection(settings), **options)


def declared(name: str, partitions: int = PARTITIONS, replication: int | None = None) -> Topic:
    """A topic as FastStream should create it if it is missing. FastStream cannot configure the
    topics it creates, so configured ones are left to ``ensure_topics``."""
    return Topic(
        name,
        num_partitions=partitions,
        replication_factor=replication or KafkaSettings().topic_replication,
        declare=name not in CONFIGURED,
    )


async def ensure_topics(
    kafka: KafkaSettings | str,
    topics: Iterable[str],
    partitions: int = PARTITIONS,
    replication: int | None = None,
) -> None:
    """Create the topics that do not exist yet. Idempotent, also when racing another creator;
    any other refusal of the cluster (a bad replication factor, a policy, ACLs) is raised."""
    admin = AIOKafkaAdminClient(**connection(kafka))
    await admin.start()
    try:
        missing = sorted(set(topics) - set(await admin.list_topics()))
        if not missing:
            return
        response = await admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=partitions,
                    replication_factor=replication or KafkaSettings().topic_replication,
                    topic_configs=CONFIGURED.get(name, {}),
                )
                for name in missing
            ]
        )
        for result in response.to_object()["topic_errors"]:
            error = for_code(result["error_code"])
            if result["error_code"] and error is not TopicAlreadyExistsError:
                raise error(f"cannot create {result['topic']}: {result.get('error_message')}")
        log.info("ensured topics %s", missing)
    finally:
        await admin.close()
