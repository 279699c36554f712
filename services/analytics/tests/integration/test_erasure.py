"""Analytics' part of an erasure on real Kafka and MongoDB-wire: the keyring forgets the person's
key for good, then one confirmation leaves through the outbox, however often the erasure comes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from pymongo import MongoClient

from crm_analytics.application.erasure import ErasureConfirmations
from crm_analytics.application.outbox import OutboxRelay
from crm_analytics.messaging.erasure import subscribe_erasures
from crm_events import Event
from crm_events.contacts import CustomerErased
from crm_events.erasure import CONFIRMATIONS
from crm_events.personal import new_key
from crm_platform.consumer import dead_letter_topic
from crm_platform.erasure import erasure_record_id
from crm_platform.kafka import ensure_topics, make_broker, make_producer
from crm_platform.privacy import MongoKeyring
from crm_platform.quarantine_mongo import MongoQuarantine
from crm_platform.relay import integration_event
from crm_platform.settings import KafkaSettings
from crm_platform.testing import eventually_async

from .kafka_topics import publish_to, read_events

pytestmark = pytest.mark.integration


def erased(customer_id: uuid.UUID, version: int) -> Event[Any]:
    now = datetime.now(UTC)
    origin = SimpleNamespace(originator_id=customer_id, originator_version=version, timestamp=now)
    return integration_event(
        CustomerErased(customer_id=customer_id, erased_at=now),
        origin,
        None,
        source_service="contacts",
    )


async def test_an_erasure_forgets_the_key_and_is_confirmed_once(
    database: Any, mongo_uri: str, kafka_bootstrap: str, unique_name: Any
) -> None:
    keys = MongoKeyring(database["personal_data_keys"])
    confirmations = ErasureConfirmations(database["erasure_confirmations"])
    customer, bystander = uuid.uuid4(), uuid.uuid4()
    for subject in (customer, bystander):
        await keys.issued(subject, new_key())
    topic, group = unique_name("test.analytics.people"), unique_name("test.analytics.erasure")
    await ensure_topics(kafka_bootstrap, [topic, dead_letter_topic(group)])
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    broker = make_broker(kafka)
    subscribe_erasures(broker, keys, confirmations, group_id=group, topic=topic)
    producer = make_producer(kafka)
    await producer.start()
    try:
        first = erased(customer, 8)
        for event in (first, first, erased(customer, 8)):  # redelivered, then republished
            await producer.send_and_wait(topic, event.to_json(), key=event.kafka_key())
        async with broker:
            await broker.start()
            await eventually_async(
                lambda: confirmations.collection.find_one({"_id": str(customer)}),
                what="the confirmation recorded",
            )
            await asyncio.sleep(1)  # room for the repeats to be (not) applied
    finally:
        await producer.stop()

    assert await keys.key(customer) is None
    await keys.issued(customer, new_key())  # a late announcement of the key brings nothing back
    assert await keys.key(customer) is None
    assert await keys.key(bystander) is not None

    out = unique_name("test.analytics.erasure.out")
    await ensure_topics(kafka_bootstrap, [out])
    sync: MongoClient[Any] = MongoClient(mongo_uri, tz_aware=True)
    producer = make_producer(kafka)
    await producer.start()
    try:
        relay = OutboxRelay([confirmations], MongoQuarantine(sync[database.name], service="t"))
        assert await relay.relay(publish_to(producer, out)) == 1
        assert await relay.relay(publish_to(producer, out)) == 0
    finally:
        await producer.stop()
        sync.close()

    [confirmed] = await read_events(kafka_bootstrap, out, expected=1)
    assert type(confirmed.data) is CONFIRMATIONS["analytics"]
    assert confirmed.data.topic() == "crm.analytics.erasure.v1"
    assert (confirmed.data.customer_id, confirmed.data.service) == (customer, "analytics")
    assert confirmed.aggregateid == str(erasure_record_id(customer))
    assert [(d.kind, d.method) for d in confirmed.data.erased] == [("read_models", "key_destroyed")]
