"""Crypto-shredding over the real servers: the key store in PostgreSQL, key announcements on
Kafka, and consumers' keyrings in PostgreSQL and MongoDB."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer
from eventsourcing.domain import Aggregate, event
from pymongo import AsyncMongoClient

from crm_events import Event, EventData, build_event, registry
from crm_events.personal import PersonalDataKeyDestroyed, Sealed, decode_key, new_key
from crm_platform.eventstore import EventMetadata, open_application
from crm_platform.kafka import ensure_topics, make_broker, make_producer
from crm_platform.personal_data import PersonalDataErased, personal_data
from crm_platform.privacy import (
    KEY_TOPIC,
    Keyring,
    MemoryKeyring,
    MongoKeyring,
    PostgresKeyring,
    ShreddingApplication,
    subscribe_personal_data_keys,
)
from crm_platform.relay import OutboxRelay, integration_event, key_issued_event
from crm_platform.settings import KafkaSettings, PostgresSettings
from crm_platform.testing import eventually_async

pytestmark = pytest.mark.integration


class Member(Aggregate):
    id: UUID

    @event("Joined")
    def __init__(self, name: str) -> None:
        self.name = name


personal_data(Member.Joined, "name")


class Members(ShreddingApplication):
    pass


class MemberJoined(EventData):
    """Test-only payload (not registered): a sealed name on its own topic."""

    event_type = "MemberJoined"
    schema_version = 1
    source_service = "platform-test"
    aggregate_type = "member"

    member_id: UUID
    name: Sealed | None


def translate(domain_event: Any, metadata: EventMetadata | None) -> Event[Any]:
    data = MemberJoined(member_id=domain_event.originator_id, name=domain_event.name)
    return integration_event(data, domain_event, metadata, source_service="platform-test")


@pytest.fixture
def postgres(postgres_server: Any, fresh_database: Callable[[str], str]) -> PostgresSettings:
    return PostgresSettings(
        host=postgres_server.host,
        port=postgres_server.port,
        user=postgres_server.user,
        password=postgres_server.password,
        database=fresh_database("platform_privacy"),
    )


@pytest.fixture
def members(postgres: PostgresSettings) -> Iterator[Members]:
    application = open_application(Members, postgres, "unused")
    yield application
    application.close()


def test_the_store_holds_ciphertext_and_erasure_outlives_a_restart(
    members: Members, postgres: PostgresSettings
) -> None:
    member = Member(id=uuid4(), name="Ada Lovelace")
    members.save(member)
    assert postgres.database
    with psycopg.connect(postgres.dsn(postgres.database)) as conn:
        table = members.recorder.events_table_name  # type: ignore[attr-defined]
        states = [bytes(r[0]) for r in conn.execute(f"SELECT state FROM {table}")]
    assert states and all(b"Ada" not in s for s in states)
    assert members.repository.get(member.id).name == "Ada Lovelace"

    assert members.personal_data_keys.destroy(member.id)
    reopened = open_application(Members, postgres, "unused")
    try:
        assert reopened.repository.get(member.id).name is None
        with pytest.raises(PersonalDataErased):
            reopened.save(Member(id=member.id, name="Ada again"))
    finally:
        reopened.close()


async def test_the_relay_announces_each_key_before_the_data_it_opens(
    members: Members, postgres: PostgresSettings, kafka_bootstrap: str
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    ada, grace = Member(id=uuid4(), name="Ada"), Member(id=uuid4(), name="Grace")
    members.save(ada, grace)
    members.personal_data_keys.destroy(grace.id)  # erased before the relay ever ran
    topics = [KEY_TOPIC, MemberJoined.topic()]
    await ensure_topics(kafka_bootstrap, topics)
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    try:
        await _seek_to_end(consumer)
        relay = OutboxRelay(
            name="privacy-test",
            application=members,
            translate=translate,
            kafka=kafka,
            postgres=postgres,
            database="unused",
            topics=topics,
        )
        async with relay:
            assert await relay.run_once() == 2
        mine = {str(ada.id).encode(), str(grace.id).encode()}
        records: list[Any] = []
        async with asyncio.timeout(20):
            while len(records) < 3:
                batches = await consumer.getmany(timeout_ms=200)
                records += [r for rs in batches.values() for r in rs if r.key in mine]
    finally:
        await consumer.stop()
    keys = [registry.parse(r.value) for r in records if r.topic == KEY_TOPIC]
    assert [k.data.subject_id for k in keys] == [ada.id]  # none for the erased subject
    ring = MemoryKeyring()
    await ring.issued(ada.id, decode_key(keys[0].data.key))
    joined = {UUID(r.key.decode()): r.value for r in records if r.topic != KEY_TOPIC}
    assert b"Ada" not in joined[ada.id] and b"Grace" not in joined[grace.id]
    ada_joined = MemberJoined.model_validate(json.loads(joined[ada.id])["data"])
    assert await ring.unseal(ada_joined.name) == "Ada"


async def test_keyrings_follow_the_key_topic_in_postgres_and_mongodb(
    postgres: PostgresSettings, kafka_bootstrap: str, mongo_uri: str, unique_name: Any
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    subject, key = uuid4(), new_key()
    await ensure_topics(kafka_bootstrap, [KEY_TOPIC])
    assert postgres.database
    pg_ring = PostgresKeyring(postgres.dsn(postgres.database))
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    mongo_ring = MongoKeyring(client[unique_name("keyring")]["keys"])
    rings: list[Keyring] = [pg_ring, mongo_ring]
    broker = make_broker(kafka)
    subscribe_personal_data_keys(broker, pg_ring, group_id=unique_name("pg-ring"))
    subscribe_personal_data_keys(broker, mongo_ring, group_id=unique_name("mongo-ring"))
    producer = make_producer(kafka)
    await producer.start()
    try:
        async with broker:
            await broker.start()
            issued = key_issued_event(subject, key, source_service="platform-test")
            await producer.send_and_wait(KEY_TOPIC, issued.to_json(), key=issued.kafka_key())
            await _until(rings, subject, lambda known: known is not None and known[1] == key)
            destroyed = _key_destroyed(subject)
            await producer.send_and_wait(KEY_TOPIC, destroyed.to_json(), key=destroyed.kafka_key())
            await _until(rings, subject, lambda known: known == (True, None))
            await producer.send_and_wait(KEY_TOPIC, issued.to_json(), key=issued.kafka_key())
            await asyncio.sleep(2)  # a replayed announcement does not bring the key back
            assert [await ring.key(subject) for ring in rings] == [None, None]
    finally:
        await producer.stop()
        pg_ring.close()
        await client.close()


async def _until(rings: list[Keyring], subject: UUID, done: Callable[[Any], bool]) -> None:
    """Until every ring's (destroyed, key) record of ``subject`` satisfies ``done``."""

    async def every_ring() -> bool:
        return all([done(await ring._load(subject)) for ring in rings])

    await eventually_async(every_ring, what=f"the keyrings' record of {subject}", interval=0.1)


async def _seek_to_end(consumer: AIOKafkaConsumer) -> None:
    partitions = await eventually_async(consumer.assignment, what="partitions", within=10)
    for partition, offset in (await consumer.end_offsets(list(partitions))).items():
        consumer.seek(partition, offset)


def _key_destroyed(subject: UUID) -> Event[Any]:
    data = PersonalDataKeyDestroyed(subject_id=subject, destroyed_at=datetime.now(UTC))
    return build_event(
        data, aggregate_id=subject, aggregate_version=2, source_service="platform-test"
    )
